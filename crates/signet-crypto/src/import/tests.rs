//! Import tests against keys and signatures written by OpenSSL (testdata/PROVENANCE.md).

use std::time::{Duration, Instant};

use super::*;
use crate::{KeyAlgorithm, PublicKey, SignatureError, Signer};

macro_rules! key {
    ($name:literal) => {
        include_str!(concat!("../../testdata/keys/", $name))
    };
}

const PAYLOAD: &[u8] = include_bytes!("../../testdata/keys/payload.json");
const PASSWORD: &[u8] = b"signet-test";

fn der_of(pem_text: &str) -> Vec<u8> {
    pem::decode(pem_text.as_bytes()).expect("pem").der.to_vec()
}

/// Imports `private`, checks its public half against `public`, and round-trips a signature.
fn check_pair(private: &str, password: Option<&[u8]>, public: &str, algorithm: KeyAlgorithm) {
    let key = import_private_key(private.as_bytes(), password).expect("import");
    assert_eq!(key.algorithm(), algorithm);
    let expected = PublicKey::from_pem(public.as_bytes()).expect("public key");
    assert_eq!(key.public_key(), &expected);
    assert_eq!(key.public_key().key_id(), expected.key_id());
    // OpenSSL also writes 64-character lines: our PEM matches its file byte for byte.
    assert_eq!(key.public_key().to_pem(), public);
    let signature = key.sign(PAYLOAD).expect("sign");
    expected.verify(PAYLOAD, &signature).expect("verify");
    assert!(matches!(
        expected.verify(b"another payload", &signature),
        Err(SignatureError::Invalid { .. })
    ));
    // The key survives a trip through PKCS#8.
    let again = PrivateKey::from_pkcs8_der(&key.to_pkcs8_der()).expect("pkcs8");
    assert_eq!(*again.to_pkcs8_der(), *key.to_pkcs8_der());
}

#[test]
fn rsa_pkcs1_and_pkcs8() {
    let public = key!("rsa2048-pub.pem");
    check_pair(key!("rsa2048-pkcs1.pem"), None, public, KeyAlgorithm::Rsa);
    check_pair(key!("rsa2048-pkcs8.pem"), None, public, KeyAlgorithm::Rsa);
    // Go's PKCS#8 for RSA is OpenSSL's too.
    let from_pkcs1 = import_private_key(key!("rsa2048-pkcs1.pem").as_bytes(), None).expect("pkcs1");
    assert_eq!(
        *from_pkcs1.to_pkcs8_der(),
        der_of(key!("rsa2048-pkcs8.pem"))
    );
    // The PKCS#1 public key parses to the same key.
    let pkcs1_public = PublicKey::from_pem(key!("rsa2048-pub-pkcs1.pem").as_bytes()).expect("pub");
    assert_eq!(&pkcs1_public, from_pkcs1.public_key());
}

#[test]
fn ec_sec1_and_pkcs8() {
    check_pair(
        key!("p256-sec1.pem"),
        None,
        key!("p256-pub.pem"),
        KeyAlgorithm::EcdsaP256,
    );
    check_pair(
        key!("p256-pkcs8.pem"),
        None,
        key!("p256-pub.pem"),
        KeyAlgorithm::EcdsaP256,
    );
    check_pair(
        key!("p384-sec1.pem"),
        None,
        key!("p384-pub.pem"),
        KeyAlgorithm::EcdsaP384,
    );
    check_pair(
        key!("p384-pkcs8.pem"),
        None,
        key!("p384-pub.pem"),
        KeyAlgorithm::EcdsaP384,
    );
    // OpenSSL's PKCS#8 for EC has the same layout as Go's (138 bytes for P-256).
    let sec1 = import_private_key(key!("p256-sec1.pem").as_bytes(), None).expect("sec1");
    assert_eq!(sec1.to_pkcs8_der().len(), 138);
    assert_eq!(*sec1.to_pkcs8_der(), der_of(key!("p256-pkcs8.pem")));
}

#[test]
fn ed25519_pkcs8() {
    check_pair(
        key!("ed25519-pkcs8.pem"),
        None,
        key!("ed25519-pub.pem"),
        KeyAlgorithm::Ed25519,
    );
    let key = import_private_key(key!("ed25519-pkcs8.pem").as_bytes(), None).expect("import");
    assert_eq!(*key.to_pkcs8_der(), der_of(key!("ed25519-pkcs8.pem")));
}

#[test]
fn encrypted_pkcs8() {
    check_pair(
        key!("p256-pkcs8-encrypted.pem"),
        Some(PASSWORD),
        key!("p256-pub.pem"),
        KeyAlgorithm::EcdsaP256,
    );
    check_pair(
        key!("ed25519-pkcs8-encrypted.pem"),
        Some(PASSWORD),
        key!("ed25519-pub.pem"),
        KeyAlgorithm::Ed25519,
    );
    check_pair(
        key!("rsa2048-pkcs8-encrypted-scrypt.pem"),
        Some(PASSWORD),
        key!("rsa2048-pub.pem"),
        KeyAlgorithm::Rsa,
    );
    assert_eq!(
        import_private_key(key!("p256-pkcs8-encrypted.pem").as_bytes(), Some(b"wrong")).map(|_| ()),
        Err(KeyError::WrongPassword)
    );
    assert_eq!(
        import_private_key(key!("p256-pkcs8-encrypted.pem").as_bytes(), None).map(|_| ()),
        Err(KeyError::PasswordRequired {
            label: "ENCRYPTED PRIVATE KEY".into()
        })
    );
}

#[test]
fn encrypted_pkcs8_cost_is_bounded() {
    let start = Instant::now();
    let result = import_private_key(
        key!("p256-pkcs8-encrypted-3m-iterations.pem").as_bytes(),
        Some(PASSWORD),
    );
    assert!(matches!(
        result,
        Err(KeyError::UnsupportedPkcs8Encryption { .. })
    ));
    // scrypt p raised from 1 to 127 in the OpenSSL file (N·r·p far above the limit).
    let mut der = der_of(key!("rsa2048-pkcs8-encrypted-scrypt.pem"));
    assert_eq!(
        &der[44..54],
        &[0x02, 0x02, 0x40, 0x00, 0x02, 0x01, 0x08, 0x02, 0x01, 0x01]
    );
    der[53] = 0x7f;
    assert!(matches!(
        decrypt_pkcs8(&der, PASSWORD),
        Err(KeyError::UnsupportedPkcs8Encryption { .. })
    ));
    // N = 0 must not reach the pkcs5 crate (which would panic computing log2(0)).
    der[53] = 0x01;
    der[46] = 0x00;
    der[47] = 0x00;
    assert!(matches!(
        decrypt_pkcs8(&der, PASSWORD),
        Err(KeyError::UnsupportedPkcs8Encryption { .. }) | Err(KeyError::MalformedKey { .. })
    ));
    assert!(start.elapsed() < Duration::from_millis(500));
}

#[test]
fn openssl_signatures_verify() {
    let cases: [(&str, &[u8]); 5] = [
        (
            key!("p256-pub.pem"),
            include_bytes!("../../testdata/keys/payload.p256.sig"),
        ),
        (
            key!("p384-pub.pem"),
            include_bytes!("../../testdata/keys/payload.p384-sha256.sig"),
        ),
        (
            key!("p384-pub.pem"),
            include_bytes!("../../testdata/keys/payload.p384-sha384.sig"),
        ),
        (
            key!("rsa2048-pub.pem"),
            include_bytes!("../../testdata/keys/payload.rsa2048.sig"),
        ),
        (
            key!("ed25519-pub.pem"),
            include_bytes!("../../testdata/keys/payload.ed25519.sig"),
        ),
    ];
    for (public, signature) in cases {
        let key = PublicKey::from_pem(public.as_bytes()).expect("public key");
        key.verify(PAYLOAD, signature).expect("verify");
        let mut tampered = PAYLOAD.to_vec();
        tampered[0] ^= 1;
        assert_eq!(
            key.verify(&tampered, signature),
            Err(SignatureError::Invalid {
                algorithm: key.algorithm(),
                key_id: key.key_id()
            })
        );
        assert!(matches!(
            key.verify(PAYLOAD, &signature[..signature.len() - 1]),
            Err(SignatureError::Malformed { .. })
        ));
    }
}

#[test]
fn cosign_key_files_import() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
    let params = cosign::SealingParams {
        scrypt: crate::scrypt::ScryptParams::COSIGN_LEGACY,
        ..cosign::SealingParams::random().expect("random")
    };
    let pem = cosign::encrypt_private_key_with(&key, b"", &params).expect("encrypt");
    let imported = import_private_key(pem.as_bytes(), Some(b"")).expect("import");
    assert_eq!(imported.public_key(), key.public_key());
    assert_eq!(
        import_private_key(pem.as_bytes(), None).map(|_| ()),
        Err(KeyError::PasswordRequired {
            label: cosign::PEM_LABEL.into()
        })
    );
}

#[test]
fn rejected_inputs() {
    let cases: [(&str, KeyError); 5] = [
        (
            key!("p256-pub.pem"),
            KeyError::PublicKeyGiven {
                label: "PUBLIC KEY".into(),
            },
        ),
        (
            key!("rsa2048-pub-pkcs1.pem"),
            KeyError::PublicKeyGiven {
                label: "RSA PUBLIC KEY".into(),
            },
        ),
        (
            key!("p256-sec1-legacy-encrypted.pem"),
            KeyError::LegacyPemEncryption {
                label: "EC PRIVATE KEY".into(),
            },
        ),
        (
            key!("rsa1024-pkcs1.pem"),
            KeyError::UnsupportedRsaKeySize {
                bits: 1024,
                min: 2048,
                max: 4096,
            },
        ),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            KeyError::UnsupportedPemLabel {
                found: "CERTIFICATE".into(),
                expected: EXPECTED_LABELS,
            },
        ),
    ];
    for (pem, expected) in cases {
        assert_eq!(
            import_private_key(pem.as_bytes(), Some(PASSWORD)).map(|_| ()),
            Err(expected)
        );
    }
    for unsupported in [key!("p521-pkcs8.pem"), key!("x25519-pkcs8.pem")] {
        let result = import_private_key(unsupported.as_bytes(), None);
        assert!(
            matches!(result, Err(KeyError::UnsupportedAlgorithm { .. })),
            "{result:?}"
        );
    }
    assert!(matches!(
        import_private_key(b"no pem here", None),
        Err(KeyError::MalformedPem { .. })
    ));
    let garbage = pem::encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00");
    assert!(matches!(
        import_private_key(garbage.as_bytes(), None),
        Err(KeyError::MalformedKey {
            format: KeyFormat::Pkcs8,
            ..
        })
    ));
}
