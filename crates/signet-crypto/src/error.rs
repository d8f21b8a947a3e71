//! Errors of this crate: [`KeyError`] for key handling, [`SignatureError`] for verification.

use core::fmt;

use crate::{KeyAlgorithm, KeyId};

/// The encoding a key was being read as when it turned out to be malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFormat {
    /// An encrypted PKCS#8 `EncryptedPrivateKeyInfo` (PEM `ENCRYPTED PRIVATE KEY`).
    EncryptedPkcs8,
    /// A PKCS#1 `RSAPrivateKey` (PEM `RSA PRIVATE KEY`).
    Pkcs1PrivateKey,
    /// A PKCS#1 `RSAPublicKey` (PEM `RSA PUBLIC KEY`).
    Pkcs1PublicKey,
    /// A PKCS#8 `PrivateKeyInfo` (PEM `PRIVATE KEY`, or the plaintext of a cosign key file).
    Pkcs8,
    /// A SEC1 `ECPrivateKey` (PEM `EC PRIVATE KEY`).
    Sec1,
    /// An X.509 `SubjectPublicKeyInfo` (PEM `PUBLIC KEY`).
    Spki,
}

impl fmt::Display for KeyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyFormat::EncryptedPkcs8 => "encrypted PKCS#8 private key",
            KeyFormat::Pkcs1PrivateKey => "PKCS#1 RSA private key",
            KeyFormat::Pkcs1PublicKey => "PKCS#1 RSA public key",
            KeyFormat::Pkcs8 => "PKCS#8 private key",
            KeyFormat::Sec1 => "SEC1 EC private key",
            KeyFormat::Spki => "SubjectPublicKeyInfo public key",
        })
    }
}

/// Everything that can go wrong while reading, writing, generating or using a key.
///
/// Variants carry the evidence (what was found) and their messages say what to do next.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Generating keys of this algorithm is not offered.
    #[error(
        "generating {algorithm} keys is not supported: generate the key with openssl (for example `openssl genrsa -out key.pem 3072`) and import it"
    )]
    GenerationUnsupported {
        /// The algorithm that was asked for.
        algorithm: KeyAlgorithm,
    },

    /// The crypto library rejected the key material (for example a point not on the curve,
    /// or a private key that does not match its public key).
    #[error(
        "the {algorithm} key is invalid ({detail}): the key file is damaged or inconsistent; regenerate the key"
    )]
    InvalidKey {
        /// The algorithm the key claims to be.
        algorithm: KeyAlgorithm,
        /// Why the crypto library rejected it.
        detail: &'static str,
    },

    /// A cosign key file has a nonce that is not 24 bytes long.
    #[error(
        "the cosign key file has a {len}-byte nonce, nacl/secretbox needs 24 bytes: the file is damaged or was not written by cosign"
    )]
    InvalidNonceLength {
        /// The length found.
        len: usize,
    },

    /// A cosign key file has a salt that is not 32 bytes long.
    #[error(
        "the cosign key file has a {len}-byte salt, cosign writes 32 bytes: the file is damaged or was not written by cosign"
    )]
    InvalidSaltLength {
        /// The length found.
        len: usize,
    },

    /// An invalid combination of scrypt parameters was asked for.
    #[error(
        "invalid scrypt parameters log2(N)={log_n} r={r} p={p}: N must be at least 2 and below 2^(16·r), r and p at least 1, r·p below 2^30, and 128·r·N at most 1 GiB"
    )]
    InvalidScryptParams {
        /// `log2(N)`.
        log_n: u8,
        /// Block size.
        r: u32,
        /// Parallelism.
        p: u32,
    },

    /// The PEM block is encrypted with OpenSSL's legacy `Proc-Type: 4,ENCRYPTED` scheme.
    #[error(
        "the {label:?} PEM block uses legacy OpenSSL encryption (a Proc-Type header), which is not supported: convert it with `openssl pkcs8 -topk8 -in OLD.pem -out NEW.pem` and import NEW.pem"
    )]
    LegacyPemEncryption {
        /// The PEM label of the block.
        label: String,
    },

    /// A DER structure inside the PEM block could not be parsed.
    #[error("malformed {format}: {detail}; the key file is damaged or is not a {format}")]
    MalformedKey {
        /// What the bytes were being read as.
        format: KeyFormat,
        /// What is wrong with them.
        detail: String,
    },

    /// A cosign encrypted key file is not the JSON/base64 structure cosign writes.
    #[error(
        "malformed cosign key file: {detail}; the file is damaged or is not a cosign private key"
    )]
    MalformedKeyFile {
        /// What is wrong with it.
        detail: String,
    },

    /// The input is not PEM, or its PEM framing or base64 body is broken.
    #[error(
        "malformed PEM: {detail}; expected a block such as -----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----"
    )]
    MalformedPem {
        /// What is wrong with it.
        detail: &'static str,
    },

    /// Allocating the scrypt work area failed.
    #[error("cannot allocate {bytes} bytes for scrypt: free some memory and try again")]
    OutOfMemory {
        /// The number of bytes asked for.
        bytes: u64,
    },

    /// The key is encrypted and no password was supplied.
    #[error(
        "the {label:?} key is encrypted and no password was given: supply its password (for example through COSIGN_PASSWORD)"
    )]
    PasswordRequired {
        /// The PEM label of the key.
        label: String,
    },

    /// A public key was supplied where a private key is required.
    #[error(
        "a public key ({label:?}) was given where a private key is expected: pass the private key file (for example cosign.key, not cosign.pub)"
    )]
    PublicKeyGiven {
        /// The PEM label found.
        label: String,
    },

    /// The operating system's random number generator failed.
    #[error(
        "the system random number generator failed: check that getrandom(2) or /dev/urandom is available"
    )]
    RandomUnavailable,

    /// The crypto library failed to produce a signature.
    #[error(
        "signing with the {algorithm} key failed inside the crypto library: the key may be damaged; regenerate it"
    )]
    SigningFailed {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
    },

    /// An algorithm name that is not one of `ecdsa-p256`, `ecdsa-p384`, `ed25519`, `rsa`.
    #[error("unknown key algorithm {found:?}: use ecdsa-p256, ecdsa-p384 or ed25519")]
    UnknownAlgorithmName {
        /// The name given.
        found: String,
    },

    /// The key's algorithm (or curve) is not one signet supports.
    #[error(
        "unsupported key algorithm {algorithm}: signet supports ECDSA P-256, ECDSA P-384, Ed25519 and RSA keys"
    )]
    UnsupportedAlgorithm {
        /// A description of what was found (OID and, where known, its name).
        algorithm: String,
    },

    /// A cosign key file uses a cipher other than `nacl/secretbox`.
    #[error(
        "unsupported cipher {name:?} in the cosign key file: cosign keys use \"nacl/secretbox\"; regenerate or re-import the key"
    )]
    UnsupportedCipher {
        /// The cipher name found in the file.
        name: String,
    },

    /// A cosign key file uses a key derivation function other than `scrypt`.
    #[error(
        "unsupported key derivation function {name:?} in the cosign key file: cosign keys use \"scrypt\"; regenerate or re-import the key"
    )]
    UnsupportedKdf {
        /// The KDF name found in the file.
        name: String,
    },

    /// The PEM block has a label that is not accepted here.
    #[error("unsupported PEM block type {found:?}: expected {expected}")]
    UnsupportedPemLabel {
        /// The label found.
        found: String,
        /// The labels accepted here.
        expected: &'static str,
    },

    /// An encrypted PKCS#8 key uses a scheme or cost that is not accepted.
    #[error(
        "unsupported encrypted PKCS#8 key: {detail}; re-encrypt it with `openssl pkcs8 -topk8 -v2 aes-256-cbc` or import it unencrypted"
    )]
    UnsupportedPkcs8Encryption {
        /// What is not supported.
        detail: String,
    },

    /// An RSA key whose size is outside the accepted range.
    #[error("unsupported RSA key size of {bits} bits: use a key of {min} to {max} bits")]
    UnsupportedRsaKeySize {
        /// The modulus size found.
        bits: usize,
        /// The smallest accepted size.
        min: usize,
        /// The largest accepted size.
        max: usize,
    },

    /// A cosign key file asks for scrypt parameters cosign does not accept.
    #[error(
        "unsupported scrypt parameters N={n} r={r} p={p}: cosign keys use N=32768, 65536 or 131072 with r=8 p=1; regenerate or re-import the key"
    )]
    UnsupportedScryptParams {
        /// The cost `N` found.
        n: i64,
        /// The block size `r` found.
        r: i64,
        /// The parallelism `p` found.
        p: i64,
    },

    /// Decryption failed authentication.
    #[error("cannot decrypt the private key: wrong password, or the key file is corrupt")]
    WrongPassword,
}

/// Why a signature did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature is well-formed but does not match the message and key.
    #[error(
        "the signature does not verify with the {algorithm} key {key_id}: the signed data was changed, or it was signed by another key"
    )]
    Invalid {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// The key's identifier.
        key_id: KeyId,
    },

    /// The signature bytes cannot be a signature of this key type.
    #[error("malformed {algorithm} signature: {detail}")]
    Malformed {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// What is wrong with it, and what was expected.
        detail: &'static str,
    },

    /// A signature over a digest alone cannot be checked with this key type (Ed25519
    /// signs the whole message, not a digest).
    #[error(
        "a {algorithm} signature cannot be verified against a digest alone: pass the whole message"
    )]
    PrehashUnsupported {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
    },
}
