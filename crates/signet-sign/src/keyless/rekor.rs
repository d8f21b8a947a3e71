//! A Rekor v1 client: submit a `hashedrekord` or `dsse` entry
//! (`POST /api/v1/log/entries`) and turn the answer into a bundle's tlog entry.

use base64::Engine as _;
use serde_json::{Value, json};
use signet_formats::sigstore::{
    Checkpoint, InclusionPromise, InclusionProof, KindVersion, LogId, LogIndex,
    TransparencyLogEntry, TreeSize, UnixTime,
};

use super::{KeylessError, http};

const SERVICE: &str = "Rekor";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn pem_certificate(der: &[u8]) -> String {
    signet_crypto::encode_pem("CERTIFICATE", der)
}

/// The proposed `hashedrekord` 0.0.1 entry for a signature over an artifact whose
/// SHA-256 is `digest`, by the key in the certificate `leaf_der`.
pub fn hashedrekord(digest: &[u8; 32], signature: &[u8], leaf_der: &[u8]) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
            "signature": {
                "content": b64(signature),
                "publicKey": {"content": b64(pem_certificate(leaf_der).as_bytes())},
            },
        },
    })
}

/// The proposed `dsse` 0.0.1 entry for `envelope_json` (the envelope as JSON text),
/// verified by the certificate `leaf_der`.
pub fn dsse(envelope_json: &str, leaf_der: &[u8]) -> Value {
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "proposedContent": {
                "envelope": envelope_json,
                "verifiers": [b64(pem_certificate(leaf_der).as_bytes())],
            },
        },
    })
}

/// Submits `entry` to the Rekor v1 log at `base_url` and returns it as logged.
///
/// # Errors
/// [`KeylessError::Rejected`] with Rekor's message (a 409 means the entry is already
/// logged); [`KeylessError::MalformedResponse`] when the answer is not a log entry.
pub async fn submit(
    client: &reqwest::Client,
    base_url: &str,
    entry: &Value,
) -> Result<TransparencyLogEntry, KeylessError> {
    let url = format!("{}/api/v1/log/entries", base_url.trim_end_matches('/'));
    let (_, answer) = http::post_json(client, &url, entry, None, SERVICE, &[201]).await?;
    parse_entry(&answer)
}

/// A Rekor v1 `LogEntry` answer (`{"<uuid>": {body, integratedTime, logID, logIndex,
/// verification}}`) as a bundle's `TransparencyLogEntry`.
pub(crate) fn parse_entry(answer: &Value) -> Result<TransparencyLogEntry, KeylessError> {
    let bad = |reason: String| KeylessError::MalformedResponse {
        service: SERVICE,
        reason,
    };
    let object = answer
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad("expected one entry keyed by its UUID".into()))?;
    let (_, e) = object.iter().next().ok_or_else(|| bad("no entry".into()))?;
    let text = |p: &str| {
        e.pointer(p)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("no {} string", &p[1..])))
    };
    let int = |p: &str| {
        e.pointer(p)
            .and_then(Value::as_i64)
            .ok_or_else(|| bad(format!("no {} integer", &p[1..])))
    };
    let uint = |v: Option<&Value>, what: &str| {
        v.and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("no {what} (a non-negative integer)")))
    };
    let unb64 = |p: &str| {
        let s = text(p)?;
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| bad(format!("{} is not base64", &p[1..])))
    };
    let unhex = |s: &str, what: &str| hex::decode(s).map_err(|_| bad(format!("{what} is not hex")));
    let body = unb64("/body")?;
    let parsed: Value =
        serde_json::from_slice(&body).map_err(|_| bad("body is not JSON".into()))?;
    let kind_version = KindVersion {
        kind: parsed
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("body has no kind".into()))?
            .to_string(),
        version: parsed
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("body has no apiVersion".into()))?
            .to_string(),
    };
    let log_index = uint(e.get("logIndex"), "logIndex")?;
    let proof = e
        .pointer("/verification/inclusionProof")
        .ok_or_else(|| bad("no verification.inclusionProof".into()))?;
    let hashes = proof
        .get("hashes")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no inclusionProof.hashes".into()))?
        .iter()
        .map(|h| {
            h.as_str()
                .ok_or_else(|| bad("inclusionProof.hashes holds a non-string".into()))
                .and_then(|s| unhex(s, "an inclusionProof hash"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let proof_text = |k: &str| {
        proof
            .get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("no inclusionProof.{k}")))
    };
    Ok(TransparencyLogEntry {
        log_index: LogIndex(log_index),
        log_id: LogId {
            key_id: unhex(text("/logID")?, "logID")?,
        },
        kind_version,
        integrated_time: UnixTime(int("/integratedTime")?),
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: unb64("/verification/signedEntryTimestamp")?,
        }),
        inclusion_proof: Some(InclusionProof {
            log_index: LogIndex(uint(proof.get("logIndex"), "inclusionProof.logIndex")?),
            root_hash: unhex(proof_text("rootHash")?, "rootHash")?,
            tree_size: TreeSize(uint(proof.get("treeSize"), "inclusionProof.treeSize")?),
            hashes,
            checkpoint: Some(Checkpoint {
                envelope: proof_text("checkpoint")?.to_string(),
            }),
        }),
        canonicalized_body: body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Value {
        let body = b64(br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{}}"#);
        json!({"24296fb2": {
            "body": body, "integratedTime": 1700000000, "logID": "c0d2", "logIndex": 7,
            "verification": {
                "signedEntryTimestamp": b64(b"set"),
                "inclusionProof": {"logIndex": 7, "rootHash": "aabb", "treeSize": 8,
                    "hashes": ["01", "02"], "checkpoint": "origin\n8\nqrs=\n\n- sig\n"},
            },
        }})
    }

    #[test]
    fn entries_become_bundle_tlog_entries() {
        let e = parse_entry(&answer()).unwrap();
        assert_eq!(e.kind_version.kind, "hashedrekord");
        assert_eq!(e.kind_version.version, "0.0.1");
        assert_eq!(e.log_index, LogIndex(7));
        assert_eq!(e.log_id.key_id, vec![0xc0, 0xd2]);
        assert_eq!(e.integrated_time, UnixTime(1_700_000_000));
        let proof = e.inclusion_proof.unwrap();
        assert_eq!(proof.hashes, vec![vec![1], vec![2]]);
        assert_eq!(proof.tree_size, TreeSize(8));
        assert_eq!(e.inclusion_promise.unwrap().signed_entry_timestamp, b"set");
    }

    #[test]
    fn malformed_answers_name_the_field() {
        let malformed = |a: &Value, why: &str| {
            let err = parse_entry(a).unwrap_err();
            assert!(
                matches!(&err, KeylessError::MalformedResponse { service: "Rekor", reason } if reason == why),
                "{a}: {err:?}"
            );
        };
        for (pointer, value, why) in [
            (
                "/logIndex",
                json!("7"),
                "no logIndex (a non-negative integer)",
            ),
            ("/body", json!("%%"), "body is not base64"),
            (
                "/verification/inclusionProof/hashes",
                json!(null),
                "no inclusionProof.hashes",
            ),
            (
                "/verification/inclusionProof/rootHash",
                json!("zz"),
                "rootHash is not hex",
            ),
            ("/logID", json!(1), "no logID string"),
        ] {
            let mut a = answer();
            *a.pointer_mut(&format!("/24296fb2{pointer}")).unwrap() = value;
            malformed(&a, why);
        }
        for answer in [json!({}), json!([]), json!({"a": {}, "b": {}})] {
            malformed(&answer, "expected one entry keyed by its UUID");
        }
    }
}
