//! cosign's encrypted private key file (`cosign.key`).
//!
//! The file is a PEM block labelled [`PEM_LABEL`] (or [`LEGACY_PEM_LABEL`] for
//! keys written before cosign v2.1). Its body is this JSON, field order fixed,
//! byte fields in standard base64 with padding:
//!
//! ```text
//! {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<32 bytes>"},
//!  "cipher":{"name":"nacl/secretbox","nonce":"<24 bytes>"},"ciphertext":"<…>"}
//! ```
//!
//! The key is `scrypt(password, salt, N, r, p, 32)`, the cipher is NaCl
//! `secretbox` (XSalsa20-Poly1305, tag first), and the plaintext is the key in
//! PKCS#8 DER as written by Go's `x509.MarshalPKCS8PrivateKey`.
//!
//! Reading is as strict as go-securesystemslib's `encrypted.Decrypt`: the names
//! must be exactly `scrypt` and `nacl/secretbox`, and the scrypt parameters must
//! be one of the three sets cosign has written, checked *before* any key
//! derivation so that a hostile file cannot make us work for minutes.

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::{Key, Nonce, XSalsa20Poly1305};
use serde::Deserialize;
use zeroize::Zeroizing;

use base64::Engine as _;

use crate::pem::{self, GO_STD};
use crate::scrypt::{ScryptParams, scrypt};
use crate::{KeyError, PrivateKey};

/// The PEM label cosign v2.1+ writes.
pub const PEM_LABEL: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";
/// The PEM label cosign wrote before v2.1; still accepted when reading.
pub const LEGACY_PEM_LABEL: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// Salt length cosign writes.
pub const SALT_LEN: usize = 32;
/// NaCl secretbox nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length: the ciphertext is this much longer than the plaintext.
pub const TAG_LEN: usize = 16;

const KDF_NAME: &str = "scrypt";
const CIPHER_NAME: &str = "nacl/secretbox";

/// The scrypt parameter sets a cosign key file may use (go-securesystemslib's list).
const ACCEPTED_SCRYPT: [(i64, i64, i64); 3] = [(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)];

/// Which PEM label a key file carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFileLabel {
    /// [`LEGACY_PEM_LABEL`], written by cosign before v2.1.
    Cosign,
    /// [`PEM_LABEL`], written by cosign v2.1 and later.
    Sigstore,
}

impl KeyFileLabel {
    /// The PEM label text.
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyFileLabel::Cosign => LEGACY_PEM_LABEL,
            KeyFileLabel::Sigstore => PEM_LABEL,
        }
    }

    fn parse(label: &str) -> Option<Self> {
        match label {
            PEM_LABEL => Some(KeyFileLabel::Sigstore),
            LEGACY_PEM_LABEL => Some(KeyFileLabel::Cosign),
            _ => None,
        }
    }
}

/// Everything that makes an encryption deterministic: label, scrypt cost, salt and nonce.
///
/// Use [`SealingParams::random`] for real keys; fixed values are for golden tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealingParams {
    /// The PEM label to write.
    pub label: KeyFileLabel,
    /// The scrypt cost. cosign reads only `N ∈ {2^15, 2^16, 2^17}, r = 8, p = 1`.
    pub scrypt: ScryptParams,
    /// The scrypt salt.
    pub salt: [u8; SALT_LEN],
    /// The secretbox nonce.
    pub nonce: [u8; NONCE_LEN],
}

impl SealingParams {
    /// What `cosign generate-key-pair` uses: [`PEM_LABEL`], N=65536 r=8 p=1, and a
    /// fresh random salt and nonce.
    ///
    /// # Errors
    /// [`KeyError::RandomUnavailable`].
    pub fn random() -> Result<Self, KeyError> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut salt).map_err(|_| KeyError::RandomUnavailable)?;
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| KeyError::RandomUnavailable)?;
        Ok(SealingParams {
            label: KeyFileLabel::Sigstore,
            scrypt: ScryptParams::COSIGN,
            salt,
            nonce,
        })
    }
}

/// A parsed cosign key file whose structure and parameters have been checked,
/// not yet decrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedKeyFile {
    label: KeyFileLabel,
    scrypt: ScryptParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    ciphertext: Vec<u8>,
}

impl EncryptedKeyFile {
    /// Parses and checks a cosign key file without running the KDF.
    ///
    /// # Errors
    /// [`KeyError::MalformedPem`], [`KeyError::UnsupportedPemLabel`],
    /// [`KeyError::PublicKeyGiven`], [`KeyError::MalformedKeyFile`],
    /// [`KeyError::UnsupportedKdf`], [`KeyError::UnsupportedCipher`],
    /// [`KeyError::UnsupportedScryptParams`], [`KeyError::InvalidSaltLength`],
    /// [`KeyError::InvalidNonceLength`].
    pub fn parse(pem: &[u8]) -> Result<Self, KeyError> {
        let block = pem::decode(pem)?;
        let Some(label) = KeyFileLabel::parse(&block.label) else {
            return Err(wrong_label(&block.label));
        };
        Self::from_json(label, &block.der)
    }

    fn from_json(label: KeyFileLabel, json: &[u8]) -> Result<Self, KeyError> {
        let file: FileIn =
            serde_json::from_slice(json).map_err(|e| KeyError::MalformedKeyFile {
                detail: format!("the JSON body does not parse: {e}"),
            })?;
        if file.kdf.name != KDF_NAME {
            return Err(KeyError::UnsupportedKdf {
                name: file.kdf.name,
            });
        }
        if file.cipher.name != CIPHER_NAME {
            return Err(KeyError::UnsupportedCipher {
                name: file.cipher.name,
            });
        }
        let p = &file.kdf.params;
        if !ACCEPTED_SCRYPT.contains(&(p.n, p.r, p.p)) {
            return Err(KeyError::UnsupportedScryptParams {
                n: p.n,
                r: p.r,
                p: p.p,
            });
        }
        // The accepted sets are powers of two with r=8 p=1, which ScryptParams accepts.
        let log_n = p.n.trailing_zeros() as u8;
        let scrypt = ScryptParams::new(log_n, 8, 1)?;

        let salt = decode_field("kdf.salt", &file.kdf.salt)?;
        let salt: [u8; SALT_LEN] = salt
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::InvalidSaltLength { len: salt.len() })?;
        let nonce = decode_field("cipher.nonce", &file.cipher.nonce)?;
        let nonce: [u8; NONCE_LEN] = nonce
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::InvalidNonceLength { len: nonce.len() })?;
        let ciphertext = decode_field("ciphertext", &file.ciphertext)?;
        if ciphertext.len() < TAG_LEN {
            return Err(KeyError::MalformedKeyFile {
                detail: format!(
                    "the ciphertext is {} bytes, shorter than the {TAG_LEN}-byte authentication tag",
                    ciphertext.len()
                ),
            });
        }
        Ok(EncryptedKeyFile {
            label,
            scrypt,
            salt,
            nonce,
            ciphertext,
        })
    }

    /// Encrypts PKCS#8 DER `pkcs8` under `password` with the given parameters.
    ///
    /// # Errors
    /// [`KeyError::OutOfMemory`] when scrypt cannot allocate.
    pub fn seal(pkcs8: &[u8], password: &[u8], params: &SealingParams) -> Result<Self, KeyError> {
        let key = derive_key(password, &params.salt, &params.scrypt)?;
        let cipher = XSalsa20Poly1305::new(&key);
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&params.nonce), pkcs8)
            .map_err(|_| KeyError::MalformedKeyFile {
                detail: "the plaintext is too long for nacl/secretbox".into(),
            })?;
        Ok(EncryptedKeyFile {
            label: params.label,
            scrypt: params.scrypt,
            salt: params.salt,
            nonce: params.nonce,
            ciphertext,
        })
    }

    /// Decrypts the file, returning the PKCS#8 DER plaintext.
    ///
    /// # Errors
    /// [`KeyError::WrongPassword`] when authentication fails;
    /// [`KeyError::OutOfMemory`] when scrypt cannot allocate.
    pub fn open(&self, password: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let key = derive_key(password, &self.salt, &self.scrypt)?;
        let cipher = XSalsa20Poly1305::new(&key);
        cipher
            .decrypt(Nonce::from_slice(&self.nonce), self.ciphertext.as_slice())
            .map(Zeroizing::new)
            .map_err(|_| KeyError::WrongPassword)
    }

    /// Decrypts the file and parses the key inside.
    ///
    /// # Errors
    /// As [`EncryptedKeyFile::open`], then as [`PrivateKey::from_pkcs8_der`].
    pub fn decrypt(&self, password: &[u8]) -> Result<PrivateKey, KeyError> {
        PrivateKey::from_pkcs8_der(&self.open(password)?)
    }

    /// The file as PEM text, exactly as cosign writes it: compact JSON in the
    /// fixed field order, 64-character base64 lines, trailing newline.
    pub fn to_pem(&self) -> String {
        // Go's encoding/json output for go-securesystemslib's structs. Every value is
        // a constant name, an integer or standard base64, so nothing needs escaping.
        let json = format!(
            r#"{{"kdf":{{"name":"{KDF_NAME}","params":{{"N":{},"r":{},"p":{}}},"salt":"{}"}},"cipher":{{"name":"{CIPHER_NAME}","nonce":"{}"}},"ciphertext":"{}"}}"#,
            self.scrypt.n(),
            self.scrypt.r(),
            self.scrypt.p(),
            GO_STD.encode(self.salt),
            GO_STD.encode(self.nonce),
            GO_STD.encode(&self.ciphertext),
        );
        pem::encode(self.label.as_str(), json.as_bytes())
    }

    /// The PEM label of the file.
    pub fn label(&self) -> KeyFileLabel {
        self.label
    }

    /// The scrypt parameters of the file.
    pub fn scrypt_params(&self) -> ScryptParams {
        self.scrypt
    }

    /// The scrypt salt.
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// The secretbox nonce.
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        &self.nonce
    }

    /// The secretbox output (Poly1305 tag, then the encrypted PKCS#8).
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }
}

/// Encrypts `key` the way `cosign generate-key-pair` does (fresh salt and nonce,
/// N=65536, label [`PEM_LABEL`]) and returns the PEM text of `cosign.key`.
///
/// # Errors
/// [`KeyError::RandomUnavailable`] or [`KeyError::OutOfMemory`].
pub fn encrypt_private_key(key: &PrivateKey, password: &[u8]) -> Result<String, KeyError> {
    encrypt_private_key_with(key, password, &SealingParams::random()?)
}

/// Encrypts `key` with explicit parameters, for reproducible output.
///
/// # Errors
/// [`KeyError::OutOfMemory`].
pub fn encrypt_private_key_with(
    key: &PrivateKey,
    password: &[u8],
    params: &SealingParams,
) -> Result<String, KeyError> {
    Ok(EncryptedKeyFile::seal(&key.to_pkcs8_der(), password, params)?.to_pem())
}

/// Decrypts a cosign key file (either label) and parses the key inside.
///
/// # Errors
/// As [`EncryptedKeyFile::parse`], then [`KeyError::WrongPassword`], then as
/// [`PrivateKey::from_pkcs8_der`].
pub fn decrypt_private_key(pem: &[u8], password: &[u8]) -> Result<PrivateKey, KeyError> {
    EncryptedKeyFile::parse(pem)?.decrypt(password)
}

/// Decrypts an already PEM-decoded cosign key file body (used by the importer).
pub(crate) fn decrypt_block(
    label: &str,
    json: &[u8],
    password: &[u8],
) -> Result<PrivateKey, KeyError> {
    let Some(label) = KeyFileLabel::parse(label) else {
        return Err(wrong_label(label));
    };
    EncryptedKeyFile::from_json(label, json)?.decrypt(password)
}

fn wrong_label(found: &str) -> KeyError {
    match found {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => KeyError::PublicKeyGiven {
            label: found.to_owned(),
        },
        _ => KeyError::UnsupportedPemLabel {
            found: found.to_owned(),
            expected: "\"ENCRYPTED SIGSTORE PRIVATE KEY\" or \"ENCRYPTED COSIGN PRIVATE KEY\"",
        },
    }
}

fn derive_key(
    password: &[u8],
    salt: &[u8; SALT_LEN],
    params: &ScryptParams,
) -> Result<Zeroizing<Key>, KeyError> {
    let mut key = Zeroizing::new(Key::default());
    scrypt(password, salt, params, key.as_mut_slice())?;
    Ok(key)
}

fn decode_field(field: &'static str, value: &str) -> Result<Vec<u8>, KeyError> {
    GO_STD
        .decode(value)
        .map_err(|e| KeyError::MalformedKeyFile {
            detail: format!("the {field} field is not valid base64: {e}"),
        })
}

#[derive(Deserialize)]
struct FileIn {
    kdf: KdfIn,
    cipher: CipherIn,
    ciphertext: String,
}

#[derive(Deserialize)]
struct KdfIn {
    name: String,
    params: ParamsIn,
    salt: String,
}

#[derive(Deserialize)]
struct ParamsIn {
    #[serde(rename = "N")]
    n: i64,
    r: i64,
    p: i64,
}

#[derive(Deserialize)]
struct CipherIn {
    name: String,
    nonce: String,
}

#[cfg(test)]
mod tests;
