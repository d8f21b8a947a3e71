//! Key-based Sigstore bundles (v0.3): a message signature over a blob, or a DSSE
//! envelope over a payload (an in-toto statement for images).
//!
//! The verification material is a `publicKey` hint, as cosign writes it:
//! base64 (standard, padded) of the SHA-256 of the key's DER SubjectPublicKeyInfo. The
//! bundle carries no transparency-log entry and no timestamp; verifiers must be told to
//! trust the key without a verified time (cosign: `--insecure-ignore-tlog`). Every
//! signature is checked with the signer's own public key before the bundle is returned.

use base64::Engine as _;
use signet_crypto::{Signer, digest_sha256};
use signet_formats::sigstore::{
    Bundle, BundleContent, BundleVersion, Envelope, HashAlgorithm, HashOutput, MessageSignature,
    PublicKeyIdentifier, Signature, SignerMaterial, TimestampVerificationData,
    VerificationMaterial, pae,
};

use crate::SignError;

/// The `publicKey.hint` cosign writes for `signer`'s key.
pub fn key_hint(signer: &dyn Signer) -> String {
    base64::engine::general_purpose::STANDARD.encode(digest_sha256(signer.public_key().spki_der()))
}

fn key_bundle(signer: &dyn Signer, content: BundleContent) -> Bundle {
    Bundle {
        version: BundleVersion::V0_3,
        verification_material: VerificationMaterial {
            signer: SignerMaterial::PublicKey(PublicKeyIdentifier {
                hint: key_hint(signer),
            }),
            tlog_entries: Vec::new(),
            timestamp_verification_data: TimestampVerificationData::default(),
        },
        content,
    }
}

fn sign_checked(signer: &dyn Signer, message: &[u8]) -> Result<Vec<u8>, SignError> {
    let signature = signer.sign(message).map_err(SignError::Signer)?;
    signer
        .public_key()
        .verify(message, &signature)
        .map_err(SignError::SelfCheckSignature)?;
    Ok(signature)
}

/// Signs `artifact` (the whole blob) and returns a v0.3 bundle with a message signature
/// and its SHA-256 `messageDigest`.
///
/// # Errors
/// [`SignError::Signer`] when signing fails, [`SignError::SelfCheckSignature`] when the
/// signature does not verify with the signer's public key.
pub fn sign_message(signer: &dyn Signer, artifact: &[u8]) -> Result<Bundle, SignError> {
    let signature = sign_checked(signer, artifact)?;
    Ok(key_bundle(
        signer,
        BundleContent::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: HashAlgorithm::Sha2_256,
                digest: digest_sha256(artifact).to_vec(),
            }),
            signature,
        }),
    ))
}

/// Signs `payload` as a DSSE envelope of `payload_type` (one signature over the PAE) and
/// returns a v0.3 bundle holding it.
///
/// # Errors
/// As [`sign_message`].
pub fn sign_dsse(
    signer: &dyn Signer,
    payload_type: &str,
    payload: &[u8],
) -> Result<Bundle, SignError> {
    let signature = sign_checked(signer, &pae(payload_type, payload))?;
    Ok(key_bundle(
        signer,
        BundleContent::DsseEnvelope(Envelope {
            payload: payload.to_vec(),
            payload_type: payload_type.to_string(),
            signatures: vec![Signature {
                sig: signature,
                keyid: None,
            }],
        }),
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use signet_crypto::{KeyAlgorithm, PrivateKey};
    use signet_formats::Digest;
    use signet_formats::sigstore::{
        COSIGN_SIGN_PREDICATE_TYPE, DSSE_IN_TOTO_PAYLOAD_TYPE, TrustedRoot, cosign_sign_statement,
    };
    use signet_verify::bundle::{Artifact, BundleError, BundleVerifier, Policy};

    /// A verifier with an empty trusted root that accepts key bundles without a log.
    pub(crate) fn key_only_verifier() -> BundleVerifier {
        let root = TrustedRoot::parse(
            br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
        )
        .unwrap();
        BundleVerifier::new(&root)
            .unwrap()
            .allow_key_signatures_without_time()
    }

    #[test]
    fn message_bundles_round_trip_and_verify_with_the_key_only() {
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::Ed25519] {
            let key = PrivateKey::generate(alg).unwrap();
            let bundle = sign_message(&key, b"hello").unwrap();
            let json = bundle.to_json_v03().unwrap();
            assert!(json.contains(r#""publicKey":{"hint":""#), "{json}");
            assert!(json.contains(r#""tlogEntries":[]"#), "{json}");
            let back = Bundle::parse(json.as_bytes()).unwrap();
            assert_eq!(back, bundle);
            let policy = Policy::Key(key.public_key().clone());
            key_only_verifier()
                .verify(&back, Artifact::Bytes(b"hello"), &policy)
                .unwrap();
            let err = key_only_verifier()
                .verify(&back, Artifact::Bytes(b"hellO"), &policy)
                .unwrap_err();
            assert!(
                matches!(err, BundleError::MessageDigestMismatch { .. }),
                "{err}"
            );
            // Another key is refused.
            let other = PrivateKey::generate(alg).unwrap();
            let err = key_only_verifier()
                .verify(
                    &back,
                    Artifact::Bytes(b"hello"),
                    &Policy::Key(other.public_key().clone()),
                )
                .unwrap_err();
            assert!(
                matches!(err, BundleError::SignatureMismatch { .. }),
                "{err}"
            );
            // Without the opt-in, a bundle with no verified time is refused.
            let strict = BundleVerifier::new(
                &TrustedRoot::parse(
                    br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
                )
                .unwrap(),
            )
            .unwrap();
            let err = strict
                .verify(&back, Artifact::Bytes(b"hello"), &policy)
                .unwrap_err();
            assert!(matches!(err, BundleError::NoTlogEntries), "{err}");
        }
    }

    #[test]
    fn the_hint_is_cosigns_base64_of_the_spki_sha256() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let hint = key_hint(&key);
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&hint)
            .unwrap();
        assert_eq!(raw, key.public_key().key_id().as_bytes().to_vec());
        assert_eq!(hint.len(), 44);
    }

    #[test]
    fn dsse_bundles_sign_the_cosign_statement() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let image = Digest::sha256_of(b"an image manifest");
        let statement = cosign_sign_statement(&image, &Default::default());
        let bundle = sign_dsse(&key, DSSE_IN_TOTO_PAYLOAD_TYPE, &statement).unwrap();
        let back = Bundle::parse(bundle.to_json_v03().unwrap().as_bytes()).unwrap();
        let policy = Policy::Key(key.public_key().clone());
        key_only_verifier()
            .verify(&back, Artifact::Sha256(image.clone()), &policy)
            .unwrap();
        let BundleContent::DsseEnvelope(env) = &back.content else {
            panic!("not DSSE")
        };
        assert_eq!(
            env.statement().unwrap().predicate_type,
            COSIGN_SIGN_PREDICATE_TYPE
        );
        // The statement names this image and no other.
        let err = key_only_verifier()
            .verify(
                &back,
                Artifact::Sha256(Digest::sha256_of(b"other")),
                &policy,
            )
            .unwrap_err();
        assert!(matches!(err, BundleError::SubjectNotFound { .. }), "{err}");
    }
}
