//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer as _};
use signet_log::LogService;

pub const HOST: &str = "log.test";

/// A hashedrekord 0.0.1 proposal for `artifact`, signed by `key`.
pub fn hashedrekord(key: &PrivateKey, artifact: &[u8]) -> Vec<u8> {
    let digest = Sha256::digest(artifact);
    let sig = key.sign(artifact).expect("sign");
    serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
            "signature": {
                "content": STANDARD.encode(sig),
                "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())},
            },
        },
    }))
    .expect("json")
}

/// An in-toto statement about `artifact`, DSSE-signed by `key`: (envelope JSON text,
/// dsse 0.0.1 proposal).
pub fn dsse(key: &PrivateKey, artifact: &[u8]) -> (String, Vec<u8>) {
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "a", "digest": {"sha256": hex::encode(Sha256::digest(artifact))}}],
        "predicateType": "https://example.test/p",
        "predicate": {},
    })
    .to_string();
    let pae = signet_formats::sigstore::pae("application/vnd.in-toto+json", statement.as_bytes());
    let envelope = json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": STANDARD.encode(&statement),
        "signatures": [{"keyid": "", "sig": STANDARD.encode(key.sign(&pae).expect("sign"))}],
    })
    .to_string();
    let proposal = serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {
            "envelope": envelope,
            "verifiers": [STANDARD.encode(key.public_key().to_pem())],
        }},
    }))
    .expect("json");
    (envelope, proposal)
}

pub fn key() -> PrivateKey {
    PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key")
}

/// The single `{uuid: entry}` pair of a Rekor `LogEntry` response.
pub fn only_entry(v: &Value) -> (String, Value) {
    let obj = v.as_object().expect("object");
    assert_eq!(obj.len(), 1, "one entry: {v}");
    let (k, e) = obj.iter().next().expect("entry");
    (k.clone(), e.clone())
}

/// A trusted root whose only transparency log is `service`, served at `base_url`.
pub fn trusted_root(service: &LogService, base_url: &str) -> Value {
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [service.transparency_log_instance(base_url)],
        "certificateAuthorities": [],
        "ctlogs": [],
        "timestampAuthorities": [],
    })
}

/// The `messageSignature` of a bundle for `artifact`, with the signature of the
/// hashedrekord entry whose canonicalized body is `body`.
pub fn message_signature(body: &[u8], artifact: &[u8]) -> (&'static str, Value) {
    let body: Value = serde_json::from_slice(body).expect("json");
    (
        "messageSignature",
        json!({
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(Sha256::digest(artifact))},
            "signature": body["spec"]["signature"]["content"],
        }),
    )
}

/// A v0.3 bundle around a Rekor `LogEntry` (the value of [`only_entry`]), as a signer
/// would assemble it: `content` is the `messageSignature` or `dsseEnvelope`.
pub fn bundle(entry: &Value, kind: &str, content: (&str, Value), key_hint: &str) -> Value {
    let p = &entry["verification"]["inclusionProof"];
    let b64h = |v: &Value| STANDARD.encode(hex::decode(v.as_str().expect("hex")).expect("hex"));
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {"hint": key_hint},
            "tlogEntries": [{
                "logIndex": entry["logIndex"].to_string(),
                "logId": {"keyId": b64h(&entry["logID"])},
                "kindVersion": {"kind": kind, "version": "0.0.1"},
                "integratedTime": entry["integratedTime"].to_string(),
                "inclusionPromise": {"signedEntryTimestamp": entry["verification"]["signedEntryTimestamp"]},
                "inclusionProof": {
                    "logIndex": p["logIndex"].to_string(),
                    "rootHash": b64h(&p["rootHash"]),
                    "treeSize": p["treeSize"].to_string(),
                    "hashes": p["hashes"].as_array().expect("array").iter().map(b64h).collect::<Vec<_>>(),
                    "checkpoint": {"envelope": p["checkpoint"]},
                },
                "canonicalizedBody": entry["body"],
            }],
        },
        content.0: content.1,
    })
}
