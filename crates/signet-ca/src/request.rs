//! Proof of possession: the key a certificate is requested for, and the evidence that
//! the caller holds it (a self-signed CSR, or a signature over the token's subject).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT};
use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, BitStringRef, IntRef};
use der::{Decode, Encode, SliceReader};
use serde_json::Value;
use signet_crypto::{KeyAlgorithm, PublicKey};
use spki::AlgorithmIdentifierRef;

use crate::RequestError;
use crate::certificate::ECDSA_WITH_SHA256;

const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// Decodes protojson `bytes`: standard or URL-safe base64, padded or not.
pub(crate) fn decode_base64(field: &'static str, text: &str) -> Result<Vec<u8>, RequestError> {
    let text = text.trim();
    STANDARD_PAD_INDIFFERENT
        .decode(text)
        .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
        .map_err(|e| RequestError::MalformedField {
            field,
            detail: format!("not base64: {e}"),
        })
}

/// PEM (any label in `labels`) or DER bytes to DER.
fn pem_or_der(field: &'static str, bytes: &[u8], labels: &[&str]) -> Result<Vec<u8>, RequestError> {
    let trimmed = bytes.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN") {
        return Ok(bytes.to_vec());
    }
    let (label, der) = der::pem::decode_vec(trimmed.trim_ascii_end()).map_err(|e| {
        RequestError::MalformedField {
            field,
            detail: format!("not a PEM block: {e}"),
        }
    })?;
    if !labels.contains(&label) {
        return Err(RequestError::MalformedField {
            field,
            detail: format!("found a `{label}` PEM block, expected `{}`", labels[0]),
        });
    }
    Ok(der)
}

/// A public key from PEM (`PUBLIC KEY`) or DER SPKI bytes.
pub(crate) fn parse_public_key(
    field: &'static str,
    bytes: &[u8],
) -> Result<PublicKey, RequestError> {
    let der = pem_or_der(field, bytes, &["PUBLIC KEY"])?;
    PublicKey::from_spki_der(&der).map_err(|source| RequestError::UnsupportedPublicKey { source })
}

#[derive(der::Sequence)]
struct RawCsr<'a> {
    info: AnyRef<'a>,
    algorithm: AlgorithmIdentifierRef<'a>,
    signature: BitStringRef<'a>,
}

/// The key of a PKCS#10 CSR (PEM or DER) whose self-signature verifies. The CSR's
/// subject, attributes and requested extensions are ignored, as Fulcio does.
///
/// # Errors
/// [`RequestError::MalformedField`], [`RequestError::UnsupportedPublicKey`],
/// [`RequestError::UnsupportedCsrSignature`] or [`RequestError::CsrSignatureInvalid`].
pub(crate) fn key_from_csr(csr: &[u8]) -> Result<PublicKey, RequestError> {
    const FIELD: &str = "certificateSigningRequest";
    let malformed = |detail: String| RequestError::MalformedField {
        field: FIELD,
        detail,
    };
    let der = pem_or_der(
        FIELD,
        csr,
        &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
    )?;
    let raw = RawCsr::from_der(&der).map_err(|e| malformed(format!("not a DER CSR: {e}")))?;
    let info_der = raw
        .info
        .to_der()
        .map_err(|e| malformed(format!("not a DER CSR: {e}")))?;
    // CertificationRequestInfo ::= SEQUENCE { version, subject, subjectPKInfo, [0] attributes }.
    // Only the key is read: the subject and attributes (requested extensions) are ignored.
    let spki = (|| {
        let mut fields = SliceReader::new(raw.info.value())?;
        let version = IntRef::decode(&mut fields)?;
        if version.as_bytes() != [0] {
            return Err(der::Error::from(der::ErrorKind::Value {
                tag: der::Tag::Integer,
            }));
        }
        let _subject = AnyRef::decode(&mut fields)?;
        AnyRef::decode(&mut fields)?.to_der()
    })()
    .map_err(|e| malformed(format!("not a v1 CertificationRequestInfo: {e}")))?;
    let key = PublicKey::from_spki_der(&spki)
        .map_err(|source| RequestError::UnsupportedPublicKey { source })?;
    let algorithm = raw.algorithm.oid;
    let fits = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => algorithm == ECDSA_WITH_SHA256,
        KeyAlgorithm::EcdsaP384 => algorithm == ECDSA_WITH_SHA256 || algorithm == ECDSA_WITH_SHA384,
        KeyAlgorithm::Rsa => algorithm == SHA256_WITH_RSA,
        KeyAlgorithm::Ed25519 => algorithm == ED25519,
    };
    if !fits {
        return Err(RequestError::UnsupportedCsrSignature {
            algorithm: algorithm.to_string(),
            key: key.algorithm(),
        });
    }
    let signature = raw
        .signature
        .as_bytes()
        .ok_or_else(|| malformed("the signature BIT STRING has unused bits".into()))?;
    key.verify(&info_der, signature)
        .map_err(|_| RequestError::CsrSignatureInvalid)?;
    Ok(key)
}

/// Checks `publicKey.algorithm` (a protojson enum name or number, or Fulcio v1's
/// lowercase names) against the key.
pub(crate) fn check_declared_algorithm(
    declared: Option<&Value>,
    key: &PublicKey,
) -> Result<(), RequestError> {
    let name = match declared {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::String(s)) => s.to_ascii_uppercase(),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(0) => return Ok(()),
            Some(1) => "RSA_PSS".into(),
            Some(2) => "ECDSA".into(),
            Some(3) => "ED25519".into(),
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    };
    let actual = key.algorithm();
    let fits = match name.as_str() {
        "" | "PUBLIC_KEY_ALGORITHM_UNSPECIFIED" => true,
        "ECDSA" | "EC" => matches!(actual, KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384),
        "RSA_PSS" | "RSA" => actual == KeyAlgorithm::Rsa,
        "ED25519" => actual == KeyAlgorithm::Ed25519,
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(RequestError::AlgorithmMismatch {
            declared: name.chars().take(64).collect(),
            actual,
        })
    }
}

/// Checks a proof of possession: `proof` must be a signature by `key` over one of
/// `challenges` (the token's email or subject).
///
/// # Errors
/// [`RequestError::ProofInvalid`].
pub(crate) fn verify_proof(
    key: &PublicKey,
    proof: &[u8],
    challenges: &[String],
) -> Result<(), RequestError> {
    if challenges
        .iter()
        .any(|c| key.verify(c.as_bytes(), proof).is_ok())
    {
        Ok(())
    } else {
        Err(RequestError::ProofInvalid {
            challenges: challenges.to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_crypto::{PrivateKey, Signer};

    /// A CSR signed by `signer` for `subject_key` (they differ in the mismatch test).
    pub(crate) fn csr(subject_key: &PublicKey, signer: &PrivateKey) -> Vec<u8> {
        #[derive(der::Sequence)]
        struct Info<'a> {
            version: u8,
            subject: AnyRef<'a>,
            spki: AnyRef<'a>,
            #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
            attributes: Vec<AnyRef<'a>>,
        }
        let info = Info {
            version: 0,
            subject: AnyRef::from_der(&[0x30, 0x00]).unwrap(),
            spki: AnyRef::from_der(subject_key.spki_der()).unwrap(),
            attributes: Vec::new(),
        }
        .to_der()
        .unwrap();
        let signature = signer.sign(&info).unwrap();
        RawCsr {
            info: AnyRef::from_der(&info).unwrap(),
            algorithm: AlgorithmIdentifierRef {
                oid: ECDSA_WITH_SHA256,
                parameters: None,
            },
            signature: BitStringRef::from_bytes(&signature).unwrap(),
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn csr_signed_by_its_own_key_gives_the_key() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let der = csr(key.public_key(), &key);
        assert_eq!(key_from_csr(&der).unwrap(), *key.public_key());
        let pem =
            der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &der).unwrap();
        assert_eq!(key_from_csr(pem.as_bytes()).unwrap(), *key.public_key());
    }

    #[test]
    fn csr_signed_by_another_key_is_rejected() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        assert_eq!(
            key_from_csr(&csr(key.public_key(), &other)),
            Err(RequestError::CsrSignatureInvalid)
        );
        assert!(matches!(
            key_from_csr(b"garbage"),
            Err(RequestError::MalformedField { .. })
        ));
        assert!(matches!(
            key_from_csr(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            Err(RequestError::MalformedField { .. })
        ));
    }

    #[test]
    fn proofs_and_declared_algorithms() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let proof = key.sign(b"alice@example.com").unwrap();
        let challenges = vec!["alice@example.com".to_owned(), "sub".to_owned()];
        verify_proof(key.public_key(), &proof, &challenges).unwrap();
        let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        assert!(matches!(
            verify_proof(other.public_key(), &proof, &challenges),
            Err(RequestError::ProofInvalid { .. })
        ));
        for ok in [
            Value::Null,
            Value::from("ECDSA"),
            Value::from("ecdsa"),
            Value::from(2),
            Value::from(0),
            Value::from("PUBLIC_KEY_ALGORITHM_UNSPECIFIED"),
        ] {
            check_declared_algorithm(Some(&ok), key.public_key()).unwrap();
        }
        for bad in [Value::from("ED25519"), Value::from(1), Value::from("DSA")] {
            assert!(matches!(
                check_declared_algorithm(Some(&bad), key.public_key()),
                Err(RequestError::AlgorithmMismatch { .. })
            ));
        }
    }

    #[test]
    fn base64_in_every_protojson_form() {
        for text in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(decode_base64("f", text).unwrap(), [0xfb, 0xff]);
        }
        assert!(decode_base64("f", "***").is_err());
    }
}
