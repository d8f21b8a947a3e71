//! The admission webhook over HTTPS (issue 5): real AdmissionReview requests, posted
//! with a client trusting only a test CA, to the webhook started in-process (and, at
//! the end, as the `signet admission` binary), against distribution 2.8 with images
//! signed by signet (`.sig` and bundle referrers) and by cosign 2.5. Every response is
//! read the way the apiserver reads it (`signet_policy::check_response`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

#[path = "admission/harness.rs"]
mod harness;
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::*;
use serde_json::{Value, json};
use signet_admission::NamespaceLabels;
use signet_formats::Digest;
use signet_policy::decide::NoMatchPolicy;
use support::*;

/// `repo` (host/path) without its host, for globs on the same registry through a proxy.
fn path_of(repo: &str) -> &str {
    repo.split_once('/').unwrap().1
}

/// Pushes image `a` to `repo:v1`, signs it by digest with a fresh signet key; the key
/// pair and digest.
fn signed_image(env: &TestEnv, d: &Path, name: &str, extra: &[&str]) -> (String, Digest, PathBuf) {
    let (key, public) = keypair(d, name);
    let repo = unique_repo(env, name);
    let a = push_image(env, "a", &repo, "v1");
    let mut args = vec!["--tlog-upload=false", "-y"];
    args.extend_from_slice(extra);
    let image = format!("{repo}@{a}");
    args.push(&image);
    with_key(d, "sign", &key, &args).ok();
    (repo, a, public)
}

#[test]
fn signed_is_allowed_unsigned_denied_wrong_key_denied() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (repo, a, public) = signed_image(env, d, "sig", &[]);
    let b = push_image(env, "b", &repo, "unsigned");
    let (_, other_public) = keypair(d, "other");
    let policies = [(
        "release.yaml",
        policy(
            "release",
            &format!("{repo}**"),
            key_authority(&public, None),
            json!({}),
        ),
    )];
    runtime().block_on(async {
        let hook = start(&policies, Options::default()).await;
        // signed, by tag+digest as the mutating webhook writes it
        let review = Review::create("team-a", pod(&[&format!("{repo}:v1@{a}")]));
        let view = hook.validate(&review).await;
        assert!(view.allowed, "{view:?}");
        assert!(view.warnings.is_empty(), "{view:?}");
        // unsigned: denied, naming container, image, policy and the authority's reason
        let review = Review::create("team-a", pod(&[&format!("{repo}@{b}")]));
        let view = hook.validate(&review).await;
        assert!(!view.allowed);
        assert_eq!(view.code, Some(403));
        let message = view.message.unwrap();
        assert!(
            message.starts_with(&format!(
                "admission webhook \"{WEBHOOK}\" denied the request: signet denied Pod"
            )),
            "{message}"
        );
        for needle in [
            "container \"c0\" (spec.containers[0].image)",
            &format!("image \"{repo}@{b}\""),
            "policy \"release\"",
            "authority \"release-key\": no signatures found",
        ] {
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
        // a tag alone: the policy demands a digest
        let review = Review::create("team-a", pod(&[&format!("{repo}:v1")]));
        let view = hook.validate(&review).await;
        assert!(!view.allowed);
        assert!(view.message.unwrap().contains("must be pinned to a digest"));
        let metrics = hook.get("/metrics").await.1;
        assert!(
            metrics.contains(
                "signet_admission_requests_total{endpoint=\"validate\",verdict=\"denied\"} 2"
            ),
            "{metrics}"
        );
        hook.server.shutdown().await;

        // the same image under a policy with another key
        let wrong = [(
            "release.yaml",
            policy(
                "release",
                &format!("{repo}**"),
                key_authority(&other_public, None),
                json!({}),
            ),
        )];
        let hook = start(&wrong, Options::default()).await;
        let review = Review::create("team-a", pod(&[&format!("{repo}:v1@{a}")]));
        let view = hook.validate(&review).await;
        assert!(!view.allowed);
        let message = view.message.unwrap();
        assert!(
            message.contains("signature does not verify with the given key"),
            "{message}"
        );
    });
}

#[test]
fn bundle_referrers_and_cosign_signatures_are_admitted() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (bundle_repo, bundle_digest, bundle_key) =
        signed_image(env, d, "bundle", &["--new-bundle-format"]);
    let mut policies = vec![(
        "bundle.yaml",
        policy(
            "bundle",
            &format!("{bundle_repo}**"),
            key_authority(&bundle_key, Some("bundle")),
            json!({}),
        ),
    )];
    // cosign 2.5, when installed
    let cosigned = env.cosign.clone().map(|cosign_bin| {
        cosign(&cosign_bin, d, &["generate-key-pair"]).ok();
        let repo = unique_repo(env, "cosigned");
        let a = push_image(env, "a", &repo, "v1");
        cosign(
            &cosign_bin,
            d,
            &[
                "sign",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "-y",
                &format!("{repo}@{a}"),
            ],
        )
        .ok();
        (repo, a)
    });
    match &cosigned {
        Some((repo, _)) => policies.push((
            "cosign.yaml",
            policy(
                "cosign",
                &format!("{repo}**"),
                key_authority(&d.join("cosign.pub"), None),
                json!({}),
            ),
        )),
        None => eprintln!("cosign not installed: only signet's bundles are checked here"),
    }
    // On the registry with the OCI 1.1 referrers API too, when it runs.
    if env.referrers_registry.is_none() {
        eprintln!("SIGNET_TEST_REFERRERS_REGISTRY not set: the referrers-API case is skipped");
    }
    let on_api = env.referrers_registry.clone().map(|host| {
        let (key, public) = keypair(d, "api");
        let repo = unique_repo_on(&host, "bundle-api");
        let a = push_image(env, "a", &repo, "v1");
        with_key(
            d,
            "sign",
            &key,
            &[
                "--new-bundle-format",
                "--tlog-upload=false",
                "-y",
                &format!("{repo}@{a}"),
            ],
        )
        .ok();
        (repo, a, public)
    });
    if let Some((repo, _, public)) = &on_api {
        policies.push((
            "api.yaml",
            policy(
                "api",
                &format!("{repo}**"),
                key_authority(public, Some("bundle")),
                json!({}),
            ),
        ));
    }
    runtime().block_on(async {
        let hook = start(&policies, Options::default()).await;
        if let Some((repo, a, _)) = &on_api {
            let review = Review::create("team-a", pod(&[&format!("{repo}@{a}")]));
            let view = hook.validate(&review).await;
            assert!(
                view.allowed,
                "a bundle listed by the referrers API: {view:?}"
            );
        }
        let review = Review::create("team-a", pod(&[&format!("{bundle_repo}@{bundle_digest}")]));
        let view = hook.validate(&review).await;
        assert!(view.allowed, "{view:?}");
        if let Some((repo, a)) = &cosigned {
            let review = Review::create("team-a", pod(&[&format!("{repo}:v1@{a}")]));
            let view = hook.validate(&review).await;
            assert!(view.allowed, "cosign 2.5's signature: {view:?}");
        }
        hook.server.shutdown().await;
        // signatureFormat: legacy (the default) does not read bundles
        let legacy = [(
            "bundle.yaml",
            policy(
                "bundle",
                &format!("{bundle_repo}**"),
                key_authority(&bundle_key, None),
                json!({}),
            ),
        )];
        let hook = start(&legacy, Options::default()).await;
        let review = Review::create("team-a", pod(&[&format!("{bundle_repo}@{bundle_digest}")]));
        let view = hook.validate(&review).await;
        assert!(!view.allowed);
        assert!(view.message.unwrap().contains("no signatures found"));
    });
}

#[test]
fn mutate_pins_tags_and_a_moved_tag_is_denied() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (repo, a, public) = signed_image(env, d, "moved", &[]);
    let policies = [(
        "release.yaml",
        policy(
            "release",
            &format!("{repo}**"),
            key_authority(&public, None),
            json!({}),
        ),
    )];
    let rt = runtime();
    let hook = rt.block_on(start(&policies, Options::default()));
    // mutate: the Deployment's tag is pinned, keeping the tag
    let review = Review::create("team-a", deployment(&[&format!("{repo}:v1"), "redis:7.2"]));
    let view = rt.block_on(hook.mutate(&review));
    assert!(view.allowed);
    let patch = view.patch.expect("a patch");
    assert_eq!(
        patch.0.len(),
        1,
        "only the image a policy matches is pinned: {patch:?}"
    );
    let mut object = review.object().clone();
    patch.apply(&mut object).unwrap();
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(format!("{repo}:v1@{a}"))
    );
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"][1]["image"],
        "redis:7.2"
    );
    // the pinned object is admitted (redis matches no policy: denied by default)
    let view = rt.block_on(hook.validate(&review.with_object(object.clone())));
    assert!(!view.allowed);
    let message = view.message.unwrap();
    assert!(message.contains("1 image problem(s)"), "{message}");
    assert!(
        message.contains("no ClusterImagePolicy matches"),
        "{message}"
    );
    let only_ours = Review::create("team-a", deployment(&[&format!("{repo}:v1@{a}")]));
    assert!(rt.block_on(hook.validate(&only_ours)).allowed);

    // the tag moves to an unsigned image: the new pin is to that image, which is denied
    let b = push_image(env, "b", &repo, "v1");
    let review = Review::create("team-a", pod(&[&format!("{repo}:v1")]));
    let view = rt.block_on(hook.mutate(&review));
    let mut object = review.object().clone();
    view.patch.unwrap().apply(&mut object).unwrap();
    assert_eq!(
        object["spec"]["containers"][0]["image"],
        json!(format!("{repo}:v1@{b}"))
    );
    let view = rt.block_on(hook.validate(&review.with_object(object)));
    assert!(!view.allowed, "the moved tag points at an unsigned image");
    // the old pin still names the signed image, which is still admitted
    let old = Review::create("team-a", pod(&[&format!("{repo}:v1@{a}")]));
    assert!(rt.block_on(hook.validate(&old)).allowed);
    rt.block_on(hook.server.shutdown());
}

#[test]
fn warn_mode_no_match_settings_and_namespaces() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, public) = keypair(d, "k");
    let repo = unique_repo(env, "warn");
    let b = push_image(env, "b", &repo, "unsigned");
    let other = unique_repo(env, "nomatch");
    let c = push_image(env, "a", &other, "v1");
    let policies = [(
        "audit.yaml",
        policy(
            "audit",
            &format!("{repo}**"),
            key_authority(&public, None),
            json!({"mode": "warn"}),
        ),
    )];
    let rt = runtime();
    // warn mode: allowed, with the reason as a warning
    let hook = rt.block_on(start(&policies, Options::default()));
    let view =
        rt.block_on(hook.validate(&Review::create("team-a", pod(&[&format!("{repo}@{b}")]))));
    assert!(view.allowed);
    assert_eq!(view.warnings.len(), 1, "{view:?}");
    assert!(
        view.warnings[0].contains("policy \"audit\" (mode: warn)"),
        "{view:?}"
    );
    assert!(view.warnings[0].chars().count() <= 256);
    rt.block_on(hook.server.shutdown());
    // no matching policy: each setting
    for (setting, allowed, warned) in [
        (NoMatchPolicy::Deny, false, false),
        (NoMatchPolicy::Warn, true, true),
        (NoMatchPolicy::Allow, true, false),
    ] {
        let options = Options {
            no_match: setting,
            ..Options::default()
        };
        let hook = rt.block_on(start(&policies, options));
        let view =
            rt.block_on(hook.validate(&Review::create("team-a", pod(&[&format!("{other}@{c}")]))));
        assert_eq!(view.allowed, allowed, "{setting}: {view:?}");
        assert_eq!(!view.warnings.is_empty(), warned, "{setting}: {view:?}");
        if !allowed {
            assert!(view.message.unwrap().contains("no-match-policy: deny"));
        }
        rt.block_on(hook.server.shutdown());
    }
    // namespaces: without the opt-in label (or the webhook's own) nothing is checked
    let enforce = [(
        "release.yaml",
        policy(
            "release",
            &format!("{repo}**"),
            key_authority(&public, None),
            json!({}),
        ),
    )];
    let mut namespaces = NamespaceLabels::unknown();
    namespaces.insert(
        "opted-in",
        BTreeMap::from([(
            "policy.sigstore.dev/include".to_string(),
            "true".to_string(),
        )]),
    );
    namespaces.insert("not-opted-in", BTreeMap::new());
    let hook = rt.block_on(start(
        &enforce,
        Options {
            namespaces,
            ..Options::default()
        },
    ));
    let unsigned = pod(&[&format!("{repo}@{b}")]);
    for (ns, allowed) in [
        ("opted-in", false),
        ("not-opted-in", true),
        ("signet-system", true),
    ] {
        let review = Review::create(ns, unsigned.clone());
        assert_eq!(rt.block_on(hook.validate(&review)).allowed, allowed, "{ns}");
        let view = rt.block_on(hook.mutate(&review));
        assert!(view.patch.is_none());
    }
    rt.block_on(hook.server.shutdown());
}

/// Every AdmissionReview fixture of signet-policy, with `registry.example.com` replaced
/// by a repository of the test registry whose tags exist and are signed.
#[test]
fn every_fixture_gets_a_valid_answer() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "fixtures");
    let prefix = unique_repo(env, "fixtures");
    let fixtures =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../signet-policy/testdata/admission");
    let expected: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(fixtures.join("expected.json")).unwrap()).unwrap();
    let substitute = |text: &str| {
        text.replace("registry.example.com:5443", &format!("{prefix}/port"))
            .replace("registry.example.com", &prefix)
    };
    // Push and sign every tag the fixtures name.
    let mut signed: BTreeMap<String, Digest> = BTreeMap::new();
    for name in expected.keys() {
        let text = substitute(&std::fs::read_to_string(fixtures.join(name)).unwrap());
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for image in images_of(&v) {
            let Some(rest) = image.strip_prefix(&format!("{prefix}/")) else {
                continue;
            };
            if rest.contains('@') {
                continue;
            }
            let (path, tag) = rest.rsplit_once(':').unwrap();
            let repo = format!("{prefix}/{path}");
            let layout_tag = if tag == "1.1" { "b" } else { "a" };
            let digest = push_image(env, layout_tag, &repo, tag);
            if !signed.values().any(|d| *d == digest)
                || !signed.keys().any(|k| k.starts_with(&format!("{repo}@")))
            {
                with_key(
                    d,
                    "sign",
                    &key,
                    &["--tlog-upload=false", "-y", &format!("{repo}@{digest}")],
                )
                .ok();
            }
            signed.insert(format!("{repo}@{digest}"), digest);
        }
    }
    let policies = [(
        "fixtures.yaml",
        policy(
            "fixtures",
            &format!("{prefix}/**"),
            key_authority(&public, None),
            json!({}),
        ),
    )];
    let options = Options {
        no_match: NoMatchPolicy::Allow,
        ..Options::default()
    };
    let rt = runtime();
    let hook = rt.block_on(start(&policies, options));
    for (name, exp) in &expected {
        let outcome = exp["outcome"].as_str().unwrap();
        let body = substitute(&std::fs::read_to_string(fixtures.join(name)).unwrap());
        if outcome.starts_with("error:") {
            for path in ["/validate", "/mutate"] {
                let (status, reply) = rt.block_on(hook.post(path, body.clone().into_bytes()));
                assert_eq!(status, 400, "{name}: {}", String::from_utf8_lossy(&reply));
                let reply: Value = serde_json::from_slice(&reply).unwrap();
                assert_eq!(reply["kind"], "Status", "{name}");
                assert!(!reply["message"].as_str().unwrap().is_empty());
            }
            continue;
        }
        let review = Review::from_value(serde_json::from_str(&body).unwrap());
        let mutated = rt.block_on(hook.mutate(&review));
        let validated = rt.block_on(hook.validate(&review));
        match outcome {
            o if o.starts_with("skip:") => {
                assert!(mutated.allowed && validated.allowed, "{name}");
                assert!(mutated.patch.is_none(), "{name}");
            }
            "not-a-workload" => {
                assert!(!validated.allowed, "{name}: unknown kinds are denied");
                assert!(
                    validated
                        .message
                        .unwrap()
                        .contains("remove it from the webhook configuration's rules")
                );
            }
            o if o.starts_with("workload-error:") => {
                assert!(!validated.allowed && !mutated.allowed, "{name}");
                assert!(
                    validated
                        .message
                        .unwrap()
                        .contains("signet cannot read the object"),
                    "{name}"
                );
            }
            "workload" => {
                // The patch applies and pins every new tag under the prefix.
                let mut object = review.object().clone();
                if let Some(patch) = &mutated.patch {
                    patch
                        .apply(&mut object)
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                }
                let exempt = review.value["request"]["namespace"] == "signet-system";
                for (i, img) in exp["images"].as_array().unwrap().iter().enumerate() {
                    let pointer = img["pointer"].as_str().unwrap();
                    let after = object
                        .pointer(pointer)
                        .and_then(Value::as_str)
                        .unwrap()
                        .to_owned();
                    let before = substitute(img["image"].as_str().unwrap());
                    let ours_tag = before.starts_with(&prefix) && !before.contains('@');
                    if ours_tag && img["changed"] == true && !exempt {
                        assert!(
                            after.starts_with(&format!("{before}@sha256:")),
                            "{name} image {i}: {after}"
                        );
                    } else {
                        assert_eq!(after, before, "{name} image {i}");
                    }
                }
                let view = rt.block_on(hook.validate(&review.with_object(object.clone())));
                let all_good = images_of(&object).iter().all(|i| {
                    !i.starts_with(&prefix)
                        || signed.keys().any(|k| {
                            let (repo, digest) = k.split_once('@').unwrap();
                            i.starts_with(repo) && i.ends_with(digest)
                        })
                });
                assert_eq!(view.allowed, all_good || exempt, "{name}: {view:?}");
            }
            other => panic!("{name}: unexpected outcome {other}"),
        }
    }
    rt.block_on(hook.server.shutdown());
}

#[test]
fn registry_faults_fail_closed_or_open_and_never_cache_failures() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (repo, a, public) = signed_image(env, d, "faults", &[]);
    let proxy = RegistryProxy::start(env.registry.parse().unwrap());
    // the same repository, reached through the proxy
    let through = format!("{}/{}", proxy.addr, path_of(&repo));
    let image = format!("{through}@{a}");
    let closed = policy(
        "closed",
        &format!("{through}**"),
        key_authority(&public, None),
        json!({}),
    );
    let open = policy(
        "open",
        &format!("{through}**"),
        key_authority(&public, None),
        json!({"failOpen": true}),
    );
    let timeout = Duration::from_secs(2);
    let margin = Duration::from_millis(1500);
    let rt = runtime();
    let options = || Options {
        timeout,
        ..Options::default()
    };

    // fail closed: registry down, then slow past the deadline
    let hook = rt.block_on(start(&[("closed.yaml", closed.clone())], options()));
    let review = Review::create("team-a", pod(&[&image]));
    proxy.set(ProxyMode::Down, Duration::ZERO);
    let started = Instant::now();
    let view = rt.block_on(hook.validate(&review));
    assert!(!view.allowed, "{view:?}");
    assert!(
        started.elapsed() < timeout + margin,
        "{:?}",
        started.elapsed()
    );
    let message = view.message.unwrap();
    assert!(
        message.contains("could not be verified, denied"),
        "{message}"
    );
    proxy.set(ProxyMode::Slow, Duration::from_secs(5));
    let started = Instant::now();
    let view = rt.block_on(hook.validate(&Review::create("team-a", pod(&[&image]))));
    let elapsed = started.elapsed();
    assert!(!view.allowed);
    assert!(elapsed < timeout + margin, "denied after {elapsed:?}");
    assert!(
        elapsed >= timeout - Duration::from_millis(200),
        "{elapsed:?}"
    );
    assert!(
        view.message
            .unwrap()
            .contains("did not finish within the 2s deadline")
    );

    // a request whose client goes away mid-verification stores nothing
    let client = hook.client.clone();
    let url = format!("{}/validate", hook.server.url());
    let body = Review::create("team-a", pod(&[&image])).body();
    rt.block_on(async {
        let send = client.post(url).body(body).send();
        let _ = tokio::time::timeout(Duration::from_millis(300), send).await;
    });
    proxy.set(ProxyMode::Down, Duration::ZERO);
    let view = rt.block_on(hook.validate(&Review::create("team-a", pod(&[&image]))));
    assert!(
        !view.allowed,
        "no pass may come from a cancelled or failed check"
    );
    assert!(hook.server.admitter().cache().is_empty());
    let metrics = rt.block_on(hook.get("/metrics")).1;
    assert!(
        !metrics.contains("signet_admission_cache_hits_total 1"),
        "{metrics}"
    );
    rt.block_on(hook.server.shutdown());

    // fail open: allowed with a warning and a metric; a bad signature still denies
    let hook = rt.block_on(start(&[("open.yaml", open)], options()));
    let view = rt.block_on(hook.validate(&Review::create("team-a", pod(&[&image]))));
    assert!(view.allowed, "{view:?}");
    assert!(
        view.warnings
            .iter()
            .any(|w| w.contains("allowed without verification (failOpen)")),
        "{view:?}"
    );
    assert_eq!(hook.server.admitter().metrics().fail_open_count(), 1);
    let metrics = rt.block_on(hook.get("/metrics")).1;
    assert!(
        metrics.contains("signet_admission_fail_open_total 1"),
        "{metrics}"
    );
    assert!(
        hook.server.admitter().cache().is_empty(),
        "failOpen is not a pass"
    );
    proxy.set(ProxyMode::Forward, Duration::ZERO);
    let b = push_image(env, "b", &repo, "unsigned");
    let view =
        rt.block_on(hook.validate(&Review::create("team-a", pod(&[&format!("{through}@{b}")]))));
    assert!(
        !view.allowed,
        "a verification failure denies even with failOpen"
    );
    // and the signed image, once the registry is back, is a verified pass (cached)
    let view = rt.block_on(hook.validate(&Review::create("team-a", pod(&[&image]))));
    assert!(view.allowed && view.warnings.is_empty(), "{view:?}");
    assert_eq!(hook.server.admitter().cache().len(), 1);
    proxy.set(ProxyMode::Down, Duration::ZERO);
    let view = rt.block_on(hook.validate(&Review::create("team-a", pod(&[&image]))));
    assert!(
        view.allowed && view.warnings.is_empty(),
        "served from the cache: {view:?}"
    );
    assert!(hook.server.admitter().metrics().cache_hits() >= 1);
    rt.block_on(hook.server.shutdown());
}

#[test]
fn bad_input_gets_a_clear_4xx_or_a_denial() {
    // No registry needed: nothing here reaches one.
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = keypair(dir.path(), "k");
    let good = policy(
        "p",
        "127.0.0.1:1/**",
        key_authority(&public, None),
        json!({}),
    );
    let hook = rt.block_on(start(&[("p.yaml", good)], Options::default()));
    for (body, status) in [
        (b"{".to_vec(), 400),
        (b"[]".to_vec(), 400),
        (br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#.to_vec(), 400),
        (vec![b' '; 4 * 1024 * 1024], 413),
    ] {
        let (s, reply) = rt.block_on(hook.post("/validate", body));
        assert_eq!(s, status, "{}", String::from_utf8_lossy(&reply));
        let reply: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(reply["kind"], "Status");
    }
    // a huge object inside the limit, with thousands of containers: a denial, not a crash
    let images: Vec<String> = (0..5000)
        .map(|i| format!("127.0.0.1:1/x/app{i}:1"))
        .collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let view = rt.block_on(hook.validate(&Review::create("team-a", pod(&refs))));
    assert!(!view.allowed);
    assert!(
        view.message.unwrap().lines().count() <= 8,
        "a few lines at most"
    );
    // an unknown kind
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
    assert!(
        !rt.block_on(hook.validate(&Review::create("team-a", cm)))
            .allowed
    );
    // garbage policies: reported, the good set keeps serving, /readyz says so
    std::fs::write(hook.policy_dir.join("p.yaml"), "spec: [unterminated").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let (status, ready) = rt.block_on(hook.get("/readyz"));
    assert_eq!(status, 200);
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert!(
        ready["lastError"].as_str().unwrap().contains("p.yaml"),
        "{ready}"
    );
    assert_eq!(ready["policies"], 1);
    rt.block_on(hook.server.shutdown());
    // a directory that never loaded: not ready, and every checked request denied
    let hook = rt.block_on(start(
        &[("bad.yaml", "kind: [".to_string())],
        Options::default(),
    ));
    let (status, _) = rt.block_on(hook.get("/readyz"));
    assert_eq!(status, 503);
    assert_eq!(rt.block_on(hook.get("/healthz")).0, 200);
    let view = rt.block_on(hook.validate(&Review::create("team-a", pod(&["127.0.0.1:1/x:1"]))));
    assert!(!view.allowed);
    assert!(
        view.message
            .unwrap()
            .contains("no valid ClusterImagePolicy loaded")
    );
    // fixing it makes the webhook ready without a restart
    std::fs::write(
        hook.policy_dir.join("bad.yaml"),
        policy(
            "p",
            "127.0.0.1:1/**",
            json!({"static": {"action": "pass"}}),
            json!({"verifyDigest": false}),
        ),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rt.block_on(hook.get("/readyz")).0, 200);
    let view = rt.block_on(hook.validate(&Review::create("team-a", pod(&["127.0.0.1:1/x:1"]))));
    assert!(view.allowed, "{view:?}");
    rt.block_on(hook.server.shutdown());
}

#[test]
fn the_certificate_is_reloaded_when_its_files_change() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let hook = rt.block_on(start(&[], Options::default()));
    let first_ca = hook.tls.ca_pem.clone();
    assert_eq!(rt.block_on(hook.get("/healthz")).0, 200);
    // a broken pair keeps the old certificate serving
    std::fs::write(&hook.tls.cert, "not a certificate").unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let url = hook.server.url();
    let r = fetch(&rt, &https_client(&first_ca), &format!("{url}/healthz"));
    assert!(r.is_ok(), "the previous certificate still serves: {r:?}");
    // a new pair from another CA is served to new handshakes
    let next = make_tls(dir.path(), "next");
    std::fs::copy(&next.key, &hook.tls.key).unwrap();
    std::fs::copy(&next.cert, &hook.tls.cert).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while fetch(&rt, &https_client(&next.ca_pem), &format!("{url}/healthz")).is_err() {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        fetch(&rt, &https_client(&first_ca), &format!("{url}/healthz")).is_err(),
        "a client trusting only the old CA no longer connects"
    );
    let (_, text) = fetch(&rt, &https_client(&next.ca_pem), &format!("{url}/metrics")).unwrap();
    assert!(
        text.contains("signet_admission_certificate_reloads_total{result=\"ok\"}"),
        "{text}"
    );
    assert!(
        text.contains("signet_admission_certificate_reloads_total{result=\"error\"}"),
        "{text}"
    );
    rt.block_on(hook.server.shutdown());
}

/// Stops the webhook process even when the test fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_binary_refuses_plain_http_and_serves_https() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("policies")).unwrap();
    let r = signet(
        d,
        &["admission", "--addr", "127.0.0.1:0", "--policy", "policies"],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert_eq!(r.stderr.lines().count(), 1, "{r:?}");
    assert!(
        r.stderr
            .contains("HTTPS only: pass --tls-cert and --tls-key"),
        "{r:?}"
    );
    let tls = make_tls(d, "bin");
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_signet"))
            .args([
                "admission",
                "--addr",
                "127.0.0.1:0",
                "--policy",
                "policies",
                "--tls-cert",
            ])
            .arg(&tls.cert)
            .arg("--tls-key")
            .arg(&tls.key)
            .current_dir(d)
            .env("DOCKER_CONFIG", d)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("signet admission: serving https://127.0.0.1:"),
        "{line}"
    );
    let url = line.split_whitespace().nth(3).unwrap().to_owned();
    let rt = runtime();
    let client = https_client(&tls.ca_pem);
    let (status, _) = fetch(&rt, &client, &format!("{url}/readyz")).unwrap();
    assert_eq!(status, 200);
    let review = Review::create(
        "team-a",
        pod(&[
            "127.0.0.1:1/x@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ]),
    );
    let (_, body) = send(&rt, &client, &format!("{url}/validate"), review.body());
    let view = signet_policy::check_response(
        &review.uid,
        WEBHOOK,
        signet_policy::review::WebhookType::Validating,
        &body,
    )
    .unwrap();
    assert!(!view.allowed, "no policy matches: denied by default");
    drop(child);
}

#[test]
fn admission_check_evaluates_a_manifest_offline() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (repo, a, public) = signed_image(env, d, "check", &[]);
    let b = push_image(env, "b", &repo, "unsigned");
    std::fs::create_dir(d.join("policies")).unwrap();
    std::fs::write(
        d.join("policies/p.yaml"),
        policy(
            "release",
            &format!("{repo}**"),
            key_authority(&public, None),
            json!({}),
        ),
    )
    .unwrap();
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: skipped}}\n---\n{}\n---\n{}\n---\napiVersion: v1\nkind: Service\nmetadata: {{name: svc}}\n",
        serde_json::to_string(&json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod"},"spec":{"template":{"spec":{"containers":[{"name":"app","image":format!("{repo}:v1")}]}}}})).unwrap(),
        serde_json::to_string(&json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad","namespace":"prod"},"spec":{"containers":[{"name":"app","image":format!("{repo}@{b}")}]}})).unwrap(),
    );
    std::fs::write(d.join("manifest.yaml"), &manifest).unwrap();
    let r = signet(
        d,
        &[
            "admission",
            "check",
            "--policy",
            "policies",
            "manifest.yaml",
        ],
    );
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout
            .contains("ALLOW Deployment prod/web (1 image(s) pinned to digests)"),
        "{r:?}"
    );
    assert!(r.stdout.contains("DENY  Pod prod/bad"), "{r:?}");
    assert!(r.stdout.contains("no signatures found"), "{r:?}");
    assert!(r.stderr.contains("1 of 2 workload(s) denied"), "{r:?}");
    let _ = a;
    // only the good workload: exit 0
    let good = manifest
        .split("\n---\n")
        .take(2)
        .collect::<Vec<_>>()
        .join("\n---\n");
    std::fs::write(d.join("good.yaml"), good).unwrap();
    signet(
        d,
        &["admission", "check", "--policy", "policies", "good.yaml"],
    )
    .ok();
}

/// A stand-in for the Kubernetes API (plain HTTP on 127.0.0.1): the ClusterImagePolicy
/// list (watches are held open and end quietly) and Secrets in `signet-system`.
fn fake_kube_api(policies: Vec<Value>, secrets: Vec<(String, String)>) -> std::net::SocketAddr {
    use axum::extract::{Path as UrlPath, RawQuery};
    use axum::http::StatusCode;
    use axum::routing::get;
    use base64::Engine as _;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let list = json!({
                "apiVersion": "policy.sigstore.dev/v1beta1",
                "kind": "ClusterImagePolicyList",
                "metadata": {"resourceVersion": "1"},
                "items": policies,
            });
            let secrets: BTreeMap<String, String> = secrets.into_iter().collect();
            let app = axum::Router::new()
                .route(
                    "/apis/policy.sigstore.dev/v1beta1/clusterimagepolicies",
                    get(move |RawQuery(q): RawQuery| {
                        let list = list.clone();
                        async move {
                            if q.unwrap_or_default().contains("watch=true") {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                return (StatusCode::OK, String::new());
                            }
                            (StatusCode::OK, list.to_string())
                        }
                    }),
                )
                .route(
                    "/api/v1/namespaces/signet-system/secrets/{name}",
                    get(move |UrlPath(name): UrlPath<String>| {
                        let found = secrets.get(&name).cloned();
                        async move {
                            match found {
                                Some(pem) => (
                                    StatusCode::OK,
                                    json!({
                                        "apiVersion": "v1", "kind": "Secret",
                                        "metadata": {"name": name, "namespace": "signet-system"},
                                        "data": {"cosign.pub": base64::engine::general_purpose::STANDARD.encode(pem)},
                                    })
                                    .to_string(),
                                ),
                                None => (
                                    StatusCode::NOT_FOUND,
                                    json!({
                                        "apiVersion": "v1", "kind": "Status", "status": "Failure",
                                        "reason": "NotFound", "code": 404,
                                        "message": format!("secrets \"{name}\" not found"),
                                    })
                                    .to_string(),
                                ),
                            }
                        }
                    }),
                );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn cluster_image_policies_and_secret_keys_come_from_the_kubernetes_api() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (repo, a, public) = signed_image(env, d, "kube", &[]);
    let b = push_image(env, "b", &repo, "unsigned");
    let cip = |name: &str, glob: &str, secret: &str| {
        json!({
            "apiVersion": "policy.sigstore.dev/v1beta1",
            "kind": "ClusterImagePolicy",
            "metadata": {"name": name, "resourceVersion": "1", "uid": format!("uid-{name}")},
            "spec": {
                "images": [{"glob": glob}],
                "authorities": [{"name": "from-secret", "key": {"secretRef": {"name": secret}}}],
            },
        })
    };
    let other = unique_repo(env, "kube-missing");
    let c = push_image(env, "a", &other, "v1");
    let api = fake_kube_api(
        vec![
            cip("from-cluster", &format!("{repo}**"), "cosign-pub"),
            cip("missing-secret", &format!("{other}**"), "nope"),
        ],
        vec![(
            "cosign-pub".into(),
            std::fs::read_to_string(&public).unwrap(),
        )],
    );
    let rt = runtime();
    let client = rt.block_on(async {
        let config = kube::Config::new(format!("http://{api}").parse().unwrap());
        kube::Client::try_from(config).unwrap()
    });
    let options = Options {
        kubernetes: Some(signet_admission::kubernetes::ApiClient(client)),
        ..Options::default()
    };
    // No policy file: the policies come from the API alone.
    let hook = rt.block_on(start(&[], options));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, ready) = rt.block_on(hook.get("/readyz"));
        let ready: Value = serde_json::from_str(&ready).unwrap();
        if ready["policies"] == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the API's policies never loaded: {ready}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let view =
        rt.block_on(hook.validate(&Review::create("team-a", pod(&[&format!("{repo}@{a}")]))));
    assert!(view.allowed, "the key from the Secret verifies: {view:?}");
    let view =
        rt.block_on(hook.validate(&Review::create("team-a", pod(&[&format!("{repo}@{b}")]))));
    assert!(!view.allowed);
    assert!(view.message.unwrap().contains("policy \"from-cluster\""));
    let view =
        rt.block_on(hook.validate(&Review::create("team-a", pod(&[&format!("{other}@{c}")]))));
    assert!(!view.allowed);
    let message = view.message.unwrap();
    assert!(
        message.contains("Secret signet-system/nope does not exist"),
        "{message}"
    );
    rt.block_on(hook.server.shutdown());
}
