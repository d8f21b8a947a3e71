//! RFC 3161 timestamps of the vendored sigstore-conformance cases
//! (`testdata/conformance`), verified against each case's `timestampAuthorities`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use proptest::prelude::*;
use serde_json::Value;
use signet_x509::timestamp::{
    HashAlgorithm, SignedTimestamp, TimestampAuthority, TimestampError, VerifiedTimestamp,
    parse_timestamp_response, verify_timestamp,
};
use signet_x509::{Certificate, TimeRange, UnixTime};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Standard base64, ignoring line breaks (one case wraps its timestamp at 64 columns).
fn b64(v: &Value) -> Vec<u8> {
    let s: String = v
        .as_str()
        .expect("base64 string")
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("valid base64")
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.frac]Z` to whole seconds.
fn rfc3339(s: &str) -> UnixTime {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().expect(s);
    assert!(s.ends_with('Z'), "{s}");
    let days = days_from_civil(n(0..4), n(5..7), n(8..10));
    UnixTime(days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19))
}

struct Case {
    timestamp: SignedTimestamp,
    /// What was timestamped: the bundle's signature bytes.
    signature: Vec<u8>,
    signing_cert: Certificate,
    authorities: Vec<TimestampAuthority>,
}

fn load_case(name: &str) -> Case {
    let dir = testdata().join(name);
    let bundle = read_json(&dir.join("bundle.sigstore.json"));
    let vm = &bundle["verificationMaterial"];
    let stamps = vm["timestampVerificationData"]["rfc3161Timestamps"]
        .as_array()
        .expect("rfc3161Timestamps");
    assert_eq!(stamps.len(), 1, "{name}");
    let timestamp = parse_timestamp_response(&b64(&stamps[0]["signedTimestamp"]))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    // sigstore-go timestamps the signature: messageSignature.signature or the
    // DSSE envelope's signatures[0].sig.
    let signature = if bundle["messageSignature"].is_object() {
        b64(&bundle["messageSignature"]["signature"])
    } else {
        b64(&bundle["dsseEnvelope"]["signatures"][0]["sig"])
    };
    let cert = if vm["certificate"].is_object() {
        &vm["certificate"]["rawBytes"]
    } else {
        &vm["x509CertificateChain"]["certificates"][0]["rawBytes"]
    };
    let signing_cert = Certificate::from_der(&b64(cert)).expect("signing cert parses");
    let root = read_json(&dir.join("trusted_root.json"));
    let authorities = root["timestampAuthorities"]
        .as_array()
        .expect("timestampAuthorities")
        .iter()
        .map(|tsa| {
            let chain = tsa["certChain"]["certificates"]
                .as_array()
                .expect("certificates")
                .iter()
                .map(|c| Certificate::from_der(&b64(&c["rawBytes"])).expect("TSA cert parses"))
                .collect();
            let valid_for = TimeRange {
                start: rfc3339(tsa["validFor"]["start"].as_str().expect("start")),
                end: tsa["validFor"]["end"].as_str().map(rfc3339),
            };
            TimestampAuthority::new(chain, valid_for).expect("non-empty chain")
        })
        .collect();
    Case {
        timestamp,
        signature,
        signing_cert,
        authorities,
    }
}

fn verify(name: &str) -> Result<VerifiedTimestamp, TimestampError> {
    let case = load_case(name);
    verify_timestamp(&case.timestamp, &case.signature, &case.authorities)
}

const POSITIVE: &[&str] = &[
    "rekor2-happy-path",
    "rekor2-dsse-happy-path",
    "rekor2-timestamp-with-embedded-cert",
    "rekor2-timestamp-without-embedded-cert",
    "rekor2-timestamp-with-expired-cert-chain",
    "trust-root-tsa-validity-end-inclusive",
    "rekor2-checkpoint-cosigned",
    "rekor2-checkpoint-multiple-cosigs",
    "rekor2-checkpoint-origin-not-first",
    "rekor2-checkpoint-two-sigs-cosigned",
    "rekor2-checkpoint-two-sigs-from-origin",
    "intoto-with-custom-trust-root",
    "bundle-with-sct-with-extensions",
];

#[test]
fn positive_cases_verify_and_lie_within_the_signing_certificate() {
    for name in POSITIVE {
        let case = load_case(name);
        let verified = verify_timestamp(&case.timestamp, &case.signature, &case.authorities)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.gen_time, case.timestamp.gen_time(), "{name}");
        assert!(
            case.signing_cert.is_valid_at(verified.gen_time),
            "{name}: genTime within the signing certificate"
        );
        assert!(
            case.authorities[verified.authority_index]
                .valid_for
                .contains(verified.gen_time)
        );
    }
}

#[test]
fn imprint_and_gen_time_are_exposed() {
    let case = load_case("rekor2-happy-path");
    let ts = &case.timestamp;
    assert_eq!(ts.imprint_algorithm(), HashAlgorithm::Sha256);
    assert_eq!(ts.imprint(), HashAlgorithm::Sha256.digest(&case.signature));
    // `openssl ts -reply -text`: "Jun 12 12:02:20 2025 GMT" (trust-root-tsa-validity-end-inclusive).
    assert_eq!(ts.gen_time(), rfc3339("2025-06-12T12:02:20Z"));
    assert_eq!(ts.certificates().len(), 1);
    let without = load_case("rekor2-timestamp-without-embedded-cert");
    assert!(without.timestamp.certificates().is_empty());
    let with = load_case("rekor2-timestamp-with-embedded-cert");
    assert_eq!(with.timestamp.certificates().len(), 1);
    assert_eq!(
        Some(&with.timestamp.certificates()[0]),
        with.authorities[0].chain().first()
    );
}

#[test]
fn end_of_tsa_window_is_inclusive() {
    let case = load_case("trust-root-tsa-validity-end-inclusive");
    assert_eq!(
        case.authorities[0].valid_for.end,
        Some(case.timestamp.gen_time())
    );
    assert!(verify_timestamp(&case.timestamp, &case.signature, &case.authorities).is_ok());
}

#[test]
fn expired_chain_is_checked_at_gen_time() {
    let case = load_case("rekor2-timestamp-with-expired-cert-chain");
    let leaf = case.authorities[0].chain()[0].clone();
    // The chain has expired since, but was valid when the timestamp was made.
    assert!(leaf.not_after() < UnixTime(1_767_225_600));
    assert!(leaf.is_valid_at(case.timestamp.gen_time()));
}

#[test]
fn outside_trust_root_tsa_validity() {
    let err = verify("rekor2-timestamp-outside-trust-root-tsa-validity_fail").unwrap_err();
    assert!(
        matches!(err, TimestampError::OutsideAuthorityValidity { .. }),
        "{err:?}"
    );
}

#[test]
fn outside_tsa_certificate_validity() {
    let err = verify("rekor2-timestamp-outside-tsa-cert-validity_fail").unwrap_err();
    assert!(
        matches!(err, TimestampError::TsaCertificateNotValidAt { .. }),
        "{err:?}"
    );
}

#[test]
fn payload_mismatch() {
    let err = verify("rekor2-timestamp-payload-mismatch_fail").unwrap_err();
    assert!(
        matches!(err, TimestampError::ImprintMismatch { .. }),
        "{err:?}"
    );
}

#[test]
fn untrusted_tsa_with_and_without_embedded_cert() {
    for name in [
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
    ] {
        let err = verify(name).unwrap_err();
        assert!(
            matches!(err, TimestampError::UntrustedTsa { .. }),
            "{name}: {err:?}"
        );
    }
}

/// The timestamp itself is valid; its genTime is outside the signing certificate's
/// validity, which the caller checks (sigstore-go: "cert is not valid at validation time").
#[test]
fn timestamps_outside_the_signing_certificate_are_the_callers_check() {
    for name in [
        "rekor2-timestamp-with-incorrect-time_fail",
        "intoto-tsa-timestamp-outside-cert-validity_fail",
    ] {
        let case = load_case(name);
        let verified = verify_timestamp(&case.timestamp, &case.signature, &case.authorities)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !case.signing_cert.is_valid_at(verified.gen_time),
            "{name}: genTime {} inside [{}, {}]",
            verified.gen_time,
            case.signing_cert.not_before(),
            case.signing_cert.not_after()
        );
    }
}

#[test]
fn wrong_data_and_no_authority_are_rejected() {
    let case = load_case("rekor2-happy-path");
    let err = verify_timestamp(&case.timestamp, b"other", &case.authorities).unwrap_err();
    assert!(
        matches!(err, TimestampError::ImprintMismatch { .. }),
        "{err:?}"
    );
    let err = verify_timestamp(&case.timestamp, &case.signature, &[]).unwrap_err();
    assert!(
        matches!(err, TimestampError::UntrustedTsa { .. }),
        "{err:?}"
    );
    // Another TSA's authorities (the mock TSA of the intoto cases).
    let other = load_case("intoto-with-custom-trust-root");
    let err = verify_timestamp(&case.timestamp, &case.signature, &other.authorities).unwrap_err();
    assert!(
        matches!(err, TimestampError::UntrustedTsa { .. }),
        "{err:?}"
    );
}

#[test]
fn bare_token_is_accepted() {
    let dir = testdata().join("rekor2-timestamp-with-embedded-cert");
    let bundle = read_json(&dir.join("bundle.sigstore.json"));
    let resp = b64(
        &bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"],
    );
    // TimeStampResp ::= SEQUENCE { PKIStatusInfo, ContentInfo }: strip the outer
    // header and the status to get the token.
    let (outer_header, _) = header(&resp);
    let body = &resp[outer_header..];
    let (status_header, status_len) = header(body);
    let token = &body[status_header + status_len..];
    let ts = parse_timestamp_response(token).expect("bare token parses");
    let case = load_case("rekor2-timestamp-with-embedded-cert");
    assert_eq!(ts.gen_time(), case.timestamp.gen_time());
    assert!(verify_timestamp(&ts, &case.signature, &case.authorities).is_ok());
}

/// (header length, content length) of a DER element.
fn header(der: &[u8]) -> (usize, usize) {
    let first = der[1];
    if first < 0x80 {
        (2, usize::from(first))
    } else {
        let n = usize::from(first & 0x7f);
        let len = der[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (2 + n, len)
    }
}

#[test]
fn tampered_signature_or_tst_info_fails() {
    let dir = testdata().join("rekor2-happy-path");
    let bundle = read_json(&dir.join("bundle.sigstore.json"));
    let resp = b64(
        &bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"],
    );
    let case = load_case("rekor2-happy-path");
    // Flip the last byte: inside the ECDSA signature's s value.
    let mut bad = resp.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x01;
    let ts = parse_timestamp_response(&bad).expect("still well-formed");
    let err = verify_timestamp(&ts, &case.signature, &case.authorities).unwrap_err();
    assert!(
        matches!(err, TimestampError::SignatureInvalid { .. }),
        "{err:?}"
    );
    // Change one byte of the TSTInfo serial number: message-digest no longer matches.
    let tst = case.timestamp.tst_info_der().to_vec();
    let at = resp
        .windows(tst.len())
        .position(|w| w == tst.as_slice())
        .expect("TSTInfo inside");
    let mut bad = resp.clone();
    // version(3 bytes) policy(...) imprint(...) serial: tweak the last byte of the TSTInfo instead.
    bad[at + tst.len() - 1] ^= 0x01;
    if let Ok(ts) = parse_timestamp_response(&bad) {
        let err = verify_timestamp(&ts, &case.signature, &case.authorities).unwrap_err();
        assert!(
            matches!(err, TimestampError::SignedAttributesMismatch { .. }),
            "{err:?}"
        );
    }
}

fn all_timestamps() -> Vec<Vec<u8>> {
    [
        "rekor2-happy-path",
        "rekor2-timestamp-with-embedded-cert",
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        "intoto-with-custom-trust-root",
    ]
    .iter()
    .map(|name| {
        let bundle = read_json(&testdata().join(name).join("bundle.sigstore.json"));
        b64(&bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
            [0]["signedTimestamp"])
    })
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_timestamp_response(&data);
    }

    #[test]
    fn mutated_timestamps_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        truncate in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut data = all_timestamps()[which].clone();
        for (index, byte) in edits {
            let i = index.index(data.len());
            data[i] = byte;
        }
        if let Some(t) = truncate {
            data.truncate(t.index(data.len()));
        }
        if let Ok(ts) = parse_timestamp_response(&data) {
            let _ = (ts.gen_time(), ts.imprint(), ts.certificates());
            let case = load_case("rekor2-happy-path");
            let _ = verify_timestamp(&ts, &case.signature, &case.authorities);
        }
    }
}
