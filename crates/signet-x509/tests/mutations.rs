//! Byte-level mutations of a real Fulcio leaf: each check of `verify_chain` and
//! `verify_embedded_scts` must bite, and no input may panic the parser.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;
use signet_crypto::PublicKey;
use signet_x509::{
    Certificate, CertificateAuthority, ChainError, CtLog, PathRejection, SctError, TimeRange,
    UnixTime, verify_chain, verify_embedded_scts,
};

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

/// The happy-path-v0.3 leaf DER, its integrated time, and the production authorities and CT logs.
fn fixture() -> (Vec<u8>, UnixTime, Vec<CertificateAuthority>, Vec<CtLog>) {
    let base = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(
            base.join("../../testdata/conformance/happy-path-v0.3/bundle.sigstore.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let vm = &bundle["verificationMaterial"];
    let leaf = b64(&vm["certificate"]["rawBytes"]);
    let at = UnixTime(
        vm["tlogEntries"][0]["integratedTime"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    let root: Value = serde_json::from_str(
        &std::fs::read_to_string(base.join("../signet-formats/trust/production_trusted_root.json"))
            .unwrap(),
    )
    .unwrap();
    let authorities = root["certificateAuthorities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ca| {
            let chain = ca["certChain"]["certificates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| Certificate::from_der(&b64(&c["rawBytes"])).unwrap())
                .collect();
            // Open windows: this file tests certificate checks, not windows.
            CertificateAuthority::new(chain, TimeRange::starting_at(UnixTime(0))).unwrap()
        })
        .collect();
    let logs = root["ctlogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let key = PublicKey::from_spki_der(&b64(&l["publicKey"]["rawBytes"])).unwrap();
            CtLog::new(key, TimeRange::starting_at(UnixTime(0)))
        })
        .collect();
    (leaf, at, authorities, logs)
}

fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

#[test]
fn unmodified_leaf_verifies() {
    let (leaf, at, authorities, logs) = fixture();
    let leaf = Certificate::from_der(&leaf).unwrap();
    let chain = verify_chain(&leaf, &[], &authorities, at).unwrap();
    verify_embedded_scts(&leaf, chain.issuer(), &logs).unwrap();
}

#[test]
fn missing_code_signing_eku_is_rejected() {
    let (mut der, at, authorities, _) = fixture();
    // id-kp-codeSigning (…3.3) becomes id-kp-emailProtection (…3.4).
    let i = find(&der, &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03]);
    der[i + 7] = 0x04;
    let leaf = Certificate::from_der(&der).unwrap();
    assert!(!leaf.has_code_signing_eku());
    assert_eq!(
        verify_chain(&leaf, &[], &authorities, at).unwrap_err(),
        ChainError::MissingCodeSigningEku
    );
}

#[test]
fn tampered_leaf_fails_the_issuer_signature() {
    let (mut der, at, authorities, logs) = fixture();
    // Change one character of the SAN URI: the intermediate's signature no longer verifies.
    let i = find(&der, b"extremely-dangerous-oidc-beacon.yml");
    der[i] = b'X';
    let leaf = Certificate::from_der(&der).unwrap();
    assert_eq!(
        verify_chain(&leaf, &[], &authorities, at).unwrap_err(),
        ChainError::Untrusted {
            issuer: leaf.issuer(),
            tried: authorities.len(),
            closest: Some(PathRejection::SignatureMismatch),
        }
    );
    // The SCT covers the TBS too: the log's signature fails on the tampered precertificate.
    let issuer = &authorities[1].intermediates()[0];
    assert!(matches!(
        verify_embedded_scts(&leaf, issuer, &logs).unwrap_err(),
        SctError::SignatureMismatch { .. }
    ));
}

#[test]
fn unknown_issuer_name_is_untrusted() {
    let (mut der, at, authorities, _) = fixture();
    // The issuer DN of the leaf says "sigstore-intermediate": rename it.
    let i = find(&der, b"sigstore-intermediate");
    der[i] = b'X';
    let leaf = Certificate::from_der(&der).unwrap();
    assert_eq!(
        verify_chain(&leaf, &[], &authorities, at).unwrap_err(),
        ChainError::Untrusted {
            issuer: leaf.issuer(),
            tried: authorities.len(),
            closest: None,
        }
    );
}

#[test]
fn tampered_sct_signature_is_a_mismatch() {
    let (der, _, authorities, logs) = fixture();
    let leaf = Certificate::from_der(&der).unwrap();
    let sct = &signet_x509::parse_embedded_scts(&leaf).unwrap()[0];
    // Flip a byte inside the SCT's signature (its last byte is the end of `s`).
    let mut der = der.clone();
    let i = find(&der, &sct.signature);
    let last = i + sct.signature.len() - 1;
    der[last] ^= 0x01;
    let leaf = Certificate::from_der(&der).unwrap();
    let issuer = &authorities[1].intermediates()[0];
    assert!(matches!(
        verify_embedded_scts(&leaf, issuer, &logs).unwrap_err(),
        SctError::SignatureMismatch { .. }
    ));
}

#[test]
fn root_validity_is_checked() {
    let (der, _, authorities, _) = fixture();
    let leaf = Certificate::from_der(&der).unwrap();
    // The production root is valid until 2031-10-05; no leaf in the data outlives it, so
    // check the accessor the chain code relies on.
    let root = authorities[1].root();
    assert!(root.is_valid_at(root.not_before()));
    assert!(root.is_valid_at(root.not_after()));
    assert!(!root.is_valid_at(UnixTime(root.not_after().0 + 1)));
    assert!(leaf.not_after() < root.not_after());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        signet_x509::fuzzing::fuzz_certificate(&data);
    }

    #[test]
    fn mutated_leaf_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let (mut der, at, authorities, logs) = fixture();
        for (index, byte) in edits {
            let i = index.index(der.len());
            der[i] = byte;
        }
        if truncate {
            der.truncate(cut.index(der.len()));
        }
        signet_x509::fuzzing::fuzz_certificate(&der);
        if let Ok(leaf) = Certificate::from_der(&der) {
            let _ = verify_chain(&leaf, &[], &authorities, at);
            let issuer = &authorities[1].intermediates()[0];
            let _ = verify_embedded_scts(&leaf, issuer, &logs);
        }
    }
}
