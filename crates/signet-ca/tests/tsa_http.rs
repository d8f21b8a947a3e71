//! The timestamp authority over a real socket: DER requests (sigstore-python, openssl)
//! and JSON requests (sigstore-js), checked with the verifier signet uses for bundles
//! (`signet_x509::timestamp`, behind `signet_verify::bundle`) and with `openssl ts -verify`.

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::asn1::{AnyRef, GeneralizedTime, IntRef, ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use sha2::{Digest as _, Sha256};
use signet_x509::timestamp::{
    TimestampAuthority, TimestampError, parse_timestamp_response, verify_timestamp,
};
use signet_x509::{Certificate, TimeRange, UnixTime};
use spki::AlgorithmIdentifierRef;
use support::{Stack, start};

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

#[derive(der::Sequence)]
struct MessageImprint<'a> {
    hash_algorithm: AlgorithmIdentifierRef<'a>,
    hashed_message: OctetString,
}

#[derive(der::Sequence)]
struct TimeStampReq<'a> {
    version: u8,
    message_imprint: MessageImprint<'a>,
    #[asn1(optional = "true")]
    nonce: Option<IntRef<'a>>,
    #[asn1(default = "Default::default")]
    cert_req: bool,
}

#[derive(der::Sequence)]
struct TstInfo<'a> {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint<'a>,
    serial_number: IntRef<'a>,
    gen_time: GeneralizedTime,
    #[asn1(optional = "true")]
    accuracy: Option<AnyRef<'a>>,
    #[asn1(optional = "true")]
    nonce: Option<IntRef<'a>>,
}

fn request(data: &[u8], nonce: Option<&[u8]>, cert_req: bool) -> Vec<u8> {
    TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            hash_algorithm: AlgorithmIdentifierRef {
                oid: SHA256,
                parameters: Some(AnyRef::NULL),
            },
            hashed_message: OctetString::new(Sha256::digest(data).to_vec()).unwrap(),
        },
        nonce: nonce.map(|n| IntRef::new(n).unwrap()),
        cert_req,
    }
    .to_der()
    .unwrap()
}

async fn post(stack: &Stack, content_type: &str, body: Vec<u8>) -> Vec<u8> {
    let resp = stack
        .client
        .post(stack.url("/api/v1/timestamp"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert_eq!(
        resp.headers()["content-type"],
        "application/timestamp-reply"
    );
    resp.bytes().await.unwrap().to_vec()
}

/// Posts the DER request in `dir/query` and writes the reply to `dir/reply`.
async fn timestamp_file(stack: &Stack, dir: &std::path::Path, query: &str, reply: &str) {
    let der = post(
        stack,
        "application/timestamp-query",
        std::fs::read(dir.join(query)).unwrap(),
    )
    .await;
    std::fs::write(dir.join(reply), der).unwrap();
}

/// The TSA as a trusted root lists it, converted as `BundleVerifier::new` does.
fn authority(stack: &Stack) -> TimestampAuthority {
    let entry = stack
        .tsa
        .timestamp_authority(&stack.url("/api/v1/timestamp"));
    let chain = entry
        .cert_chain
        .iter()
        .map(|c| Certificate::from_der(&c.raw_bytes).unwrap())
        .collect();
    TimestampAuthority::new(
        chain,
        TimeRange::starting_at(UnixTime(entry.valid_for.start().0)),
    )
    .unwrap()
}

#[tokio::test]
async fn der_request_with_nonce_and_cert_req() {
    let stack = start().await;
    let signature = b"signature bytes of some bundle";
    let nonce = [0x00, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04];
    let reply = post(
        &stack,
        "application/timestamp-query",
        request(signature, Some(&nonce), true),
    )
    .await;
    let ts = parse_timestamp_response(&reply).unwrap();
    assert_eq!(
        ts.certificates().len(),
        1,
        "certReq embeds the TSA certificate"
    );
    assert_eq!(ts.certificates()[0].der(), stack.tsa.chain_der()[0]);
    let tst = TstInfo::from_der(ts.tst_info_der()).unwrap();
    assert_eq!(
        tst.nonce.unwrap().as_bytes(),
        &nonce[..],
        "the nonce is echoed"
    );
    assert_eq!(tst.policy.to_string(), "1.3.6.1.4.1.57264.2");
    let authority = authority(&stack);
    let verified = verify_timestamp(&ts, signature, std::slice::from_ref(&authority)).unwrap();
    let now = support::now() as i64;
    assert!((now - verified.gen_time.0).abs() < 60);
    assert!(matches!(
        verify_timestamp(&ts, b"another signature", &[authority]),
        Err(TimestampError::ImprintMismatch { .. })
    ));
}

#[tokio::test]
async fn json_request_like_sigstore_js() {
    let stack = start().await;
    let signature = b"a DSSE signature";
    let body = serde_json::json!({
        "artifactHash": STANDARD.encode(Sha256::digest(signature)),
        "hashAlgorithm": "sha256",
    });
    let reply = post(&stack, "application/json", body.to_string().into_bytes()).await;
    let ts = parse_timestamp_response(&reply).unwrap();
    assert!(ts.certificates().is_empty(), "no certificates unless asked");
    let authority = authority(&stack);
    verify_timestamp(&ts, signature, std::slice::from_ref(&authority)).unwrap();
    let err = verify_timestamp(&ts, b"x", &[authority]).unwrap_err();
    assert!(
        matches!(
            err,
            signet_x509::timestamp::TimestampError::ImprintMismatch { .. }
        ),
        "{err:?}"
    );
    let tst = TstInfo::from_der(ts.tst_info_der()).unwrap();
    assert!(tst.nonce.is_none());

    let with_nonce = serde_json::json!({
        "artifactHash": STANDARD.encode(Sha256::digest(signature)),
        "hashAlgorithm": "sha256",
        "certificates": true,
        "nonce": 1234567890123u64,
    });
    let reply = post(
        &stack,
        "application/json",
        with_nonce.to_string().into_bytes(),
    )
    .await;
    let ts = parse_timestamp_response(&reply).unwrap();
    assert_eq!(ts.certificates().len(), 1);
    let tst = TstInfo::from_der(ts.tst_info_der()).unwrap();
    assert_eq!(
        tst.nonce.unwrap().as_bytes(),
        &1234567890123u64.to_be_bytes()[2..]
    );
}

#[tokio::test]
async fn cert_chain_endpoint() {
    let stack = start().await;
    let resp = reqwest::get(stack.url("/api/v1/timestamp/certchain"))
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/pem-certificate-chain"
    );
    let text = resp.text().await.unwrap();
    assert_eq!(text, stack.tsa.chain_pem());
    let chain = Certificate::parse_pem_chain(text.as_bytes()).unwrap();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0].issuer(), chain[1].subject());
}

fn openssl() -> Option<std::path::PathBuf> {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then(|| "openssl".into())
}

/// `openssl ts` as an independent oracle: it builds the request and verifies the reply
/// (CMS signature, ESS signingCertificateV2, critical timeStamping EKU, chain, nonce and
/// imprint). Skipped when openssl is not installed.
#[tokio::test]
async fn openssl_verifies_the_reply() {
    let Some(openssl) = openssl() else {
        eprintln!("openssl not installed: skipping the openssl oracle");
        return;
    };
    let stack = start().await;
    let dir = stack.dir.path();
    let data = dir.join("data.bin");
    let other = dir.join("other.bin");
    std::fs::write(&data, b"what the signer signed").unwrap();
    std::fs::write(&other, b"something else").unwrap();
    let chain = stack.tsa.chain_pem();
    let (leaf_pem, root_pem) =
        chain.split_at(chain.find("-----END CERTIFICATE-----\n").unwrap() + 26);
    std::fs::write(dir.join("root.pem"), root_pem).unwrap();
    std::fs::write(dir.join("leaf.pem"), leaf_pem).unwrap();
    let run = |args: &[&str]| {
        support::outcome(
            &Command::new(&openssl)
                .args(args)
                .current_dir(dir)
                .output()
                .unwrap(),
        )
    };
    let (ok, log) = run(&[
        "ts", "-query", "-data", "data.bin", "-sha256", "-cert", "-out", "req.tsq",
    ]);
    assert!(ok, "{log}");
    timestamp_file(&stack, dir, "req.tsq", "reply.tsr").await;

    let (ok, log) = run(&[
        "ts",
        "-verify",
        "-in",
        "reply.tsr",
        "-queryfile",
        "req.tsq",
        "-CAfile",
        "root.pem",
    ]);
    assert!(ok && log.contains("Verification: OK"), "{log}");
    let (ok, log) = run(&[
        "ts",
        "-verify",
        "-in",
        "reply.tsr",
        "-data",
        "data.bin",
        "-CAfile",
        "root.pem",
    ]);
    assert!(ok && log.contains("Verification: OK"), "{log}");
    let (ok, log) = run(&[
        "ts",
        "-verify",
        "-in",
        "reply.tsr",
        "-data",
        "other.bin",
        "-CAfile",
        "root.pem",
    ]);
    assert!(
        !ok && log.contains("message imprint mismatch"),
        "a different imprint must fail: {log}"
    );

    // Without certReq the signer certificate must come from outside.
    let (ok, log) = run(&[
        "ts",
        "-query",
        "-data",
        "data.bin",
        "-sha256",
        "-no_nonce",
        "-out",
        "bare.tsq",
    ]);
    assert!(ok, "{log}");
    timestamp_file(&stack, dir, "bare.tsq", "bare.tsr").await;
    let (ok, log) = run(&[
        "ts",
        "-verify",
        "-in",
        "bare.tsr",
        "-queryfile",
        "bare.tsq",
        "-CAfile",
        "root.pem",
        "-untrusted",
        "leaf.pem",
    ]);
    assert!(ok && log.contains("Verification: OK"), "{log}");
    let (ok, log) = run(&["ts", "-reply", "-in", "bare.tsr", "-text"]);
    assert!(
        ok && log.contains("Status: Granted") && log.contains("Nonce: unspecified"),
        "{log}"
    );
}
