//! Runs the transparency-log checks on the vendored sigstore-conformance bundles
//! (`testdata/conformance`, see its MANIFEST.md). Bundles and trusted roots are read
//! as plain `serde_json::Value`s.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use signet_crypto::PublicKey;
use signet_tlog::checkpoint::{
    CheckpointError, CheckpointInclusionError, NoteError, NoteVerifier, verify_checkpoint,
    verify_inclusion_against_checkpoint,
};
use signet_tlog::entry::{EntryBody, EntryError};
use signet_tlog::merkle::{InclusionProof, ProofError, leaf_hash};
use signet_tlog::set::{SetError, verify_set};
use signet_tlog::{Hash, LogIndex, TreeSize};

fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance")
}

fn read_json(p: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(p).ok()?).ok()
}

fn trusted_root(case: &str) -> Value {
    let own = root_dir().join(case).join("trusted_root.json");
    let path = if own.exists() {
        own
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../signet-formats/trust/production_trusted_root.json")
    };
    read_json(&path).expect("trusted root")
}

fn b64(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().expect("string"))
        .expect("base64")
}

fn num(v: &Value) -> u64 {
    v.as_str()
        .expect("int64 as string")
        .parse()
        .expect("number")
}

fn hash(v: &Value) -> Hash {
    Hash::try_from(b64(v).as_slice()).expect("32 bytes")
}

fn entry(case: &str) -> Value {
    let b = read_json(&root_dir().join(case).join("bundle.sigstore.json")).expect("bundle");
    b["verificationMaterial"]["tlogEntries"][0].clone()
}

/// The tlog of the trusted root whose log ID equals the entry's, as a note verifier
/// named after the log's host (the key name Rekor uses) and its key.
fn log_key(case: &str, entry: &Value) -> (NoteVerifier, PublicKey, String) {
    let id = entry["logId"]["keyId"].as_str().unwrap();
    let root = trusted_root(case);
    let tlog = root["tlogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["logId"]["keyId"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("{case}: no tlog with log id {id}"));
    let key = PublicKey::from_spki_der(&b64(&tlog["publicKey"]["rawBytes"])).expect("log key");
    let url = tlog["baseUrl"].as_str().unwrap();
    let name = url
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let log_id_hex = hex::encode(b64(&entry["logId"]["keyId"]));
    (
        NoteVerifier::new(name, key.clone()).expect("name"),
        key,
        log_id_hex,
    )
}

#[derive(Debug)]
enum Failure {
    Checkpoint(CheckpointError),
    Inclusion(CheckpointInclusionError),
    Set(SetError),
}

/// What ran on one entry.
#[derive(Debug, Default)]
struct Ran {
    checkpoint: bool,
    set: bool,
}

fn proof_of(e: &Value) -> InclusionProof {
    let p = &e["inclusionProof"];
    InclusionProof {
        log_index: LogIndex(num(&p["logIndex"])),
        tree_size: TreeSize(num(&p["treeSize"])),
        root_hash: hash(&p["rootHash"]),
        hashes: p["hashes"]
            .as_array()
            .map(|a| a.iter().map(hash).collect())
            .unwrap_or_default(),
    }
}

fn check(case: &str) -> Result<Ran, Failure> {
    let e = entry(case);
    let (verifier, key, log_id_hex) = log_key(case, &e);
    let body = b64(&e["canonicalizedBody"]);
    let leaf = leaf_hash(&body);
    let mut ran = Ran::default();
    let proof = proof_of(&e);
    match e["inclusionProof"]["checkpoint"]["envelope"].as_str() {
        Some(note) => {
            let cp =
                verify_checkpoint(note.as_bytes(), &[verifier]).map_err(Failure::Checkpoint)?;
            verify_inclusion_against_checkpoint(&cp, &leaf, &proof).map_err(Failure::Inclusion)?;
            ran.checkpoint = true;
        }
        None => proof
            .verify(&leaf)
            .map_err(|p| Failure::Inclusion(p.into()))?,
    }
    if let Some(set) = e["inclusionPromise"]["signedEntryTimestamp"].as_str() {
        let set = STANDARD.decode(set).expect("b64");
        let time: i64 = e["integratedTime"].as_str().unwrap().parse().unwrap();
        verify_set(
            &key,
            &body,
            time,
            &log_id_hex,
            LogIndex(num(&e["logIndex"])),
            &set,
        )
        .map_err(Failure::Set)?;
        ran.set = true;
    }
    Ok(ran)
}

const POSITIVE: &[&str] = &[
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-v0.3-new-mediaType",
    "happy-path-intoto-in-dsse-v3",
    "rekor2-happy-path",
    "rekor2-dsse-happy-path",
    "rekor2-checkpoint-cosigned",
    "rekor2-checkpoint-multiple-cosigs",
    "rekor2-checkpoint-origin-not-first",
    "rekor2-checkpoint-two-sigs-cosigned",
    "rekor2-checkpoint-two-sigs-from-origin",
    // Other cases whose defect is not in the transparency-log data.
    "intoto-with-custom-trust-root",
    "managed-key-happy-path",
    "managed-key-and-trusted-root",
    "bundle-with-sct-with-extensions",
    "trust-root-tlog-validity-end-inclusive",
    "trust-root-tsa-validity-end-inclusive",
    "rekor2-timestamp-with-embedded-cert",
    "rekor2-timestamp-without-embedded-cert",
    "rekor2-timestamp-with-expired-cert-chain",
];

#[test]
fn positive_cases_verify() {
    let (mut cps, mut sets) = (0, 0);
    for case in POSITIVE {
        let ran = check(case).unwrap_or_else(|f| panic!("{case}: {f:?}"));
        assert!(ran.checkpoint, "{case}: no checkpoint checked");
        cps += usize::from(ran.checkpoint);
        sets += usize::from(ran.set);
    }
    eprintln!(
        "positive: {} cases, {cps} checkpoints + inclusion proofs, {sets} SETs",
        POSITIVE.len()
    );
    assert_eq!(cps, POSITIVE.len());
    assert_eq!(sets, 9, "SETs in the v1 positives");
}

#[test]
fn negative_cases_fail_with_exact_variant() {
    use Failure as F;
    type Expect = fn(&Failure) -> bool;
    let cases: &[(&str, Expect)] = &[
        ("checkpoint-bad-keyhint_fail", |f| {
            matches!(
                f,
                F::Checkpoint(CheckpointError::Note(NoteError::NoMatchingSignature { .. }))
            )
        }),
        ("checkpoint-wrong-roothash_fail", |f| {
            matches!(
                f,
                F::Inclusion(CheckpointInclusionError::TreeSizeMismatch { .. })
            )
        }),
        ("inclusion-proof-corrupted-hash_fail", |f| {
            matches!(
                f,
                F::Inclusion(CheckpointInclusionError::Proof(
                    ProofError::RootMismatch { .. }
                ))
            )
        }),
        ("invalid-checkpoint-signature_fail", |f| {
            matches!(
                f,
                F::Checkpoint(CheckpointError::Note(NoteError::SignatureInvalid { .. }))
            )
        }),
        ("invalid-inclusion-proof_fail", |f| {
            matches!(
                f,
                F::Inclusion(CheckpointInclusionError::Proof(
                    ProofError::RootMismatch { .. }
                ))
            )
        }),
        ("set-invalid-signature_fail", |f| {
            matches!(f, F::Set(SetError::SignatureInvalid { .. }))
        }),
        ("rekor2-checkpoint-missing-log-signature_fail", |f| {
            matches!(
                f,
                F::Checkpoint(CheckpointError::Note(NoteError::NoSignatures))
            )
        }),
        ("rekor2-checkpoint-missing-origin_fail", |f| {
            matches!(f, F::Checkpoint(CheckpointError::MissingLines { found: 2 }))
        }),
        ("rekor2-checkpoint-missing-root-hash_fail", |f| {
            matches!(f, F::Checkpoint(CheckpointError::MissingLines { found: 2 }))
        }),
        ("rekor2-checkpoint-missing-size_fail", |f| {
            matches!(f, F::Checkpoint(CheckpointError::MissingLines { found: 2 }))
        }),
        ("rekor2-checkpoint-no-matching-signature_fail", |f| {
            matches!(
                f,
                F::Checkpoint(CheckpointError::Note(NoteError::NoMatchingSignature { .. }))
            )
        }),
    ];
    for (case, want) in cases {
        match check(case) {
            Ok(ran) => panic!("{case}: accepted ({ran:?})"),
            Err(f) => assert!(want(&f), "{case}: wrong failure {f:?}"),
        }
    }
}

#[test]
fn every_conformance_body_parses() {
    let mut parsed = 0;
    let mut kinds = std::collections::BTreeMap::new();
    for dir in std::fs::read_dir(root_dir()).unwrap() {
        let dir = dir.unwrap().path();
        let Some(bundle) = read_json(&dir.join("bundle.sigstore.json")) else {
            continue;
        };
        let case = dir.file_name().unwrap().to_string_lossy().to_string();
        for e in bundle["verificationMaterial"]["tlogEntries"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let body = b64(&e["canonicalizedBody"]);
            match EntryBody::parse(&body) {
                Ok(b) => {
                    assert_eq!(b.kind(), e["kindVersion"]["kind"], "{case}");
                    assert_eq!(b.api_version(), e["kindVersion"]["version"], "{case}");
                    *kinds
                        .entry(format!("{} {}", b.kind(), b.api_version()))
                        .or_insert(0) += 1;
                    parsed += 1;
                }
                // These bundles carry a deliberately truncated body.
                Err(err)
                    if matches!(
                        case.as_str(),
                        "bundle-negative-log-index_fail" | "bundle-unknown-version_fail"
                    ) =>
                {
                    assert!(
                        matches!(err, EntryError::MissingField { field: "kind" }),
                        "{case}: {err:?}"
                    );
                }
                Err(err) if case == "bundle-empty-certificate-chain_fail" => {
                    assert!(
                        matches!(err, EntryError::MissingField { field: "spec" }),
                        "{case}: {err:?}"
                    );
                }
                Err(err) => panic!("{case}: {err}"),
            }
        }
    }
    eprintln!("parsed {parsed} bodies: {kinds:?}");
    assert_eq!(parsed, 66);
}

#[test]
fn hashedrekord_digest_matches_artifact() {
    use sha2::Digest as _;
    let artifact = std::fs::read(root_dir().join("a.txt")).unwrap();
    let want: [u8; 32] = sha2::Sha256::digest(&artifact).into();
    for case in ["happy-path-v0.3", "rekor2-happy-path"] {
        let body = EntryBody::parse(&b64(&entry(case)["canonicalizedBody"])).unwrap();
        let got = match body {
            EntryBody::HashedRekordV001(h) => h.artifact_sha256(),
            EntryBody::HashedRekordV002(h) => h.artifact_sha256(),
            other => panic!("{case}: {other:?}"),
        };
        assert_eq!(got, Some(want), "{case}");
    }
}
