//! The envelope hash an `intoto` 0.0.1 entry carries, against the bundle's envelope.
//! It is compared only when the entry has no payload hash, since it is then the one
//! value that ties the entry to this envelope; otherwise the payload hash and the
//! signatures are compared, as sigstore-go, sigstore-python and sigstore-js do.
//!
//! Rekor does not canonicalize the envelope before hashing it:
//!
//! * `dsse` 0.0.1 (and `intoto` 0.0.1): `envelopeHash` (`content.hash`) is the SHA-256
//!   of the exact envelope text the client submitted (rekor
//!   `pkg/types/dsse/v0.0.1/entry.go`: `sha256.Sum256([]byte(*ProposedContent.Envelope))`);
//! * `intoto` 0.0.2: `content.hash` is computed by the client (rekor does not recompute
//!   it: "we can't deterministically calculate this server-side").
//!
//! So the bytes depend on the client that logged the entry. A bundle does not keep them,
//! but every client we know of writes one of a few encodings of the same four fields,
//! and the hash must be the hash of one of them:
//!
//! | client | encoding |
//! |---|---|
//! | sigstore-go (`encoding/json` of the protobuf `Envelope`), sigstore-python, sigstore-js | `{"payload":…,"payloadType":…,"signatures":[{"sig":…}]}`, `"keyid"` after `"sig"` only when not empty |
//! | older sigstore-js (ts-proto writing defaults) | as above, `"keyid":""` always written |
//! | cosign and rekor-cli (Go securesystemslib `dsse.Envelope`) | `{"payloadType":…,"payload":…,"signatures":[{"keyid":…,"sig":…}]}` |
//! | RFC 8785 (JCS) of the proto fields | `{"payload":…,"payloadType":…,"signatures":[{"keyid":…,"sig":…}]}`, keyid only when not empty |
//!
//! each with JSON string escaping as Go writes it (`<`, `>`, `&`, U+2028, U+2029 as
//! `\u…`) and as JavaScript and Python write it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use signet_formats::sigstore::Envelope;

use super::sha256;

/// A JSON string literal, escaped as serde_json (and JavaScript, Python) or as Go does.
fn string(s: &str, go: bool) -> String {
    // Serializing a &str to JSON cannot fail.
    let plain = serde_json::to_string(s).unwrap_or_default();
    if !go {
        return plain;
    }
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The envelope encodings clients submit to Rekor (see the module docs).
fn envelope_encodings(env: &Envelope) -> Vec<String> {
    let payload = STANDARD.encode(&env.payload);
    let sigs: Vec<(String, &str)> = env
        .signatures
        .iter()
        .map(|s| {
            (
                STANDARD.encode(&s.sig),
                s.keyid.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for go in [false, true] {
        let p = string(&payload, go);
        let pt = string(&env.payload_type, go);
        let join = |f: &dyn Fn(&str, &str) -> String| {
            sigs.iter()
                .map(|(s, k)| f(&string(s, go), k))
                .collect::<Vec<_>>()
                .join(",")
        };
        // protobuf field order, keyid omitted when empty
        let omit = join(&|s, k| {
            if k.is_empty() {
                format!("{{\"sig\":{s}}}")
            } else {
                format!("{{\"sig\":{s},\"keyid\":{}}}", string(k, go))
            }
        });
        out.push(format!(
            "{{\"payload\":{p},\"payloadType\":{pt},\"signatures\":[{omit}]}}"
        ));
        // protobuf field order, keyid always written
        let always = join(&|s, k| format!("{{\"sig\":{s},\"keyid\":{}}}", string(k, go)));
        out.push(format!(
            "{{\"payload\":{p},\"payloadType\":{pt},\"signatures\":[{always}]}}"
        ));
        // Go securesystemslib dsse.Envelope
        let ssl = join(&|s, k| format!("{{\"keyid\":{},\"sig\":{s}}}", string(k, go)));
        out.push(format!(
            "{{\"payloadType\":{pt},\"payload\":{p},\"signatures\":[{ssl}]}}"
        ));
        // sorted keys (JCS), keyid omitted when empty
        let sorted = join(&|s, k| {
            if k.is_empty() {
                format!("{{\"sig\":{s}}}")
            } else {
                format!("{{\"keyid\":{},\"sig\":{s}}}", string(k, go))
            }
        });
        out.push(format!(
            "{{\"payload\":{p},\"payloadType\":{pt},\"signatures\":[{sorted}]}}"
        ));
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `logged` is the SHA-256 of one of the envelope encodings clients submit (the
/// `envelopeHash` of `dsse` 0.0.1, the `content.hash` of `intoto` 0.0.1).
pub(crate) fn envelope_hash_matches(env: &Envelope, logged: &[u8; 32]) -> bool {
    envelope_encodings(env)
        .iter()
        .any(|e| sha256(e.as_bytes()) == *logged)
}

#[cfg(test)]
mod tests {
    use signet_formats::sigstore::Signature;

    use super::*;

    fn env(keyid: Option<&str>, payload_type: &str) -> Envelope {
        Envelope {
            payload: b"{\"_type\":\"x\"}".to_vec(),
            payload_type: payload_type.into(),
            signatures: vec![Signature {
                sig: vec![1, 2, 3],
                keyid: keyid.map(str::to_owned),
            }],
        }
    }

    #[test]
    fn the_known_client_encodings_match() {
        let e = env(None, "application/vnd.in-toto+json");
        // sigstore-go / -python / -js
        let ours = r#"{"payload":"eyJfdHlwZSI6IngifQ==","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AQID"}]}"#;
        assert!(envelope_hash_matches(&e, &sha256(ours.as_bytes())));
        // cosign / rekor-cli
        let go = r#"{"payloadType":"application/vnd.in-toto+json","payload":"eyJfdHlwZSI6IngifQ==","signatures":[{"keyid":"","sig":"AQID"}]}"#;
        assert!(envelope_hash_matches(&e, &sha256(go.as_bytes())));
        // a hash of anything else does not
        assert!(!envelope_hash_matches(&e, &sha256(b"{}")));
        // Go escapes '&' in a payload type, JavaScript does not: both are accepted
        let amp = env(None, "a&b");
        let go_amp = r#"{"payloadType":"a\u0026b","payload":"eyJfdHlwZSI6IngifQ==","signatures":[{"keyid":"","sig":"AQID"}]}"#;
        assert!(envelope_hash_matches(&amp, &sha256(go_amp.as_bytes())));
        // a keyid the logged envelope did not have changes every encoding
        assert!(!envelope_hash_matches(
            &env(Some("k"), "application/vnd.in-toto+json"),
            &sha256(ours.as_bytes())
        ));
    }
}
