//! End to end: a certificate from the CA (over HTTP, with a development-issuer token),
//! a signature, an RFC 3161 timestamp from the TSA, and a Rekor v1 entry from a test
//! log key make a v0.3 bundle; the trusted root written from this crate's fragments
//! must load in `signet_verify::bundle::BundleVerifier` and verify the bundle.

#![allow(clippy::unwrap_used)]

mod support;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use signet_crypto::Signer as _;
use signet_formats::sigstore::{Bundle, TransparencyLogInstance, TrustedRoot};
use signet_tlog::checkpoint::{Checkpoint, sign_note};
use signet_tlog::{LogIndex, TreeSize};
use signet_verify::bundle::{
    Artifact, BodyField, BundleError, BundleVerifier, Policy, VerifiedSigner,
};
use signet_x509::IdentityMatcher;
use support::{csr_field, new_key, rekor_log, start};

/// A Rekor v1 log that holds exactly one entry: its `tlogs[]` entry and the bundle's
/// `tlogEntries[0]` for `body`.
fn one_entry_log(
    body: &[u8],
    integrated_time: i64,
) -> (TransparencyLogInstance, serde_json::Value) {
    let key = new_key();
    let log_id = key.public_key().key_id();
    let set = signet_tlog::set::sign_set(
        &key,
        body,
        integrated_time,
        &log_id.to_string(),
        LogIndex(0),
    )
    .unwrap();
    let root = signet_tlog::merkle::leaf_hash(body);
    let text = Checkpoint {
        origin: "rekor.local - 1".into(),
        tree_size: TreeSize(1),
        root_hash: root,
        extensions: Vec::new(),
    }
    .to_body();
    let envelope = sign_note(&text, "rekor.local", &key).unwrap();
    let instance = rekor_log(key.public_key(), integrated_time - 3600);
    let entry = json!({
        "logIndex": "0",
        "logId": { "keyId": STANDARD.encode(log_id.as_bytes()) },
        "kindVersion": { "kind": "hashedrekord", "version": "0.0.1" },
        "integratedTime": integrated_time.to_string(),
        "inclusionPromise": { "signedEntryTimestamp": STANDARD.encode(set) },
        "inclusionProof": {
            "logIndex": "0",
            "rootHash": STANDARD.encode(root.0),
            "treeSize": "1",
            "hashes": [],
            "checkpoint": { "envelope": envelope },
        },
        "canonicalizedBody": STANDARD.encode(body),
    });
    (instance, entry)
}

#[tokio::test]
async fn bundles_from_this_ca_and_tsa_verify_with_its_trusted_root() {
    let stack = start().await;
    let email = "release@example.com";
    let key = new_key();
    let token = stack.dev.mint(email, None).unwrap();
    let (status, body) = stack
        .post_json(
            "/api/v2/signingCert",
            &json!({ "certificateSigningRequest": csr_field(&key) }),
            Some(&token),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let leaf_pem = body["signedCertificateEmbeddedSct"]["chain"]["certificates"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let leaf_der = der::pem::decode_vec(leaf_pem.as_bytes()).unwrap().1;

    let artifact = b"release artifact v1.0";
    let digest = Sha256::digest(artifact);
    let signature = key.sign(artifact).unwrap();

    let resp = stack
        .client
        .post(stack.url("/api/v1/timestamp"))
        .header("content-type", "application/json")
        .body(
            json!({ "artifactHash": STANDARD.encode(Sha256::digest(&signature)), "hashAlgorithm": "sha256" })
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let timestamp = resp.bytes().await.unwrap();

    let rekor_body = json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": { "hash": { "algorithm": "sha256", "value": hex::encode(digest) } },
            "signature": {
                "content": STANDARD.encode(&signature),
                "publicKey": { "content": STANDARD.encode(&leaf_pem) },
            },
        },
    });
    let rekor_body = signet_tlog::jcs::canonicalize(&rekor_body).unwrap();
    let integrated_time = i64::try_from(support::now()).unwrap();
    let (tlog, entry) = one_entry_log(rekor_body.as_bytes(), integrated_time);

    let bundle = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": { "rawBytes": STANDARD.encode(&leaf_der) },
            "tlogEntries": [entry],
            "timestampVerificationData": {
                "rfc3161Timestamps": [ { "signedTimestamp": STANDARD.encode(&timestamp) } ]
            },
        },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest) },
            "signature": STANDARD.encode(&signature),
        },
    });
    let bundle = Bundle::parse(bundle.to_string().as_bytes()).unwrap();

    // The trusted root as serve would write it, read back as clients read it.
    let root = signet_ca::trusted_root(
        &stack.ca,
        &stack.base,
        Some((&stack.tsa, &stack.url("/api/v1/timestamp"))),
        vec![tlog],
    );
    let root = TrustedRoot::parse(root.to_json().as_bytes()).unwrap();
    let verifier = BundleVerifier::new(&root).unwrap();

    let policy = Policy::Identity(IdentityMatcher::exact(email, stack.issuer()));
    let verified = verifier
        .verify(&bundle, Artifact::Bytes(artifact), &policy)
        .unwrap();
    assert_eq!(
        verified.signer,
        VerifiedSigner::Certificate {
            san: email.into(),
            issuer: stack.issuer()
        }
    );
    assert_eq!(
        verified.observed_times.len(),
        2,
        "integrated time and genTime"
    );

    let err = verifier
        .verify(&bundle, Artifact::Bytes(b"another artifact"), &policy)
        .unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::TlogBodyMismatch {
                field: BodyField::Digest,
                ..
            }
        ),
        "{err}"
    );
    let stranger = Policy::Identity(IdentityMatcher::exact("other@example.com", stack.issuer()));
    let err = verifier
        .verify(&bundle, Artifact::Bytes(artifact), &stranger)
        .unwrap_err();
    assert!(matches!(err, BundleError::IdentityMismatch { .. }), "{err}");
    // A root without this CA's CT log refuses the certificate (the SCT is required).
    let mut no_ct = root.clone();
    no_ct.ctlogs.clear();
    let err = BundleVerifier::new(&no_ct)
        .unwrap()
        .verify(&bundle, Artifact::Bytes(artifact), &policy)
        .unwrap_err();
    assert!(matches!(err, BundleError::SctUnverified { .. }), "{err}");
}
