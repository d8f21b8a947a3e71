//! Bad input: every malformed bundle, trusted root and signing config is refused with a
//! one-line error that names the field (its protojson path, or at least its name).
//!
//! Each case takes a real document (the conformance `happy-path-v0.3` and
//! `happy-path-v0.1` bundles, the embedded production trusted root and signing config),
//! applies one mutation, and checks the error's `Display`.

#![allow(missing_docs, clippy::unwrap_used)]

use std::path::PathBuf;

use base64::Engine as _;
use serde_json::{Value, json};
use signet_formats::sigstore::{Bundle, Envelope, SigningConfig, Statement, TrustedRoot};

fn read(path: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// One mutation: what it does to the document, and the text the error must contain.
type Case = (&'static str, fn(&mut Value), &'static str);

/// Sets (or adds) the member or element at `pointer`.
fn set(v: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    match v.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(key.to_owned(), value);
        }
        Some(Value::Array(items)) => items[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{parent} is not an object or array in the document"),
    }
}

fn remove(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = if parent.is_empty() {
        &mut *v
    } else {
        v.pointer_mut(parent).unwrap()
    };
    assert!(
        parent.as_object_mut().unwrap().remove(key).is_some(),
        "{pointer} is not in the document"
    );
}

const ENTRY: &str = "/verificationMaterial/tlogEntries/0";
const PROOF: &str = "/verificationMaterial/tlogEntries/0/inclusionProof";

const V03_CASES: &[Case] = &[
    (
        "mediaType removed",
        |v| remove(v, "/mediaType"),
        "mediaType",
    ),
    (
        "mediaType a number",
        |v| set(v, "/mediaType", json!(3)),
        "mediaType",
    ),
    (
        "mediaType unknown",
        |v| {
            set(
                v,
                "/mediaType",
                json!("application/vnd.dev.sigstore.bundle.v0.4+json"),
            )
        },
        "mediaType",
    ),
    (
        "mediaType not a bundle",
        |v| set(v, "/mediaType", json!("application/json")),
        "mediaType",
    ),
    (
        "mediaType twice (camelCase and proto name)",
        |v| {
            set(
                v,
                "/media_type",
                json!("application/vnd.dev.sigstore.bundle.v0.3+json"),
            )
        },
        "mediaType",
    ),
    (
        "verificationMaterial removed",
        |v| remove(v, "/verificationMaterial"),
        "verificationMaterial",
    ),
    (
        "verificationMaterial a string",
        |v| set(v, "/verificationMaterial", json!("x")),
        "verificationMaterial",
    ),
    (
        "content oneof empty",
        |v| remove(v, "/messageSignature"),
        "messageSignature|dsseEnvelope",
    ),
    (
        "content oneof twice",
        |v| {
            set(
                v,
                "/dsseEnvelope",
                json!({"payload": "", "payloadType": "t", "signatures": [{"sig": "AQ=="}]}),
            )
        },
        "dsseEnvelope",
    ),
    (
        "signer oneof empty",
        |v| remove(v, "/verificationMaterial/certificate"),
        "verificationMaterial.certificate",
    ),
    (
        "signer oneof twice",
        |v| set(v, "/verificationMaterial/publicKey", json!({"hint": "h"})),
        "verificationMaterial.publicKey",
    ),
    (
        "certificate a list",
        |v| set(v, "/verificationMaterial/certificate", json!([])),
        "verificationMaterial.certificate",
    ),
    (
        "certificate.rawBytes bad base64",
        |v| {
            set(
                v,
                "/verificationMaterial/certificate/rawBytes",
                json!("not base64!"),
            )
        },
        "verificationMaterial.certificate.rawBytes",
    ),
    (
        "certificate.rawBytes empty",
        |v| set(v, "/verificationMaterial/certificate/rawBytes", json!("")),
        "verificationMaterial.certificate.rawBytes",
    ),
    (
        "certificate chain in v0.3",
        |v| {
            let cert = v["verificationMaterial"]["certificate"].clone();
            remove(v, "/verificationMaterial/certificate");
            set(
                v,
                "/verificationMaterial/x509CertificateChain",
                json!({"certificates": [cert]}),
            );
        },
        "x509CertificateChain",
    ),
    (
        "tlogEntries an object",
        |v| set(v, "/verificationMaterial/tlogEntries", json!({})),
        "verificationMaterial.tlogEntries",
    ),
    (
        "tlogEntries[0].logIndex negative",
        |v| set(v, &format!("{ENTRY}/logIndex"), json!("-1")),
        "tlogEntries[].logIndex",
    ),
    (
        "tlogEntries[0].logIndex negative number",
        |v| set(v, &format!("{ENTRY}/logIndex"), json!(-7)),
        "tlogEntries[].logIndex",
    ),
    (
        "tlogEntries[0].logIndex non-numeric",
        |v| set(v, &format!("{ENTRY}/logIndex"), json!("seven")),
        "tlogEntries[].logIndex",
    ),
    (
        "tlogEntries[0].logIndex a boolean",
        |v| set(v, &format!("{ENTRY}/logIndex"), json!(true)),
        "tlogEntries[0].logIndex",
    ),
    (
        "tlogEntries[0].logIndex an object",
        |v| set(v, &format!("{ENTRY}/logIndex"), json!({"value": 1})),
        "tlogEntries[0].logIndex",
    ),
    (
        "tlogEntries[0].logIndex out of range",
        |v| {
            set(
                v,
                &format!("{ENTRY}/logIndex"),
                json!("9223372036854775808"),
            )
        },
        "tlogEntries[].logIndex",
    ),
    (
        "logId removed",
        |v| remove(v, &format!("{ENTRY}/logId")),
        "tlogEntries[].logId",
    ),
    (
        "logId.keyId bad base64",
        |v| set(v, &format!("{ENTRY}/logId/keyId"), json!("%%")),
        "tlogEntries[].logId.keyId",
    ),
    (
        "kindVersion missing",
        |v| remove(v, &format!("{ENTRY}/kindVersion")),
        "tlogEntries[].kindVersion",
    ),
    (
        "kindVersion.kind empty",
        |v| set(v, &format!("{ENTRY}/kindVersion/kind"), json!("")),
        "kindVersion.kind",
    ),
    (
        "kindVersion.version missing",
        |v| remove(v, &format!("{ENTRY}/kindVersion/version")),
        "kindVersion.version",
    ),
    (
        "kindVersion.version a number",
        |v| set(v, &format!("{ENTRY}/kindVersion/version"), json!(1)),
        "tlogEntries[0].kindVersion.version",
    ),
    (
        "integratedTime negative",
        |v| set(v, &format!("{ENTRY}/integratedTime"), json!("-5")),
        "integratedTime",
    ),
    (
        "integratedTime a fraction",
        |v| set(v, &format!("{ENTRY}/integratedTime"), json!(1.5)),
        "integratedTime",
    ),
    (
        "canonicalizedBody missing",
        |v| remove(v, &format!("{ENTRY}/canonicalizedBody")),
        "canonicalizedBody",
    ),
    (
        "inclusionPromise.signedEntryTimestamp bad base64",
        |v| {
            set(
                v,
                &format!("{ENTRY}/inclusionPromise/signedEntryTimestamp"),
                json!("!"),
            )
        },
        "inclusionPromise.signedEntryTimestamp",
    ),
    (
        "inclusionProof missing",
        |v| remove(v, PROOF),
        "tlogEntries[0].inclusionProof",
    ),
    (
        "inclusionProof.rootHash wrong length",
        |v| set(v, &format!("{PROOF}/rootHash"), b64(&[7; 31])),
        "inclusionProof.rootHash",
    ),
    (
        "inclusionProof.rootHash missing",
        |v| remove(v, &format!("{PROOF}/rootHash")),
        "inclusionProof.rootHash",
    ),
    (
        "inclusionProof.hashes[0] wrong length",
        |v| set(v, &format!("{PROOF}/hashes/0"), b64(&[7; 33])),
        "inclusionProof.hashes[]",
    ),
    (
        "inclusionProof.hashes a string",
        |v| set(v, &format!("{PROOF}/hashes"), json!("AAAA")),
        "tlogEntries[0].inclusionProof.hashes",
    ),
    (
        "inclusionProof.hashes[1] bad base64",
        |v| set(v, &format!("{PROOF}/hashes/1"), json!("****")),
        "inclusionProof.hashes[]",
    ),
    (
        "inclusionProof.treeSize negative",
        |v| set(v, &format!("{PROOF}/treeSize"), json!("-1")),
        "inclusionProof.treeSize",
    ),
    (
        "inclusionProof.logIndex non-numeric",
        |v| set(v, &format!("{PROOF}/logIndex"), json!("x")),
        "inclusionProof.logIndex",
    ),
    (
        "checkpoint missing",
        |v| remove(v, &format!("{PROOF}/checkpoint")),
        "inclusionProof.checkpoint",
    ),
    (
        "checkpoint envelope missing",
        |v| remove(v, &format!("{PROOF}/checkpoint/envelope")),
        "inclusionProof.checkpoint.envelope",
    ),
    (
        "checkpoint envelope a number",
        |v| set(v, &format!("{PROOF}/checkpoint/envelope"), json!(5)),
        "tlogEntries[0].inclusionProof.checkpoint.envelope",
    ),
    (
        "rfc3161 signedTimestamp bad base64",
        |v| {
            set(
                v,
                "/verificationMaterial/timestampVerificationData",
                json!({"rfc3161Timestamps": [{"signedTimestamp": "!"}]}),
            )
        },
        "rfc3161Timestamps[].signedTimestamp",
    ),
    (
        "rfc3161 signedTimestamp empty",
        |v| {
            set(
                v,
                "/verificationMaterial/timestampVerificationData",
                json!({"rfc3161Timestamps": [{}]}),
            )
        },
        "rfc3161Timestamps[].signedTimestamp",
    ),
    (
        "messageSignature.signature empty",
        |v| set(v, "/messageSignature/signature", json!("")),
        "messageSignature.signature",
    ),
    (
        "messageSignature.signature bad base64",
        |v| set(v, "/messageSignature/signature", json!("@@")),
        "messageSignature.signature",
    ),
    (
        "messageSignature.signature a list",
        |v| set(v, "/messageSignature/signature", json!(["AQ=="])),
        "messageSignature.signature",
    ),
    (
        "messageDigest.algorithm unknown",
        |v| set(v, "/messageSignature/messageDigest/algorithm", json!("MD5")),
        "messageSignature.messageDigest.algorithm",
    ),
    (
        "messageDigest.digest a number",
        |v| set(v, "/messageSignature/messageDigest/digest", json!(5)),
        "messageSignature.messageDigest.digest",
    ),
    (
        "dsseEnvelope.payload bad base64",
        |v| {
            remove(v, "/messageSignature");
            set(
                v,
                "/dsseEnvelope",
                json!({"payload": "e30=!", "payloadType": "application/vnd.in-toto+json",
                       "signatures": [{"sig": "AQ=="}]}),
            );
        },
        "dsseEnvelope.payload",
    ),
    (
        "dsseEnvelope.payloadType missing",
        |v| {
            remove(v, "/messageSignature");
            set(
                v,
                "/dsseEnvelope",
                json!({"payload": "e30=", "signatures": [{"sig": "AQ=="}]}),
            );
        },
        "dsseEnvelope.payloadType",
    ),
    (
        "dsseEnvelope.signatures empty",
        |v| {
            remove(v, "/messageSignature");
            set(
                v,
                "/dsseEnvelope",
                json!({"payload": "e30=", "payloadType": "t", "signatures": []}),
            );
        },
        "dsseEnvelope.signatures",
    ),
    (
        "dsseEnvelope.signatures[0].sig empty",
        |v| {
            remove(v, "/messageSignature");
            set(
                v,
                "/dsseEnvelope",
                json!({"payload": "e30=", "payloadType": "t", "signatures": [{"sig": ""}]}),
            );
        },
        "dsseEnvelope.signatures[].sig",
    ),
    (
        "dsseEnvelope.signatures[1] a string",
        |v| {
            remove(v, "/messageSignature");
            set(
                v,
                "/dsseEnvelope",
                json!({"payload": "e30=", "payloadType": "t", "signatures": [{"sig": "AQ=="}, "AQ=="]}),
            );
        },
        "dsseEnvelope.signatures[1]",
    ),
];

const V01_CASES: &[Case] = &[
    (
        "v0.1 inclusionPromise missing",
        |v| remove(v, &format!("{ENTRY}/inclusionPromise")),
        "tlogEntries[0].inclusionPromise",
    ),
    (
        "v0.1 logIndex negative",
        |v| set(v, &format!("{ENTRY}/logIndex"), json!("-1")),
        "tlogEntries[].logIndex",
    ),
    (
        "v0.1 certificate chain empty",
        |v| {
            set(
                v,
                "/verificationMaterial/x509CertificateChain/certificates",
                json!([]),
            )
        },
        "x509CertificateChain.certificates",
    ),
    (
        "v0.1 certificate chain not a list",
        |v| {
            set(
                v,
                "/verificationMaterial/x509CertificateChain/certificates",
                json!("x"),
            )
        },
        "verificationMaterial.x509CertificateChain.certificates",
    ),
    (
        "v0.1 chain rawBytes bad base64",
        |v| {
            set(
                v,
                "/verificationMaterial/x509CertificateChain/certificates/0/rawBytes",
                json!("!"),
            )
        },
        "x509CertificateChain.certificates[].rawBytes",
    ),
    (
        "v0.1 unknown version",
        |v| {
            set(
                v,
                "/mediaType",
                json!("application/vnd.dev.sigstore.bundle+json;version=0.4"),
            )
        },
        "mediaType",
    ),
    (
        "v0.1 inclusionProof.rootHash wrong length",
        |v| set(v, &format!("{PROOF}/rootHash"), b64(&[1; 20])),
        "inclusionProof.rootHash",
    ),
];

const ROOT_CASES: &[Case] = &[
    (
        "trusted root mediaType unknown",
        |v| {
            set(
                v,
                "/mediaType",
                json!("application/vnd.dev.sigstore.trustedroot+json;version=0.2"),
            )
        },
        "mediaType",
    ),
    (
        "tlog validFor.start missing",
        |v| remove(v, "/tlogs/0/publicKey/validFor/start"),
        "tlogs[].publicKey.validFor.start",
    ),
    (
        "tlog validFor.start not a time",
        |v| set(v, "/tlogs/0/publicKey/validFor/start", json!("yesterday")),
        "tlogs[].publicKey.validFor.start",
    ),
    (
        "tlog validFor a string",
        |v| set(v, "/tlogs/0/publicKey/validFor", json!("always")),
        "tlogs[0].publicKey.validFor",
    ),
    (
        "tlog validFor ends before it starts",
        |v| {
            set(
                v,
                "/tlogs/0/publicKey/validFor/end",
                json!("2000-01-01T00:00:00Z"),
            )
        },
        "tlogs[].publicKey.validFor",
    ),
    (
        "tlog key bad base64",
        |v| set(v, "/tlogs/0/publicKey/rawBytes", json!("!!")),
        "tlogs[].publicKey.rawBytes",
    ),
    (
        "tlog key missing",
        |v| remove(v, "/tlogs/0/publicKey/rawBytes"),
        "tlogs[].publicKey.rawBytes",
    ),
    (
        "tlog publicKey missing",
        |v| remove(v, "/tlogs/0/publicKey"),
        "tlogs[].publicKey",
    ),
    (
        "tlog keyDetails unknown",
        |v| set(v, "/tlogs/0/publicKey/keyDetails", json!("PKIX_NEW_THING")),
        "tlogs[].publicKey.keyDetails",
    ),
    (
        "tlog keyDetails a list",
        |v| set(v, "/tlogs/0/publicKey/keyDetails", json!([])),
        "tlogs[0].publicKey.keyDetails",
    ),
    (
        "tlog hashAlgorithm unknown",
        |v| set(v, "/tlogs/0/hashAlgorithm", json!("SHA1")),
        "tlogs[].hashAlgorithm",
    ),
    (
        "tlog logId missing",
        |v| remove(v, "/tlogs/0/logId"),
        "tlogs[].logId.keyId",
    ),
    (
        "tlog baseUrl not a URL",
        |v| set(v, "/tlogs/0/baseUrl", json!("rekor sigstore dev")),
        "tlogs[].baseUrl",
    ),
    (
        "tlog baseUrl with a line break",
        |v| {
            set(
                v,
                "/tlogs/0/baseUrl",
                json!("https://rekor.sigstore.dev\nX-Evil: 1"),
            )
        },
        "tlogs[].baseUrl",
    ),
    (
        "tlog baseUrl a number",
        |v| set(v, "/tlogs/0/baseUrl", json!(443)),
        "tlogs[0].baseUrl",
    ),
    (
        "ctlog baseUrl without a scheme",
        |v| set(v, "/ctlogs/0/baseUrl", json!("ctfe.sigstore.dev/test")),
        "ctlogs[].baseUrl",
    ),
    (
        "ctlogs an object",
        |v| set(v, "/ctlogs", json!({})),
        "ctlogs",
    ),
    (
        "CA uri not a URL",
        |v| set(v, "/certificateAuthorities/0/uri", json!("fulcio")),
        "certificateAuthorities[].uri",
    ),
    (
        "CA certificates empty",
        |v| {
            set(
                v,
                "/certificateAuthorities/0/certChain/certificates",
                json!([]),
            )
        },
        "certificateAuthorities[].certChain.certificates",
    ),
    (
        "CA certificate bad base64",
        |v| {
            set(
                v,
                "/certificateAuthorities/0/certChain/certificates/0/rawBytes",
                json!("-_-_*"),
            )
        },
        "certificateAuthorities[].certChain.certificates[].rawBytes",
    ),
    (
        "CA validFor.start missing",
        |v| remove(v, "/certificateAuthorities/0/validFor/start"),
        "certificateAuthorities[].validFor.start",
    ),
    (
        "TSA validFor.start missing",
        |v| remove(v, "/timestampAuthorities/0/validFor/start"),
        "timestampAuthorities[].validFor.start",
    ),
];

const SIGNING_CONFIG_CASES: &[Case] = &[
    (
        "signing config mediaType unknown",
        |v| {
            set(
                v,
                "/mediaType",
                json!("application/vnd.dev.sigstore.signingconfig.v0.1+json"),
            )
        },
        "mediaType",
    ),
    (
        "CA url missing",
        |v| remove(v, "/caUrls/0/url"),
        "caUrls[].url",
    ),
    (
        "Rekor url not a URL",
        |v| set(v, "/rekorTlogUrls/0/url", json!("rekor")),
        "rekorTlogUrls[].url",
    ),
    (
        "majorApiVersion negative",
        |v| set(v, "/rekorTlogUrls/0/majorApiVersion", json!(-1)),
        "rekorTlogUrls[].majorApiVersion",
    ),
    (
        "validFor.start missing",
        |v| remove(v, "/tsaUrls/0/validFor/start"),
        "tsaUrls[].validFor.start",
    ),
    (
        "rekorTlogConfig.selector unknown",
        |v| set(v, "/rekorTlogConfig/selector", json!("SOME")),
        "rekorTlogConfig.selector",
    ),
];

const ENVELOPE_CASES: &[Case] = &[
    (
        "envelope payload bad base64",
        |v| set(v, "/payload", json!("e30=!")),
        "payload",
    ),
    (
        "envelope payloadType missing",
        |v| remove(v, "/payloadType"),
        "payloadType",
    ),
    (
        "envelope payloadType a number",
        |v| set(v, "/payloadType", json!(1)),
        "field payloadType",
    ),
    (
        "envelope signatures[0].sig empty",
        |v| set(v, "/signatures/0/sig", json!("")),
        "signatures[].sig",
    ),
    (
        "envelope signatures an object",
        |v| set(v, "/signatures", json!({"sig": "AQ=="})),
        "field signatures",
    ),
];

const STATEMENT_CASES: &[Case] = &[
    (
        "statement _type unknown",
        |v| set(v, "/_type", json!("https://in-toto.io/Statement/v2")),
        "_type",
    ),
    (
        "statement predicateType missing",
        |v| remove(v, "/predicateType"),
        "predicateType",
    ),
    (
        "statement subject digest not hex",
        |v| set(v, "/subject/0/digest/sha256", json!("zz")),
        "subject[].digest",
    ),
    (
        "statement subject an object",
        |v| set(v, "/subject", json!({})),
        "field subject",
    ),
    (
        "statement subject[0].digest a list",
        |v| set(v, "/subject/0/digest", json!(["ab"])),
        "field subject[0].digest",
    ),
];

/// Runs every case; returns one line per failed expectation.
fn check<E: std::fmt::Display, T>(
    doc: &Value,
    cases: &[Case],
    parse: impl Fn(&[u8]) -> Result<T, E>,
) -> Vec<String> {
    assert!(
        parse(doc.to_string().as_bytes()).is_ok(),
        "the unmodified document must parse"
    );
    let mut failures = Vec::new();
    for (name, mutate, field) in cases {
        let mut v = doc.clone();
        mutate(&mut v);
        let message = match parse(v.to_string().as_bytes()) {
            Ok(_) => {
                failures.push(format!("{name}: accepted"));
                continue;
            }
            Err(e) => e.to_string(),
        };
        println!("{name:50} {message}");
        if message.contains(['\n', '\r']) {
            failures.push(format!("{name}: more than one line: {message:?}"));
        }
        if !message.contains(field) {
            failures.push(format!("{name}: {message:?} does not name {field}"));
        }
        if message.contains("Wire") {
            failures.push(format!("{name}: {message:?} names an internal type"));
        }
    }
    failures
}

#[test]
fn malformed_v03_bundles_name_the_field() {
    let doc = read("../../testdata/conformance/happy-path-v0.3/bundle.sigstore.json");
    let failures = check(&doc, V03_CASES, Bundle::parse);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn malformed_v01_bundles_name_the_field() {
    let doc = read("../../testdata/conformance/happy-path-v0.1/bundle.sigstore.json");
    let failures = check(&doc, V01_CASES, Bundle::parse);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn malformed_trusted_roots_name_the_field() {
    let doc = read("trust/production_trusted_root.json");
    let failures = check(&doc, ROOT_CASES, TrustedRoot::parse);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn malformed_signing_configs_name_the_field() {
    let doc = read("trust/production_signing_config.v0.2.json");
    let failures = check(&doc, SIGNING_CONFIG_CASES, SigningConfig::parse);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn malformed_dsse_envelopes_and_statements_name_the_field() {
    let bundle =
        read("../../testdata/conformance/happy-path-intoto-in-dsse-v3/bundle.sigstore.json");
    let envelope = bundle["dsseEnvelope"].clone();
    let mut failures = check(&envelope, ENVELOPE_CASES, Envelope::parse);
    let statement = Envelope::parse(envelope.to_string().as_bytes())
        .unwrap()
        .payload;
    let statement: Value = serde_json::from_slice(&statement).unwrap();
    failures.extend(check(&statement, STATEMENT_CASES, Statement::parse));
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Text that is not a whole JSON document: the error is still one line, and names the
/// innermost field it stopped in.
#[test]
fn truncated_bundles_name_where_they_stop() {
    let text = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/conformance/happy-path-v0.3/bundle.sigstore.json"),
    )
    .unwrap();
    let at = text.find("\"treeSize\"").unwrap() + 14;
    let message = Bundle::parse(&text.as_bytes()[..at])
        .unwrap_err()
        .to_string();
    assert!(!message.contains('\n'), "{message}");
    assert!(
        message.contains("field verificationMaterial.tlogEntries[0].inclusionProof.treeSize"),
        "{message}"
    );
    let message = Bundle::parse(b"{\"mediaType\": ").unwrap_err().to_string();
    assert!(message.contains("field mediaType"), "{message}");
    for bad in [&b""[..], b"null", b"\"bundle\"", b"{", b"{\"mediaType\""] {
        let message = Bundle::parse(bad).unwrap_err().to_string();
        assert!(
            message.starts_with("malformed sigstore bundle: "),
            "{message}"
        );
        assert!(!message.contains(['\n', '\r']), "{message}");
    }
}
