//! The Rekor v1 API through the router (tower `oneshot`) and over a real socket.

mod common;

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use signet_crypto::Signer as _;
use signet_log::merkle::NodeId;
use signet_log::store::{AppendBatch, LogIdentity, LogStore, StoreError, StoredHead, StoredLeaf};
use signet_log::{LogConfig, LogError, LogService, RedbStore, SearchQuery, fsck};
use signet_tlog::checkpoint::{
    NoteVerifier, verify_checkpoint, verify_inclusion_against_checkpoint,
};
use signet_tlog::merkle::{Hash, InclusionProof, leaf_hash, verify_consistency};
use signet_tlog::set::verify_set;
use signet_tlog::{LogIndex, TreeSize};
use tower::ServiceExt as _;

use common::{HOST, bundle, dsse, hashedrekord, key, message_signature, only_entry, trusted_root};

fn open(dir: &Path) -> LogService {
    LogService::open(dir, LogConfig::new(HOST)).expect("open")
}

async fn call(
    router: &Router,
    method: &str,
    uri: &str,
    body: Vec<u8>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(Body::from(body))
        .expect("request");
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    (status, headers, bytes.to_vec())
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn hex32(v: &Value) -> Hash {
    Hash::try_from(
        hex::decode(v.as_str().expect("hex string"))
            .expect("hex")
            .as_slice(),
    )
    .expect("32")
}

/// Checks a Rekor `LogEntry` response the way clients do, with signet-tlog only:
/// the UUID is the leaf hash, the SET verifies, the checkpoint verifies under the
/// log's host name and the inclusion proof reaches its root.
fn verify_entry(service: &LogService, uuid: &str, e: &Value) -> (LogIndex, TreeSize) {
    let body = STANDARD
        .decode(e["body"].as_str().expect("body"))
        .expect("b64");
    assert_eq!(leaf_hash(&body).to_string(), uuid);
    let index = e["logIndex"].as_u64().expect("logIndex");
    assert_eq!(e["logID"], service.log_id());
    let set = STANDARD
        .decode(
            e["verification"]["signedEntryTimestamp"]
                .as_str()
                .expect("set"),
        )
        .expect("b64");
    verify_set(
        service.public_key(),
        &body,
        e["integratedTime"].as_i64().expect("time"),
        service.log_id(),
        LogIndex(index),
        &set,
    )
    .expect("SET verifies");
    let p = &e["verification"]["inclusionProof"];
    for field in ["checkpoint", "hashes", "logIndex", "rootHash", "treeSize"] {
        assert!(
            p.get(field).is_some(),
            "inclusionProof.{field} always present: {p}"
        );
    }
    let proof = InclusionProof {
        log_index: LogIndex(p["logIndex"].as_u64().expect("u64")),
        tree_size: TreeSize(p["treeSize"].as_u64().expect("u64")),
        root_hash: hex32(&p["rootHash"]),
        hashes: p["hashes"]
            .as_array()
            .expect("array")
            .iter()
            .map(hex32)
            .collect(),
    };
    assert_eq!(proof.log_index.0, index);
    let note = p["checkpoint"].as_str().expect("checkpoint");
    assert!(
        note.starts_with(&format!("{} - {}\n", HOST, service.tree_id())),
        "{note}"
    );
    let v = NoteVerifier::new(HOST, service.public_key().clone()).expect("verifier");
    let cp = verify_checkpoint(note.as_bytes(), &[v]).expect("checkpoint verifies");
    verify_inclusion_against_checkpoint(&cp, &leaf_hash(&body), &proof).expect("inclusion");
    (LogIndex(index), proof.tree_size)
}

#[tokio::test]
async fn entries_round_trip_and_verify_with_signet_tlog() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = open(dir.path());
    let router = service.router();
    let k = key();
    let mut uuids = Vec::new();
    for i in 0..5u8 {
        let (status, headers, body) = call(
            &router,
            "POST",
            "/api/v1/log/entries",
            hashedrekord(&k, &[i]),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&body)
        );
        let (uuid, e) = only_entry(&json_of(&body));
        assert_eq!(
            headers["location"],
            format!("/api/v1/log/entries/{uuid}").as_str()
        );
        assert_eq!(headers["etag"], uuid.as_str());
        let (index, size) = verify_entry(&service, &uuid, &e);
        // Entry 0 is the log's genesis entry.
        assert_eq!(index, LogIndex(u64::from(i) + 1));
        assert_eq!(size, TreeSize(u64::from(i) + 2));
        uuids.push(uuid);
    }
    let (envelope, proposal) = dsse(&k, b"artifact");
    let (status, _, body) = call(&router, "POST", "/api/v1/log/entries", proposal).await;
    assert_eq!(status, StatusCode::CREATED);
    let (dsse_uuid, e) = only_entry(&json_of(&body));
    verify_entry(&service, &dsse_uuid, &e);
    let stored: Value = serde_json::from_slice(
        &STANDARD
            .decode(e["body"].as_str().expect("s"))
            .expect("b64"),
    )
    .expect("json");
    assert_eq!(
        stored["spec"]["envelopeHash"]["value"],
        hex::encode(Sha256::digest(envelope.as_bytes()))
    );

    // Reads: by UUID (64 and 80 hex), by index; proofs at the current size.
    for (i, uuid) in uuids.iter().enumerate() {
        let i = i + 1;
        let entry_id = format!("{:016x}{uuid}", service.tree_id());
        for path in [
            format!("/api/v1/log/entries/{uuid}"),
            format!("/api/v1/log/entries/{entry_id}"),
            format!("/api/v1/log/entries?logIndex={i}"),
        ] {
            let (status, _, body) = call(&router, "GET", &path, vec![]).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let (got, e) = only_entry(&json_of(&body));
            assert_eq!(&got, uuid);
            let (index, size) = verify_entry(&service, &got, &e);
            assert_eq!(index.0, i as u64);
            assert_eq!(size, TreeSize(7));
        }
    }

    // Tree head and public key.
    let (status, _, body) = call(&router, "GET", "/api/v1/log", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    let head = json_of(&body);
    assert_eq!(head["treeSize"], 7);
    assert_eq!(head["treeID"], service.tree_id().to_string());
    let v = NoteVerifier::new(HOST, service.public_key().clone()).expect("v");
    let cp = verify_checkpoint(
        head["signedTreeHead"].as_str().expect("sth").as_bytes(),
        &[v],
    )
    .expect("verifies");
    assert_eq!(cp.checkpoint().root_hash, hex32(&head["rootHash"]));
    let (status, headers, body) = call(&router, "GET", "/api/v1/log/publicKey", vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/x-pem-file");
    assert_eq!(
        String::from_utf8(body).expect("utf8"),
        service.public_key().to_pem()
    );
}

#[tokio::test]
async fn consistency_proofs_verify_between_all_sizes() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = open(dir.path());
    let router = service.router();
    let k = key();
    // roots[n - 1] is the root at size n (size 1: the genesis entry alone).
    let mut roots = vec![service.tree_head().root_hash];
    for i in 0..12u8 {
        service
            .submit(&hashedrekord(&k, &[i]))
            .await
            .expect("submit");
        roots.push(service.tree_head().root_hash);
    }
    for first in 1..=13u64 {
        for last in first..=13u64 {
            let (status, _, body) = call(
                &router,
                "GET",
                &format!("/api/v1/log/proof?firstSize={first}&lastSize={last}"),
                vec![],
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            let p = json_of(&body);
            assert_eq!(hex32(&p["rootHash"]), roots[last as usize - 1]);
            let hashes: Vec<Hash> = p["hashes"]
                .as_array()
                .expect("array")
                .iter()
                .map(hex32)
                .collect();
            verify_consistency(
                TreeSize(first),
                TreeSize(last),
                &roots[first as usize - 1],
                &roots[last as usize - 1],
                &hashes,
            )
            .unwrap_or_else(|e| panic!("{first}..{last}: {e}"));
        }
    }
}

/// Entries the log issues verify through `signet_verify::bundle`, as a client's
/// bundle: the SET, the checkpoint and the inclusion proof, and the body against the
/// signature (message signature and DSSE).
#[tokio::test]
async fn bundles_built_from_entries_verify_with_signet_verify() {
    use signet_verify::bundle::{Artifact, BodyField, BundleError, BundleVerifier, Policy};

    let dir = tempfile::tempdir().expect("tmp");
    let service = open(dir.path());
    let root = trusted_root(&service, "http://log.test:3000");
    let root = signet_formats::sigstore::TrustedRoot::parse(root.to_string().as_bytes())
        .expect("trusted root parses");
    let verifier = BundleVerifier::new(&root).expect("verifier");
    let k = key();
    let hint = STANDARD.encode(k.public_key().key_id().as_bytes());
    let artifact = b"an artifact";

    // hashedrekord + messageSignature.
    let entry = service
        .submit(&hashedrekord(&k, artifact))
        .await
        .expect("submit");
    let (_, e) = only_entry(&entry.to_rekor_json());
    let b = bundle(
        &e,
        "hashedrekord",
        message_signature(&entry.body, artifact),
        &hint,
    );
    let b =
        signet_formats::sigstore::Bundle::parse(b.to_string().as_bytes()).expect("bundle parses");
    let verified = verifier
        .verify(
            &b,
            Artifact::Bytes(artifact),
            &Policy::Key(k.public_key().clone()),
        )
        .expect("hashedrekord bundle verifies");
    assert_eq!(verified.tlog_entries[0].log_index, entry.log_index.0);
    assert!(
        verified.tlog_entries[0].integrated_time.is_some(),
        "SET verified"
    );
    // Against another key, it fails.
    let err = verifier
        .verify(
            &b,
            Artifact::Bytes(artifact),
            &Policy::Key(key().public_key().clone()),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            BundleError::TlogBodyMismatch {
                field: BodyField::Verifier,
                ..
            }
        ),
        "{err}"
    );

    // dsse + dsseEnvelope.
    let (envelope, proposal) = dsse(&k, artifact);
    let entry = service.submit(&proposal).await.expect("submit dsse");
    let (_, e) = only_entry(&entry.to_rekor_json());
    let env: Value = serde_json::from_str(&envelope).expect("json");
    let b = bundle(&e, "dsse", ("dsseEnvelope", env), &hint);
    let b =
        signet_formats::sigstore::Bundle::parse(b.to_string().as_bytes()).expect("bundle parses");
    verifier
        .verify(
            &b,
            Artifact::Bytes(artifact),
            &Policy::Key(k.public_key().clone()),
        )
        .expect("dsse bundle verifies");
}

#[tokio::test]
async fn duplicates_are_409_with_the_existing_location() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = open(dir.path());
    let router = service.router();
    let k = key();
    let proposal = hashedrekord(&k, b"same");
    let (status, _, body) = call(&router, "POST", "/api/v1/log/entries", proposal.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (uuid, _) = only_entry(&json_of(&body));
    let (status, headers, body) =
        call(&router, "POST", "/api/v1/log/entries", proposal.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        headers["location"],
        format!("/api/v1/log/entries/{uuid}").as_str()
    );
    let err = json_of(&body);
    assert_eq!(err["code"], 409);
    assert!(err["message"].as_str().expect("msg").contains(&uuid));
    // The existing entry is retrievable at that location.
    let (status, _, _) = call(
        &router,
        "GET",
        headers["location"].to_str().expect("ascii"),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // The same new entry submitted concurrently: one 201, the rest 409 at its index.
    let proposal = hashedrekord(&k, b"raced");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let s = service.clone();
        let p = proposal.clone();
        tasks.push(tokio::spawn(async move { s.submit(&p).await }));
    }
    let mut created = Vec::new();
    let mut conflicts = Vec::new();
    for t in tasks {
        match t.await.expect("join") {
            Ok(e) => created.push(e.log_index),
            Err(LogError::Duplicate { index, .. }) => conflicts.push(index),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(created.len(), 1);
    assert!(conflicts.iter().all(|i| *i == created[0]));
    assert_eq!(service.tree_head().tree_size, TreeSize(3));
}

/// Bad input to every endpoint: a 4xx with a `{"code","message"}` body, and nothing
/// written.
#[tokio::test]
async fn bad_input_gets_json_4xx_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = LogService::open(dir.path(), {
        let mut c = LogConfig::new(HOST);
        c.max_request_bytes = 64 * 1024;
        c
    })
    .expect("open");
    let router = service.router();
    let k = key();
    service
        .submit(&hashedrekord(&k, b"seed"))
        .await
        .expect("seed");
    let before = service.tree_head();

    let other = key();
    let mut forged: Value = serde_json::from_slice(&hashedrekord(&k, b"x")).expect("json");
    forged["spec"]["signature"]["publicKey"]["content"] =
        json!(STANDARD.encode(other.public_key().to_pem()));
    let mut wrong_digest: Value = serde_json::from_slice(&hashedrekord(&k, b"x")).expect("json");
    wrong_digest["spec"]["data"]["hash"]["value"] = json!(hex::encode(Sha256::digest(b"y")));
    let (_, dsse_ok) = dsse(&k, b"x");
    let mut dsse_bad: Value = serde_json::from_slice(&dsse_ok).expect("json");
    dsse_bad["spec"]["proposedContent"]["verifiers"] =
        json!([STANDARD.encode(other.public_key().to_pem())]);

    let entries = "/api/v1/log/entries";
    let retrieve = "/api/v1/index/retrieve";
    let rejected = "the entry was rejected: ";
    let bad_signature =
        "the entry was rejected: the signature does not verify over the sha256 digest";
    let bad_json =
        "the entry was rejected: the proposed entry is not valid JSON of the expected shape: ";
    /// Method, path, body, status, start of the message.
    type Case = (&'static str, String, Vec<u8>, u16, String);
    let case = |method, path: &str, body: Vec<u8>, status, message: &str| -> Case {
        (method, path.to_owned(), body, status, message.to_owned())
    };
    let cases: Vec<Case> = vec![
        case(
            "POST",
            entries,
            forged.to_string().into_bytes(),
            400,
            bad_signature,
        ),
        case(
            "POST",
            entries,
            wrong_digest.to_string().into_bytes(),
            400,
            bad_signature,
        ),
        case(
            "POST",
            entries,
            dsse_bad.to_string().into_bytes(),
            400,
            &format!("{rejected}DSSE signature 0 verifies with none of the verifiers"),
        ),
        case("POST", entries, b"{".to_vec(), 400, bad_json),
        case("POST", entries, vec![], 400, bad_json),
        case("POST", entries, b"\xff\xfe".to_vec(), 400, bad_json),
        case(
            "POST",
            entries,
            br#"{"kind":"rekord","apiVersion":"0.0.1","spec":{}}"#.to_vec(),
            400,
            &format!("{rejected}unsupported entry type \"rekord\" \"0.0.1\""),
        ),
        case(
            "POST",
            entries,
            vec![b' '; 65 * 1024],
            413,
            "reading the request body: Failed to buffer the request body: length limit exceeded",
        ),
        case(
            "GET",
            "/api/v1/log/entries/zz",
            vec![],
            400,
            "invalid request: entry UUID \"zz\" is neither 64 hex digits nor 80",
        ),
        case(
            "GET",
            &format!("/api/v1/log/entries/{}", "0".repeat(64)),
            vec![],
            404,
            &format!("entry {} was not found in the log", "0".repeat(64)),
        ),
        case(
            "GET",
            &format!("/api/v1/log/entries/{}{}", "1".repeat(16), "0".repeat(64)),
            vec![],
            404,
            &format!(
                "entry {}{} (tree ID 1229782938247303441 is not this log's) was not found",
                "1".repeat(16),
                "0".repeat(64)
            ),
        ),
        case(
            "GET",
            entries,
            vec![],
            400,
            "query parameter logIndex is required",
        ),
        case(
            "GET",
            "/api/v1/log/entries?logIndex=-1",
            vec![],
            400,
            "logIndex must be a non-negative integer, found \"-1\"",
        ),
        case(
            "GET",
            "/api/v1/log/entries?logIndex=abc",
            vec![],
            400,
            "logIndex must be a non-negative integer, found \"abc\"",
        ),
        case(
            "GET",
            "/api/v1/log/entries?logIndex=99",
            vec![],
            404,
            "log index 99 was not found in the log",
        ),
        case(
            "GET",
            "/api/v1/log/entries?logIndex=99999999999999999999999",
            vec![],
            400,
            "logIndex must be a non-negative integer, found \"99999999999999999999999\"",
        ),
        case(
            "GET",
            "/api/v1/log/proof",
            vec![],
            400,
            "query parameter lastSize is required",
        ),
        case(
            "GET",
            "/api/v1/log/proof?firstSize=2&lastSize=1",
            vec![],
            400,
            "invalid request: firstSize 2 must be at most lastSize 1",
        ),
        case(
            "GET",
            "/api/v1/log/proof?firstSize=0&lastSize=1",
            vec![],
            400,
            "firstSize and lastSize must be at least 1",
        ),
        case(
            "GET",
            "/api/v1/log/proof?firstSize=1&lastSize=5",
            vec![],
            400,
            "tree size 5 is larger than the current tree size 2",
        ),
        case(
            "GET",
            "/api/v1/log/proof?lastSize=1&treeID=7",
            vec![],
            400,
            "treeID \"7\" is not this log's tree",
        ),
        case(
            "POST",
            retrieve,
            b"{}".to_vec(),
            400,
            "invalid request: give at least one of hash, publicKey or email",
        ),
        case(
            "POST",
            retrieve,
            b"nope".to_vec(),
            400,
            "Failed to parse the request body as JSON",
        ),
        case(
            "POST",
            retrieve,
            br#"{"hash":"sha256:xyz"}"#.to_vec(),
            400,
            "invalid request: hash \"sha256:xyz\" is not sha256:<64 hex digits>",
        ),
        case(
            "POST",
            retrieve,
            br#"{"hash":"abc","operator":"xor"}"#.to_vec(),
            400,
            "operator \"xor\" is not \"and\" or \"or\"",
        ),
        case(
            "POST",
            retrieve,
            br#"{"publicKey":{"format":"pgp","content":"AA=="}}"#.to_vec(),
            400,
            "publicKey.format \"pgp\" is not supported",
        ),
        case(
            "POST",
            retrieve,
            br#"{"publicKey":{"format":"x509","content":"AA=="}}"#.to_vec(),
            400,
            "invalid request: spec.signature.publicKey.content is not a PEM `PUBLIC KEY` or `CERTIFICATE` chain this log can use: no PEM block",
        ),
        case("GET", "/api/v1/nothing", vec![], 404, "path not found"),
        case("DELETE", "/api/v1/log", vec![], 405, "method not allowed"),
    ];
    for (method, path, body, want, message) in cases {
        let (status, _, resp) = call(&router, method, &path, body).await;
        assert_eq!(
            status.as_u16(),
            want,
            "{method} {path}: {}",
            String::from_utf8_lossy(&resp)
        );
        let err = json_of(&resp);
        assert_eq!(err["code"], want, "{method} {path}");
        assert!(
            err["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&message)),
            "{method} {path}: {err}"
        );
    }
    assert_eq!(service.tree_head(), before, "nothing was written");
    drop(router);
    drop(service);
    let report = fsck(dir.path()).expect("fsck");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.tree_size, 2);
}

#[tokio::test]
async fn search_by_hash_key_and_email() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = open(dir.path());
    let router = service.router();
    let (a, b) = (key(), key());
    let ea = service.submit(&hashedrekord(&a, b"one")).await.expect("a1");
    let ea2 = service.submit(&hashedrekord(&a, b"two")).await.expect("a2");
    let eb = service.submit(&hashedrekord(&b, b"one")).await.expect("b1");
    let (_, d) = dsse(&b, b"three");
    let ed = service.submit(&d).await.expect("dsse");

    let post = |body: Value| {
        let router = router.clone();
        async move {
            let (status, _, resp) = call(
                &router,
                "POST",
                "/api/v1/index/retrieve",
                body.to_string().into_bytes(),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&resp));
            let mut v: Vec<String> = serde_json::from_slice(&resp).expect("array");
            v.sort();
            v
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let one = hex::encode(Sha256::digest(b"one"));
    assert_eq!(
        post(json!({"hash": format!("sha256:{one}")})).await,
        sorted(vec![ea.uuid.to_string(), eb.uuid.to_string()])
    );
    assert_eq!(post(json!({"hash": one.to_uppercase()})).await.len(), 2);
    // The in-toto subject of the DSSE entry is indexed.
    let three = hex::encode(Sha256::digest(b"three"));
    assert_eq!(
        post(json!({"hash": three})).await,
        vec![ed.uuid.to_string()]
    );
    let key_a = json!({"format": "x509", "content": STANDARD.encode(a.public_key().to_pem())});
    assert_eq!(
        post(json!({"publicKey": key_a})).await,
        sorted(vec![ea.uuid.to_string(), ea2.uuid.to_string()])
    );
    assert_eq!(
        post(json!({"publicKey": key_a, "hash": one, "operator": "and"})).await,
        vec![ea.uuid.to_string()]
    );
    assert_eq!(
        post(json!({"publicKey": key_a, "hash": three})).await.len(),
        3
    );
    assert!(
        post(json!({"email": "nobody@example.com"}))
            .await
            .is_empty()
    );

    // Email SANs: a real Fulcio-style certificate from the conformance bundles whose
    // hashedrekord verifies.
    let dir2 = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance");
    let mut found = false;
    for case in [
        "bundle-with-root-cert_fail",
        "integrated-time-in-future_fail",
    ] {
        let Ok(bytes) = std::fs::read(dir2.join(case).join("bundle.sigstore.json")) else {
            continue;
        };
        let b: Value = serde_json::from_slice(&bytes).expect("json");
        let body = STANDARD
            .decode(
                b["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"]
                    .as_str()
                    .expect("body"),
            )
            .expect("b64");
        let Ok(e) = service.submit(&body).await else {
            continue;
        };
        let email = if case.starts_with("bundle") {
            "a@tny.town"
        } else {
            "untrusted-sa@sigstore-conformance.iam.gserviceaccount.com"
        };
        assert_eq!(
            post(json!({"email": email})).await,
            vec![e.uuid.to_string()],
            "{case}"
        );
        assert_eq!(post(json!({"email": email.to_uppercase()})).await.len(), 1);
        found = true;
    }
    assert!(
        found,
        "no conformance certificate with an email SAN was accepted"
    );

    // The library API caps nothing below max_search_results.
    let mut q = SearchQuery::new();
    q.hash = Some(one);
    assert_eq!(service.search(&q).await.expect("search").len(), 2);
}

#[tokio::test]
async fn reopening_keeps_the_log_key_tree_and_entries() {
    let dir = tempfile::tempdir().expect("tmp");
    let k = key();
    let (tree_id, log_id, head, uuid) = {
        let service = open(dir.path());
        let e = service
            .submit(&hashedrekord(&k, b"kept"))
            .await
            .expect("submit");
        (
            service.tree_id(),
            service.log_id().to_owned(),
            service.tree_head(),
            e.uuid,
        )
    };
    let service = open(dir.path());
    assert_eq!(service.tree_id(), tree_id);
    assert_eq!(service.log_id(), log_id);
    assert_eq!(service.tree_head(), head);
    let e = service
        .entry_by_uuid(&uuid.to_string())
        .await
        .expect("still there");
    assert_eq!(e.log_index, LogIndex(1));
    let next = service
        .submit(&hashedrekord(&k, b"next"))
        .await
        .expect("submit");
    assert_eq!(next.log_index, LogIndex(2));
    drop(service);

    // A different key file is refused.
    std::fs::remove_file(dir.path().join(signet_log::KEY_FILE)).expect("rm");
    assert!(matches!(
        LogService::open(dir.path(), LogConfig::new(HOST)),
        Err(LogError::KeyMismatch { .. })
    ));
}

/// A store that fails appends on demand: before writing anything, or after the
/// commit (the writer must then resync and not reuse indices).
struct FaultyStore {
    inner: RedbStore,
    mode: std::sync::Mutex<Fault>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    FailBefore,
    FailAfter,
}

impl LogStore for FaultyStore {
    fn identity(&self) -> Result<Option<LogIdentity>, StoreError> {
        self.inner.identity()
    }
    fn initialize(&self, identity: &LogIdentity, cp: &str) -> Result<(), StoreError> {
        self.inner.initialize(identity, cp)
    }
    fn head(&self) -> Result<StoredHead, StoreError> {
        self.inner.head()
    }
    fn append(&self, batch: &AppendBatch) -> Result<(), StoreError> {
        let mode = *self.mode.lock().expect("lock");
        let injected = || StoreError::Corrupt {
            detail: "injected fault".into(),
        };
        match mode {
            Fault::None => self.inner.append(batch),
            Fault::FailBefore => Err(injected()),
            Fault::FailAfter => {
                self.inner.append(batch)?;
                Err(injected())
            }
        }
    }
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        self.inner.nodes(ids)
    }
    fn find_leaves(&self, h: &[Hash]) -> Result<Vec<Option<LogIndex>>, StoreError> {
        self.inner.find_leaves(h)
    }
    fn leaf(&self, i: LogIndex) -> Result<Option<StoredLeaf>, StoreError> {
        self.inner.leaf(i)
    }
    fn leaves(&self, s: LogIndex, l: usize) -> Result<Vec<StoredLeaf>, StoreError> {
        self.inner.leaves(s, l)
    }
    fn checkpoint(&self, t: TreeSize) -> Result<Option<String>, StoreError> {
        self.inner.checkpoint(t)
    }
    fn checkpoints(&self, f: TreeSize, l: usize) -> Result<Vec<(TreeSize, String)>, StoreError> {
        self.inner.checkpoints(f, l)
    }
    fn search(&self, k: &str, l: usize) -> Result<Vec<LogIndex>, StoreError> {
        self.inner.search(k, l)
    }
}

#[tokio::test]
async fn failed_commits_are_503_and_the_writer_recovers() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Arc::new(FaultyStore {
        inner: RedbStore::open(
            &dir.path().join(signet_log::STORE_FILE),
            8 << 20,
            signet_log::CommitMode::TwoPhase,
        )
        .expect("store"),
        mode: std::sync::Mutex::new(Fault::None),
    });
    let service =
        LogService::open_with_store(dir.path(), store.clone(), LogConfig::new(HOST)).expect("open");
    let router = service.router();
    let k = key();
    service
        .submit(&hashedrekord(&k, b"0"))
        .await
        .expect("first");

    *store.mode.lock().expect("lock") = Fault::FailBefore;
    let (status, headers, body) = call(
        &router,
        "POST",
        "/api/v1/log/entries",
        hashedrekord(&k, b"1"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers["retry-after"], "1");
    assert_eq!(json_of(&body)["code"], 503);
    assert_eq!(
        service.tree_head().tree_size,
        TreeSize(2),
        "nothing written"
    );

    // Committed, but reported as failed: the writer reloads and keeps going, and
    // the retry is a 409 pointing at the committed entry.
    *store.mode.lock().expect("lock") = Fault::FailAfter;
    let two = hashedrekord(&k, b"2"); // ECDSA is randomized: keep the same bytes
    assert!(matches!(
        service.submit(&two).await,
        Err(LogError::Unavailable { .. })
    ));
    *store.mode.lock().expect("lock") = Fault::None;
    assert!(matches!(
        service.submit(&two).await,
        Err(LogError::Duplicate {
            index: LogIndex(2),
            ..
        })
    ));
    let e = service
        .submit(&hashedrekord(&k, b"1"))
        .await
        .expect("retry works");
    assert_eq!(e.log_index, LogIndex(3));
    drop(router);
    drop(service);
    drop(store);
    let report = fsck(dir.path()).expect("fsck");
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.tree_size, 4);
}

/// Over a real socket with reqwest: 16 concurrent clients, every append acknowledged
/// with a verifiable entry, the tree size exact, and fsck clean afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_over_tcp() {
    let dir = tempfile::tempdir().expect("tmp");
    let service = open(dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = service.router();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    let client = reqwest::Client::new();
    let mut tasks = Vec::new();
    for c in 0..16u8 {
        let client = client.clone();
        let url = format!("http://{addr}/api/v1/log/entries");
        tasks.push(tokio::spawn(async move {
            let k = key();
            let mut uuids = Vec::new();
            for i in 0..10u8 {
                let resp = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(hashedrekord(&k, &[c, i]))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(resp.status().as_u16(), 201);
                let v: Value =
                    serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json");
                uuids.push(only_entry(&v));
            }
            uuids
        }));
    }
    let mut indices = Vec::new();
    for t in tasks {
        for (uuid, e) in t.await.expect("join") {
            let (index, _) = verify_entry(&service, &uuid, &e);
            indices.push(index.0);
        }
    }
    indices.sort_unstable();
    assert_eq!(indices, (1..=160).collect::<Vec<_>>());
    let head: Value = serde_json::from_slice(
        &client
            .get(format!("http://{addr}/api/v1/log"))
            .send()
            .await
            .expect("get")
            .bytes()
            .await
            .expect("body"),
    )
    .expect("json");
    assert_eq!(head["treeSize"], 161);
    drop(client);
    let _ = stop.send(());
    server.await.expect("join").expect("serve");
    drop(service);
    let report = fsck(dir.path()).expect("fsck");
    assert!(report.is_clean(), "{report}");
    assert!(report.checkpoints_checked >= 2);
}
