//! Keys, signatures and key files for signet, byte-compatible with cosign.
//!
//! This crate is the only place in signet that names a cryptography library.
//! It provides:
//!
//! - [`PublicKey`]: parse `PUBLIC KEY` (SPKI) and `RSA PUBLIC KEY` (PKCS#1) PEM,
//!   write PEM exactly as Go's `pem.EncodeToMemory` does, compute the [`KeyId`]
//!   (SHA-256 of the SPKI DER) and verify signatures the way `cosign verify --key` does.
//! - [`PrivateKey`] and the [`Signer`] trait: generate ECDSA P-256/P-384 and
//!   Ed25519 keys, sign like cosign (ASN.1 DER ECDSA over SHA-256, pure Ed25519,
//!   RSA PKCS#1 v1.5 with SHA-256), and serialise to PKCS#8 in the exact layout of
//!   Go's `x509.MarshalPKCS8PrivateKey`.
//! - [`cosign`]: read and write cosign's encrypted private key files
//!   (`ENCRYPTED SIGSTORE PRIVATE KEY`, scrypt + nacl/secretbox).
//! - [`import_private_key`]: what `cosign import-key-pair` reads (PKCS#1, SEC1,
//!   PKCS#8), plus encrypted PKCS#8 (which cosign cannot read) and cosign key files.
//! - [`scrypt`]: a fast scrypt, used to unlock cosign keys.
//!
//! All signature arithmetic is done by `aws-lc-rs`. The RustCrypto `der`,
//! `spki`, `pkcs8`, `sec1` and `pkcs1` crates are used only to parse and encode
//! key formats.
//!
//! ```
//! use signet_crypto::{KeyAlgorithm, PrivateKey, PublicKey, Signer, cosign};
//!
//! let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256)?;
//! let signature = key.sign(b"payload")?;
//! let public = PublicKey::from_pem(key.public_key().to_pem().as_bytes())?;
//! public.verify(b"payload", &signature)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What this crate does not do
//! - No I/O: callers read files, prompt for passwords and read `COSIGN_PASSWORD`.
//! - No certificates, Fulcio, Rekor or transparency-log logic, and no KMS/PKCS#11 keys.
//! - No Ed25519ph, no RSA-PSS, no P-521, and no RSA key generation.
//! - It does not enforce low-S ECDSA signatures (Go's `ecdsa.VerifyASN1` does not either).

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod cosign;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod import;
mod pem;
mod private;
mod public;
pub mod scrypt;

use core::fmt;
use core::str::FromStr;

pub use error::{KeyError, KeyFormat, SignatureError};
pub use import::import_private_key;
pub use pem::encode as encode_pem;
pub use private::{PrivateKey, Signer};
pub use public::PublicKey;

/// The signature algorithms signet handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// ECDSA on NIST P-256, ASN.1 DER signatures over SHA-256 (cosign's default).
    EcdsaP256,
    /// ECDSA on NIST P-384. Signs over SHA-256 (as `cosign verify --key` expects);
    /// verification accepts SHA-384 or SHA-256.
    EcdsaP384,
    /// Pure Ed25519.
    Ed25519,
    /// RSA with PKCS#1 v1.5 padding and SHA-256.
    Rsa,
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyAlgorithm::EcdsaP256 => "ecdsa-p256",
            KeyAlgorithm::EcdsaP384 => "ecdsa-p384",
            KeyAlgorithm::Ed25519 => "ed25519",
            KeyAlgorithm::Rsa => "rsa",
        })
    }
}

impl FromStr for KeyAlgorithm {
    type Err = KeyError;

    /// Parses `ecdsa-p256`, `ecdsa-p384` or `ed25519`: the algorithms signet can generate.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ecdsa-p256" => Ok(KeyAlgorithm::EcdsaP256),
            "ecdsa-p384" => Ok(KeyAlgorithm::EcdsaP384),
            "ed25519" => Ok(KeyAlgorithm::Ed25519),
            _ => Err(KeyError::UnknownAlgorithmName {
                found: s.to_owned(),
            }),
        }
    }
}

/// A key identifier: the SHA-256 of the key's DER `SubjectPublicKeyInfo`.
///
/// `Display` and `Debug` print it as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// Wraps a raw SHA-256 value.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        KeyId(bytes)
    }

    /// The raw SHA-256 value.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// SHA-256 of `data`.
pub fn digest_sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip() {
        for alg in [
            KeyAlgorithm::EcdsaP256,
            KeyAlgorithm::EcdsaP384,
            KeyAlgorithm::Ed25519,
        ] {
            assert_eq!(alg.to_string().parse::<KeyAlgorithm>(), Ok(alg));
        }
        assert_eq!(KeyAlgorithm::Rsa.to_string(), "rsa");
        assert_eq!(
            "ECDSA-P256".parse::<KeyAlgorithm>(),
            Err(KeyError::UnknownAlgorithmName {
                found: "ECDSA-P256".into()
            })
        );
    }

    #[test]
    fn keys_are_shareable_and_signer_is_object_safe() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<PublicKey>();
        assert_send_sync::<PrivateKey>();
        assert_send_sync::<cosign::EncryptedKeyFile>();
        let signer: Box<dyn Signer> =
            Box::new(PrivateKey::generate(KeyAlgorithm::Ed25519).expect("generate"));
        let signature = signer.sign(b"x").expect("sign");
        signer
            .public_key()
            .verify(b"x", &signature)
            .expect("verify");
    }

    #[test]
    fn sha256_vector() {
        assert_eq!(
            hex::encode(digest_sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let id = KeyId::from_bytes(digest_sha256(b"abc"));
        assert_eq!(id.to_string().len(), 64);
        assert_eq!(format!("{id:?}"), format!("KeyId({id})"));
    }
}
