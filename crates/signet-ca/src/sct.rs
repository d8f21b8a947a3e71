//! The stack's certificate transparency log key, used in process: RFC 6962 `add-pre-chain`
//! reduced to what an embedded SCT needs.
//!
//! The CA issues a precertificate (the leaf with the critical poison extension
//! `1.3.6.1.4.1.11129.2.4.3`), hands it to [`CtLogSigner::sign_precertificate`],
//! which removes the poison from its `TBSCertificate` and signs a v1
//! `SignedCertificateTimestamp` over it with the issuer's key hash (RFC 6962 §3.2), and
//! the CA embeds the SCT list (`1.3.6.1.4.1.11129.2.4.2`) in the final certificate in the
//! poison's place. A verifier removes the SCT list from the final certificate and gets
//! the same bytes. No log of the precertificates is kept: the SCT is the log key's
//! promise, which is what Sigstore clients check.

use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, OctetString};
use der::{Decode, Encode, Reader, SliceReader, Tag, TagNumber, Tagged};
use sha2::{Digest as _, Sha256};
use signet_crypto::{KeyAlgorithm, KeyId, PrivateKey, PublicKey, Signer};
use x509_cert::ext::Extension;

use crate::CaError;
use crate::certificate::{encoding, extension, split_certificate};

/// The precertificate poison (RFC 6962 §3.1), critical, value NULL.
pub(crate) const POISON_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.3");
/// The embedded SCT list (RFC 6962 §3.3).
pub(crate) const SCT_LIST_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

/// TLS `HashAlgorithm.sha256`.
const TLS_HASH_SHA256: u8 = 4;
/// TLS `SignatureAlgorithm.ecdsa`.
const TLS_SIGNATURE_ECDSA: u8 = 3;

/// The CT log key and its log ID (SHA-256 of its DER SPKI).
pub(crate) struct CtLogSigner {
    key: PrivateKey,
    log_id: KeyId,
}

impl CtLogSigner {
    /// A log signing with `key`, which must be ECDSA P-256 (`PKIX_ECDSA_P256_SHA_256`).
    pub(crate) fn new(key: PrivateKey) -> Result<Self, CaError> {
        if key.algorithm() != KeyAlgorithm::EcdsaP256 {
            return Err(CaError::InvalidConfig {
                detail: format!(
                    "the CT log key must be ECDSA P-256, found {}",
                    key.algorithm()
                ),
            });
        }
        let log_id = key.public_key().key_id();
        Ok(CtLogSigner { key, log_id })
    }

    pub(crate) fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    pub(crate) fn log_id(&self) -> KeyId {
        self.log_id
    }

    /// Signs a v1 SCT (TLS encoding) for `precertificate`, a DER certificate carrying the
    /// poison extension, issued by the key whose DER SPKI is `issuer_spki`.
    pub(crate) fn sign_precertificate(
        &self,
        precertificate: &[u8],
        issuer_spki: &[u8],
        timestamp_millis: u64,
    ) -> Result<Vec<u8>, CaError> {
        let tbs = tbs_without_poison(precertificate)?;
        let issuer_key_hash: [u8; 32] = Sha256::digest(issuer_spki).into();
        let message = signed_data(timestamp_millis, &issuer_key_hash, &tbs)?;
        let signature = self.key.sign(&message)?;
        encode_sct(self.log_id.as_bytes(), timestamp_millis, &signature)
    }
}

/// The poison extension.
pub(crate) fn poison_extension() -> Result<Extension, CaError> {
    extension(POISON_OID, true, vec![0x05, 0x00])
}

/// The SCT list extension holding `scts` (each a TLS-encoded SCT).
pub(crate) fn sct_list_extension(scts: &[Vec<u8>]) -> Result<Extension, CaError> {
    let mut body = Vec::new();
    for sct in scts {
        body.extend_from_slice(&tls_u16(sct.len())?);
        body.extend_from_slice(sct);
    }
    let mut list = tls_u16(body.len())?.to_vec();
    list.extend(body);
    // The extension value is a DER OCTET STRING around the TLS list (RFC 6962 §3.3).
    let value = OctetString::new(list)
        .and_then(|o| o.to_der())
        .map_err(encoding("the SCT list"))?;
    extension(SCT_LIST_OID, false, value)
}

fn tls_u16(len: usize) -> Result<[u8; 2], CaError> {
    u16::try_from(len)
        .map(u16::to_be_bytes)
        .map_err(|_| CaError::Encoding {
            what: "an SCT",
            detail: format!("{len} bytes do not fit a 16-bit TLS length"),
        })
}

/// The precertificate's `TBSCertificate` without the poison extension (and without the
/// `[3]` block if nothing else is left), every other byte unchanged.
pub(crate) fn tbs_without_poison(precertificate: &[u8]) -> Result<Vec<u8>, CaError> {
    let malformed = encoding("the precertificate");
    let (tbs, _) = split_certificate(precertificate).map_err(&malformed)?;
    let tbs = AnyRef::from_der(&tbs).map_err(&malformed)?;
    let extensions_tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(3),
    };
    let mut fields = SliceReader::new(tbs.value()).map_err(&malformed)?;
    let mut contents = Vec::with_capacity(tbs.value().len());
    let mut poisoned = false;
    while !fields.is_finished() {
        let field = AnyRef::decode(&mut fields).map_err(&malformed)?;
        if field.tag() != extensions_tag {
            field.encode_to_vec(&mut contents).map_err(&malformed)?;
            continue;
        }
        let list = AnyRef::from_der(field.value()).map_err(&malformed)?;
        let mut exts = SliceReader::new(list.value()).map_err(&malformed)?;
        let mut kept = Vec::with_capacity(list.value().len());
        while !exts.is_finished() {
            let ext = AnyRef::decode(&mut exts).map_err(&malformed)?;
            let mut inner = SliceReader::new(ext.value()).map_err(&malformed)?;
            if ObjectIdentifier::decode(&mut inner).map_err(&malformed)? == POISON_OID {
                poisoned = true;
            } else {
                ext.encode_to_vec(&mut kept).map_err(&malformed)?;
            }
        }
        if !kept.is_empty() {
            let seq = AnyRef::new(Tag::Sequence, &kept)
                .and_then(|a| a.to_der())
                .map_err(&malformed)?;
            AnyRef::new(extensions_tag, &seq)
                .and_then(|a| a.encode_to_vec(&mut contents))
                .map_err(&malformed)?;
        }
    }
    if !poisoned {
        return Err(CaError::Encoding {
            what: "the precertificate",
            detail: "it has no poison extension (1.3.6.1.4.1.11129.2.4.3)".into(),
        });
    }
    AnyRef::new(Tag::Sequence, &contents)
        .and_then(|a| a.to_der())
        .map_err(&malformed)
}

/// RFC 6962 §3.2 `digitally-signed struct` for a `precert_entry`, with no extensions.
fn signed_data(
    timestamp_millis: u64,
    issuer_key_hash: &[u8; 32],
    tbs: &[u8],
) -> Result<Vec<u8>, CaError> {
    let len = u32::try_from(tbs.len())
        .ok()
        .filter(|l| *l < 1 << 24)
        .ok_or_else(|| CaError::Encoding {
            what: "an SCT",
            detail: "the precertificate TBS is longer than 2^24-1 bytes".into(),
        })?;
    let mut out = Vec::with_capacity(tbs.len() + 50);
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&timestamp_millis.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    out.extend_from_slice(&len.to_be_bytes()[1..]); // opaque TBSCertificate<1..2^24-1>
    out.extend_from_slice(tbs);
    out.extend_from_slice(&0u16.to_be_bytes()); // CtExtensions, empty
    Ok(out)
}

/// RFC 6962 §3.2 `SignedCertificateTimestamp`, TLS-encoded.
fn encode_sct(
    log_id: &[u8; 32],
    timestamp_millis: u64,
    signature: &[u8],
) -> Result<Vec<u8>, CaError> {
    let mut out = Vec::with_capacity(signature.len() + 47);
    out.push(0); // v1
    out.extend_from_slice(log_id);
    out.extend_from_slice(&timestamp_millis.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes()); // no extensions
    out.push(TLS_HASH_SHA256);
    out.push(TLS_SIGNATURE_ECDSA);
    out.extend_from_slice(&tls_u16(signature.len())?);
    out.extend_from_slice(signature);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sct_encoding_has_the_rfc_6962_layout() {
        let sct = encode_sct(&[7; 32], 0x0102_0304_0506_0708, &[0xaa, 0xbb]).unwrap();
        assert_eq!(sct.len(), 1 + 32 + 8 + 2 + 2 + 2 + 2);
        assert_eq!(sct[0], 0);
        assert_eq!(&sct[33..41], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&sct[41..], &[0, 0, 4, 3, 0, 2, 0xaa, 0xbb]);
    }

    #[test]
    fn certificate_without_poison_is_refused() {
        let key = crate::certificate::IssuingKey::generate().unwrap();
        let tbs = crate::certificate::encode_tbs(&crate::certificate::TbsFields {
            serial: &[1],
            issuer: crate::certificate::EMPTY_NAME,
            not_before: std::time::SystemTime::UNIX_EPOCH,
            not_after: std::time::SystemTime::UNIX_EPOCH,
            subject: crate::certificate::EMPTY_NAME,
            spki: key.spki_der(),
            extensions: &[],
        })
        .unwrap();
        let cert = key.sign_certificate(&tbs).unwrap();
        assert!(matches!(
            tbs_without_poison(&cert),
            Err(CaError::Encoding { .. })
        ));
    }
}
