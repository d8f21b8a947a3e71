//! Importing private keys from the PEM formats other tools write.

use der::Decode;
use pkcs8::EncryptedPrivateKeyInfoRef;
use pkcs8::pkcs5::EncryptionScheme;
use pkcs8::pkcs5::pbes2::Kdf;

use crate::public::malformed;
use crate::{KeyError, KeyFormat, PrivateKey, cosign, pem};

/// The most PBKDF2 iterations accepted in an encrypted PKCS#8 key (OWASP's 2023
/// recommendation for PBKDF2-HMAC-SHA256 is 600 000; OpenSSL writes 2048).
const MAX_PBKDF2_ITERATIONS: u32 = 2_000_000;
/// The most scrypt work (`N·r·p`) accepted in an encrypted PKCS#8 key: twice the
/// largest cosign setting (N=2^17, r=8, p=1).
const MAX_SCRYPT_WORK: u64 = 1 << 21;
/// The most scrypt memory (`128·r·N` bytes) accepted in an encrypted PKCS#8 key.
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;

const EXPECTED_LABELS: &str = "\"RSA PRIVATE KEY\", \"EC PRIVATE KEY\", \"PRIVATE KEY\", \"ENCRYPTED PRIVATE KEY\", \"ENCRYPTED SIGSTORE PRIVATE KEY\" or \"ENCRYPTED COSIGN PRIVATE KEY\"";

/// Reads a private key from PEM, as `cosign import-key-pair` does, and more.
///
/// | PEM label | contents |
/// |---|---|
/// | `RSA PRIVATE KEY` | PKCS#1 RSA key (2048–4096 bits) |
/// | `EC PRIVATE KEY` | SEC1 EC key on P-256 or P-384, naming its curve |
/// | `PRIVATE KEY` | PKCS#8 with an EC (P-256/P-384), Ed25519 or RSA key |
/// | `ENCRYPTED PRIVATE KEY` | PBES2-encrypted PKCS#8 (PBKDF2 or scrypt, AES-CBC/GCM); needs `password`. cosign itself cannot read these |
/// | `ENCRYPTED SIGSTORE PRIVATE KEY`, `ENCRYPTED COSIGN PRIVATE KEY` | a cosign key file; needs `password` (which may be empty) |
///
/// `password` is ignored for unencrypted keys.
///
/// # Errors
/// [`KeyError::PublicKeyGiven`] for a public key, [`KeyError::UnsupportedPemLabel`]
/// for any other label, [`KeyError::LegacyPemEncryption`] for OpenSSL's
/// `Proc-Type: 4,ENCRYPTED` blocks, [`KeyError::PasswordRequired`] for an encrypted
/// key without a password, [`KeyError::WrongPassword`], and the parse errors of
/// each format.
pub fn import_private_key(pem: &[u8], password: Option<&[u8]>) -> Result<PrivateKey, KeyError> {
    let block = pem::decode(pem)?;
    let label = block.label.as_str();
    match label {
        "RSA PRIVATE KEY" | "EC PRIVATE KEY" if block.has_headers => {
            Err(KeyError::LegacyPemEncryption {
                label: label.to_owned(),
            })
        }
        "RSA PRIVATE KEY" => PrivateKey::from_pkcs1_der(&block.der),
        "EC PRIVATE KEY" => PrivateKey::from_sec1_der(&block.der),
        "PRIVATE KEY" => PrivateKey::from_pkcs8_der(&block.der),
        "ENCRYPTED PRIVATE KEY" => {
            let password = password.ok_or_else(|| KeyError::PasswordRequired {
                label: label.to_owned(),
            })?;
            decrypt_pkcs8(&block.der, password)
        }
        cosign::PEM_LABEL | cosign::LEGACY_PEM_LABEL => {
            let password = password.ok_or_else(|| KeyError::PasswordRequired {
                label: label.to_owned(),
            })?;
            cosign::decrypt_block(label, &block.der, password)
        }
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(KeyError::PublicKeyGiven {
            label: label.to_owned(),
        }),
        _ => Err(KeyError::UnsupportedPemLabel {
            found: label.to_owned(),
            expected: EXPECTED_LABELS,
        }),
    }
}

/// Decrypts a PBES2 `EncryptedPrivateKeyInfo`, after bounding its KDF cost.
fn decrypt_pkcs8(der: &[u8], password: &[u8]) -> Result<PrivateKey, KeyError> {
    let info =
        EncryptedPrivateKeyInfoRef::from_der(der).map_err(malformed(KeyFormat::EncryptedPkcs8))?;
    check_cost(&info.encryption_algorithm)?;
    let document = info.decrypt(password).map_err(|e| match e {
        // A wrong password shows up as a padding/tag failure, or (rarely, for CBC
        // padding that happens to be valid) as plaintext that is not DER.
        pkcs8::Error::EncryptedPrivateKey(pkcs8::pkcs5::Error::DecryptFailed)
        | pkcs8::Error::Asn1(_) => KeyError::WrongPassword,
        other => KeyError::UnsupportedPkcs8Encryption {
            detail: other.to_string(),
        },
    })?;
    PrivateKey::from_pkcs8_der(document.as_bytes())
}

fn check_cost(scheme: &EncryptionScheme) -> Result<(), KeyError> {
    let unsupported = |detail: String| Err(KeyError::UnsupportedPkcs8Encryption { detail });
    let Some(pbes2) = scheme.pbes2() else {
        return unsupported("PBES1 (PKCS#5 v1.5) encryption is obsolete".into());
    };
    match &pbes2.kdf {
        Kdf::Pbkdf2(params) => {
            if params.iteration_count > MAX_PBKDF2_ITERATIONS {
                return unsupported(format!(
                    "PBKDF2 with {} iterations exceeds the limit of {MAX_PBKDF2_ITERATIONS}",
                    params.iteration_count
                ));
            }
        }
        Kdf::Scrypt(params) => {
            let n = params.cost_parameter;
            let r = u64::from(params.block_size);
            let p = u64::from(params.parallelization);
            let work = n.checked_mul(r).and_then(|w| w.checked_mul(p));
            let memory = n.checked_mul(r).and_then(|m| m.checked_mul(128));
            if n < 2
                || !n.is_power_of_two()
                || r == 0
                || p == 0
                || work.is_none_or(|w| w > MAX_SCRYPT_WORK)
                || memory.is_none_or(|m| m > MAX_SCRYPT_MEMORY)
            {
                return unsupported(format!(
                    "scrypt with N={n} r={r} p={p} is invalid or exceeds the limits (N·r·p at most {MAX_SCRYPT_WORK}, 128·r·N at most {MAX_SCRYPT_MEMORY} bytes)"
                ));
            }
        }
        other => {
            return unsupported(format!("key derivation function {}", other.oid()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
