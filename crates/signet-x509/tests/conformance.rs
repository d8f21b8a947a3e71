//! Tests against the vendored Sigstore conformance cases (testdata/conformance) and the
//! production trusted root. JSON is read with `serde_json::Value` so that these tests do
//! not depend on signet-formats.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde_json::Value;
use signet_crypto::PublicKey;
use signet_x509::{
    Certificate, CertificateAuthority, ChainError, ChainPosition, CtLog, IdentityError,
    IdentityMatcher, San, SctError, StringMatcher, TimeRange, UnixTime, parse_embedded_scts,
    verify_chain, verify_embedded_scts,
};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// Conformance cases that must pass and carry a Fulcio certificate.
const HAPPY_CASES: &[&str] = &[
    "bundle-with-sct-with-extensions",
    "happy-path-intoto-in-dsse-v3",
    "happy-path-v0.1",
    "happy-path-v0.2",
    "happy-path-v0.3",
    "happy-path-v0.3-new-mediaType",
    "intoto-with-custom-trust-root",
    "rekor2-checkpoint-cosigned",
    "rekor2-checkpoint-multiple-cosigs",
    "rekor2-checkpoint-origin-not-first",
    "rekor2-checkpoint-two-sigs-cosigned",
    "rekor2-checkpoint-two-sigs-from-origin",
    "rekor2-dsse-happy-path",
    "rekor2-happy-path",
    "rekor2-timestamp-with-embedded-cert",
    "rekor2-timestamp-with-expired-cert-chain",
    "rekor2-timestamp-without-embedded-cert",
    "trust-root-tlog-validity-end-inclusive",
    "trust-root-tsa-validity-end-inclusive",
];

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance")
}

fn production_root_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../signet-formats/trust/production_trusted_root.json")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn b64(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().expect("base64 string"))
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

/// `YYYY-MM-DDTHH:MM:SS[.frac]Z` to whole seconds (fractions dropped).
fn rfc3339(s: &str) -> UnixTime {
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().expect(s);
    assert!(s.ends_with('Z'), "{s}");
    let days = days_from_civil(n(0..4), n(5..7), n(8..10));
    UnixTime(days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19))
}

fn time_range(valid_for: &Value) -> TimeRange {
    TimeRange {
        start: rfc3339(valid_for["start"].as_str().expect("start")),
        end: valid_for["end"].as_str().map(rfc3339),
    }
}

struct Trust {
    authorities: Vec<CertificateAuthority>,
    ctlogs: Vec<CtLog>,
}

fn load_trust(path: &Path) -> Trust {
    let root = read_json(path);
    let authorities = root["certificateAuthorities"]
        .as_array()
        .expect("certificateAuthorities")
        .iter()
        .map(|ca| {
            let chain = ca["certChain"]["certificates"]
                .as_array()
                .expect("certificates")
                .iter()
                .map(|c| Certificate::from_der(&b64(&c["rawBytes"])).expect("CA cert parses"))
                .collect();
            CertificateAuthority::new(chain, time_range(&ca["validFor"])).expect("non-empty")
        })
        .collect();
    let ctlogs = root["ctlogs"]
        .as_array()
        .expect("ctlogs")
        .iter()
        .map(|log| {
            let raw = b64(&log["publicKey"]["rawBytes"]);
            let key = if log["publicKey"]["keyDetails"]
                .as_str()
                .is_some_and(|d| d.starts_with("PKCS1_"))
            {
                // Real Sigstore roots carry one PKCS#1 RSA CT key (sigstage "test" log).
                let pem = format!(
                    "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
                    base64::engine::general_purpose::STANDARD.encode(&raw)
                );
                PublicKey::from_pem(pem.as_bytes()).expect("pkcs1 key")
            } else {
                PublicKey::from_spki_der(&raw).expect("key")
            };
            let computed = CtLog::new(key, time_range(&log["publicKey"]["validFor"]));
            // RFC 6962 log ID = SHA-256 of the SPKI: must agree with the trusted root
            // (for the PKCS#1 key, of the SPKI that wraps it).
            assert_eq!(
                computed.log_id.as_bytes().as_slice(),
                b64(&log["logId"]["keyId"]).as_slice(),
                "log id of {}",
                log["baseUrl"]
            );
            computed
        })
        .collect();
    Trust {
        authorities,
        ctlogs,
    }
}

struct Case {
    name: String,
    leaf: Certificate,
    intermediates: Vec<Certificate>,
    /// The tlog integrated time, or the leaf's notBefore for Rekor v2 entries (no integrated time).
    at: UnixTime,
    trust: Trust,
}

fn load_case(name: &str) -> Case {
    let dir = testdata().join(name);
    let bundle = read_json(&dir.join("bundle.sigstore.json"));
    let vm = &bundle["verificationMaterial"];
    let mut certs: Vec<Certificate> = if vm["certificate"].is_object() {
        vec![Certificate::from_der(&b64(&vm["certificate"]["rawBytes"])).expect("leaf parses")]
    } else {
        vm["x509CertificateChain"]["certificates"]
            .as_array()
            .expect("chain")
            .iter()
            .map(|c| Certificate::from_der(&b64(&c["rawBytes"])).expect("chain cert parses"))
            .collect()
    };
    let leaf = certs.remove(0);
    let integrated = vm["tlogEntries"][0]["integratedTime"]
        .as_str()
        .map(|s| s.parse::<i64>().expect("integer"))
        .filter(|t| *t != 0);
    let at = integrated.map_or(leaf.not_before(), UnixTime);
    let root_path = dir.join("trusted_root.json");
    let trust = load_trust(&if root_path.exists() {
        root_path
    } else {
        production_root_path()
    });
    Case {
        name: name.to_owned(),
        leaf,
        intermediates: certs,
        at,
        trust,
    }
}

/// Every certificate in every case folder and trusted root parses, and the leaf accessors work.
#[test]
fn every_conformance_certificate_parses() {
    let mut leaves = 0;
    let mut ca_certs = 0;
    for entry in std::fs::read_dir(testdata()).unwrap() {
        let dir = entry.unwrap().path();
        let bundle_path = dir.join("bundle.sigstore.json");
        let Ok(text) = std::fs::read_to_string(&bundle_path) else {
            continue;
        };
        let Ok(bundle) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let vm = &bundle["verificationMaterial"];
        let mut raws = Vec::new();
        if vm["certificate"].is_object() {
            raws.push(&vm["certificate"]["rawBytes"]);
        }
        if let Some(chain) = vm["x509CertificateChain"]["certificates"].as_array() {
            raws.extend(chain.iter().map(|c| &c["rawBytes"]));
        }
        for raw in raws {
            let cert = Certificate::from_der(&b64(raw))
                .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            assert!(cert.not_before() < cert.not_after());
            cert.public_key().expect("public key usable");
            if cert.is_ca() {
                ca_certs += 1;
            } else {
                leaves += 1;
                assert!(
                    !cert.subject_alternative_names().is_empty(),
                    "{}",
                    dir.display()
                );
                assert!(
                    cert.fulcio_extensions().issuer.is_some(),
                    "{}",
                    dir.display()
                );
            }
        }
        if dir.join("trusted_root.json").exists() {
            let trust = load_trust(&dir.join("trusted_root.json"));
            ca_certs += trust
                .authorities
                .iter()
                .map(|a| a.chain().len())
                .sum::<usize>();
        }
    }
    assert!(leaves >= 60, "only {leaves} leaves found");
    eprintln!("parsed {leaves} leaf certificates and {ca_certs} CA certificates");
}

#[test]
fn happy_paths_chain_sct_and_identity() {
    let identity = IdentityMatcher::exact(DEFAULT_IDENTITY, DEFAULT_ISSUER);
    for name in HAPPY_CASES {
        let case = load_case(name);
        let chain = verify_chain(
            &case.leaf,
            &case.intermediates,
            &case.trust.authorities,
            case.at,
        )
        .unwrap_or_else(|e| panic!("{}: chain: {e}", case.name));
        assert_eq!(chain.certificates[0], case.leaf);
        assert!(chain.certificates.len() >= 2, "{}", case.name);
        assert_eq!(
            chain.certificates.last().unwrap(),
            case.trust.authorities[chain.authority_index].root()
        );
        let scts = verify_embedded_scts(&case.leaf, chain.issuer(), &case.trust.ctlogs)
            .unwrap_or_else(|e| panic!("{}: sct: {e}", case.name));
        assert!(!scts.verified.is_empty());
        let san = identity
            .verify(&case.leaf)
            .unwrap_or_else(|e| panic!("{}: identity: {e}", case.name));
        assert_eq!(san, &San::Uri(DEFAULT_IDENTITY.to_owned()));
    }
}

#[test]
fn github_fulcio_extensions_are_read() {
    let case = load_case("happy-path-v0.3");
    let ext = case.leaf.fulcio_extensions();
    assert_eq!(ext.issuer.as_deref(), Some(DEFAULT_ISSUER));
    assert_eq!(
        ext.source_repository_uri.as_deref(),
        Some("https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon")
    );
    assert_eq!(ext.github_workflow_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(
        ext.source_repository_ref.as_deref(),
        Some("refs/heads/main")
    );
    assert_eq!(ext.runner_environment.as_deref(), Some("github-hosted"));
    assert_eq!(ext.build_signer_uri.as_deref(), Some(DEFAULT_IDENTITY));
    // 1.3 (raw) and 1.13 (UTF8String) both hold the commit SHA.
    assert!(ext.github_workflow_sha.is_some());
    assert_eq!(ext.github_workflow_sha, ext.source_repository_digest);
    assert!(!case.leaf.is_ca());
    assert!(case.leaf.has_code_signing_eku());
    assert_eq!(case.leaf.not_after().0 - case.leaf.not_before().0, 600);
}

#[test]
fn sct_with_extensions_is_accepted() {
    let case = load_case("bundle-with-sct-with-extensions");
    let scts = parse_embedded_scts(&case.leaf).unwrap();
    assert!(scts.iter().any(|s| !s.extensions.is_empty()));
    let chain = verify_chain(
        &case.leaf,
        &case.intermediates,
        &case.trust.authorities,
        case.at,
    )
    .unwrap();
    let verified = verify_embedded_scts(&case.leaf, chain.issuer(), &case.trust.ctlogs).unwrap();
    assert_eq!(verified.verified.len(), 1);
}

/// `invalid-ct-key_fail`: the case's trusted root holds only *staging* CT keys, while
/// the bundle's SCT is from the production log, so no trusted log has the SCT's log ID.
/// sigstore-go skips unknown logs and then fails the threshold, which is what we do.
/// (sigstore-python instead tries every key when the ID is unknown and reports
/// "invalid signature".)
#[test]
fn invalid_ct_key_case_has_no_verified_sct() {
    let case = load_case("invalid-ct-key_fail");
    let chain = verify_chain(
        &case.leaf,
        &case.intermediates,
        &case.trust.authorities,
        case.at,
    )
    .unwrap();
    let err = verify_embedded_scts(&case.leaf, chain.issuer(), &case.trust.ctlogs).unwrap_err();
    assert_eq!(
        err,
        SctError::NoVerifiedSct {
            total: 1,
            unknown_log: 1,
            outside_validity: 0
        }
    );
}

/// The intent of `invalid-ct-key_fail`, made exact: the trusted root names the SCT's
/// log ID but with another key. That is a signature mismatch, not a skip.
#[test]
fn trusted_log_id_with_wrong_key_is_a_signature_mismatch() {
    let case = load_case("invalid-ct-key_fail");
    let production = load_trust(&production_root_path());
    let sct = &parse_embedded_scts(&case.leaf).unwrap()[0];
    assert!(production.ctlogs.iter().any(|l| l.log_id == sct.log_id));
    // The staging "2022-2" key, under the production log's ID.
    let wrong_key = case.trust.ctlogs[2].key.clone();
    let logs = [CtLog {
        log_id: sct.log_id,
        key: wrong_key,
        valid_for: TimeRange::starting_at(UnixTime(0)),
    }];
    let chain = verify_chain(
        &case.leaf,
        &case.intermediates,
        &production.authorities,
        case.at,
    )
    .unwrap();
    let err = verify_embedded_scts(&case.leaf, chain.issuer(), &logs).unwrap_err();
    assert_eq!(
        err,
        SctError::SignatureMismatch {
            log_id: sct.log_id,
            timestamp_millis: sct.timestamp_millis
        }
    );
    // And with the right key it verifies.
    verify_embedded_scts(&case.leaf, chain.issuer(), &production.ctlogs).unwrap();
}

#[test]
fn sct_from_unknown_log_is_not_enough() {
    let case = load_case("happy-path-v0.3");
    let chain = verify_chain(
        &case.leaf,
        &case.intermediates,
        &case.trust.authorities,
        case.at,
    )
    .unwrap();
    let err = verify_embedded_scts(&case.leaf, chain.issuer(), &[]).unwrap_err();
    assert_eq!(
        err,
        SctError::NoVerifiedSct {
            total: 1,
            unknown_log: 1,
            outside_validity: 0
        }
    );
}

#[test]
fn sct_outside_log_window_is_not_counted() {
    let case = load_case("happy-path-v0.3");
    let chain = verify_chain(
        &case.leaf,
        &case.intermediates,
        &case.trust.authorities,
        case.at,
    )
    .unwrap();
    let sct_time = parse_embedded_scts(&case.leaf).unwrap()[0].time();
    let closed_logs: Vec<CtLog> = case
        .trust
        .ctlogs
        .iter()
        .map(|l| CtLog {
            valid_for: TimeRange {
                start: UnixTime(0),
                end: Some(UnixTime(sct_time.0 - 1)),
            },
            ..l.clone()
        })
        .collect();
    let err = verify_embedded_scts(&case.leaf, chain.issuer(), &closed_logs).unwrap_err();
    assert!(
        matches!(
            err,
            SctError::NoVerifiedSct {
                outside_validity: 1,
                ..
            }
        ),
        "{err:?}"
    );
    // The window is closed: ending exactly at the SCT second still counts.
    let edge_logs: Vec<CtLog> = closed_logs
        .iter()
        .map(|l| CtLog {
            valid_for: TimeRange {
                start: UnixTime(0),
                end: Some(sct_time),
            },
            ..l.clone()
        })
        .collect();
    verify_embedded_scts(&case.leaf, chain.issuer(), &edge_logs).unwrap();
}

#[test]
fn sct_with_wrong_issuer_key_fails() {
    // The issuer key hash is part of the signed data: using the leaf as "issuer" must fail.
    let case = load_case("happy-path-v0.3");
    let err = verify_embedded_scts(&case.leaf, &case.leaf, &case.trust.ctlogs).unwrap_err();
    assert!(matches!(err, SctError::SignatureMismatch { .. }), "{err:?}");
}

#[test]
fn sct_required() {
    // A CA certificate has no SCT list.
    let case = load_case("happy-path-v0.3");
    let root = case.trust.authorities[0].root();
    assert_eq!(
        verify_embedded_scts(root, root, &case.trust.ctlogs).unwrap_err(),
        SctError::MissingSctList
    );
}

#[test]
fn chain_outside_leaf_validity_is_rejected() {
    for name in HAPPY_CASES {
        let case = load_case(name);
        for at in [
            UnixTime(case.leaf.not_before().0 - 1),
            UnixTime(case.leaf.not_after().0 + 1),
        ] {
            let err = verify_chain(&case.leaf, &case.intermediates, &case.trust.authorities, at)
                .unwrap_err();
            assert_eq!(
                err,
                ChainError::NotValidAt {
                    position: ChainPosition::Leaf,
                    not_before: case.leaf.not_before(),
                    not_after: case.leaf.not_after(),
                    at,
                },
                "{name}"
            );
        }
        // Both ends are inclusive.
        for at in [case.leaf.not_before(), case.leaf.not_after()] {
            verify_chain(&case.leaf, &case.intermediates, &case.trust.authorities, at)
                .unwrap_or_else(|e| panic!("{name} at {at}: {e}"));
        }
    }
}

#[test]
fn still_valid_at_agrees_with_verify_chain() {
    // The shortcut for a second observed time must never accept a time that a full
    // verification rejects, and must accept the times a full verification accepts on
    // the same path.
    for name in HAPPY_CASES {
        let case = load_case(name);
        let chain = verify_chain(
            &case.leaf,
            &case.intermediates,
            &case.trust.authorities,
            case.at,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (nb, na) = (case.leaf.not_before().0, case.leaf.not_after().0);
        for t in [
            nb - 1,
            nb,
            nb + 1,
            (nb + na) / 2,
            na - 1,
            na,
            na + 1,
            0,
            i64::MAX / 2,
        ] {
            let at = UnixTime(t);
            let full = verify_chain(&case.leaf, &case.intermediates, &case.trust.authorities, at);
            let quick = chain.still_valid_at(&case.trust.authorities, at);
            if quick {
                assert!(
                    full.is_ok(),
                    "{name} at {t}: shortcut accepted, full says {full:?}"
                );
            }
            if full
                .as_ref()
                .is_ok_and(|c| c.authority_index == chain.authority_index)
            {
                assert!(
                    quick,
                    "{name} at {t}: full accepted on the same path, shortcut did not"
                );
            }
        }
        // An authority index that does not exist never passes.
        assert!(!chain.still_valid_at(&[], case.at), "{name}");
    }
}

#[test]
fn expired_certificate_cases_are_rejected() {
    for name in [
        "intoto-expired-certificate_fail",
        "intoto-set-outside-signing-cert-validity_fail",
    ] {
        let case = load_case(name);
        let err = verify_chain(
            &case.leaf,
            &case.intermediates,
            &case.trust.authorities,
            case.at,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                ChainError::NotValidAt {
                    position: ChainPosition::Leaf,
                    ..
                }
            ),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn staging_leaf_is_untrusted_by_production() {
    let case = load_case("bundle-from-wrong-instance_fail");
    let err = verify_chain(
        &case.leaf,
        &case.intermediates,
        &case.trust.authorities,
        case.at,
    )
    .unwrap_err();
    assert!(matches!(err, ChainError::Untrusted { .. }), "{err:?}");
    // Its SCT is from the staging log too: unknown to production.
    let issuer = &case.trust.authorities[1].intermediates()[0];
    assert!(matches!(
        verify_embedded_scts(&case.leaf, issuer, &case.trust.ctlogs).unwrap_err(),
        SctError::NoVerifiedSct { unknown_log: 1, .. }
    ));
}

#[test]
fn authority_window_must_contain_the_time() {
    let case = load_case("happy-path-v0.3");
    // Close every authority's window one second before the signing time.
    let closed: Vec<CertificateAuthority> = case
        .trust
        .authorities
        .iter()
        .map(|a| {
            CertificateAuthority::new(
                a.chain().to_vec(),
                TimeRange {
                    start: a.valid_for.start,
                    end: Some(UnixTime(case.at.0 - 1)),
                },
            )
            .unwrap()
        })
        .collect();
    let err = verify_chain(&case.leaf, &case.intermediates, &closed, case.at).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::NoAuthorityValidAt { .. } | ChainError::Untrusted { .. }
        ),
        "{err:?}"
    );
    // Ending exactly at `at` is inside (closed interval).
    let edge: Vec<CertificateAuthority> = closed
        .iter()
        .map(|a| {
            CertificateAuthority::new(
                a.chain().to_vec(),
                TimeRange {
                    start: a.valid_for.start,
                    end: Some(case.at),
                },
            )
            .unwrap()
        })
        .collect();
    verify_chain(&case.leaf, &case.intermediates, &edge, case.at).unwrap();
    // No authorities at all.
    assert_eq!(
        verify_chain(&case.leaf, &case.intermediates, &[], case.at).unwrap_err(),
        ChainError::NoAuthorityValidAt {
            authorities: 0,
            at: case.at
        }
    );
}

#[test]
fn leaf_must_not_be_a_ca_nor_lack_code_signing() {
    let case = load_case("happy-path-v0.3");
    let authority = &case.trust.authorities[1];
    let intermediate = &authority.intermediates()[0];
    // An intermediate presented as the leaf is a CA.
    assert_eq!(
        verify_chain(intermediate, &[], &case.trust.authorities, case.at).unwrap_err(),
        ChainError::LeafIsCa
    );
}

#[test]
fn identity_mismatches_are_typed() {
    let case = load_case("happy-path-v0.3");
    let wrong_san = IdentityMatcher::exact("someone@example.com", DEFAULT_ISSUER);
    assert!(matches!(
        wrong_san.verify(&case.leaf).unwrap_err(),
        IdentityError::SubjectMismatch { .. }
    ));
    let wrong_issuer = IdentityMatcher::exact(DEFAULT_IDENTITY, "https://accounts.google.com");
    assert_eq!(
        wrong_issuer.verify(&case.leaf).unwrap_err(),
        IdentityError::IssuerMismatch {
            expected: StringMatcher::Exact("https://accounts.google.com".into()),
            actual: DEFAULT_ISSUER.into()
        }
    );
    let regex = IdentityMatcher {
        subject: StringMatcher::regex("^https://github\\.com/sigstore-conformance/").unwrap(),
        issuer: StringMatcher::regex("^https://token\\.actions\\.githubusercontent\\.com$")
            .unwrap(),
    };
    regex.verify(&case.leaf).unwrap();
    // A prefix without `$` also matches the issuer (unanchored, as Go's MatchString).
    let prefix = IdentityMatcher {
        subject: StringMatcher::regex("extremely-dangerous").unwrap(),
        issuer: StringMatcher::regex("token\\.actions").unwrap(),
    };
    prefix.verify(&case.leaf).unwrap();
}

#[test]
fn email_identity_of_google_account() {
    let case = load_case("integrated-time-in-future_fail");
    let id = IdentityMatcher::exact(
        "untrusted-sa@sigstore-conformance.iam.gserviceaccount.com",
        "https://accounts.google.com",
    );
    assert_eq!(
        id.verify(&case.leaf).unwrap(),
        &San::Email("untrusted-sa@sigstore-conformance.iam.gserviceaccount.com".into())
    );
}

#[test]
fn pem_chain_round_trip() {
    let case = load_case("happy-path-v0.1");
    let mut pem = String::new();
    for cert in std::iter::once(&case.leaf).chain(&case.intermediates) {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let b = base64::engine::general_purpose::STANDARD.encode(cert.der());
        for line in b.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    let parsed = Certificate::parse_pem_chain(pem.as_bytes()).unwrap();
    assert_eq!(parsed.len(), 1 + case.intermediates.len());
    assert_eq!(parsed[0], case.leaf);
    assert!(matches!(
        Certificate::parse_pem_chain(b"no pem here").unwrap_err(),
        signet_x509::CertificateError::EmptyPemChain
    ));
}
