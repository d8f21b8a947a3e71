//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer as _};

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
