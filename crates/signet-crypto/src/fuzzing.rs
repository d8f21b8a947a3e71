//! Entry points for fuzzers and property tests. Each parses untrusted bytes and
//! MUST NOT panic, whatever the input.
//!
//! Not part of the stable API.

use crate::{PublicKey, Signer, cosign, import_private_key};

/// Parses `data` as a cosign key file and, if it parses, tries to decrypt it
/// with an empty password (only the cheapest scrypt setting is tried, so a
/// fuzzer is not slowed down by the KDF).
pub fn fuzz_cosign_key(data: &[u8]) {
    if let Ok(file) = cosign::EncryptedKeyFile::parse(data) {
        let _ = file.to_pem();
        if file.scrypt_params().log_n() <= 15 {
            let _ = file.decrypt(b"");
        }
    }
}

/// Parses `data` as a PEM public key and, if it parses, exercises its accessors
/// and verification.
pub fn fuzz_public_key_pem(data: &[u8]) {
    if let Ok(key) = PublicKey::from_pem(data) {
        let _ = key.to_pem();
        let _ = key.key_id();
        let _ = key.verify(data, data);
        let _ = PublicKey::from_spki_der(key.spki_der());
    }
    let _ = PublicKey::from_spki_der(data);
}

/// Imports `data` as a private key (no password for cosign files, and an empty
/// one for encrypted PKCS#8), signing with the result if it imports.
pub fn fuzz_import(data: &[u8]) {
    for password in [None, Some(&b""[..])] {
        if let Ok(key) = import_private_key(data, password)
            && let Ok(signature) = key.sign(data)
        {
            let _ = key.public_key().verify(data, &signature);
        }
    }
    let _ = crate::PrivateKey::from_pkcs8_der(data);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Valid inputs whose mutations reach deep into the parsers.
    const SEEDS: [&str; 6] = [
        include_str!("../testdata/cosign/cosign-test.key"),
        include_str!("../testdata/keys/p256-pub.pem"),
        include_str!("../testdata/keys/rsa2048-pub-pkcs1.pem"),
        include_str!("../testdata/keys/p256-sec1.pem"),
        include_str!("../testdata/keys/ed25519-pkcs8.pem"),
        include_str!("../testdata/keys/p256-pkcs8-encrypted.pem"),
    ];

    /// Flips bytes of the DER inside a seed's PEM block and re-wraps it.
    fn mutate_der(seed: &str, edits: &[(usize, u8)]) -> Vec<u8> {
        let Ok(block) = crate::pem::decode(seed.as_bytes()) else {
            return seed.as_bytes().to_vec();
        };
        let mut der = block.der.to_vec();
        for &(at, value) in edits {
            if !der.is_empty() {
                let i = at % der.len();
                der[i] ^= value;
            }
        }
        crate::pem::encode(&block.label, &der).into_bytes()
    }

    fn all(data: &[u8]) {
        fuzz_cosign_key(data);
        fuzz_public_key_pem(data);
        fuzz_import(data);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
            all(&data);
        }

        #[test]
        fn pem_wrapped_random_der_never_panics(
            label in prop::sample::select(vec![
                "PUBLIC KEY", "RSA PUBLIC KEY", "PRIVATE KEY", "EC PRIVATE KEY",
                "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "ENCRYPTED SIGSTORE PRIVATE KEY",
            ]),
            der in proptest::collection::vec(any::<u8>(), 0..512),
        ) {
            all(crate::pem::encode(label, &der).as_bytes());
        }

        #[test]
        fn mutated_keys_never_panic(
            seed in prop::sample::select(SEEDS.to_vec()),
            edits in proptest::collection::vec((any::<usize>(), 1u8..), 1..4),
        ) {
            all(&mutate_der(seed, &edits));
        }

        #[test]
        fn truncated_keys_never_panic(seed in prop::sample::select(SEEDS.to_vec()), cut in any::<usize>()) {
            let bytes = seed.as_bytes();
            all(&bytes[..cut % (bytes.len() + 1)]);
        }
    }
}
