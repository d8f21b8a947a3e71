//! Private keys: generation, PKCS#8 in Go's layout, and signing.

use core::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin, EcPrivateKeyBin};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{self as lc, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use der::asn1::{AnyRef, OctetStringRef, UintRef};
use der::{Decode, Encode};
use pkcs8::PrivateKeyInfoRef;
use sec1::EcPrivateKey;
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

use crate::public::{
    ID_EC_PUBLIC_KEY, ID_ED25519, RSA_ENCRYPTION, check_null_parameters, check_rsa_bits,
    ec_algorithm, ec_curve_oid, ec_field_len, ec_spki_der, ed25519_spki_der, malformed,
    named_curve, rsa_modulus_bits, rsa_spki_der, unsupported_oid,
};
use crate::{KeyAlgorithm, KeyError, KeyFormat, PublicKey};

/// RSA private keys are accepted from 2048 to 4096 bits, like cosign's `goodkey` check.
const RSA_PRIVATE_BITS: (usize, usize) = (2048, 4096);

/// Something that signs payloads the way cosign does.
///
/// Implementations MUST produce signatures that [`PublicKey::verify`] accepts
/// for [`Signer::public_key`], and MUST NOT expose secret material through
/// `Debug` or errors.
pub trait Signer: Send + Sync {
    /// The public half of the signing key.
    fn public_key(&self) -> &PublicKey;

    /// Signs `message` (the whole payload, not a digest).
    ///
    /// # Errors
    /// [`KeyError::SigningFailed`] when the crypto library fails.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;
}

/// A private key of one of the [`KeyAlgorithm`]s.
///
/// `Debug` prints only the algorithm and key ID.
pub struct PrivateKey {
    pair: Pair,
    public: PublicKey,
    /// The key in Go's `x509.MarshalPKCS8PrivateKey` layout.
    pkcs8: Zeroizing<Vec<u8>>,
}

enum Pair {
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    Rsa(RsaKeyPair),
}

impl PrivateKey {
    /// Generates a new key. ECDSA P-256 is what `cosign generate-key-pair` makes.
    ///
    /// # Errors
    /// [`KeyError::GenerationUnsupported`] for [`KeyAlgorithm::Rsa`];
    /// [`KeyError::RandomUnavailable`] if the crypto library cannot generate.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Self, KeyError> {
        match algorithm {
            KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
                let pair = EcdsaKeyPair::generate(ecdsa_signing(algorithm))
                    .map_err(|_| KeyError::RandomUnavailable)?;
                Self::from_ecdsa_pair(algorithm, pair)
            }
            KeyAlgorithm::Ed25519 => {
                let pair = Ed25519KeyPair::generate().map_err(|_| KeyError::RandomUnavailable)?;
                let seed = pair.seed().map_err(|_| KeyError::RandomUnavailable)?;
                let seed: Curve25519SeedBin<'_> = seed
                    .as_be_bytes()
                    .map_err(|_| KeyError::RandomUnavailable)?;
                Self::from_ed25519_seed(seed.as_ref(), None)
            }
            KeyAlgorithm::Rsa => Err(KeyError::GenerationUnsupported { algorithm }),
        }
    }

    /// Parses an unencrypted PKCS#8 `PrivateKeyInfo` (v1 or v2) holding an
    /// ECDSA P-256/P-384, Ed25519 or RSA key, with the rules of Go's
    /// `x509.ParsePKCS8PrivateKey`.
    ///
    /// # Errors
    /// [`KeyError::MalformedKey`], [`KeyError::UnsupportedAlgorithm`],
    /// [`KeyError::UnsupportedRsaKeySize`] or [`KeyError::InvalidKey`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let info = PrivateKeyInfoRef::from_der(der).map_err(malformed(KeyFormat::Pkcs8))?;
        let private_key = info.private_key.as_bytes();
        match info.algorithm.oid {
            ID_EC_PUBLIC_KEY => {
                let curve = named_curve(&info.algorithm, KeyFormat::Pkcs8)?;
                let algorithm = ec_algorithm(&curve)?;
                let sec1 =
                    EcPrivateKey::from_der(private_key).map_err(|e| KeyError::MalformedKey {
                        format: KeyFormat::Pkcs8,
                        detail: format!("the inner SEC1 key: {e}"),
                    })?;
                Self::from_ec_scalar(algorithm, sec1.private_key, KeyFormat::Pkcs8)
            }
            ID_ED25519 => {
                if info.algorithm.parameters.is_some() {
                    return Err(KeyError::MalformedKey {
                        format: KeyFormat::Pkcs8,
                        detail: "Ed25519 keys must not have algorithm parameters".into(),
                    });
                }
                let seed = <&OctetStringRef>::from_der(private_key)
                    .map_err(malformed(KeyFormat::Pkcs8))?
                    .as_bytes();
                if seed.len() != 32 {
                    return Err(KeyError::MalformedKey {
                        format: KeyFormat::Pkcs8,
                        detail: format!("an Ed25519 seed is 32 bytes, found {}", seed.len()),
                    });
                }
                let public = match &info.public_key {
                    Some(bits) => Some(bits.as_bytes().ok_or_else(|| KeyError::MalformedKey {
                        format: KeyFormat::Pkcs8,
                        detail: "the public key BIT STRING has unused bits".into(),
                    })?),
                    None => None,
                };
                Self::from_ed25519_seed(seed, public)
            }
            RSA_ENCRYPTION => {
                check_null_parameters(&info.algorithm, KeyFormat::Pkcs8)?;
                Self::from_pkcs1_der_as(private_key, KeyFormat::Pkcs8)
            }
            other => Err(unsupported_oid(&other)),
        }
    }

    /// Parses a DER PKCS#1 `RSAPrivateKey` (PEM `RSA PRIVATE KEY`).
    pub(crate) fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::from_pkcs1_der_as(der, KeyFormat::Pkcs1PrivateKey)
    }

    fn from_pkcs1_der_as(der: &[u8], format: KeyFormat) -> Result<Self, KeyError> {
        let rsa = pkcs1::RsaPrivateKey::<UintRef<'_>>::from_der(der).map_err(|e| {
            KeyError::MalformedKey {
                format,
                detail: format!("the RSA private key: {e}"),
            }
        })?;
        if rsa.other_prime_infos.is_some() {
            return Err(KeyError::UnsupportedAlgorithm {
                algorithm: "multi-prime RSA".into(),
            });
        }
        let bits = rsa_modulus_bits(rsa.modulus.as_bytes(), format)?;
        check_rsa_bits(bits, RSA_PRIVATE_BITS)?;
        let pair = RsaKeyPair::from_der(der).map_err(|e| KeyError::InvalidKey {
            algorithm: KeyAlgorithm::Rsa,
            detail: e.description_(),
        })?;
        let public_pkcs1 = rsa.public_key().to_der().map_err(malformed(format))?;
        let public = PublicKey::from_spki_der(&rsa_spki_der(&public_pkcs1)?)?;
        // The DER of a validated RSAPrivateKey is canonical, so it is what Go writes too.
        let pkcs1 = Zeroizing::new(rsa.to_der().map_err(malformed(format))?);
        let pkcs8 = encode_pkcs8(
            AlgorithmIdentifierRef {
                oid: RSA_ENCRYPTION,
                parameters: Some(AnyRef::NULL),
            },
            &pkcs1,
        )?;
        Ok(PrivateKey {
            pair: Pair::Rsa(pair),
            public,
            pkcs8,
        })
    }

    /// Parses a DER SEC1 `ECPrivateKey` (PEM `EC PRIVATE KEY`), which must name its curve.
    pub(crate) fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        let sec1 = EcPrivateKey::from_der(der).map_err(|e| KeyError::MalformedKey {
            format: KeyFormat::Sec1,
            detail: e.to_string(),
        })?;
        let curve = sec1
            .parameters
            .and_then(sec1::EcParameters::named_curve)
            .ok_or_else(|| KeyError::MalformedKey {
                format: KeyFormat::Sec1,
                detail: "the key does not name its curve".into(),
            })?;
        let algorithm = ec_algorithm(&curve)?;
        Self::from_ec_scalar(algorithm, sec1.private_key, KeyFormat::Sec1)
    }

    /// Builds an ECDSA key from its private scalar; like Go, the public key is
    /// recomputed from the scalar and any embedded public key is ignored.
    fn from_ec_scalar(
        algorithm: KeyAlgorithm,
        scalar: &[u8],
        format: KeyFormat,
    ) -> Result<Self, KeyError> {
        let field_len = ec_field_len(algorithm);
        // Go strips leading zero bytes beyond the field size and left-pads shorter scalars.
        let mut scalar = scalar;
        while scalar.len() > field_len {
            match scalar.split_first() {
                Some((0, rest)) => scalar = rest,
                _ => {
                    return Err(KeyError::MalformedKey {
                        format,
                        detail: format!("the private scalar is longer than {field_len} bytes"),
                    });
                }
            }
        }
        let mut padded = Zeroizing::new(vec![0u8; field_len]);
        padded[field_len - scalar.len()..].copy_from_slice(scalar);
        let curve = ec_curve_oid(algorithm);
        let canonical = Zeroizing::new(
            EcPrivateKey {
                private_key: &padded,
                parameters: Some(sec1::EcParameters::NamedCurve(curve)),
                public_key: None,
            }
            .to_der()
            .map_err(malformed(format))?,
        );
        let pair = EcdsaKeyPair::from_private_key_der(ecdsa_signing(algorithm), &canonical)
            .map_err(|e| KeyError::InvalidKey {
                algorithm,
                detail: e.description_(),
            })?;
        Self::from_ecdsa_pair(algorithm, pair)
    }

    fn from_ecdsa_pair(algorithm: KeyAlgorithm, pair: EcdsaKeyPair) -> Result<Self, KeyError> {
        let invalid = |_| KeyError::InvalidKey {
            algorithm,
            detail: "cannot export the private scalar",
        };
        let scalar: EcPrivateKeyBin<'_> = pair.private_key().as_be_bytes().map_err(invalid)?;
        let point = pair.public_key().as_ref();
        let public = PublicKey::from_spki_der(&ec_spki_der(algorithm, point)?)?;
        // Go's marshalECPrivateKeyWithOID with a nil OID: no [0] parameters, with [1] public key.
        let sec1 = Zeroizing::new(
            EcPrivateKey {
                private_key: scalar.as_ref(),
                parameters: None,
                public_key: Some(point),
            }
            .to_der()
            .map_err(malformed(KeyFormat::Pkcs8))?,
        );
        let curve = ec_curve_oid(algorithm);
        let pkcs8 = encode_pkcs8(
            AlgorithmIdentifierRef {
                oid: ID_EC_PUBLIC_KEY,
                parameters: Some(AnyRef::from(&curve)),
            },
            &sec1,
        )?;
        Ok(PrivateKey {
            pair: Pair::Ecdsa(pair),
            public,
            pkcs8,
        })
    }

    fn from_ed25519_seed(seed: &[u8], expected_public: Option<&[u8]>) -> Result<Self, KeyError> {
        let invalid = |e: aws_lc_rs::error::KeyRejected| KeyError::InvalidKey {
            algorithm: KeyAlgorithm::Ed25519,
            detail: e.description_(),
        };
        let pair = match expected_public {
            Some(public) => Ed25519KeyPair::from_seed_and_public_key(seed, public),
            None => Ed25519KeyPair::from_seed_unchecked(seed),
        }
        .map_err(invalid)?;
        let public = PublicKey::from_spki_der(&ed25519_spki_der(pair.public_key().as_ref())?)?;
        // Go: PrivateKey is the DER OCTET STRING of the 32-byte seed.
        let inner = Zeroizing::new(
            OctetStringRef::new(seed)
                .and_then(|s| s.to_der())
                .map_err(malformed(KeyFormat::Pkcs8))?,
        );
        let pkcs8 = encode_pkcs8(
            AlgorithmIdentifierRef {
                oid: ID_ED25519,
                parameters: None,
            },
            &inner,
        )?;
        Ok(PrivateKey {
            pair: Pair::Ed25519(pair),
            public,
            pkcs8,
        })
    }

    /// The key as PKCS#8 DER, in exactly the layout of Go's `x509.MarshalPKCS8PrivateKey`
    /// (the plaintext of a cosign key file). For P-256 this is 138 bytes.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.public.algorithm()
    }
}

impl Signer for PrivateKey {
    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let algorithm = self.algorithm();
        let failed = |_| KeyError::SigningFailed { algorithm };
        match &self.pair {
            Pair::Ecdsa(pair) => {
                let signature = if algorithm == KeyAlgorithm::EcdsaP384 {
                    // cosign's `verify --key` hashes with SHA-256 whatever the curve. An
                    // ECDSA signature over a 32-byte digest on P-384 is the signature over
                    // that digest zero-extended to 48 bytes (same integer), which lets
                    // aws-lc-rs's SHA-384 signing key sign a SHA-256 digest.
                    let mut padded = [0u8; 48];
                    padded[16..].copy_from_slice(&crate::digest_sha256(message));
                    let digest = digest::Digest::import_less_safe(&padded, &digest::SHA384)
                        .map_err(failed)?;
                    pair.sign_digest(&digest).map_err(failed)?
                } else {
                    pair.sign(&SystemRandom::new(), message).map_err(failed)?
                };
                Ok(signature.as_ref().to_vec())
            }
            Pair::Ed25519(pair) => Ok(pair.try_sign(message).map_err(failed)?.as_ref().to_vec()),
            Pair::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &lc::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(failed)?;
                Ok(signature)
            }
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm())
            .field("key_id", &self.public.key_id())
            .finish_non_exhaustive()
    }
}

fn ecdsa_signing(algorithm: KeyAlgorithm) -> &'static lc::EcdsaSigningAlgorithm {
    match algorithm {
        KeyAlgorithm::EcdsaP384 => &lc::ECDSA_P384_SHA384_ASN1_SIGNING,
        _ => &lc::ECDSA_P256_SHA256_ASN1_SIGNING,
    }
}

/// `PrivateKeyInfo { version 0, algorithm, OCTET STRING private_key }`, as Go writes it.
fn encode_pkcs8(
    algorithm: AlgorithmIdentifierRef<'_>,
    private_key: &[u8],
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let info = PrivateKeyInfoRef {
        algorithm,
        private_key: OctetStringRef::new(private_key).map_err(malformed(KeyFormat::Pkcs8))?,
        public_key: None,
    };
    Ok(Zeroizing::new(
        info.to_der().map_err(malformed(KeyFormat::Pkcs8))?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_generated() -> Vec<PrivateKey> {
        [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Ed25519,
        ]
        .into_iter()
        .map(|alg| PrivateKey::generate(alg).expect("generate"))
        .collect()
    }

    #[test]
    fn generate_sign_verify_and_reject_tampering() {
        for key in all_generated() {
            let alg = key.algorithm();
            let signature = key.sign(b"payload").expect("sign");
            let public = key.public_key();
            public.verify(b"payload", &signature).expect("verify");
            assert_eq!(
                public.verify(b"payloae", &signature),
                Err(crate::SignatureError::Invalid {
                    algorithm: alg,
                    key_id: public.key_id()
                }),
                "{alg}: wrong message"
            );
            let other = PrivateKey::generate(alg).expect("generate");
            assert!(
                matches!(
                    other.public_key().verify(b"payload", &signature),
                    Err(crate::SignatureError::Invalid { .. })
                ),
                "{alg}: wrong key"
            );
            let mut flipped = signature.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            assert!(
                public.verify(b"payload", &flipped).is_err(),
                "{alg}: bit flip"
            );
        }
    }

    #[test]
    fn rsa_generation_is_refused() {
        assert_eq!(
            PrivateKey::generate(KeyAlgorithm::Rsa).map(|_| ()),
            Err(KeyError::GenerationUnsupported {
                algorithm: KeyAlgorithm::Rsa
            })
        );
    }

    #[test]
    fn pkcs8_layout_matches_go() {
        for _ in 0..32 {
            let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
            let der = key.to_pkcs8_der();
            assert_eq!(der.len(), 138, "P-256 PKCS#8 is 138 bytes, as Go writes it");
            // version 0, id-ecPublicKey + prime256v1, SEC1 v1 with no [0], with [1].
            assert_eq!(
                hex::encode(&der[..36]),
                "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420"
            );
            assert_eq!(hex::encode(&der[68..74]), "a14403420004");
            let again = PrivateKey::from_pkcs8_der(&der).expect("parse");
            assert_eq!(*again.to_pkcs8_der(), *der);
            assert_eq!(again.public_key(), key.public_key());
        }
        let p384 = PrivateKey::generate(KeyAlgorithm::EcdsaP384).expect("generate");
        assert_eq!(p384.to_pkcs8_der().len(), 185);
        let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).expect("generate");
        let der = ed.to_pkcs8_der();
        assert_eq!(der.len(), 48);
        assert_eq!(hex::encode(&der[..16]), "302e020100300506032b657004220420");
    }

    #[test]
    fn p384_signs_sha256_and_verifies_both() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP384).expect("generate");
        let signature = key.sign(b"payload").expect("sign");
        // Verifiable as plain ECDSA-P384-SHA256 by an independent verifier.
        lc::UnparsedPublicKey::new(&lc::ECDSA_P384_SHA256_ASN1, key.public_key().spki_der())
            .verify(b"payload", &signature)
            .expect("p384 over sha256");
        assert!(
            lc::UnparsedPublicKey::new(&lc::ECDSA_P384_SHA384_ASN1, key.public_key().spki_der())
                .verify(b"payload", &signature)
                .is_err()
        );
        // A SHA-384 signature made elsewhere is accepted too.
        let Pair::Ecdsa(pair) = &key.pair else {
            panic!("not ecdsa")
        };
        let sha384 = pair.sign(&SystemRandom::new(), b"payload").expect("sign");
        key.public_key()
            .verify(b"payload", sha384.as_ref())
            .expect("p384 over sha384");
    }

    #[test]
    fn debug_hides_secrets() {
        for key in all_generated() {
            let debug = format!("{key:?}");
            assert!(debug.starts_with("PrivateKey { algorithm: "), "{debug}");
            let der = key.to_pkcs8_der();
            assert!(!debug.contains(&hex::encode(&der[der.len() - 16..])));
        }
    }

    #[test]
    fn scalar_padding_follows_go() {
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
        let der = key.to_pkcs8_der();
        let scalar = der[36..68].to_vec();
        // A scalar with an extra leading zero byte is accepted and normalised.
        let mut long = vec![0u8];
        long.extend_from_slice(&scalar);
        let again = PrivateKey::from_ec_scalar(KeyAlgorithm::EcdsaP256, &long, KeyFormat::Sec1)
            .expect("ok");
        assert_eq!(*again.to_pkcs8_der(), *der);
        // A longer scalar with a non-zero leading byte is rejected.
        let mut bad = vec![1u8];
        bad.extend_from_slice(&scalar);
        assert!(matches!(
            PrivateKey::from_ec_scalar(KeyAlgorithm::EcdsaP256, &bad, KeyFormat::Sec1),
            Err(KeyError::MalformedKey { .. })
        ));
        // Zero is not a valid scalar.
        assert!(matches!(
            PrivateKey::from_ec_scalar(KeyAlgorithm::EcdsaP256, &[0u8; 32], KeyFormat::Sec1),
            Err(KeyError::InvalidKey { .. })
        ));
    }
}
