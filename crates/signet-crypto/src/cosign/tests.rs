//! Tests for cosign key files. Debug builds run scrypt unoptimised (about 1 s
//! for N=2^15), so tests that need several decryptions use N=2^15.

use std::time::{Duration, Instant};

use super::*;
use crate::{KeyAlgorithm, Signer};

/// `.github/workflows/cosign-test.key` from sigstore/cosign (see testdata/PROVENANCE.md).
const COSIGN_TEST_KEY: &str = include_str!("../../testdata/cosign/cosign-test.key");
/// A key written by `cosign generate-key-pair` with an empty password (from sigstore-rs).
const COSIGN_EMPTY_PASSWORD_KEY: &str =
    include_str!("../../testdata/cosign/cosign-generated-empty-password.key");
/// The P-256 key sealed into the golden file.
const GOLDEN_SOURCE_KEY: &str = include_str!("../../testdata/keys/p256-pkcs8.pem");
const GOLDEN_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/cosign/golden-p256.key"
);
const GOLDEN_PASSWORD: &[u8] = b"signet golden password";

fn golden_params() -> SealingParams {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    for (i, b) in salt.iter_mut().enumerate() {
        *b = i as u8;
    }
    for (i, b) in nonce.iter_mut().enumerate() {
        *b = 0xa0 + i as u8;
    }
    SealingParams {
        label: KeyFileLabel::Sigstore,
        scrypt: ScryptParams::COSIGN_LEGACY,
        salt,
        nonce,
    }
}

/// A key file PEM around arbitrary JSON, for negative tests.
fn pem_with_json(label: &str, json: &str) -> String {
    pem::encode(label, json.as_bytes())
}

/// A structurally valid key file JSON with the given pieces.
fn json(
    kdf: &str,
    n: i64,
    r: i64,
    p: i64,
    salt_len: usize,
    cipher: &str,
    nonce_len: usize,
) -> String {
    format!(
        r#"{{"kdf":{{"name":"{kdf}","params":{{"N":{n},"r":{r},"p":{p}}},"salt":"{}"}},"cipher":{{"name":"{cipher}","nonce":"{}"}},"ciphertext":"{}"}}"#,
        GO_STD.encode(vec![1u8; salt_len]),
        GO_STD.encode(vec![2u8; nonce_len]),
        GO_STD.encode([3u8; 154]),
    )
}

fn body_lines_are_go_pem(pem: &str) {
    let lines: Vec<&str> = pem.lines().collect();
    assert!(pem.ends_with('\n'));
    let body = &lines[1..lines.len() - 1];
    for line in &body[..body.len() - 1] {
        assert_eq!(line.len(), 64, "{line}");
    }
    assert!(!body.is_empty() && body[body.len() - 1].len() <= 64);
}

#[test]
fn real_cosign_key_decrypts_and_matches_go_layout() {
    let file = EncryptedKeyFile::parse(COSIGN_EMPTY_PASSWORD_KEY.as_bytes()).expect("parse");
    assert_eq!(file.label(), KeyFileLabel::Sigstore);
    assert_eq!(file.scrypt_params(), ScryptParams::COSIGN);
    assert_eq!(file.ciphertext().len(), 154);
    // Our encoder reproduces cosign's file byte for byte.
    assert_eq!(file.to_pem(), COSIGN_EMPTY_PASSWORD_KEY);

    let plaintext = file.open(b"").expect("empty password");
    assert_eq!(plaintext.len(), 138);
    let key = PrivateKey::from_pkcs8_der(&plaintext).expect("pkcs8");
    assert_eq!(key.algorithm(), KeyAlgorithm::EcdsaP256);
    // Our PKCS#8 is exactly what Go's x509.MarshalPKCS8PrivateKey wrote.
    assert_eq!(*key.to_pkcs8_der(), *plaintext);

    // Re-encrypt (legacy label, N=2^15 to keep debug tests quick) and decrypt again.
    let params = SealingParams {
        label: KeyFileLabel::Cosign,
        scrypt: ScryptParams::COSIGN_LEGACY,
        ..SealingParams::random().expect("random")
    };
    let pem = encrypt_private_key_with(&key, b"new password", &params).expect("encrypt");
    assert!(pem.starts_with("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n"));
    let again = decrypt_private_key(pem.as_bytes(), b"new password").expect("decrypt");
    assert_eq!(*again.to_pkcs8_der(), *plaintext);
    let signature = again.sign(b"payload").expect("sign");
    key.public_key()
        .verify(b"payload", &signature)
        .expect("verify");
}

#[test]
fn cosign_repository_test_key_parses() {
    // cosign's own CI key: legacy label, N=32768, P-256 (154-byte ciphertext). Its
    // password is a CI secret, so only the structure and the password check are tested.
    let file = EncryptedKeyFile::parse(COSIGN_TEST_KEY.as_bytes()).expect("parse");
    assert_eq!(file.label(), KeyFileLabel::Cosign);
    assert_eq!(file.scrypt_params(), ScryptParams::COSIGN_LEGACY);
    assert_eq!(file.salt().len(), 32);
    assert_eq!(file.ciphertext().len(), 138 + TAG_LEN);
    assert_eq!(file.to_pem(), COSIGN_TEST_KEY);
    assert_eq!(
        decrypt_private_key(COSIGN_TEST_KEY.as_bytes(), b"not the password").map(|_| ()),
        Err(KeyError::WrongPassword)
    );
}

#[test]
fn golden_file_is_byte_exact() {
    let key = crate::import_private_key(GOLDEN_SOURCE_KEY.as_bytes(), None).expect("import");
    let pem = encrypt_private_key_with(&key, GOLDEN_PASSWORD, &golden_params()).expect("encrypt");
    if std::env::var_os("SIGNET_UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_PATH, &pem).expect("write golden");
    }
    let golden = std::fs::read_to_string(GOLDEN_PATH)
        .expect("golden file; regenerate with SIGNET_UPDATE_GOLDEN=1");
    assert_eq!(pem, golden);
    let file = EncryptedKeyFile::parse(golden.as_bytes()).expect("parse");
    assert_eq!(file.salt(), &golden_params().salt);
    assert_eq!(file.nonce(), &golden_params().nonce);
    let decrypted = file.decrypt(GOLDEN_PASSWORD).expect("decrypt");
    assert_eq!(*decrypted.to_pkcs8_der(), *key.to_pkcs8_der());
}

#[test]
fn generated_key_file_layout() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
    let pem = encrypt_private_key(&key, b"pw").expect("encrypt");
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    assert!(pem.ends_with("-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    body_lines_are_go_pem(&pem);
    let block = pem::decode(pem.as_bytes()).expect("pem");
    let json = String::from_utf8(block.der.to_vec()).expect("utf8");
    let prefix = r#"{"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":""#;
    assert!(json.starts_with(prefix), "{json}");
    assert!(json.contains(r#""},"cipher":{"name":"nacl/secretbox","nonce":""#));
    assert!(json.ends_with(r#""}"#));
    let file = EncryptedKeyFile::parse(pem.as_bytes()).expect("parse");
    assert_eq!(file.ciphertext().len(), 154);
    // Fresh salt and nonce every time.
    let other = EncryptedKeyFile::parse(encrypt_private_key(&key, b"pw").expect("enc").as_bytes())
        .expect("parse");
    assert_ne!(file.salt(), other.salt());
    assert_ne!(file.nonce(), other.nonce());
}

#[test]
fn wrong_password_and_corrupt_ciphertext() {
    let key = crate::import_private_key(GOLDEN_SOURCE_KEY.as_bytes(), None).expect("import");
    let file =
        EncryptedKeyFile::seal(&key.to_pkcs8_der(), b"right", &golden_params()).expect("seal");
    assert_eq!(
        file.decrypt(b"wrong").map(|_| ()),
        Err(KeyError::WrongPassword)
    );
    let mut tampered = file.clone();
    tampered.ciphertext[40] ^= 1;
    assert_eq!(
        tampered.open(b"right").map(|_| ()),
        Err(KeyError::WrongPassword)
    );
}

#[test]
fn hostile_scrypt_parameters_are_rejected_before_any_work() {
    for (n, r, p) in [
        (1 << 20, 8, 1),
        (1 << 14, 8, 1),
        (65536, 16, 1),
        (65536, 8, 2),
        (1 << 40, 8, 1),
        (-65536, 8, 1),
        (0, 0, 0),
    ] {
        let pem = pem_with_json(
            PEM_LABEL,
            &json("scrypt", n, r, p, 32, "nacl/secretbox", 24),
        );
        let start = Instant::now();
        let result = decrypt_private_key(pem.as_bytes(), b"password").map(|_| ());
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "N={n} r={r} p={p}"
        );
        assert_eq!(result, Err(KeyError::UnsupportedScryptParams { n, r, p }));
    }
}

#[test]
fn accepted_scrypt_parameters() {
    for (n, log_n) in [(32768, 15), (65536, 16), (131072, 17)] {
        let pem = pem_with_json(
            PEM_LABEL,
            &json("scrypt", n, 8, 1, 32, "nacl/secretbox", 24),
        );
        let file = EncryptedKeyFile::parse(pem.as_bytes()).expect("parse");
        assert_eq!(file.scrypt_params().log_n(), log_n);
    }
}

#[test]
fn names_and_lengths_are_checked() {
    let cases = [
        (
            json("Scrypt", 65536, 8, 1, 32, "nacl/secretbox", 24),
            KeyError::UnsupportedKdf {
                name: "Scrypt".into(),
            },
        ),
        (
            json("pbkdf2", 1 << 30, 8, 1, 32, "nacl/secretbox", 24),
            KeyError::UnsupportedKdf {
                name: "pbkdf2".into(),
            },
        ),
        (
            json("scrypt", 65536, 8, 1, 32, "aes-gcm", 24),
            KeyError::UnsupportedCipher {
                name: "aes-gcm".into(),
            },
        ),
        (
            json("scrypt", 65536, 8, 1, 16, "nacl/secretbox", 24),
            KeyError::InvalidSaltLength { len: 16 },
        ),
        (
            json("scrypt", 65536, 8, 1, 32, "nacl/secretbox", 12),
            KeyError::InvalidNonceLength { len: 12 },
        ),
    ];
    for (json, expected) in cases {
        let pem = pem_with_json(LEGACY_PEM_LABEL, &json);
        assert_eq!(
            EncryptedKeyFile::parse(pem.as_bytes()),
            Err(expected),
            "{json}"
        );
    }
}

#[test]
fn malformed_files() {
    let valid = json("scrypt", 65536, 8, 1, 32, "nacl/secretbox", 24);
    let malformed_json = [
        "not json".to_owned(),
        "{}".to_owned(),
        valid[..valid.len() - 10].to_owned(),
        valid.replace(r#""N":65536"#, r#""N":"65536""#),
        valid.replace(r#""N":65536"#, r#""N":65536.5"#),
        valid.replace(r#"ciphertext":""#, r#"ciphertext":"!"#),
        valid.replace(r#"salt":""#, r#"salt":"A"#),
        json("scrypt", 65536, 8, 1, 32, "nacl/secretbox", 24)
            .replace(&GO_STD.encode([3u8; 154]), &GO_STD.encode([3u8; 15])),
    ];
    for json in malformed_json {
        let pem = pem_with_json(PEM_LABEL, &json);
        let result = EncryptedKeyFile::parse(pem.as_bytes());
        assert!(
            matches!(result, Err(KeyError::MalformedKeyFile { .. })),
            "{json}: {result:?}"
        );
    }
}

#[test]
fn malformed_pem_and_wrong_labels() {
    let good = COSIGN_TEST_KEY;
    // Truncated: the END line is gone.
    let truncated = &good[..good.len() / 2];
    assert!(matches!(
        EncryptedKeyFile::parse(truncated.as_bytes()),
        Err(KeyError::MalformedPem { .. })
    ));
    // Corrupt base64 in the body.
    let corrupt = good.replacen("eyJr", "ey!r", 1);
    assert!(matches!(
        EncryptedKeyFile::parse(corrupt.as_bytes()),
        Err(KeyError::MalformedPem { .. })
    ));
    // Base64 that decodes, but was cut inside the JSON.
    let lines: Vec<&str> = good.lines().collect();
    let cut = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[lines.len() - 1]);
    assert!(matches!(
        EncryptedKeyFile::parse(cut.as_bytes()),
        Err(KeyError::MalformedKeyFile { .. })
    ));
    let relabelled = good.replace("ENCRYPTED COSIGN PRIVATE KEY", "EC PRIVATE KEY");
    assert_eq!(
        EncryptedKeyFile::parse(relabelled.as_bytes()),
        Err(KeyError::UnsupportedPemLabel {
            found: "EC PRIVATE KEY".into(),
            expected: "\"ENCRYPTED SIGSTORE PRIVATE KEY\" or \"ENCRYPTED COSIGN PRIVATE KEY\"",
        })
    );
    let public = include_str!("../../testdata/keys/p256-pub.pem");
    assert_eq!(
        decrypt_private_key(public.as_bytes(), b"").map(|_| ()),
        Err(KeyError::PublicKeyGiven {
            label: "PUBLIC KEY".into()
        })
    );
}

#[test]
fn error_messages_tell_the_user_what_to_do() {
    let e = KeyError::UnsupportedScryptParams {
        n: 1 << 20,
        r: 8,
        p: 1,
    };
    assert_eq!(
        e.to_string(),
        "unsupported scrypt parameters N=1048576 r=8 p=1: cosign keys use N=32768, 65536 or 131072 with r=8 p=1; regenerate or re-import the key"
    );
    assert_eq!(
        KeyError::WrongPassword.to_string(),
        "cannot decrypt the private key: wrong password, or the key file is corrupt"
    );
}
