//! Tests of the checks closed after the first verifier (envelope hashes, Rekor v2
//! checkpoint origins, Rekor v2 log key windows) and of the cache, which must give the
//! same result as no cache on all 140 conformance checks, in any order.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;
use signet_formats::Digest;
use signet_formats::sigstore::{Bundle, BundleContent, TrustedRoot, UnixTime, ValidityWindow};
use signet_x509::IdentityMatcher;

use super::*;

const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISS: &str = "https://token.actions.githubusercontent.com";

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance")
}

fn read(path: &str) -> Vec<u8> {
    let p = dir().join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn bundle(case: &str) -> Bundle {
    Bundle::parse(&read(&format!("{case}/bundle.sigstore.json"))).expect("bundle parses")
}

fn root(case: &str) -> TrustedRoot {
    TrustedRoot::parse(&read(&format!("{case}/trusted_root.json"))).expect("root")
}

fn identity() -> Policy {
    Policy::Identity(IdentityMatcher::exact(ID, ISS))
}

fn set_keyid(b: &mut Bundle, keyid: &str) {
    let BundleContent::DsseEnvelope(env) = &mut b.content else {
        panic!("not a DSSE bundle");
    };
    env.signatures[0].keyid = Some(keyid.into());
}

#[test]
fn dsse_entries_bind_the_payload_and_signature_not_unsigned_fields() {
    let a = read("a.txt");
    let v = BundleVerifier::production().expect("root");
    let mut b = bundle("happy-path-intoto-in-dsse-v3");
    v.verify(&b, Artifact::Bytes(&a), &identity())
        .expect("as logged");
    // An unsigned keyid is not part of what was signed or logged as a hash we compare
    // (sigstore-go, -python and -js accept it too).
    set_keyid(&mut b, "unsigned");
    v.verify(&b, Artifact::Bytes(&a), &identity())
        .expect("a keyid changes nothing signed");
    // The payload is: the logged payload hash no longer matches.
    let BundleContent::DsseEnvelope(env) = &mut b.content else {
        panic!("not a DSSE bundle");
    };
    env.payload.push(b' ');
    let err = v
        .verify(&b, Artifact::Bytes(&a), &identity())
        .expect_err("another payload than the logged one");
    assert!(
        matches!(
            &err,
            BundleError::TlogBodyMismatch {
                field: BodyField::Digest,
                detail,
                ..
            } if detail.starts_with("dsse payload hash")
        ),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Mismatch);
}

/// The Rekor v2 log of the rekor2 cases' roots.
const REKOR2_HOST: &str = "log2025-alpha1.rekor.sigstage.dev";

fn rekor2_root(
    edit: impl Fn(&mut signet_formats::sigstore::TransparencyLogInstance),
) -> BundleVerifier {
    let mut r = root("rekor2-happy-path");
    let log = r
        .tlogs
        .iter_mut()
        .find(|t| t.base_url.contains(REKOR2_HOST))
        .expect("the v2 log");
    edit(log);
    BundleVerifier::new(&r).expect("root loads")
}

#[test]
fn rekor_v2_checkpoint_must_come_from_the_logs_host() {
    let a = read("a.txt");
    let b = bundle("rekor2-happy-path");
    rekor2_root(|_| {})
        .verify(&b, Artifact::Bytes(&a), &identity())
        .expect("as is");
    // The same key under another host: the checkpoint is not that log's.
    let err = rekor2_root(|l| l.base_url = "https://log.example.com".into())
        .verify(&b, Artifact::Bytes(&a), &identity())
        .expect_err("another host");
    assert!(
        matches!(
            err,
            BundleError::CheckpointUnverified { .. } | BundleError::CheckpointOriginMismatch { .. }
        ),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Untrusted);
    // No baseUrl: nothing to compare the origin with, so refused.
    let err = rekor2_root(|l| l.base_url = String::new())
        .verify(&b, Artifact::Bytes(&a), &identity())
        .expect_err("no host");
    assert!(
        matches!(err, BundleError::CheckpointLogWithoutHost { entry: 0, .. }),
        "{err}"
    );
    // A host with a port and a path is still that host.
    rekor2_root(|l| l.base_url = format!("https://{REKOR2_HOST}:443/api"))
        .verify(&b, Artifact::Bytes(&a), &identity())
        .expect("port and path ignored");
}

#[test]
fn rekor_v1_checkpoint_origin_is_not_compared_as_in_sigstore_go() {
    // sigstore-go verifies a Rekor v1 checkpoint's signature only (rekor's
    // VerifyCheckpointSignature); so does signet.
    let mut r = signet_formats::sigstore::trust::production_trusted_root();
    for t in &mut r.tlogs {
        t.base_url = "https://elsewhere.example".into();
    }
    BundleVerifier::new(&r)
        .expect("root")
        .verify(
            &bundle("happy-path-v0.3"),
            Artifact::Bytes(&read("a.txt")),
            &identity(),
        )
        .expect("v1 origins are not compared");
}

#[test]
fn rekor_v2_log_key_must_be_valid_at_the_timestamp() {
    let a = read("a.txt");
    let b = bundle("rekor2-happy-path");
    let window = |start: i64, end: Option<i64>| {
        ValidityWindow::new("test", UnixTime(start), end.map(UnixTime)).expect("window")
    };
    // Opened after the bundle was timestamped (2030).
    let err = rekor2_root(|l| l.public_key.valid_for = window(1_893_456_000, None))
        .verify(&b, Artifact::Bytes(&a), &identity())
        .expect_err("log key not yet valid");
    assert!(
        matches!(err, BundleError::LogKeyNotValidAtTimestamp { entry: 0, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Untrusted);
    // Closed before it (2025-04-17).
    let err = rekor2_root(|l| l.public_key.valid_for = window(1_744_761_600, Some(1_744_848_000)))
        .verify(&b, Artifact::Bytes(&a), &identity())
        .expect_err("log key expired");
    assert!(
        matches!(err, BundleError::LogKeyNotValidAtTimestamp { .. }),
        "{err}"
    );
}

#[test]
fn host_names_and_rekor_v1_origins() {
    assert_eq!(
        url_host("https://rekor.sigstore.dev").as_deref(),
        Some("rekor.sigstore.dev")
    );
    assert_eq!(
        url_host("http://u:p@localhost:8000/x?y").as_deref(),
        Some("localhost")
    );
    assert_eq!(url_host("https://[::1]:3000/").as_deref(), Some("::1"));
    assert_eq!(url_host("rekor-local").as_deref(), Some("rekor-local"));
    assert_eq!(url_host(""), None);
    let note = |origin: &str| format!("{origin}\n1\nAAAA\n\n\u{2014} x AAAA\n");
    assert!(tlog::has_rekor_v1_origin(&note(
        "rekor.sigstore.dev - 2605736670972794746"
    )));
    assert!(tlog::has_rekor_v1_origin(&note("localhost:8000 - 1")));
    assert!(!tlog::has_rekor_v1_origin(&note(
        "log2025-alpha1.rekor.sigstage.dev"
    )));
    assert!(!tlog::has_rekor_v1_origin(&note("host -1")));
    assert!(!tlog::has_rekor_v1_origin(&note("host - ")));
    assert!(!tlog::has_rekor_v1_origin("rekor.sigstore.dev - 1\n1\n"));
}

// ---- the cache ------------------------------------------------------------------

/// One conformance check: a case in PATH or DIGEST form.
struct Check {
    name: String,
    expected_pass: bool,
    root: Option<String>,
    bundle: Result<Bundle, String>,
    artifact: Result<Vec<u8>, Digest>,
    policy: Result<Policy, String>,
}

fn checks() -> Vec<Check> {
    let manifest: Value =
        serde_json::from_slice(&read("manifest.json")).expect("manifest.json is JSON");
    let mut out = Vec::new();
    for c in manifest["cases"].as_array().expect("cases") {
        let s = |k: &str| c[k].as_str().map(str::to_owned);
        let name = s("case").expect("name");
        let bundle = Bundle::parse(&read(&s("bundle").expect("bundle"))).map_err(|e| e.to_string());
        let policy = match s("key") {
            Some(k) => PublicKey::from_pem(&read(&k))
                .map(Policy::Key)
                .map_err(|e| e.to_string()),
            None => Ok(Policy::Identity(IdentityMatcher::exact(
                s("identity").expect("identity"),
                s("issuer").expect("issuer"),
            ))),
        };
        let artifact = read(&s("artifact").expect("artifact"));
        for digest in [false, true] {
            out.push(Check {
                name: format!("{}{name}", if digest { "DIGEST " } else { "PATH " }),
                expected_pass: s("expected").as_deref() == Some("pass"),
                root: s("trusted_root"),
                bundle: bundle.clone(),
                artifact: if digest {
                    Err(Digest::sha256_of(&artifact))
                } else {
                    Ok(artifact.clone())
                },
                policy: policy.clone(),
            });
        }
    }
    out
}

type Verdict = Result<VerifiedBundle, String>;

/// Verifiers per trusted root (None = production), with or without a cache.
fn verifiers(
    checks: &[Check],
    cached: bool,
) -> HashMap<Option<String>, Result<BundleVerifier, String>> {
    let mut out = HashMap::new();
    for c in checks {
        out.entry(c.root.clone()).or_insert_with(|| {
            let root = match &c.root {
                Some(p) => TrustedRoot::parse(&read(p)).map_err(|e| e.to_string())?,
                None => signet_formats::sigstore::trust::production_trusted_root(),
            };
            let v = BundleVerifier::new(&root).map_err(|e| e.to_string())?;
            Ok(if cached { v.with_cache() } else { v })
        });
    }
    out
}

fn run(
    check: &Check,
    verifiers: &HashMap<Option<String>, Result<BundleVerifier, String>>,
    now: UnixTime,
) -> Verdict {
    let v = verifiers[&check.root].as_ref().map_err(Clone::clone)?;
    let bundle = check.bundle.as_ref().map_err(Clone::clone)?;
    let policy = check.policy.as_ref().map_err(Clone::clone)?;
    let artifact = match &check.artifact {
        Ok(bytes) => Artifact::Bytes(bytes),
        Err(d) => Artifact::Sha256(d.clone()),
    };
    // The whole error, not just the verdict: the cache must not change either.
    v.verify_at(bundle, artifact, policy, now)
        .map_err(|e| format!("{e:?}"))
}

#[test]
fn cache_never_changes_a_verdict_on_the_140_conformance_checks() {
    let checks = checks();
    assert_eq!(checks.len(), 140);
    let now = UnixTime(
        i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs(),
        )
        .expect("time"),
    );

    let plain = verifiers(&checks, false);
    let expected: Vec<Verdict> = checks.iter().map(|c| run(c, &plain, now)).collect();
    for (c, v) in checks.iter().zip(&expected) {
        assert_eq!(v.is_ok(), c.expected_pass, "{}: {v:?}", c.name);
    }

    // In order, each check once, with a fresh cache per root.
    let cached = verifiers(&checks, true);
    for (i, c) in checks.iter().enumerate() {
        assert_eq!(run(c, &cached, now), expected[i], "cached: {}", c.name);
    }

    // Shuffled, three rounds through one shared cache (a fixed LCG order: reproducible),
    // with a cache so small that tables are emptied as it goes, and a roomy one.
    for capacity in [3, DEFAULT_CACHE_CAPACITY] {
        let shared: HashMap<_, _> = verifiers(&checks, false)
            .into_iter()
            .map(|(k, v)| (k, v.map(|v| v.with_cache_capacity(capacity))))
            .collect();
        let mut order: Vec<usize> = (0..checks.len()).collect();
        let mut seed: u64 = 0x5eed_0f51_670e;
        for _round in 0..3 {
            for i in (1..order.len()).rev() {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let j = usize::try_from(seed >> 33).expect("fits") % (i + 1);
                order.swap(i, j);
            }
            for &i in &order {
                assert_eq!(
                    run(&checks[i], &shared, now),
                    expected[i],
                    "shuffled, capacity {capacity}: {}",
                    checks[i].name
                );
            }
        }
        let hits: u64 = shared
            .values()
            .filter_map(|v| v.as_ref().ok().and_then(BundleVerifier::cache_stats))
            .map(|s| s.hits)
            .sum();
        assert!(hits > 0, "the cache was used (capacity {capacity})");
    }
}

#[test]
fn cached_verifier_is_send_and_sync_and_shared_by_clones() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let v = BundleVerifier::production().expect("root").with_cache();
    send_sync(&v);
    let a = read("a.txt");
    let b = bundle("happy-path-v0.3");
    let clone = v.clone();
    std::thread::scope(|s| {
        s.spawn(|| {
            clone
                .verify(&b, Artifact::Bytes(&a), &identity())
                .expect("thread")
        });
    });
    let before = v.cache_stats().expect("cache");
    v.verify(&b, Artifact::Bytes(&a), &identity())
        .expect("again");
    let after = v.cache_stats().expect("cache");
    // chain, SCTs, checkpoint and SET came from what the clone stored
    assert_eq!(after.hits - before.hits, 4, "{before:?} -> {after:?}");
    assert_eq!(after.misses, before.misses);
    assert!(
        BundleVerifier::production()
            .expect("root")
            .cache_stats()
            .is_none()
    );
}
