//! Rekor v1 signed entry timestamps (SET, the bundle's `inclusionPromise`).
//!
//! Rekor signs the RFC 8785 canonical JSON of
//! `{"body":"<std base64 of the canonicalized body>","integratedTime":N,"logID":"<lowercase hex log ID>","logIndex":N}`
//! with its ECDSA key (ASN.1 DER over SHA-256). This is what cosign's `VerifySET` and
//! sigstore-go's `tlog.VerifySET` check. Rekor v2 has no SET.
//!
//! Selecting the log key (by log ID) and checking that the key was valid at the
//! integrated time are the caller's job.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use signet_crypto::{KeyError, KeyId, PublicKey, SignatureError, Signer};

use crate::jcs::{self, JcsError};
use crate::merkle::LogIndex;

/// Why a signed entry timestamp was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SetError {
    /// The log ID is not lowercase hex of a 32-byte value.
    #[error("log ID {found:?} is not 64 lowercase hex digits")]
    InvalidLogId {
        /// What was given.
        found: String,
    },
    /// The payload cannot be canonicalized (an integer beyond 2^53).
    #[error("cannot build the signed payload: {0}")]
    Payload(#[source] JcsError),
    /// The signature does not verify with the log key.
    #[error(
        "the signed entry timestamp does not verify with log key {log_key_id}: the entry, its index or time was altered, or it comes from another log"
    )]
    SignatureInvalid {
        /// The key that was used.
        log_key_id: KeyId,
        /// Why the signature was rejected.
        #[source]
        source: SignatureError,
    },
}

/// The exact bytes Rekor signs for a SET.
///
/// # Errors
/// [`SetError::InvalidLogId`] and [`SetError::Payload`].
pub fn set_payload(
    body: &[u8],
    integrated_time: i64,
    log_id_hex: &str,
    log_index: LogIndex,
) -> Result<Vec<u8>, SetError> {
    if log_id_hex.len() != 64
        || !log_id_hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(SetError::InvalidLogId {
            found: log_id_hex.into(),
        });
    }
    let value = json!({
        "body": STANDARD.encode(body),
        "integratedTime": integrated_time,
        "logID": log_id_hex,
        "logIndex": log_index.0,
    });
    jcs::canonicalize(&value)
        .map(String::into_bytes)
        .map_err(SetError::Payload)
}

/// Signs a Rekor v1 signed entry timestamp with the log's key: the signature over
/// [`set_payload`], as Rekor's `signEntry` makes it. The counterpart of [`verify_set`].
///
/// # Errors
/// [`SignSetError::Payload`] when the payload cannot be built, [`SignSetError::Signing`]
/// when the key fails.
pub fn sign_set(
    log_key: &dyn Signer,
    body: &[u8],
    integrated_time: i64,
    log_id_hex: &str,
    log_index: LogIndex,
) -> Result<Vec<u8>, SignSetError> {
    let payload =
        set_payload(body, integrated_time, log_id_hex, log_index).map_err(SignSetError::Payload)?;
    log_key.sign(&payload).map_err(SignSetError::Signing)
}

/// Why a signed entry timestamp could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignSetError {
    /// The payload cannot be built (see [`set_payload`]).
    #[error("cannot build the signed entry timestamp payload: {0}")]
    Payload(#[source] SetError),
    /// The key failed to sign.
    #[error("the signed entry timestamp could not be signed: {0}")]
    Signing(#[source] KeyError),
}

/// Verifies a Rekor v1 signed entry timestamp.
///
/// `body` is the entry's canonicalized body (decoded bytes), `log_id_hex` the log ID
/// in lowercase hex, `set` the decoded signature.
///
/// # Errors
/// Any [`SetError`].
pub fn verify_set(
    log_key: &PublicKey,
    body: &[u8],
    integrated_time: i64,
    log_id_hex: &str,
    log_index: LogIndex,
    set: &[u8],
) -> Result<(), SetError> {
    let payload = set_payload(body, integrated_time, log_id_hex, log_index)?;
    log_key
        .verify(&payload, set)
        .map_err(|source| SetError::SignatureInvalid {
            log_key_id: log_key.key_id(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use signet_crypto::{KeyAlgorithm, PrivateKey, Signer};

    use super::*;

    #[test]
    fn payload_is_canonical() {
        let p = set_payload(b"{}", 1624396085, &"ab".repeat(32), LogIndex(5179)).expect("payload");
        assert_eq!(
            String::from_utf8(p).expect("utf8"),
            format!(
                r#"{{"body":"e30=","integratedTime":1624396085,"logID":"{}","logIndex":5179}}"#,
                "ab".repeat(32)
            )
        );
    }

    #[test]
    fn sign_set_round_trips() {
        let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        let id = hex::encode(k.public_key().key_id().as_bytes());
        let sig = sign_set(&k, b"{}", 7, &id, LogIndex(9)).expect("sign");
        assert_eq!(
            verify_set(k.public_key(), b"{}", 7, &id, LogIndex(9), &sig),
            Ok(())
        );
        assert!(matches!(
            sign_set(&k, b"{}", 7, "nothex", LogIndex(9)),
            Err(SignSetError::Payload(SetError::InvalidLogId { .. }))
        ));
    }

    #[test]
    fn sign_verify_and_reject() {
        let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        let id = "0f".repeat(32);
        let p = set_payload(b"body", 10, &id, LogIndex(3)).expect("payload");
        let sig = k.sign(&p).expect("sign");
        let pk = k.public_key();
        assert_eq!(verify_set(pk, b"body", 10, &id, LogIndex(3), &sig), Ok(()));
        assert!(matches!(
            verify_set(pk, b"body", 11, &id, LogIndex(3), &sig),
            Err(SetError::SignatureInvalid { .. })
        ));
        assert!(matches!(
            verify_set(pk, b"body", 10, &id, LogIndex(4), &sig),
            Err(SetError::SignatureInvalid { .. })
        ));
        assert!(matches!(
            verify_set(pk, b"bodY", 10, &id, LogIndex(3), &sig),
            Err(SetError::SignatureInvalid { .. })
        ));
        assert!(matches!(
            verify_set(pk, b"body", 10, &id.to_uppercase(), LogIndex(3), &sig),
            Err(SetError::InvalidLogId { .. })
        ));
        assert!(matches!(
            verify_set(pk, b"body", 10, &id, LogIndex(1 << 60), &sig),
            Err(SetError::Payload(JcsError::IntegerOutOfRange { .. }))
        ));
    }
}
