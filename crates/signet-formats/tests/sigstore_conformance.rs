//! The vendored Sigstore conformance cases (`testdata/conformance`, see its MANIFEST.md)
//! and the embedded public-good trust material, run through the format parsers.
//!
//! Only parse-level verdicts are checked here: a `_fail` case whose defect is structural
//! must fail to parse with its exact error; every other bundle and root must parse.
//! Signature, proof and certificate failures belong to `signet-verify`.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::path::{Path, PathBuf};

use signet_formats::sigstore::{
    Bundle, BundleContent, BundleVersion, Checkpoint, InclusionProof, LogIndex, SignerMaterial,
    SigningConfig, SigstoreFormatError, TreeSize, TrustedRoot, UnixTime, trust,
};

fn conformance_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: conformance cases not found at {}; they are vendored in the repository \
             (testdata/conformance), so restore them with `git checkout -- testdata/conformance`",
            dir.display()
        );
        None
    }
}

/// Every case folder, sorted.
fn cases(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    v.sort();
    v
}

/// The cases whose defect is structural, with the exact error each must produce.
fn expected_parse_failure(case: &str, err: &SigstoreFormatError) -> Option<bool> {
    use SigstoreFormatError as E;
    Some(match case {
        "bundle-malformed-json_fail" => matches!(err, E::InvalidJson { .. }),
        "bundle-unknown-version_fail" => matches!(
            err,
            E::UnsupportedBundleVersion { media_type }
                if media_type == "application/vnd.dev.sigstore.bundle+json;version=99.9"
        ),
        "bundle-negative-log-index_fail" => matches!(
            err,
            E::NegativeValue {
                field: "verificationMaterial.tlogEntries[].logIndex",
                value: -1
            }
        ),
        "bundle-invalid-base64-signature_fail" => {
            matches!(
                err,
                E::InvalidBase64 {
                    field: "messageSignature.signature"
                }
            )
        }
        "bundle-empty-certificate-chain_fail" => matches!(err, E::EmptyCertificateChain),
        // v0.2 bundle, tlog entry without an inclusion proof.
        "intoto-missing-inclusion-proof_fail" => matches!(
            err,
            E::MissingInclusionProof {
                version: BundleVersion::V0_2,
                entry: 0
            }
        ),
        // v0.3 bundle, tlog entry without an inclusion proof.
        "rekor2-no-inclusion-proof_fail" => matches!(
            err,
            E::MissingInclusionProof {
                version: BundleVersion::V0_3,
                entry: 0
            }
        ),
        // v0.2 bundle whose inclusion proof has no checkpoint.
        "invalid-inclusion-proof_fail" => matches!(
            err,
            E::MissingCheckpoint {
                version: BundleVersion::V0_2,
                entry: 0
            }
        ),
        _ => return None,
    })
}

const PARSE_FAILURES: [&str; 8] = [
    "bundle-malformed-json_fail",
    "bundle-unknown-version_fail",
    "bundle-negative-log-index_fail",
    "bundle-invalid-base64-signature_fail",
    "bundle-empty-certificate-chain_fail",
    "intoto-missing-inclusion-proof_fail",
    "rekor2-no-inclusion-proof_fail",
    "invalid-inclusion-proof_fail",
];

#[test]
fn every_conformance_bundle_parses_or_fails_with_its_exact_error() {
    let Some(dir) = conformance_dir() else { return };
    let all = cases(&dir);
    assert_eq!(all.len(), 70, "the suite has 70 offline verify cases");
    let (mut parsed, mut failed) = (0, 0);
    for (case, path) in &all {
        let bytes = fs::read(path.join("bundle.sigstore.json")).unwrap();
        match Bundle::parse(&bytes) {
            Ok(b) => {
                assert!(
                    !PARSE_FAILURES.contains(&case.as_str()),
                    "{case}: expected a parse failure, parsed as {:?}",
                    b.version
                );
                parsed += 1;
            }
            Err(err) => {
                match expected_parse_failure(case, &err) {
                    Some(true) => {}
                    Some(false) => panic!("{case}: wrong error variant: {err:?}"),
                    None => panic!("{case}: should parse, got: {err}"),
                }
                // The message is printable and lowercase-first.
                let msg = err.to_string();
                assert!(msg.starts_with(|c: char| c.is_lowercase()), "{case}: {msg}");
                failed += 1;
            }
        }
    }
    assert_eq!(failed, PARSE_FAILURES.len());
    assert_eq!(parsed, 70 - PARSE_FAILURES.len());
}

#[test]
fn conformance_bundles_have_the_expected_shape() {
    let Some(dir) = conformance_dir() else { return };
    let read = |case: &str| {
        Bundle::parse(&fs::read(dir.join(case).join("bundle.sigstore.json")).unwrap()).unwrap()
    };
    let v1 = read("happy-path-v0.1");
    assert_eq!(v1.version, BundleVersion::V0_1);
    assert!(
        matches!(v1.verification_material.signer, SignerMaterial::X509CertificateChain(ref c) if !c.is_empty())
    );
    assert_eq!(read("happy-path-v0.2").version, BundleVersion::V0_2);
    assert_eq!(read("happy-path-v0.3").version, BundleVersion::V0_3);
    let v3 = read("happy-path-v0.3-new-mediaType");
    assert_eq!(v3.version, BundleVersion::V0_3);
    assert!(matches!(
        v3.verification_material.signer,
        SignerMaterial::Certificate(_)
    ));
    let e = &v3.verification_material.tlog_entries[0];
    assert_eq!(e.kind_version.kind, "hashedrekord");
    assert!(e.inclusion_proof.as_ref().unwrap().checkpoint.is_some());

    let dsse = read("happy-path-intoto-in-dsse-v3");
    let BundleContent::DsseEnvelope(env) = &dsse.content else {
        panic!("expected dsse")
    };
    let stmt = env.statement().unwrap();
    let artifact = fs::read(dir.join("a.txt")).unwrap();
    assert!(
        stmt.find_subject(&signet_formats::Digest::sha256_of(&artifact))
            .is_some()
    );

    let key = read("managed-key-happy-path");
    assert!(matches!(
        key.verification_material.signer,
        SignerMaterial::PublicKey(_)
    ));
    let rekor2 = read("rekor2-happy-path");
    assert_eq!(
        rekor2.verification_material.tlog_entries[0].integrated_time,
        UnixTime(0)
    );
    assert_eq!(
        rekor2
            .verification_material
            .timestamp_verification_data
            .rfc3161_timestamps
            .len(),
        1
    );
    // Parses here; the missing signed time is a verification failure.
    assert!(
        read("rekor2-no-timestamp_fail")
            .verification_material
            .timestamp_verification_data
            .rfc3161_timestamps
            .is_empty()
    );
    // Parses here; the root certificate in the chain is an x509 policy failure.
    assert!(
        matches!(read("bundle-with-root-cert_fail").verification_material.signer, SignerMaterial::X509CertificateChain(ref c) if c.len() == 3)
    );
}

#[test]
fn every_conformance_trusted_root_parses_except_missing_start() {
    let Some(dir) = conformance_dir() else { return };
    let mut n = 0;
    for (case, path) in cases(&dir) {
        let file = path.join("trusted_root.json");
        if !file.exists() {
            continue;
        }
        n += 1;
        let result = TrustedRoot::parse(&fs::read(&file).unwrap());
        if case == "trust-root-tlog-missing-validity-start_fail" {
            assert!(
                matches!(
                    result,
                    Err(SigstoreFormatError::MissingField {
                        field: "tlogs[].publicKey.validFor.start"
                    })
                ),
                "{case}: {result:?}"
            );
        } else {
            let root = result.unwrap_or_else(|e| panic!("{case}: {e}"));
            assert!(!root.tlogs.is_empty(), "{case}");
        }
    }
    assert_eq!(n, 38, "38 cases ship their own trusted root");
}

#[test]
fn tlog_validity_end_is_inclusive() {
    let Some(dir) = conformance_dir() else { return };
    let case = dir.join("trust-root-tlog-validity-end-inclusive");
    let root = TrustedRoot::parse(&fs::read(case.join("trusted_root.json")).unwrap()).unwrap();
    let bundle = Bundle::parse(&fs::read(case.join("bundle.sigstore.json")).unwrap()).unwrap();
    let entry = &bundle.verification_material.tlog_entries[0];
    let log = root.tlog_by_id(&entry.log_id.key_id).unwrap();
    // The entry was integrated exactly at the end of the key's validity.
    assert_eq!(log.public_key.valid_for.end(), Some(entry.integrated_time));
    assert!(log.public_key.valid_for.contains(entry.integrated_time));
    assert!(
        !log.public_key
            .valid_for
            .contains(UnixTime(entry.integrated_time.0 + 1))
    );
}

#[test]
fn embedded_roots_and_signing_configs_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("trust");
    for f in ["production_trusted_root.json", "staging_trusted_root.json"] {
        let root = TrustedRoot::parse(&fs::read(dir.join(f)).unwrap()).unwrap();
        assert!(!root.certificate_authorities.is_empty(), "{f}");
    }
    for f in [
        "production_signing_config.v0.2.json",
        "staging_signing_config.v0.2.json",
    ] {
        let cfg = SigningConfig::parse(&fs::read(dir.join(f)).unwrap()).unwrap();
        assert!(!cfg.ca_urls.is_empty(), "{f}");
    }
    assert_eq!(
        trust::production_trusted_root(),
        TrustedRoot::parse(&fs::read(dir.join("production_trusted_root.json")).unwrap()).unwrap()
    );
    let staging = trust::staging_trusted_root();
    assert_ne!(staging, trust::production_trusted_root());
    let _ = (
        trust::production_signing_config(),
        trust::staging_signing_config(),
    );
}

/// Makes a parsed bundle of any version representable as v0.3: the chain becomes its
/// leaf, and a v0.1 entry without a proof or checkpoint gets a placeholder one.
fn normalise_to_v03(mut b: Bundle) -> Bundle {
    b.version = BundleVersion::V0_3;
    if let SignerMaterial::X509CertificateChain(chain) = &b.verification_material.signer {
        b.verification_material.signer = SignerMaterial::Certificate(chain[0].clone());
    }
    for e in &mut b.verification_material.tlog_entries {
        let proof = e.inclusion_proof.get_or_insert_with(|| InclusionProof {
            log_index: LogIndex(0),
            root_hash: Vec::new(),
            tree_size: TreeSize(0),
            hashes: Vec::new(),
            checkpoint: None,
        });
        proof.checkpoint.get_or_insert_with(|| Checkpoint {
            envelope: "placeholder\n".into(),
        });
    }
    b
}

#[test]
fn conformance_bundles_round_trip_through_v03() {
    let Some(dir) = conformance_dir() else { return };
    let mut n = 0;
    for (case, path) in cases(&dir) {
        let Ok(b) = Bundle::parse(&fs::read(path.join("bundle.sigstore.json")).unwrap()) else {
            continue;
        };
        let was_v03 = b.version == BundleVersion::V0_3;
        let b = normalise_to_v03(b);
        let json = b.to_json_v03().unwrap_or_else(|e| panic!("{case}: {e}"));
        let again =
            Bundle::parse(json.as_bytes()).unwrap_or_else(|e| panic!("{case}: {e}\n{json}"));
        assert_eq!(again, b, "{case}");
        // The written form is a fixed point.
        assert_eq!(again.to_json_v03().unwrap(), json, "{case}");
        // Zero and empty values are written out, as sigstore-python requires.
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            v["mediaType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        assert!(
            v["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"].is_array()
        );
        for e in v["verificationMaterial"]["tlogEntries"].as_array().unwrap() {
            assert!(
                e["logIndex"].is_string() && e["integratedTime"].is_string(),
                "{case}"
            );
            assert!(e["inclusionProof"]["hashes"].is_array(), "{case}");
            assert!(e["inclusionProof"]["treeSize"].is_string(), "{case}");
        }
        if was_v03 {
            // Nothing was normalised, so the original file and ours agree on every value.
            let original =
                Bundle::parse(&fs::read(path.join("bundle.sigstore.json")).unwrap()).unwrap();
            assert_eq!(again, original, "{case}");
        }
        n += 1;
    }
    assert_eq!(n, 62);
}

#[test]
fn chain_bundles_are_refused_as_v03_output() {
    let Some(dir) = conformance_dir() else { return };
    let b = Bundle::parse(&fs::read(dir.join("happy-path-v0.2/bundle.sigstore.json")).unwrap())
        .unwrap();
    assert!(matches!(
        b.to_json_v03(),
        Err(SigstoreFormatError::CertificateChainNotAllowed {
            version: BundleVersion::V0_3
        })
    ));
}
