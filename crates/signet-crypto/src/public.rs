//! Public keys: parsing (SPKI and PKCS#1), PEM output, key IDs and verification.

use core::fmt;

use aws_lc_rs::signature::{self as lc, ParsedPublicKey, VerificationAlgorithm};
use der::asn1::{AnyRef, BitStringRef, IntRef, ObjectIdentifier, UintRef};
use der::{Decode, Encode, Reader, SliceReader};
use spki::{AlgorithmIdentifierRef, SubjectPublicKeyInfoRef};

use crate::{KeyAlgorithm, KeyError, KeyFormat, KeyId, SignatureError, digest_sha256, pem};

pub(crate) const ID_EC_PUBLIC_KEY: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(crate) const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(crate) const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub(crate) const SECP521R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
pub(crate) const ID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
pub(crate) const RSA_ENCRYPTION: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// RSA public keys are accepted for verification from 2048 to 8192 bits.
const RSA_VERIFY_BITS: (usize, usize) = (2048, 8192);

/// The PEM label of an SPKI public key.
const PUBLIC_KEY_LABEL: &str = "PUBLIC KEY";
/// The PEM label of a PKCS#1 RSA public key.
const RSA_PUBLIC_KEY_LABEL: &str = "RSA PUBLIC KEY";

/// A public key of one of the [`KeyAlgorithm`]s, ready to verify signatures.
///
/// Two keys are equal when their DER `SubjectPublicKeyInfo` encodings are equal.
#[derive(Clone)]
pub struct PublicKey {
    algorithm: KeyAlgorithm,
    spki_der: Vec<u8>,
    key_id: KeyId,
    /// The verification algorithms tried in order; the first is the one signet signs with.
    verifiers: Vec<ParsedPublicKey>,
    /// The exact signature length for Ed25519 and RSA keys.
    signature_len: Option<usize>,
}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1) block, as cosign does.
    ///
    /// # Errors
    /// [`KeyError::MalformedPem`], [`KeyError::UnsupportedPemLabel`] for any other label,
    /// and the errors of [`PublicKey::from_spki_der`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let block = pem::decode(pem)?;
        match block.label.as_str() {
            PUBLIC_KEY_LABEL => Self::from_spki_der(&block.der),
            RSA_PUBLIC_KEY_LABEL => Self::from_pkcs1_der(&block.der),
            _ => Err(KeyError::UnsupportedPemLabel {
                found: block.label.clone(),
                expected: "\"PUBLIC KEY\" or \"RSA PUBLIC KEY\"",
            }),
        }
    }

    /// Parses a DER `SubjectPublicKeyInfo`.
    ///
    /// Accepts EC keys on P-256 and P-384 (uncompressed points, named curves),
    /// Ed25519 keys, and RSA keys of 2048 to 8192 bits, with the same parameter
    /// rules as Go's `x509.ParsePKIXPublicKey`.
    ///
    /// # Errors
    /// [`KeyError::MalformedKey`], [`KeyError::UnsupportedAlgorithm`],
    /// [`KeyError::UnsupportedRsaKeySize`] or [`KeyError::InvalidKey`].
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        let spki = SubjectPublicKeyInfoRef::from_der(der).map_err(malformed(KeyFormat::Spki))?;
        let key_bits =
            spki.subject_public_key
                .as_bytes()
                .ok_or_else(|| KeyError::MalformedKey {
                    format: KeyFormat::Spki,
                    detail: "the key BIT STRING has unused bits".into(),
                })?;
        let (algorithm, signature_len) = match spki.algorithm.oid {
            ID_EC_PUBLIC_KEY => {
                let curve = named_curve(&spki.algorithm, KeyFormat::Spki)?;
                let algorithm = ec_algorithm(&curve)?;
                check_uncompressed_point(algorithm, key_bits)?;
                (algorithm, None)
            }
            ID_ED25519 => {
                if spki.algorithm.parameters.is_some() {
                    return Err(KeyError::MalformedKey {
                        format: KeyFormat::Spki,
                        detail: "Ed25519 keys must not have algorithm parameters".into(),
                    });
                }
                if key_bits.len() != 32 {
                    return Err(KeyError::MalformedKey {
                        format: KeyFormat::Spki,
                        detail: format!("an Ed25519 key is 32 bytes, found {}", key_bits.len()),
                    });
                }
                (KeyAlgorithm::Ed25519, Some(64))
            }
            RSA_ENCRYPTION => {
                // Go's x509.ParsePKIXPublicKey requires NULL parameters here.
                if !spki.algorithm.parameters.is_some_and(|p| p.is_null()) {
                    return Err(KeyError::MalformedKey {
                        format: KeyFormat::Spki,
                        detail: "RSA public keys must have NULL algorithm parameters".into(),
                    });
                }
                let rsa = pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(key_bits)
                    .map_err(malformed(KeyFormat::Spki))?;
                let bits = rsa_modulus_bits(rsa.modulus.as_bytes(), KeyFormat::Spki)?;
                check_rsa_bits(bits, RSA_VERIFY_BITS)?;
                (KeyAlgorithm::Rsa, Some(bits.div_ceil(8)))
            }
            other => return Err(unsupported_oid(&other)),
        };
        let verifiers = verification_algorithms(algorithm)
            .iter()
            .map(|alg| {
                ParsedPublicKey::new(*alg, der).map_err(|e| KeyError::InvalidKey {
                    algorithm,
                    detail: e.description_(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PublicKey {
            algorithm,
            spki_der: der.to_vec(),
            key_id: KeyId::from_bytes(digest_sha256(der)),
            verifiers,
            signature_len,
        })
    }

    /// Parses a DER PKCS#1 `RSAPublicKey` (what a PEM `RSA PUBLIC KEY` block holds).
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        pkcs1::RsaPublicKey::<UintRef<'_>>::from_der(der)
            .map_err(malformed(KeyFormat::Pkcs1PublicKey))?;
        Self::from_spki_der(&rsa_spki_der(der)?)
    }

    /// The DER `SubjectPublicKeyInfo` of this key.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key as a PEM `PUBLIC KEY` block, byte for byte what Go's
    /// `pem.EncodeToMemory` writes (64-character lines, trailing newline).
    pub fn to_pem(&self) -> String {
        pem::encode(PUBLIC_KEY_LABEL, &self.spki_der)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// SHA-256 of [`PublicKey::spki_der`].
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Verifies `signature` over a message of which only the SHA-256 `digest` is known
    /// (a bundle verified against `sha256:<hex>`). ECDSA and RSA sign the digest, so
    /// this is the same check as [`PublicKey::verify`] over the message; for P-384
    /// only the SHA-256 form applies.
    ///
    /// # Errors
    /// [`SignatureError::PrehashUnsupported`] for Ed25519, whose signatures cover the
    /// whole message; otherwise as [`PublicKey::verify`].
    pub fn verify_prehashed_sha256(
        &self,
        digest: &[u8; 32],
        signature: &[u8],
    ) -> Result<(), SignatureError> {
        if self.algorithm == KeyAlgorithm::Ed25519 {
            return Err(SignatureError::PrehashUnsupported {
                algorithm: self.algorithm,
            });
        }
        self.check_signature_shape(signature)?;
        let digest =
            aws_lc_rs::digest::Digest::import_less_safe(digest, &aws_lc_rs::digest::SHA256)
                .map_err(|_| SignatureError::Malformed {
                    algorithm: self.algorithm,
                    detail: "a SHA-256 digest is 32 bytes",
                })?;
        // A verifier whose hash is not SHA-256 (P-384 with SHA-384) rejects the digest.
        if self
            .verifiers
            .iter()
            .any(|v| v.verify_digest_sig(&digest, signature).is_ok())
        {
            Ok(())
        } else {
            Err(SignatureError::Invalid {
                algorithm: self.algorithm,
                key_id: self.key_id,
            })
        }
    }

    /// Verifies `signature` over `message` the way `cosign verify --key` does.
    ///
    /// - ECDSA: ASN.1 DER `(r, s)` over SHA-256 of `message`; for P-384, SHA-384 is
    ///   accepted too. High-S signatures are accepted, as in Go.
    /// - Ed25519: pure Ed25519 over `message`.
    /// - RSA: PKCS#1 v1.5 with SHA-256.
    ///
    /// # Errors
    /// [`SignatureError::Malformed`] when the bytes cannot be a signature of this
    /// key type, [`SignatureError::Invalid`] when the signature does not match.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        self.check_signature_shape(signature)?;
        if self
            .verifiers
            .iter()
            .any(|v| v.verify_sig(message, signature).is_ok())
        {
            Ok(())
        } else {
            Err(SignatureError::Invalid {
                algorithm: self.algorithm,
                key_id: self.key_id,
            })
        }
    }

    fn check_signature_shape(&self, signature: &[u8]) -> Result<(), SignatureError> {
        let malformed = |detail| SignatureError::Malformed {
            algorithm: self.algorithm,
            detail,
        };
        match (self.algorithm, self.signature_len) {
            (KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384, _) => {
                if is_der_ecdsa_signature(signature) {
                    Ok(())
                } else {
                    Err(malformed(
                        "expected an ASN.1 DER SEQUENCE of two INTEGERs (r, s), as cosign writes",
                    ))
                }
            }
            (KeyAlgorithm::Ed25519, _) if signature.len() != 64 => {
                Err(malformed("an Ed25519 signature is exactly 64 bytes"))
            }
            (KeyAlgorithm::Rsa, Some(len)) if signature.len() != len => Err(malformed(
                "an RSA signature is exactly as long as the key's modulus",
            )),
            _ => Ok(()),
        }
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.spki_der == other.spki_der
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// The aws-lc-rs verification algorithms for a key type, in the order they are tried.
fn verification_algorithms(
    algorithm: KeyAlgorithm,
) -> &'static [&'static dyn VerificationAlgorithm] {
    match algorithm {
        KeyAlgorithm::EcdsaP256 => &[&lc::ECDSA_P256_SHA256_ASN1],
        // SHA-256 first: it is what signet and cosign sign with, so a good signature costs
        // one verification; SHA-384 (other signers) is tried second.
        KeyAlgorithm::EcdsaP384 => &[&lc::ECDSA_P384_SHA256_ASN1, &lc::ECDSA_P384_SHA384_ASN1],
        KeyAlgorithm::Ed25519 => &[&lc::ED25519],
        KeyAlgorithm::Rsa => &[&lc::RSA_PKCS1_2048_8192_SHA256],
    }
}

/// `SEQUENCE { INTEGER, INTEGER }` in strict DER, with nothing after it.
fn is_der_ecdsa_signature(signature: &[u8]) -> bool {
    let Ok(mut reader) = SliceReader::new(signature) else {
        return false;
    };
    let parsed = reader.sequence(|r| {
        IntRef::decode(r)?;
        IntRef::decode(r)?;
        Ok::<(), der::Error>(())
    });
    parsed.is_ok() && reader.finish().is_ok()
}

pub(crate) fn malformed(format: KeyFormat) -> impl Fn(der::Error) -> KeyError {
    move |e| KeyError::MalformedKey {
        format,
        detail: e.to_string(),
    }
}

/// The `namedCurve` OID in an `id-ecPublicKey` algorithm identifier.
pub(crate) fn named_curve(
    algorithm: &AlgorithmIdentifierRef<'_>,
    format: KeyFormat,
) -> Result<ObjectIdentifier, KeyError> {
    algorithm
        .parameters
        .as_ref()
        .ok_or_else(|| KeyError::MalformedKey {
            format,
            detail: "the EC key has no curve parameters".into(),
        })?
        .decode_as::<ObjectIdentifier>()
        .map_err(|_| KeyError::UnsupportedAlgorithm {
            algorithm: "EC key with explicit (not named) curve parameters".into(),
        })
}

/// Maps a named curve to the algorithm signet uses with it.
pub(crate) fn ec_algorithm(curve: &ObjectIdentifier) -> Result<KeyAlgorithm, KeyError> {
    match *curve {
        SECP256R1 => Ok(KeyAlgorithm::EcdsaP256),
        SECP384R1 => Ok(KeyAlgorithm::EcdsaP384),
        SECP521R1 => Err(KeyError::UnsupportedAlgorithm {
            algorithm: format!("ECDSA on curve {curve} (P-521)"),
        }),
        _ => Err(KeyError::UnsupportedAlgorithm {
            algorithm: format!("ECDSA on curve {curve}"),
        }),
    }
}

/// Field size in bytes of the curve of an ECDSA algorithm.
pub(crate) fn ec_field_len(algorithm: KeyAlgorithm) -> usize {
    match algorithm {
        KeyAlgorithm::EcdsaP384 => 48,
        _ => 32,
    }
}

/// The curve OID of an ECDSA algorithm.
pub(crate) fn ec_curve_oid(algorithm: KeyAlgorithm) -> ObjectIdentifier {
    match algorithm {
        KeyAlgorithm::EcdsaP384 => SECP384R1,
        _ => SECP256R1,
    }
}

/// Go's `x509.ParsePKIXPublicKey` only accepts uncompressed points.
fn check_uncompressed_point(algorithm: KeyAlgorithm, point: &[u8]) -> Result<(), KeyError> {
    let expected = 1 + 2 * ec_field_len(algorithm);
    if point.len() != expected || point.first() != Some(&0x04) {
        return Err(KeyError::MalformedKey {
            format: KeyFormat::Spki,
            detail: format!(
                "an {algorithm} public key must be an uncompressed point of {expected} bytes starting with 0x04"
            ),
        });
    }
    Ok(())
}

/// RSA private keys must carry `NULL` parameters or none (Go does not check them at all).
pub(crate) fn check_null_parameters(
    algorithm: &AlgorithmIdentifierRef<'_>,
    format: KeyFormat,
) -> Result<(), KeyError> {
    match &algorithm.parameters {
        None => Ok(()),
        Some(p) if p.is_null() => Ok(()),
        Some(_) => Err(KeyError::MalformedKey {
            format,
            detail: "RSA keys must have NULL algorithm parameters".into(),
        }),
    }
}

/// The bit length of a big-endian unsigned modulus (as `UintRef` gives it: no sign byte).
pub(crate) fn rsa_modulus_bits(modulus: &[u8], format: KeyFormat) -> Result<usize, KeyError> {
    let Some(first) = modulus.iter().position(|&b| b != 0) else {
        return Err(KeyError::MalformedKey {
            format,
            detail: "the RSA modulus is zero".into(),
        });
    };
    let significant = &modulus[first..];
    Ok(significant.len() * 8 - significant[0].leading_zeros() as usize)
}

pub(crate) fn check_rsa_bits(bits: usize, (min, max): (usize, usize)) -> Result<(), KeyError> {
    if bits < min || bits > max {
        return Err(KeyError::UnsupportedRsaKeySize { bits, min, max });
    }
    Ok(())
}

/// Wraps a PKCS#1 `RSAPublicKey` into an SPKI with `rsaEncryption` and `NULL` parameters.
pub(crate) fn rsa_spki_der(pkcs1_der: &[u8]) -> Result<Vec<u8>, KeyError> {
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitStringRef::from_bytes(pkcs1_der)
            .map_err(malformed(KeyFormat::Pkcs1PublicKey))?,
    };
    spki.to_der().map_err(malformed(KeyFormat::Pkcs1PublicKey))
}

/// Builds an EC SPKI from a curve and an uncompressed point.
pub(crate) fn ec_spki_der(algorithm: KeyAlgorithm, point: &[u8]) -> Result<Vec<u8>, KeyError> {
    let curve = ec_curve_oid(algorithm);
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: ID_EC_PUBLIC_KEY,
            parameters: Some(AnyRef::from(&curve)),
        },
        subject_public_key: BitStringRef::from_bytes(point).map_err(malformed(KeyFormat::Spki))?,
    };
    spki.to_der().map_err(malformed(KeyFormat::Spki))
}

/// Builds an Ed25519 SPKI from the 32-byte public key.
pub(crate) fn ed25519_spki_der(public: &[u8]) -> Result<Vec<u8>, KeyError> {
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: ID_ED25519,
            parameters: None,
        },
        subject_public_key: BitStringRef::from_bytes(public).map_err(malformed(KeyFormat::Spki))?,
    };
    spki.to_der().map_err(malformed(KeyFormat::Spki))
}

/// A readable name for an algorithm OID signet does not support.
pub(crate) fn unsupported_oid(oid: &ObjectIdentifier) -> KeyError {
    let name = match oid.to_string().as_str() {
        "1.2.840.10040.4.1" => " (DSA)",
        "1.2.840.113549.1.1.10" => " (RSASSA-PSS)",
        "1.3.101.110" => " (X25519)",
        "1.3.101.111" => " (X448)",
        "1.3.101.113" => " (Ed448)",
        _ => "",
    };
    KeyError::UnsupportedAlgorithm {
        algorithm: format!("{oid}{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p384_tries_sha256_first_so_a_good_signature_costs_one_verify() {
        // signet and cosign sign P-384 over SHA-256; trying SHA-384 first made every
        // good signature pay a failed verification first (381 µs instead of 181 µs).
        let [first, second] = verification_algorithms(KeyAlgorithm::EcdsaP384) else {
            panic!("P-384 accepts two digests")
        };
        assert_eq!(
            (format!("{first:?}"), format!("{second:?}")),
            (
                format!("{:?}", lc::ECDSA_P384_SHA256_ASN1),
                format!("{:?}", lc::ECDSA_P384_SHA384_ASN1)
            )
        );
    }

    /// A P-256 key written by `openssl ec -pubout` (see testdata/PROVENANCE.md).
    const P256_PEM: &str = include_str!("../testdata/keys/p256-pub.pem");

    #[test]
    fn parses_and_reencodes_p256() {
        let key = PublicKey::from_pem(P256_PEM.as_bytes()).expect("parse");
        assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
        assert_eq!(key.to_pem(), P256_PEM);
        assert_eq!(key.spki_der().len(), 91);
        assert_eq!(
            key.key_id(),
            KeyId::from_bytes(digest_sha256(key.spki_der()))
        );
        assert_eq!(
            format!("{key:?}"),
            format!(
                "PublicKey {{ algorithm: EcdsaP256, key_id: {:?} }}",
                key.key_id()
            )
        );
    }

    #[test]
    fn rejects_private_labels_and_garbage() {
        let pem = P256_PEM.replace("PUBLIC KEY", "EC PRIVATE KEY");
        assert!(matches!(
            PublicKey::from_pem(pem.as_bytes()),
            Err(KeyError::UnsupportedPemLabel { found, .. }) if found == "EC PRIVATE KEY"
        ));
        assert!(matches!(
            PublicKey::from_spki_der(b"\x30\x03\x02\x01\x00"),
            Err(KeyError::MalformedKey {
                format: KeyFormat::Spki,
                ..
            })
        ));
    }

    #[test]
    fn rejects_compressed_points() {
        let key = PublicKey::from_pem(P256_PEM.as_bytes()).expect("parse");
        let point = &key.spki_der()[26..];
        let mut compressed = vec![0x02 | (point[64] & 1)];
        compressed.extend_from_slice(&point[1..33]);
        let der = ec_spki_der(KeyAlgorithm::EcdsaP256, &compressed).expect("encode");
        assert!(matches!(
            PublicKey::from_spki_der(&der),
            Err(KeyError::MalformedKey {
                format: KeyFormat::Spki,
                ..
            })
        ));
    }

    #[test]
    fn rejects_point_not_on_curve() {
        let key = PublicKey::from_pem(P256_PEM.as_bytes()).expect("parse");
        let mut point = key.spki_der()[26..].to_vec();
        point[64] ^= 1;
        let der = ec_spki_der(KeyAlgorithm::EcdsaP256, &point).expect("encode");
        assert!(matches!(
            PublicKey::from_spki_der(&der),
            Err(KeyError::InvalidKey {
                algorithm: KeyAlgorithm::EcdsaP256,
                ..
            })
        ));
    }

    #[test]
    fn rsa_spki_needs_null_parameters() {
        let pkcs1 = include_str!("../testdata/keys/rsa2048-pub-pkcs1.pem");
        let der = pem::decode(pkcs1.as_bytes()).expect("pem").der.to_vec();
        let key = PublicKey::from_pkcs1_der(&der).expect("pkcs1");
        assert_eq!(key.algorithm(), KeyAlgorithm::Rsa);
        let without_null = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: None,
            },
            subject_public_key: BitStringRef::from_bytes(&der).expect("bits"),
        }
        .to_der()
        .expect("encode");
        assert!(matches!(
            PublicKey::from_spki_der(&without_null),
            Err(KeyError::MalformedKey {
                format: KeyFormat::Spki,
                ..
            })
        ));
    }

    #[test]
    fn der_signature_shape() {
        assert!(is_der_ecdsa_signature(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01
        ]));
        // Trailing byte after the sequence.
        assert!(!is_der_ecdsa_signature(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00
        ]));
        // Trailing byte inside the sequence.
        assert!(!is_der_ecdsa_signature(&[
            0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00
        ]));
        assert!(!is_der_ecdsa_signature(&[]));
        assert!(!is_der_ecdsa_signature(&[0u8; 64]));
    }

    #[test]
    fn modulus_bits() {
        assert_eq!(rsa_modulus_bits(&[0x80, 0x00], KeyFormat::Spki), Ok(16));
        assert_eq!(rsa_modulus_bits(&[0x01], KeyFormat::Spki), Ok(1));
        assert!(rsa_modulus_bits(&[0x00], KeyFormat::Spki).is_err());
    }
}

#[cfg(test)]
mod prehash_tests {
    use crate::{KeyAlgorithm, PrivateKey, SignatureError, Signer, digest_sha256};

    #[test]
    fn digest_only_verification_matches_full_message_verification() {
        let message = b"the artifact";
        for alg in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384] {
            let key = PrivateKey::generate(alg).unwrap();
            let sig = key.sign(message).unwrap();
            let public = key.public_key();
            public
                .verify_prehashed_sha256(&digest_sha256(message), &sig)
                .unwrap();
            assert!(matches!(
                public.verify_prehashed_sha256(&digest_sha256(b"another artifact"), &sig),
                Err(SignatureError::Invalid { .. })
            ));
        }
        let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).unwrap();
        let sig = ed.sign(message).unwrap();
        assert_eq!(
            ed.public_key()
                .verify_prehashed_sha256(&digest_sha256(message), &sig),
            Err(SignatureError::PrehashUnsupported {
                algorithm: KeyAlgorithm::Ed25519
            })
        );
    }
}
