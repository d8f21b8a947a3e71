//! Bundle parsing rules: protojson leniency, oneofs, and the per-version structure.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use signet_formats::sigstore::{
    Bundle, BundleContent, BundleVersion, HashAlgorithm, SignerMaterial, SigstoreFormatError as E,
    TrustedRoot, UnixTime,
};

/// 32 bytes of 0, 1 and 2: Merkle hashes are SHA-256 values.
const ROOT_HASH: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const HASH_1: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const HASH_2: &str = "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

/// A minimal valid v0.3 bundle as JSON.
fn v03() -> Value {
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": "AQID"},
            "tlogEntries": [{
                "logIndex": "7",
                "logId": {"keyId": "AAEC"},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.1"},
                "integratedTime": "1700000000",
                "inclusionPromise": {"signedEntryTimestamp": "BAU="},
                "inclusionProof": {
                    "logIndex": "3", "rootHash": ROOT_HASH, "treeSize": "9",
                    "hashes": [HASH_1, HASH_2], "checkpoint": {"envelope": "origin\n9\nAAAA\n"}
                },
                "canonicalizedBody": "e30="
            }]
        },
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": "AAAA"},
            "signature": "MEUC"
        }
    })
}

fn parse(v: &Value) -> Result<Bundle, E> {
    Bundle::parse(v.to_string().as_bytes())
}

fn entry(v: &mut Value) -> &mut Value {
    &mut v["verificationMaterial"]["tlogEntries"][0]
}

#[test]
fn minimal_v03_parses() {
    let b = parse(&v03()).unwrap();
    assert_eq!(b.version, BundleVersion::V0_3);
    let e = &b.verification_material.tlog_entries[0];
    assert_eq!(e.log_index.0, 7);
    assert_eq!(e.integrated_time, UnixTime(1_700_000_000));
    assert_eq!(
        e.inclusion_proof.as_ref().unwrap().hashes,
        vec![vec![1; 32], vec![2; 32]]
    );
    let BundleContent::MessageSignature(ms) = &b.content else {
        panic!()
    };
    assert_eq!(
        ms.message_digest.as_ref().unwrap().algorithm,
        HashAlgorithm::Sha2_256
    );
}

#[test]
fn protojson_leniency() {
    // snake_case names, int64 as numbers, URL-safe unpadded base64, enum by number,
    // unknown fields, and omitted zero values.
    let v = json!({
        "media_type": "application/vnd.dev.sigstore.bundle+json;version=0.3",
        "someFutureField": {"x": 1},
        "verification_material": {
            "certificate": {"raw_bytes": "-_8"},
            "tlog_entries": [{
                "log_id": {"key_id": "AAEC"},
                "kind_version": {"kind": "dsse", "version": "0.0.1"},
                "inclusion_proof": {"tree_size": 1, "root_hash": ROOT_HASH, "checkpoint": {"envelope": "c"}},
                "canonicalized_body": "e30"
            }]
        },
        "dsse_envelope": {"payload": "e30=", "payload_type": "application/vnd.in-toto+json",
                          "signatures": [{"sig": "AQ"}]},
    });
    let b = parse(&v).unwrap();
    let SignerMaterial::Certificate(c) = &b.verification_material.signer else {
        panic!()
    };
    assert_eq!(c.raw_bytes, vec![0xfb, 0xff]);
    let e = &b.verification_material.tlog_entries[0];
    assert_eq!((e.log_index.0, e.integrated_time), (0, UnixTime(0)));
    let p = e.inclusion_proof.as_ref().unwrap();
    assert_eq!((p.log_index.0, p.tree_size.0, p.hashes.len()), (0, 1, 0));
    assert!(
        b.verification_material
            .timestamp_verification_data
            .rfc3161_timestamps
            .is_empty()
    );

    let mut numeric = v03();
    numeric["messageSignature"]["messageDigest"]["algorithm"] = json!(1);
    entry(&mut numeric)["logIndex"] = json!(7);
    assert_eq!(parse(&numeric).unwrap(), parse(&v03()).unwrap());
}

#[test]
fn the_same_field_twice_is_an_error() {
    let mut v = v03();
    v["media_type"] = v["mediaType"].clone();
    assert!(matches!(parse(&v), Err(E::InvalidJson { .. })));
}

#[test]
fn negative_and_malformed_numbers() {
    for (field, path) in [
        (
            "integratedTime",
            "verificationMaterial.tlogEntries[].integratedTime",
        ),
        ("logIndex", "verificationMaterial.tlogEntries[].logIndex"),
    ] {
        let mut v = v03();
        entry(&mut v)[field] = json!(-5);
        assert!(
            matches!(parse(&v), Err(E::NegativeValue { field: f, value: -5 }) if f == path),
            "{field}"
        );
    }
    let mut v = v03();
    entry(&mut v)["inclusionProof"]["treeSize"] = json!("-1");
    assert!(matches!(
        parse(&v),
        Err(E::NegativeValue {
            field: "verificationMaterial.tlogEntries[].inclusionProof.treeSize",
            ..
        })
    ));
    let mut v = v03();
    entry(&mut v)["logIndex"] = json!("12x");
    assert!(matches!(parse(&v), Err(E::InvalidInteger { .. })));
    let mut v = v03();
    entry(&mut v)["logIndex"] = json!(true);
    assert!(matches!(parse(&v), Err(E::InvalidJson { .. })));
}

#[test]
fn bad_base64_names_the_field() {
    let mut v = v03();
    entry(&mut v)["inclusionProof"]["hashes"][1] = json!("not base64!");
    assert!(matches!(
        parse(&v),
        Err(E::InvalidBase64 {
            field: "verificationMaterial.tlogEntries[].inclusionProof.hashes[]"
        })
    ));
    let mut v = v03();
    v["verificationMaterial"]["certificate"]["rawBytes"] = json!("+_8=");
    assert!(matches!(
        parse(&v),
        Err(E::InvalidBase64 {
            field: "verificationMaterial.certificate.rawBytes"
        })
    ));
}

#[test]
fn oneofs_need_exactly_one_member() {
    let mut v = v03();
    v["dsseEnvelope"] = json!({"payload": "", "payloadType": "t", "signatures": [{"sig": "AQ"}]});
    assert!(matches!(
        parse(&v),
        Err(E::ConflictingFields {
            first: "messageSignature",
            second: "dsseEnvelope"
        })
    ));
    let mut v = v03();
    v.as_object_mut().unwrap().remove("messageSignature");
    assert!(matches!(
        parse(&v),
        Err(E::MissingField {
            field: "messageSignature|dsseEnvelope"
        })
    ));
    let mut v = v03();
    v["verificationMaterial"]["publicKey"] = json!({"hint": "h"});
    assert!(matches!(parse(&v), Err(E::ConflictingFields { .. })));
    let mut v = v03();
    v["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("certificate");
    assert!(matches!(parse(&v), Err(E::MissingField { .. })));
    // null is the same as absent in protojson.
    let mut v = v03();
    v["dsseEnvelope"] = Value::Null;
    assert!(parse(&v).is_ok());
}

#[test]
fn required_fields() {
    let mut v = v03();
    v["messageSignature"]["signature"] = json!("");
    assert!(matches!(
        parse(&v),
        Err(E::MissingField {
            field: "messageSignature.signature"
        })
    ));
    let mut v = v03();
    entry(&mut v).as_object_mut().unwrap().remove("logId");
    assert!(matches!(
        parse(&v),
        Err(E::MissingField {
            field: "verificationMaterial.tlogEntries[].logId"
        })
    ));
    let mut v = v03();
    entry(&mut v)["kindVersion"]["kind"] = json!("");
    assert!(matches!(parse(&v), Err(E::MissingField { .. })));
    let mut v = v03();
    v.as_object_mut().unwrap().remove("verificationMaterial");
    assert!(matches!(
        parse(&v),
        Err(E::MissingField {
            field: "verificationMaterial"
        })
    ));
    let mut v = v03();
    v.as_object_mut().unwrap().remove("mediaType");
    assert!(
        matches!(parse(&v), Err(E::UnsupportedBundleVersion { media_type }) if media_type.is_empty())
    );
}

#[test]
fn version_rules() {
    let chain = json!({"certificates": [{"rawBytes": "AQID"}, {"rawBytes": "BAUG"}]});

    // v0.3 (either spelling) carries a single certificate.
    for mt in [
        "application/vnd.dev.sigstore.bundle.v0.3+json",
        "application/vnd.dev.sigstore.bundle+json;version=0.3",
    ] {
        let mut v = v03();
        v["mediaType"] = json!(mt);
        v["verificationMaterial"]
            .as_object_mut()
            .unwrap()
            .remove("certificate");
        v["verificationMaterial"]["x509CertificateChain"] = chain.clone();
        assert!(matches!(
            parse(&v),
            Err(E::CertificateChainNotAllowed {
                version: BundleVersion::V0_3
            })
        ));
    }

    // v0.2 with a chain is fine, and needs a proof with a checkpoint.
    let mut v = v03();
    v["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.2");
    v["verificationMaterial"]
        .as_object_mut()
        .unwrap()
        .remove("certificate");
    v["verificationMaterial"]["x509CertificateChain"] = chain.clone();
    assert_eq!(parse(&v).unwrap().version, BundleVersion::V0_2);
    entry(&mut v)["inclusionProof"]
        .as_object_mut()
        .unwrap()
        .remove("checkpoint");
    assert!(matches!(
        parse(&v),
        Err(E::MissingCheckpoint {
            version: BundleVersion::V0_2,
            entry: 0
        })
    ));
    entry(&mut v)["inclusionProof"]["checkpoint"] = json!({"envelope": ""});
    assert!(matches!(parse(&v), Err(E::MissingCheckpoint { .. })));
    entry(&mut v)
        .as_object_mut()
        .unwrap()
        .remove("inclusionProof");
    assert!(matches!(
        parse(&v),
        Err(E::MissingInclusionProof {
            version: BundleVersion::V0_2,
            entry: 0
        })
    ));

    // v0.1 needs a promise, not a proof.
    v["mediaType"] = json!("application/vnd.dev.sigstore.bundle+json;version=0.1");
    assert_eq!(parse(&v).unwrap().version, BundleVersion::V0_1);
    entry(&mut v)
        .as_object_mut()
        .unwrap()
        .remove("inclusionPromise");
    assert!(matches!(
        parse(&v),
        Err(E::MissingInclusionPromise {
            version: BundleVersion::V0_1,
            entry: 0
        })
    ));

    // An empty chain is refused in any version.
    v["verificationMaterial"]["x509CertificateChain"] = json!({"certificates": []});
    assert!(matches!(parse(&v), Err(E::EmptyCertificateChain)));
    v["verificationMaterial"]["x509CertificateChain"] = json!({});
    assert!(matches!(parse(&v), Err(E::EmptyCertificateChain)));

    for bad in [
        "application/vnd.dev.sigstore.bundle+json;version=0.4",
        "application/json",
        "application/vnd.dev.sigstore.bundle.v0.2+json",
    ] {
        let mut v = v03();
        v["mediaType"] = json!(bad);
        assert!(
            matches!(parse(&v), Err(E::UnsupportedBundleVersion { .. })),
            "{bad}"
        );
    }
}

#[test]
fn writer_always_writes_zero_values() {
    let v = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "publicKey": {},
            "tlogEntries": [{
                "logId": {"keyId": "AAEC"},
                "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
                "inclusionProof": {"rootHash": ROOT_HASH, "checkpoint": {"envelope": "c"}},
                "canonicalizedBody": "e30="
            }]
        },
        "dsseEnvelope": {"payload": "", "payloadType": "t", "signatures": [{"sig": "AQ=="}]}
    });
    let b = parse(&v).unwrap();
    let out: Value = serde_json::from_str(&b.to_json_v03().unwrap()).unwrap();
    let e = &out["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(e["logIndex"], "0");
    assert_eq!(e["integratedTime"], "0");
    assert_eq!(e["inclusionProof"]["logIndex"], "0");
    assert_eq!(e["inclusionProof"]["treeSize"], "0");
    assert_eq!(e["inclusionProof"]["rootHash"], ROOT_HASH);
    assert_eq!(e["inclusionProof"]["hashes"], json!([]));
    assert!(e.get("inclusionPromise").is_none());
    assert_eq!(
        out["verificationMaterial"]["publicKey"],
        json!({"hint": ""})
    );
    assert_eq!(
        out["verificationMaterial"]["timestampVerificationData"],
        json!({"rfc3161Timestamps": []})
    );
    assert_eq!(out["dsseEnvelope"]["payload"], "");
    assert_eq!(
        out["dsseEnvelope"]["signatures"],
        json!([{"sig": "AQ==", "keyid": ""}])
    );
}

#[test]
fn trusted_root_fails_closed() {
    let root = json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.example", "hashAlgorithm": "SHA2_256",
            "publicKey": {"rawBytes": "AQID", "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                          "validFor": {"start": "2021-01-12T11:53:27.000Z", "end": "2022-01-01T00:00:00+01:00"}},
            "logId": {"keyId": "AAEC"}
        }],
        "certificateAuthorities": [{
            "subject": {"organization": "o", "commonName": "c"}, "uri": "https://ca.example",
            "certChain": {"certificates": [{"rawBytes": "AQID"}]},
            "validFor": {"start": "2021-01-01T00:00:00Z"}
        }]
    });
    let ok = TrustedRoot::parse(root.to_string().as_bytes()).unwrap();
    assert_eq!(
        ok.tlogs[0].public_key.valid_for.end(),
        Some(UnixTime(1_640_991_600))
    );
    assert_eq!(ok.certificate_authorities[0].valid_for.end(), None);

    let bad = |f: &dyn Fn(&mut Value)| {
        let mut r = root.clone();
        f(&mut r);
        TrustedRoot::parse(r.to_string().as_bytes())
    };
    assert!(matches!(
        bad(&|r| r["tlogs"][0]["publicKey"]["keyDetails"] = json!("PKIX_NEW_THING")),
        Err(E::UnknownEnumValue {
            field: "tlogs[].publicKey.keyDetails",
            ..
        })
    ));
    assert!(matches!(
        bad(&|r| r["tlogs"][0]["publicKey"]["rawBytes"] = json!("%%")),
        Err(E::InvalidBase64 {
            field: "tlogs[].publicKey.rawBytes"
        })
    ));
    assert!(matches!(
        bad(&|r| r["tlogs"][0]["publicKey"]["validFor"]["end"] = json!("yesterday")),
        Err(E::InvalidTime {
            field: "tlogs[].publicKey.validFor.end",
            ..
        })
    ));
    assert!(matches!(
        bad(&|r| r["tlogs"][0]["publicKey"]["validFor"]["end"] = json!("2020-01-01T00:00:00Z")),
        Err(E::InvertedValidityWindow { .. })
    ));
    assert!(matches!(
        bad(&|r| {
            r["tlogs"][0]["publicKey"]
                .as_object_mut()
                .unwrap()
                .remove("validFor");
        }),
        Err(E::MissingField {
            field: "tlogs[].publicKey.validFor"
        })
    ));
    assert!(matches!(
        bad(
            &|r| r["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"] =
                json!("!")
        ),
        Err(E::InvalidBase64 {
            field: "certificateAuthorities[].certChain.certificates[].rawBytes"
        })
    ));
    assert!(matches!(
        bad(&|r| r["certificateAuthorities"][0]["certChain"] = json!({"certificates": []})),
        Err(E::MissingField {
            field: "certificateAuthorities[].certChain.certificates"
        })
    ));
    assert!(matches!(
        bad(&|r| r["certificateAuthorities"][0]["validFor"] =
            json!({"end": "2030-01-01T00:00:00Z"})),
        Err(E::MissingField {
            field: "certificateAuthorities[].validFor.start"
        })
    ));
    assert!(matches!(
        bad(&|r| r["mediaType"] =
            json!("application/vnd.dev.sigstore.trustedroot+json;version=0.9")),
        Err(E::UnsupportedMediaType { .. })
    ));
}
