//! Keyless signatures in cosign's legacy `.sig` layout: a layer whose annotations carry
//! the Fulcio certificate (`dev.sigstore.cosign/certificate`), the Rekor bundle
//! (`dev.sigstore.cosign/bundle`: the SET and the logged entry) and optionally an
//! RFC 3161 timestamp (`dev.sigstore.cosign/rfc3161timestamp`).
//!
//! Such a layer is the same evidence as a v0.1 Sigstore bundle with a message
//! signature over the payload bytes and a tlog entry with an inclusion promise and no
//! proof, so it is converted into one ([`layer_bundle`]) and checked by the one
//! [`BundleVerifier`]: the chain to a trusted CA at the integrated time, the embedded
//! SCT, the SET, the logged body against the signature, certificate and payload digest,
//! and the identity. The chain annotation is not used: only the trusted root's CAs
//! count, as for bundles.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;
use signet_formats::cosign::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, SIGNATURE_ANNOTATION, TIMESTAMP_ANNOTATION,
};
use signet_formats::sigstore::{
    Bundle, BundleContent, BundleVersion, HashAlgorithm, HashOutput, InclusionPromise, KindVersion,
    LogId, LogIndex, MessageSignature, Rfc3161Timestamp, SignerMaterial, TimestampVerificationData,
    TransparencyLogEntry, UnixTime, VerificationMaterial, X509Certificate,
};
use signet_x509::IdentityMatcher;

use crate::Rejection;
use crate::bundle::{Artifact, BundleVerifier, Policy, VerifiedSigner};

fn b64(field: &str, text: &str) -> Result<Vec<u8>, Rejection> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| Rejection::MalformedRekorBundle {
            reason: format!("{field} is not base64"),
        })
}

/// The Rekor bundle annotation as a tlog entry with an inclusion promise.
fn rekor_entry(json: &str) -> Result<TransparencyLogEntry, Rejection> {
    let bad = |reason: &str| Rejection::MalformedRekorBundle {
        reason: reason.to_string(),
    };
    let v: Value = serde_json::from_str(json).map_err(|_| bad("not JSON"))?;
    let text = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&format!("no {} string", p[1..].replace('/', "."))))
    };
    let body = b64("Payload.body", text("/Payload/body")?)?;
    let parsed: Value =
        serde_json::from_slice(&body).map_err(|_| bad("Payload.body is not JSON"))?;
    let field = |k: &str| {
        parsed
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("Payload.body has no {k}")))
    };
    let integrated = v
        .pointer("/Payload/integratedTime")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("no Payload.integratedTime integer"))?;
    let index = v
        .pointer("/Payload/logIndex")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("no Payload.logIndex integer"))?;
    Ok(TransparencyLogEntry {
        log_index: LogIndex(index),
        log_id: LogId {
            key_id: hex::decode(text("/Payload/logID")?)
                .map_err(|_| bad("Payload.logID is not hex"))?,
        },
        kind_version: KindVersion {
            kind: field("kind")?,
            version: field("apiVersion")?,
        },
        integrated_time: UnixTime(integrated),
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: b64("SignedEntryTimestamp", text("/SignedEntryTimestamp")?)?,
        }),
        inclusion_proof: None,
        canonicalized_body: body,
    })
}

/// The v0.1 bundle equivalent to a keyless `.sig` layer signing `payload`.
///
/// # Errors
/// [`Rejection::NoCertificate`] without a certificate annotation; a
/// `Malformed…` rejection naming the annotation that does not parse.
pub fn layer_bundle(
    annotations: &BTreeMap<String, String>,
    payload: &[u8],
) -> Result<Bundle, Rejection> {
    let pem = annotations
        .get(CERTIFICATE_ANNOTATION)
        .filter(|c| !c.trim().is_empty())
        .ok_or(Rejection::NoCertificate)?;
    let (label, leaf) = pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|e| {
        Rejection::MalformedCertificate {
            reason: format!("not PEM: {e}"),
        }
    })?;
    if label != "CERTIFICATE" {
        return Err(Rejection::MalformedCertificate {
            reason: format!("a {label}, not a CERTIFICATE"),
        });
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(
            annotations
                .get(SIGNATURE_ANNOTATION)
                .ok_or(Rejection::MissingSignature)?,
        )
        .map_err(|_| Rejection::MalformedSignature)?;
    let tlog_entries = match annotations.get(BUNDLE_ANNOTATION) {
        Some(json) => vec![rekor_entry(json)?],
        None => Vec::new(),
    };
    let mut timestamps = TimestampVerificationData::default();
    if let Some(json) = annotations.get(TIMESTAMP_ANNOTATION) {
        let v: Value = serde_json::from_str(json).map_err(|_| Rejection::MalformedTimestamp)?;
        let der = v
            .get("SignedRFC3161Timestamp")
            .and_then(Value::as_str)
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
            .ok_or(Rejection::MalformedTimestamp)?;
        timestamps.rfc3161_timestamps.push(Rfc3161Timestamp {
            signed_timestamp: der,
        });
    }
    Ok(Bundle {
        version: BundleVersion::V0_1,
        verification_material: VerificationMaterial {
            signer: SignerMaterial::X509CertificateChain(vec![X509Certificate { raw_bytes: leaf }]),
            tlog_entries,
            timestamp_verification_data: timestamps,
        },
        content: BundleContent::MessageSignature(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: HashAlgorithm::Sha2_256,
                digest: signet_crypto::digest_sha256(payload).to_vec(),
            }),
            signature,
        }),
    })
}

/// Verifies a keyless `.sig` layer's signature over `payload` for `identity`.
///
/// # Errors
/// A [`Rejection`] naming what failed: the annotations, or the verifier's reason.
pub fn verify_layer(
    verifier: &BundleVerifier,
    identity: &IdentityMatcher,
    annotations: &BTreeMap<String, String>,
    payload: &[u8],
) -> Result<VerifiedSigner, Rejection> {
    let bundle = layer_bundle(annotations, payload)?;
    verifier
        .verify(
            &bundle,
            Artifact::Bytes(payload),
            &Policy::Identity(identity.clone()),
        )
        .map(|v| v.signer)
        .map_err(|e| Rejection::Keyless {
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    const ISS: &str = "https://token.actions.githubusercontent.com";

    fn conformance(path: &str) -> Vec<u8> {
        let root =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance");
        std::fs::read(root.join(path)).unwrap()
    }

    /// The public-good v0.1 happy path (a hashedrekord message signature over `a.txt`)
    /// written as cosign writes a keyless `.sig` layer's annotations.
    fn layer() -> (BTreeMap<String, String>, Vec<u8>) {
        let b: Value =
            serde_json::from_slice(&conformance("happy-path-v0.1/bundle.sigstore.json")).unwrap();
        let vm = &b["verificationMaterial"];
        let leaf = base64::engine::general_purpose::STANDARD
            .decode(
                vm["x509CertificateChain"]["certificates"][0]["rawBytes"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let pem =
            pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &leaf).unwrap();
        let e = &vm["tlogEntries"][0];
        let key_id = base64::engine::general_purpose::STANDARD
            .decode(e["logId"]["keyId"].as_str().unwrap())
            .unwrap();
        let rekor = serde_json::json!({
            "SignedEntryTimestamp": e["inclusionPromise"]["signedEntryTimestamp"],
            "Payload": {
                "body": e["canonicalizedBody"],
                "integratedTime": e["integratedTime"].as_str().unwrap().parse::<i64>().unwrap(),
                "logIndex": e["logIndex"].as_str().unwrap().parse::<u64>().unwrap(),
                "logID": hex::encode(key_id),
            },
        });
        let annotations = BTreeMap::from([
            (
                SIGNATURE_ANNOTATION.to_string(),
                b["messageSignature"]["signature"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            ),
            (CERTIFICATE_ANNOTATION.to_string(), pem),
            (BUNDLE_ANNOTATION.to_string(), rekor.to_string()),
        ]);
        (annotations, conformance("a.txt"))
    }

    fn verifier() -> BundleVerifier {
        BundleVerifier::production().unwrap()
    }

    #[test]
    fn a_keyless_layer_verifies_like_its_bundle() {
        let (annotations, payload) = layer();
        let identity = IdentityMatcher::exact(ID, ISS);
        let signer = verify_layer(&verifier(), &identity, &annotations, &payload).unwrap();
        assert!(
            matches!(signer, VerifiedSigner::Certificate { .. }),
            "{signer:?}"
        );
        // Another identity, other bytes, or a stripped log entry fail, each saying why.
        let keyless_reason = |r: Rejection| match r {
            Rejection::Keyless { reason } => reason,
            other => panic!("not a keyless rejection: {other:?}"),
        };
        let other = IdentityMatcher::exact("someone@example.com", ISS);
        let err =
            keyless_reason(verify_layer(&verifier(), &other, &annotations, &payload).unwrap_err());
        assert!(
            err.starts_with(
                "certificate identity mismatch: expected a SAN matching \"someone@example.com\""
            ),
            "{err}"
        );
        let err = keyless_reason(
            verify_layer(&verifier(), &identity, &annotations, b"other").unwrap_err(),
        );
        assert!(err.starts_with("tlog entry 0: "), "{err}");
        let mut no_log = annotations.clone();
        no_log.remove(BUNDLE_ANNOTATION);
        let err =
            keyless_reason(verify_layer(&verifier(), &identity, &no_log, &payload).unwrap_err());
        assert_eq!(
            err,
            "bundle has no transparency log entries: at least one is required"
        );
    }

    #[test]
    fn malformed_annotations_are_named() {
        let (annotations, payload) = layer();
        let rekor = |reason: &str| Rejection::MalformedRekorBundle {
            reason: reason.into(),
        };
        let key_pem = "-----BEGIN PUBLIC KEY-----\nAQID\n-----END PUBLIC KEY-----\n";
        let cases = [
            (
                CERTIFICATE_ANNOTATION,
                key_pem,
                Rejection::MalformedCertificate {
                    reason: "a PUBLIC KEY, not a CERTIFICATE".into(),
                },
            ),
            (BUNDLE_ANNOTATION, "{", rekor("not JSON")),
            (
                BUNDLE_ANNOTATION,
                r#"{"Payload":{}}"#,
                rekor("no Payload.body string"),
            ),
            (SIGNATURE_ANNOTATION, "!!", Rejection::MalformedSignature),
            (TIMESTAMP_ANNOTATION, "{}", Rejection::MalformedTimestamp),
        ];
        for (key, value, expected) in cases {
            let mut a = annotations.clone();
            a.insert(key.to_string(), value.to_string());
            assert_eq!(
                layer_bundle(&a, &payload).unwrap_err(),
                expected,
                "{key}={value}"
            );
        }
        let mut a = annotations.clone();
        a.insert(CERTIFICATE_ANNOTATION.to_string(), "not pem".to_string());
        let err = layer_bundle(&a, &payload).unwrap_err();
        assert!(
            matches!(&err, Rejection::MalformedCertificate { reason } if reason.starts_with("not PEM: ")),
            "{err:?}"
        );
        let mut a = annotations;
        a.remove(CERTIFICATE_ANNOTATION);
        assert_eq!(
            layer_bundle(&a, &payload).unwrap_err(),
            Rejection::NoCertificate
        );
    }
}
