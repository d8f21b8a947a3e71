use std::path::{Path, PathBuf};

use signet_crypto::{KeyAlgorithm, PrivateKey, Signer};

use super::*;

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance")
}

/// Every hashedrekord 0.0.1 / dsse 0.0.1 canonicalized body of the vendored bundles
/// (real Rekor output), with its case name.
fn rekor_bodies(kind: &str) -> Vec<(String, Vec<u8>, Value)> {
    let mut out = Vec::new();
    let mut cases: Vec<_> = std::fs::read_dir(conformance_dir())
        .expect("conformance dir")
        .filter_map(Result::ok)
        .collect();
    cases.sort_by_key(std::fs::DirEntry::file_name);
    for case in cases {
        let Ok(bytes) = std::fs::read(case.path().join("bundle.sigstore.json")) else {
            continue;
        };
        let Ok(bundle) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let Some(entries) = bundle["verificationMaterial"]["tlogEntries"].as_array() else {
            continue;
        };
        for e in entries {
            if e["kindVersion"]["kind"] == kind
                && e["kindVersion"]["version"] == "0.0.1"
                && let Some(body) = e["canonicalizedBody"]
                    .as_str()
                    .and_then(|b| STANDARD.decode(b).ok())
            {
                out.push((
                    case.file_name().to_string_lossy().into_owned(),
                    body,
                    bundle.clone(),
                ));
            }
        }
    }
    out
}

fn hashedrekord(digest: &[u8; 32], sig: &[u8], pem: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
            "signature": {
                "content": STANDARD.encode(sig),
                "publicKey": {"content": STANDARD.encode(pem)},
            },
        },
    }))
    .expect("json")
}

fn signed_hashedrekord(key: &PrivateKey, artifact: &[u8]) -> Vec<u8> {
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    let sig = key.sign(artifact).expect("sign");
    hashedrekord(&digest, &sig, &key.public_key().to_pem())
}

/// Rekor's bodies are reproduced byte for byte: a hashedrekord proposal has the shape
/// of its canonical body, so submitting the body must give the body back.
#[test]
fn hashedrekord_bodies_from_rekor_round_trip_exactly() {
    let bodies = rekor_bodies("hashedrekord");
    let mut accepted = 0;
    for (case, body, _) in &bodies {
        match canonicalize_proposed_entry(body) {
            Ok(entry) => {
                assert_eq!(
                    String::from_utf8_lossy(&entry.body),
                    String::from_utf8_lossy(body),
                    "{case}"
                );
                assert_eq!(entry.kind, EntryKind::HashedRekordV001);
                accepted += 1;
            }
            // The _fail cases include tampered signatures and digests.
            Err(e) => assert!(
                case.ends_with("_fail"),
                "{case}: a valid Rekor body was rejected: {e}"
            ),
        }
    }
    assert!(
        accepted >= 10,
        "only {accepted} of {} accepted",
        bodies.len()
    );
}

/// DSSE bodies from Rekor: the payload hash, the signature and the verifier are
/// reproduced from the bundle's envelope (the envelope hash depends on the bytes the
/// client sent, which the bundle does not keep).
#[test]
fn dsse_bodies_from_rekor_match_except_the_envelope_hash() {
    let bodies = rekor_bodies("dsse");
    let mut accepted = 0;
    for (case, body, bundle) in &bodies {
        let env = &bundle["dsseEnvelope"];
        let cert = &bundle["verificationMaterial"]["certificate"]["rawBytes"];
        let Some(cert) = cert.as_str() else { continue };
        let envelope = json!({
            "payloadType": env["payloadType"],
            "payload": env["payload"],
            "signatures": env["signatures"],
        })
        .to_string();
        let pem = signet_crypto::encode_pem("CERTIFICATE", &STANDARD.decode(cert).expect("b64"));
        let proposal = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {"envelope": envelope, "verifiers": [STANDARD.encode(pem)]}},
        });
        let result = canonicalize_proposed_entry(proposal.to_string().as_bytes());
        let Ok(entry) = result else {
            assert!(case.ends_with("_fail"), "{case}: {result:?}");
            continue;
        };
        if case.ends_with("_fail") {
            continue; // e.g. an envelope that differs from the logged one
        }
        let mut ours: Value = serde_json::from_slice(&entry.body).expect("json");
        let mut theirs: Value = serde_json::from_slice(body).expect("json");
        ours["spec"]["envelopeHash"] = Value::Null;
        theirs["spec"]["envelopeHash"] = Value::Null;
        assert_eq!(ours, theirs, "{case}");
        assert_eq!(
            signet_tlog::jcs::canonicalize_json(&entry.body).expect("jcs"),
            String::from_utf8_lossy(&entry.body),
            "{case}: body is RFC 8785"
        );
        accepted += 1;
    }
    assert!(accepted >= 1, "no dsse body accepted of {}", bodies.len());
}

#[test]
fn hashedrekord_with_a_key_is_accepted_and_indexed() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let entry = canonicalize_proposed_entry(&signed_hashedrekord(&key, b"hello")).expect("ok");
    let digest = hex::encode(Sha256::digest(b"hello"));
    assert!(entry.search_keys.contains(&format!("sha256:{digest}")));
    assert!(
        entry
            .search_keys
            .contains(&hex::encode(Sha256::digest(key.public_key().to_pem())))
    );
    assert_eq!(entry.leaf_hash, leaf_hash(&entry.body));
    // The stored body parses with signet-tlog's reader.
    let parsed = signet_tlog::entry::EntryBody::parse(&entry.body).expect("parses");
    assert_eq!(parsed.kind(), "hashedrekord");
}

#[test]
fn hashedrekord_with_a_bad_signature_is_rejected() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let digest: [u8; 32] = Sha256::digest(b"hello").into();
    // Signed by another key.
    let sig = other.sign(b"hello").expect("sign");
    let req = hashedrekord(&digest, &sig, &key.public_key().to_pem());
    assert!(matches!(
        canonicalize_proposed_entry(&req),
        Err(EntryRejection::SignatureInvalid { .. })
    ));
    // Signed over another artifact.
    let sig = key.sign(b"hellO").expect("sign");
    let req = hashedrekord(&digest, &sig, &key.public_key().to_pem());
    assert!(matches!(
        canonicalize_proposed_entry(&req),
        Err(EntryRejection::SignatureInvalid { .. })
    ));
    // Garbage signature bytes.
    let req = hashedrekord(&digest, b"junk", &key.public_key().to_pem());
    assert!(matches!(
        canonicalize_proposed_entry(&req),
        Err(EntryRejection::SignatureInvalid { .. })
    ));
    // Ed25519 cannot sign a digest alone.
    let ed = PrivateKey::generate(KeyAlgorithm::Ed25519).expect("key");
    let sig = ed.sign(&digest).expect("sign");
    let req = hashedrekord(&digest, &sig, &ed.public_key().to_pem());
    assert!(matches!(
        canonicalize_proposed_entry(&req),
        Err(EntryRejection::SignatureInvalid {
            source: SignatureError::PrehashUnsupported { .. }
        })
    ));
}

#[test]
fn malformed_proposals_get_exact_rejections() {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let good: Value = serde_json::from_slice(&signed_hashedrekord(&key, b"x")).expect("json");
    let with = |path: &[&str], v: Value| {
        let mut p = good.clone();
        let mut at = &mut p;
        for k in &path[..path.len() - 1] {
            at = &mut at[*k];
        }
        at[path[path.len() - 1]] = v;
        p.to_string().into_bytes()
    };
    type Case = (Vec<u8>, fn(&EntryRejection) -> bool);
    let cases: Vec<Case> = vec![
        (b"not json".to_vec(), |e| {
            matches!(e, EntryRejection::MalformedJson { .. })
        }),
        (b"[]".to_vec(), |e| matches!(e, EntryRejection::MalformedJson { .. })),
        (b"{}".to_vec(), |e| {
            matches!(e, EntryRejection::MissingField { field: "kind" })
        }),
        (with(&["kind"], json!("rekord")), |e| {
            matches!(e, EntryRejection::UnsupportedKind { kind, api_version }
                if kind == "rekord" && api_version == "0.0.1")
        }),
        (with(&["apiVersion"], json!("0.0.2")), |e| {
            matches!(e, EntryRejection::UnsupportedKind { kind, api_version }
                if kind == "hashedrekord" && api_version == "0.0.2")
        }),
        (with(&["spec"], json!(null)), |e| {
            matches!(e, EntryRejection::MissingField { field: "spec" })
        }),
        (with(&["spec", "data", "hash", "algorithm"], json!("sha512")), |e| {
            matches!(e, EntryRejection::UnsupportedHashAlgorithm { found } if found == "sha512")
        }),
        (with(&["spec", "data", "hash", "value"], json!("abcd")), |e| {
            matches!(e, EntryRejection::InvalidDigest { found } if found == "abcd")
        }),
        (with(&["spec", "data", "hash", "value"], json!(7)), |e| {
            matches!(e, EntryRejection::MalformedJson { .. })
        }),
        (with(&["spec", "signature", "content"], json!("!!")), |e| {
            matches!(
                e,
                EntryRejection::InvalidBase64 {
                    field: "spec.signature.content"
                }
            )
        }),
        (with(&["spec", "signature", "content"], json!("")), |e| {
            matches!(
                e,
                EntryRejection::MissingField {
                    field: "spec.signature.content"
                }
            )
        }),
        (
            with(
                &["spec", "signature", "publicKey", "content"],
                json!(STANDARD.encode("not pem")),
            ),
            |e| {
                matches!(
                    e,
                    EntryRejection::MalformedVerifier {
                        verifier: VerifierRef::HashedRekordKey,
                        detail,
                    } if detail == "no PEM block"
                )
            },
        ),
        (
            with(
                &["spec", "signature", "publicKey", "content"],
                json!(STANDARD.encode("-----BEGIN PGP PUBLIC KEY BLOCK-----\nAA==\n-----END PGP PUBLIC KEY BLOCK-----\n")),
            ),
            |e| {
                matches!(
                    e,
                    EntryRejection::MalformedVerifier {
                        verifier: VerifierRef::HashedRekordKey,
                        detail,
                    } if detail == r#"PEM type "PGP PUBLIC KEY BLOCK" is not supported"#
                )
            },
        ),
    ];
    for (i, (req, check)) in cases.iter().enumerate() {
        let err = canonicalize_proposed_entry(req).expect_err("rejected");
        assert!(check(&err), "case {i}: {err:?}");
        assert!(!err.to_string().contains('\n'), "one-line message: {err}");
    }
}

fn dsse_proposal(envelope: &str, verifiers: &[String]) -> Vec<u8> {
    json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {
            "envelope": envelope,
            "verifiers": verifiers.iter().map(|v| STANDARD.encode(v)).collect::<Vec<_>>(),
        }},
    })
    .to_string()
    .into_bytes()
}

fn envelope(payload: &[u8], signers: &[&PrivateKey]) -> String {
    let pae = signet_formats::sigstore::pae("application/vnd.in-toto+json", payload);
    json!({
        "payloadType": "application/vnd.in-toto+json",
        "payload": STANDARD.encode(payload),
        "signatures": signers.iter().map(|k| json!({
            "keyid": "",
            "sig": STANDARD.encode(k.sign(&pae).expect("sign")),
        })).collect::<Vec<_>>(),
    })
    .to_string()
}

#[test]
fn dsse_is_verified_canonicalized_and_indexed() {
    let a = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let b = PrivateKey::generate(KeyAlgorithm::Ed25519).expect("key");
    let subject = "ab".repeat(32);
    let payload = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha256":"{subject}"}}}}],"predicateType":"p","predicate":{{}}}}"#
    );
    let env = envelope(payload.as_bytes(), &[&a, &b]);
    let entry = canonicalize_proposed_entry(&dsse_proposal(
        &env,
        &[b.public_key().to_pem(), a.public_key().to_pem()],
    ))
    .expect("accepted");
    let body: Value = serde_json::from_slice(&entry.body).expect("json");
    assert_eq!(
        body["spec"]["envelopeHash"]["value"],
        hex::encode(Sha256::digest(env.as_bytes()))
    );
    assert_eq!(
        body["spec"]["payloadHash"]["value"],
        hex::encode(Sha256::digest(payload.as_bytes()))
    );
    let sigs = body["spec"]["signatures"].as_array().expect("array");
    assert_eq!(sigs.len(), 2);
    assert!(sigs[0]["signature"].as_str() < sigs[1]["signature"].as_str());
    assert!(body["spec"].get("proposedContent").is_none());
    assert!(entry.search_keys.contains(&format!("sha256:{subject}")));
    let parsed = signet_tlog::entry::EntryBody::parse(&entry.body).expect("parses");
    assert_eq!(parsed.kind(), "dsse");

    // A signature no verifier verifies, and a verifier that verifies nothing.
    let c = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    assert_eq!(
        canonicalize_proposed_entry(&dsse_proposal(&env, &[a.public_key().to_pem()])),
        Err(EntryRejection::UnverifiedSignature { index: 1 })
    );
    assert_eq!(
        canonicalize_proposed_entry(&dsse_proposal(
            &envelope(payload.as_bytes(), &[&a]),
            &[a.public_key().to_pem(), c.public_key().to_pem()]
        )),
        Err(EntryRejection::UnusedVerifier {
            verifier: VerifierRef::DsseVerifier(1)
        })
    );
    // A tampered payload.
    let mut tampered: Value = serde_json::from_str(&env).expect("json");
    tampered["payload"] = json!(STANDARD.encode(b"{}"));
    assert_eq!(
        canonicalize_proposed_entry(&dsse_proposal(
            &tampered.to_string(),
            &[a.public_key().to_pem(), b.public_key().to_pem()]
        )),
        Err(EntryRejection::UnverifiedSignature { index: 0 })
    );
    assert!(matches!(
        canonicalize_proposed_entry(&dsse_proposal("{", &[a.public_key().to_pem()])),
        Err(EntryRejection::MalformedEnvelope { detail }) if detail.starts_with("EOF while parsing")
    ));
    assert_eq!(
        canonicalize_proposed_entry(&dsse_proposal(
            r#"{"payloadType":"t","payload":"AA==","signatures":[]}"#,
            &[a.public_key().to_pem()]
        )),
        Err(EntryRejection::MalformedEnvelope {
            detail: "it has no signatures".into()
        })
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Arbitrary bytes never panic, and anything accepted is canonical JSON whose
        /// leaf hash matches.
        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(e) = canonicalize_proposed_entry(&data) {
                prop_assert_eq!(e.leaf_hash, leaf_hash(&e.body));
            }
        }

        /// Mutating any byte of a valid proposal never yields a different accepted
        /// signature claim: either it is rejected, or its body is the original one
        /// (whitespace or key order changes) or the mutation hit a field that is not
        /// part of the signed claim.
        #[test]
        fn mutations_do_not_forge(pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
            let good = signed_hashedrekord(&key, b"artifact");
            let original = canonicalize_proposed_entry(&good).expect("ok");
            let mut bad = good.clone();
            let i = pos.index(bad.len());
            bad[i] = byte;
            if let Ok(e) = canonicalize_proposed_entry(&bad) {
                prop_assert_eq!(e.body, original.body);
            }
        }
    }
}
