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
    let policies = [("release.yaml", key_policy("release", &repo, &public, None))];
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
            key_policy("release", &repo, &other_public, None),
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
        key_policy("bundle", &bundle_repo, &bundle_key, Some("bundle")),
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
            key_policy("cosign", repo, &d.join("cosign.pub"), None),
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
        policies.push(("api.yaml", key_policy("api", repo, public, Some("bundle"))));
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
            key_policy("bundle", &bundle_repo, &bundle_key, None),
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
    let policies = [("release.yaml", key_policy("release", &repo, &public, None))];
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
    // the moved tag points at an unsigned image
    assert_eq!(
        view.message.as_deref(),
        Some(
            pod_denial(
                &format!("{repo}:v1@{b}"),
                "release",
                "authority \"release-key\": no signatures found"
            )
            .as_str()
        ),
        "{view:?}"
    );
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
    let enforce = [("release.yaml", key_policy("release", &repo, &public, None))];
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
    let closed = key_policy("closed", &through, &public, None);
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
    let message = view.message.unwrap();
    assert!(
        message.contains("did not finish within the 2s deadline"),
        "{message}"
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
    // a verification failure denies even with failOpen
    assert_eq!(
        view.message.as_deref(),
        Some(
            pod_denial(
                &format!("{through}@{b}"),
                "open",
                "authority \"release-key\": no signatures found"
            )
            .as_str()
        ),
        "{view:?}"
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
    let view = rt.block_on(hook.validate(&Review::create("team-a", cm)));
    assert!(!view.allowed);
    assert!(
        view.message
            .as_deref()
            .is_some_and(|m| m.contains("remove it from the webhook configuration's rules")),
        "{view:?}"
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
    // no policy matches: denied by default
    assert_eq!(
        view.message.as_deref(),
        Some(pod_denial_no_policy(
            "127.0.0.1:1/x@sha256:0000000000000000000000000000000000000000000000000000000000000000"
        )
        .as_str()),
        "{view:?}"
    );
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
        key_policy("release", &repo, &public, None),
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

/// What the fake API serves, and what it was asked.
#[derive(Default)]
struct KubeState {
    /// The resourceVersion of the last change.
    version: u64,
    /// ClusterImagePolicies by name.
    policies: BTreeMap<String, Value>,
    /// Every watch event so far: its resourceVersion and its line.
    events: Vec<(u64, String)>,
    /// Secrets and ServiceAccounts by (kind, namespace, name).
    objects: BTreeMap<(String, String, String), Value>,
    /// Every request: `GET path?query`.
    requests: Vec<String>,
}

/// A stand-in for the Kubernetes API (plain HTTP on 127.0.0.1), routed by exact API
/// path as the apiserver is:
/// - `/apis/policy.sigstore.dev/v1beta1/clusterimagepolicies`: the list (with its
///   resourceVersion), or with `watch=true` the newline-delimited events after the
///   `resourceVersion` asked for, held open for the ones [`FakeKube::event`] adds;
/// - `/apis/policy.sigstore.dev/v1alpha1/trustroots`: the TrustRoot objects, and a
///   watch that stays open with no events;
/// - `/api/v1/namespaces/{ns}/secrets/{name}` and
///   `/api/v1/namespaces/{ns}/serviceaccounts/{name}`: the object, else a 404 `Status`;
/// - anything else: a 404 `Status`.
struct FakeKube {
    addr: std::net::SocketAddr,
    state: std::sync::Arc<std::sync::Mutex<KubeState>>,
    changed: tokio::sync::watch::Sender<u64>,
}

fn not_found(what: &str, name: &str) -> (axum::http::StatusCode, String) {
    (
        axum::http::StatusCode::NOT_FOUND,
        json!({
            "apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
            "reason": "NotFound", "code": 404,
            "message": format!("{what} \"{name}\" not found"),
        })
        .to_string(),
    )
}

impl FakeKube {
    /// Serves `policies` (resourceVersion 1) and `objects` (Secrets, ServiceAccounts).
    fn start(policies: Vec<Value>, objects: Vec<Value>) -> FakeKube {
        use axum::extract::{Path as UrlPath, RawQuery, State};
        use axum::routing::get;
        let mut state = KubeState {
            version: 1,
            ..KubeState::default()
        };
        for mut p in policies {
            p["metadata"]["resourceVersion"] = json!("1");
            state
                .policies
                .insert(p["metadata"]["name"].as_str().unwrap().to_owned(), p);
        }
        for o in objects {
            let key = (
                o["kind"].as_str().unwrap().to_owned(),
                // TrustRoots are cluster-scoped.
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o["metadata"]["name"].as_str().unwrap().to_owned(),
            );
            state.objects.insert(key, o);
        }
        let state = std::sync::Arc::new(std::sync::Mutex::new(state));
        let (changed, _) = tokio::sync::watch::channel(1u64);
        let (tx, rx) = std::sync::mpsc::channel();
        let (shared, notify) = (state.clone(), changed.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                type Shared = (
                    std::sync::Arc<std::sync::Mutex<KubeState>>,
                    tokio::sync::watch::Sender<u64>,
                );
                let log = |state: &std::sync::Mutex<KubeState>, path: &str, q: &Option<String>| {
                    state.lock().unwrap().requests.push(match q {
                        Some(q) => format!("GET {path}?{q}"),
                        None => format!("GET {path}"),
                    });
                };
                let object = |kind: &'static str, what: &'static str| {
                    move |State((state, _)): State<Shared>,
                          UrlPath((ns, name)): UrlPath<(String, String)>,
                          RawQuery(q): RawQuery| async move {
                        let path = format!("/api/v1/namespaces/{ns}/{what}/{name}");
                        log(&state, &path, &q);
                        let found = state
                            .lock()
                            .unwrap()
                            .objects
                            .get(&(kind.to_owned(), ns, name.clone()))
                            .cloned();
                        match found {
                            Some(o) => (axum::http::StatusCode::OK, o.to_string()),
                            None => not_found(what, &name),
                        }
                    }
                };
                let app =
                    axum::Router::new()
                        .route(
                            "/apis/policy.sigstore.dev/v1beta1/clusterimagepolicies",
                            get(
                                move |State((state, changed)): State<Shared>,
                                      RawQuery(q): RawQuery| async move {
                                    let path =
                                        "/apis/policy.sigstore.dev/v1beta1/clusterimagepolicies";
                                    log(&state, path, &q);
                                    let query = q.unwrap_or_default();
                                    let param = |name: &str| {
                                        query.split('&').find_map(|kv| {
                                            kv.strip_prefix(&format!("{name}=")).map(str::to_owned)
                                        })
                                    };
                                    if param("watch").as_deref() != Some("true") {
                                        let s = state.lock().unwrap();
                                        let list = json!({
                                            "apiVersion": "policy.sigstore.dev/v1beta1",
                                            "kind": "ClusterImagePolicyList",
                                            "metadata": {"resourceVersion": s.version.to_string()},
                                            "items": s.policies.values().collect::<Vec<_>>(),
                                        });
                                        return axum::response::Response::new(
                                            axum::body::Body::from(list.to_string()),
                                        );
                                    }
                                    let from: u64 = param("resourceVersion")
                                        .and_then(|v| v.parse().ok())
                                        .unwrap_or(0);
                                    let rx = changed.subscribe();
                                    let events = futures_util::stream::unfold(
                                        (from, rx, state),
                                        |(last, mut rx, state)| async move {
                                            loop {
                                                let next = state
                                                    .lock()
                                                    .unwrap()
                                                    .events
                                                    .iter()
                                                    .find(|(v, _)| *v > last)
                                                    .cloned();
                                                if let Some((v, line)) = next {
                                                    return Some((
                                                        Ok::<_, std::convert::Infallible>(format!(
                                                            "{line}\n"
                                                        )),
                                                        (v, rx, state),
                                                    ));
                                                }
                                                rx.changed().await.ok()?;
                                            }
                                        },
                                    );
                                    axum::response::Response::new(axum::body::Body::from_stream(
                                        events,
                                    ))
                                },
                            ),
                        )
                        .route(
                            "/apis/policy.sigstore.dev/v1alpha1/trustroots",
                            get(
                                move |State((state, _)): State<Shared>,
                                      RawQuery(q): RawQuery| async move {
                                    let path = "/apis/policy.sigstore.dev/v1alpha1/trustroots";
                                    log(&state, path, &q);
                                    if q.unwrap_or_default().contains("watch=true") {
                                        // No TrustRoot changes in these tests: a watch
                                        // that stays open.
                                        let quiet = futures_util::stream::pending::<
                                            Result<String, std::convert::Infallible>,
                                        >();
                                        return axum::response::Response::new(
                                            axum::body::Body::from_stream(quiet),
                                        );
                                    }
                                    let s = state.lock().unwrap();
                                    let items: Vec<&Value> = s
                                        .objects
                                        .iter()
                                        .filter(|((kind, _, _), _)| kind == "TrustRoot")
                                        .map(|(_, o)| o)
                                        .collect();
                                    let list = json!({
                                        "apiVersion": "policy.sigstore.dev/v1alpha1",
                                        "kind": "TrustRootList",
                                        "metadata": {"resourceVersion": "1"},
                                        "items": items,
                                    });
                                    axum::response::Response::new(axum::body::Body::from(
                                        list.to_string(),
                                    ))
                                },
                            ),
                        )
                        .route(
                            "/api/v1/namespaces/{ns}/secrets/{name}",
                            get(object("Secret", "secrets")),
                        )
                        .route(
                            "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
                            get(object("ServiceAccount", "serviceaccounts")),
                        )
                        .fallback(
                            |uri: axum::http::Uri| async move { not_found("object", uri.path()) },
                        )
                        .with_state((shared, notify));
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        FakeKube {
            addr: rx.recv().unwrap(),
            state,
            changed,
        }
    }

    /// A kube-rs client for it.
    fn client(&self, rt: &tokio::runtime::Runtime) -> signet_admission::kubernetes::ApiClient {
        let url = format!("http://{}", self.addr);
        rt.block_on(async {
            let config = kube::Config::new(url.parse().unwrap());
            signet_admission::kubernetes::ApiClient(kube::Client::try_from(config).unwrap())
        })
    }

    /// A watch event (`ADDED`, `MODIFIED`, `DELETED` of a ClusterImagePolicy, or a
    /// `BOOKMARK`) at the next resourceVersion: applied to the list and sent to every
    /// open watch.
    fn event(&self, kind: &str, policy: Option<Value>) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        let version = s.version;
        let object = match policy {
            Some(mut p) => {
                p["metadata"]["resourceVersion"] = json!(version.to_string());
                let name = p["metadata"]["name"].as_str().unwrap().to_owned();
                if kind == "DELETED" {
                    s.policies.remove(&name);
                } else {
                    s.policies.insert(name, p.clone());
                }
                p
            }
            None => json!({
                "apiVersion": "policy.sigstore.dev/v1beta1",
                "kind": "ClusterImagePolicy",
                "metadata": {"resourceVersion": version.to_string()},
            }),
        };
        let line = json!({"type": kind, "object": object}).to_string();
        s.events.push((version, line));
        drop(s);
        self.changed.send_replace(version);
    }

    /// Every request so far (`GET path?query`).
    fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

/// A Secret in `namespace` of `type_` with `data` (base64-encoded here).
fn secret(namespace: &str, name: &str, type_: &str, data: &[(&str, &[u8])]) -> Value {
    use base64::Engine as _;
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| {
            (
                (*k).to_owned(),
                json!(base64::engine::general_purpose::STANDARD.encode(v)),
            )
        })
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": type_,
        "data": data,
    })
}

/// A ServiceAccount in `namespace` naming `pull_secrets`.
fn service_account(namespace: &str, name: &str, pull_secrets: &[&str]) -> Value {
    let refs: Vec<Value> = pull_secrets.iter().map(|n| json!({"name": n})).collect();
    json!({
        "apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
        "imagePullSecrets": refs,
    })
}

/// Polls `/readyz` until `done` holds for it (at most 10 s).
fn wait_ready(
    rt: &tokio::runtime::Runtime,
    hook: &Webhook,
    what: &str,
    done: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, ready) = rt.block_on(hook.get("/readyz"));
        let ready: Value = serde_json::from_str(&ready).unwrap();
        if done(&ready) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {ready}");
        std::thread::sleep(Duration::from_millis(50));
    }
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
    // Authorities that name TrustRoots: one served by the API, one that is not.
    let (tr_repo, tr_digest, tr_public) = signed_image(env, d, "kube-trustroot", &[]);
    let absent_repo = unique_repo(env, "kube-no-trustroot");
    let absent = push_image(env, "a", &absent_repo, "v1");
    let with_root = |name: &str, glob: &str, root: &str| {
        json!({
            "apiVersion": "policy.sigstore.dev/v1beta1",
            "kind": "ClusterImagePolicy",
            "metadata": {"name": name, "resourceVersion": "1"},
            "spec": {
                "images": [{"glob": glob}],
                "authorities": [{
                    "key": {"data": std::fs::read_to_string(&tr_public).unwrap()},
                    "ctlog": {"trustRootRef": root},
                }],
            },
        })
    };
    let production = signet_formats::sigstore::TrustedRoot::parse(include_bytes!(
        "../../signet-formats/trust/production_trusted_root.json"
    ))
    .unwrap();
    let mut trust_root: Value =
        serde_json::from_str(&signet_policy::trust_root_yaml("from-api", &production)).unwrap();
    trust_root["metadata"]["resourceVersion"] = json!("1");
    let api = FakeKube::start(
        vec![
            cip("from-cluster", &format!("{repo}**"), "cosign-pub"),
            cip("missing-secret", &format!("{other}**"), "nope"),
            with_root("via-trust-root", &format!("{tr_repo}**"), "from-api"),
            with_root("absent-trust-root", &format!("{absent_repo}**"), "absent"),
        ],
        vec![
            secret(
                "signet-system",
                "cosign-pub",
                "Opaque",
                &[("cosign.pub", &std::fs::read(&public).unwrap())],
            ),
            trust_root,
        ],
    );
    let rt = runtime();
    let options = Options {
        kubernetes: Some(api.client(&rt)),
        ..Options::default()
    };
    // No policy file: the policies come from the API alone.
    let hook = rt.block_on(start(&[], options));
    wait_ready(&rt, &hook, "the API's policies never loaded", |r| {
        r["policies"] == 4 && r["trustRoots"] == 1
    });
    let view =
        rt.block_on(hook.validate(&Review::create("team-a", pod(&[&format!("{repo}@{a}")]))));
    assert!(view.allowed, "the key from the Secret verifies: {view:?}");
    let view = rt.block_on(hook.validate(&Review::create(
        "team-a",
        pod(&[&format!("{tr_repo}@{tr_digest}")]),
    )));
    assert!(view.allowed, "the TrustRoot came from the API: {view:?}");
    let view = rt.block_on(hook.validate(&Review::create(
        "team-a",
        pod(&[&format!("{absent_repo}@{absent}")]),
    )));
    assert_eq!(
        view.message.as_deref(),
        Some(
            pod_denial(
                &format!("{absent_repo}@{absent}"),
                "absent-trust-root",
                "authority \"authority-0\": TrustRoot \"absent\" does not exist: create it (a TrustRoot resource, or a document in the policy directory; `signet serve` writes one as trust/trustroot.yaml)"
            )
            .as_str()
        ),
        "{view:?}"
    );
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

/// The full message the apiserver shows for a Pod (`generateName: web-`) whose one
/// image `image` fails `policy` with `problem`.
fn pod_denial(image: &str, policy: &str, problem: &str) -> String {
    format!(
        "admission webhook \"{WEBHOOK}\" denied the request: signet denied Pod \"web-\": 1 image problem(s)\ncontainer \"c0\" (spec.containers[0].image): image \"{image}\": policy \"{policy}\": {problem}"
    )
}

/// `pod(images)` in `namespace` with `imagePullSecrets` and `serviceAccountName` set
/// when given.
fn pod_with(images: &[&str], pull_secrets: &[&str], account: Option<&str>) -> Value {
    let mut p = pod(images);
    if !pull_secrets.is_empty() {
        p["spec"]["imagePullSecrets"] = pull_secrets.iter().map(|n| json!({"name": n})).collect();
    }
    if let Some(a) = account {
        p["spec"]["serviceAccountName"] = json!(a);
    }
    p
}

/// Issue 5's "imagePullSecrets (in-cluster)": against the registry that requires
/// authentication (distribution 2.8 with htpasswd, TLS), the webhook reads the
/// workload's pull secrets, then its ServiceAccount's, from the Kubernetes API in the
/// request's namespace, and uses them to resolve tags and fetch signatures.
#[test]
fn image_pull_secrets_are_the_registry_credentials_in_a_cluster() {
    use base64::Engine as _;
    let env = require_env!();
    if env.tls_registry.is_empty() {
        eprintln!("skipping: SIGNET_TEST_TLS_REGISTRY not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let host = env.tls_registry.as_str();
    let ca_pem = std::fs::read(&env.tls_ca).unwrap();
    let ca = env.tls_ca.to_str().unwrap();
    // Two repositories (so each starts with an empty verdict cache), each with image
    // `a` signed by one key.
    let authed = signet_oci::RegistryClient::new(signet_oci::ClientConfig {
        extra_ca_pem: vec![ca_pem.clone()],
        username: Some(env.tls_user.clone()),
        password: Some(env.tls_password.clone()),
        docker_config: Some(d.join("no-docker-config.json")),
        ..signet_oci::ClientConfig::default()
    })
    .unwrap();
    let (key, public) = keypair(d, "pull");
    let signed = |name: &str| {
        let repo = unique_repo_on(host, name);
        let a = push_image_with(&authed, env, "a", &repo, "v1");
        with_key(
            d,
            "sign",
            &key,
            &[
                "--registry-username",
                &env.tls_user,
                "--registry-password",
                &env.tls_password,
                "--registry-cacert",
                ca,
                "--tlog-upload=false",
                "-y",
                &format!("{repo}@{a}"),
            ],
        )
        .ok();
        (repo, a)
    };
    let (pod_repo, a) = signed("pull-secret");
    let (sa_repo, sa_digest) = signed("sa-secret");
    assert_eq!(a, sa_digest);
    let policies = [
        (
            "pod.yaml",
            key_policy("pod-secrets", &pod_repo, &public, None),
        ),
        ("sa.yaml", key_policy("sa-secrets", &sa_repo, &public, None)),
    ];
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let auth = b64(&format!("{}:{}", env.tls_user, env.tls_password));
    let dockerconfigjson = format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#);
    // The legacy flat map, keyed by URL.
    let dockercfg = format!(r#"{{"https://{host}":{{"auth":"{auth}","email":"ci@example.com"}}}}"#);
    let api = FakeKube::start(
        Vec::new(),
        vec![
            secret(
                "team-a",
                "regcred",
                "kubernetes.io/dockerconfigjson",
                &[(".dockerconfigjson", dockerconfigjson.as_bytes())],
            ),
            secret(
                "team-a",
                "broken",
                "kubernetes.io/dockerconfigjson",
                &[(
                    ".dockerconfigjson",
                    format!(r#"{{"auths":{{"{host}":{{"auth":"not base64!"}}}}}}"#).as_bytes(),
                )],
            ),
            secret(
                "team-a",
                "wrong-password",
                "kubernetes.io/dockerconfigjson",
                &[(
                    ".dockerconfigjson",
                    format!(
                        r#"{{"auths":{{"{host}":{{"auth":"{}"}}}}}}"#,
                        b64(&format!("{}:wrong", env.tls_user))
                    )
                    .as_bytes(),
                )],
            ),
            service_account("team-a", "default", &[]),
            secret(
                "team-c",
                "legacy-cred",
                "kubernetes.io/dockercfg",
                &[(".dockercfg", dockercfg.as_bytes())],
            ),
            service_account("team-c", "builder", &["legacy-cred"]),
        ],
    );
    let rt = runtime();
    let options = Options {
        kubernetes: Some(api.client(&rt)),
        registry_ca_pem: vec![ca_pem],
        ..Options::default()
    };
    let hook = rt.block_on(start(&policies, options));
    wait_ready(&rt, &hook, "the policies never loaded", |r| {
        r["policies"] == 2
    });
    let validate =
        |ns: &str, object: Value| rt.block_on(hook.validate(&Review::create(ns, object)));
    let image = format!("{pod_repo}@{a}");
    let unauthorized = |looked_in: &str| {
        format!(
            "could not be verified, denied (set failOpen: true in the policy to allow in this case): authority \"release-key\": registry {host} denied access because no credentials were found for it; add an imagePullSecret for {host} to the workload or its ServiceAccount (looked in: {looked_in})"
        )
    };

    // A Secret of the same name in another namespace is not used.
    let view = validate("team-b", pod_with(&[&image], &["regcred"], None));
    assert!(!view.allowed);
    assert_eq!(
        view.message.unwrap(),
        pod_denial(
            &image,
            "pod-secrets",
            &unauthorized(
                "Secret team-b/regcred (does not exist), ServiceAccount team-b/default (does not exist), the docker config"
            )
        )
    );
    // No pull secret (and nothing in the docker config): denied, naming the registry.
    let view = validate("team-a", pod_with(&[&image], &[], None));
    assert_eq!(
        view.message.unwrap(),
        pod_denial(
            &image,
            "pod-secrets",
            &unauthorized("ServiceAccount team-a/default (no imagePullSecrets), the docker config")
        )
    );
    // A pull secret that does not parse: denied, naming it and what is wrong.
    let view = validate("team-a", pod_with(&[&image], &["broken"], None));
    assert_eq!(
        view.message.unwrap(),
        pod_denial(
            &image,
            "pod-secrets",
            &format!(
                "authority \"release-key\": imagePullSecret team-a/broken: .dockerconfigjson does not hold registry credentials: the `auth` entry for {host} is not base64 of user:password"
            )
        )
    );
    // A pull secret the registry refuses: denied, naming it.
    let view = validate("team-a", pod_with(&[&image], &["wrong-password"], None));
    assert_eq!(
        view.message.unwrap(),
        pod_denial(
            &image,
            "pod-secrets",
            &format!(
                "could not be verified, denied (set failOpen: true in the policy to allow in this case): authority \"release-key\": registry {host} denied access because it rejected the credentials (credentials from Secret team-a/wrong-password; looked in: Secret team-a/wrong-password, ServiceAccount team-a/default (no imagePullSecrets), the docker config)"
            )
        )
    );
    // With the pull secret: allowed.
    let view = validate("team-a", pod_with(&[&image], &["regcred"], None));
    assert!(view.allowed, "{view:?}");
    assert!(view.warnings.is_empty(), "{view:?}");
    // The mutating webhook resolves a Deployment's tag with its template's pull secret,
    // and cannot without it.
    let mut web = deployment(&[&format!("{pod_repo}:v1")]);
    let review = Review::create("team-a", web.clone());
    let view = rt.block_on(hook.mutate(&review));
    assert!(view.patch.is_none(), "{view:?}");
    assert_eq!(view.warnings.len(), 1, "{view:?}");
    assert!(
        view.warnings[0].starts_with(&format!(
            "signet could not pin {pod_repo}:v1 to a digest: registry {host} denied access because no credentials were found for it"
        )),
        "{view:?}"
    );
    web["spec"]["template"]["spec"]["imagePullSecrets"] = json!([{"name": "regcred"}]);
    let review = Review::create("team-a", web);
    let view = rt.block_on(hook.mutate(&review));
    let mut object = review.object().clone();
    view.patch.expect("a pin").apply(&mut object).unwrap();
    assert_eq!(
        object["spec"]["template"]["spec"]["containers"][0]["image"],
        json!(format!("{pod_repo}:v1@{a}"))
    );
    assert!(
        rt.block_on(hook.validate(&review.with_object(object)))
            .allowed
    );

    // Through the ServiceAccount only (a .dockercfg Secret): the default one has none.
    let image = format!("{sa_repo}@{a}");
    let view = validate("team-c", pod_with(&[&image], &[], None));
    assert_eq!(
        view.message.unwrap(),
        pod_denial(
            &image,
            "sa-secrets",
            &unauthorized("ServiceAccount team-c/default (does not exist), the docker config")
        )
    );
    let view = validate("team-c", pod_with(&[&image], &[], Some("builder")));
    assert!(view.allowed, "{view:?}");

    // Only the request's namespace was read, by exact path.
    let reads: Vec<String> = api
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("GET /api/v1/"))
        .collect();
    for expected in [
        "GET /api/v1/namespaces/team-b/secrets/regcred",
        "GET /api/v1/namespaces/team-b/serviceaccounts/default",
        "GET /api/v1/namespaces/team-a/secrets/regcred",
        "GET /api/v1/namespaces/team-a/secrets/broken",
        "GET /api/v1/namespaces/team-c/serviceaccounts/builder",
        "GET /api/v1/namespaces/team-c/secrets/legacy-cred",
    ] {
        assert!(
            reads.iter().any(|r| r == expected),
            "{expected} not in {reads:?}"
        );
    }
    assert!(
        !reads
            .iter()
            .any(|r| r.contains("/namespaces/team-c/secrets/regcred")
                || r.contains("/namespaces/team-a/secrets/legacy-cred")),
        "{reads:?}"
    );
    // Reads are cached: the five team-a requests read regcred once.
    assert_eq!(
        reads
            .iter()
            .filter(|r| *r == "GET /api/v1/namespaces/team-a/secrets/regcred")
            .count(),
        1,
        "{reads:?}"
    );
    rt.block_on(hook.server.shutdown());
}

/// The ClusterImagePolicy watch (kube-rs's watcher: a list, then a watch from its
/// resourceVersion): MODIFIED, DELETED, ADDED and BOOKMARK events take effect, and a
/// policy that does not load is reported while the last good set keeps serving.
#[test]
fn cluster_image_policy_watch_events_take_effect() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (repo, a, key_a) = signed_image(env, d, "watch", &[]);
    let (_, key_b) = keypair(d, "watch-b");
    let image = format!("{repo}@{a}");
    // The one `.sig` layer, which key B's check names.
    let (sig, _) =
        manifest_bytes(&repo, &format!("{}.sig", a.to_string().replace(':', "-"))).unwrap();
    let sig: Value = serde_json::from_slice(&sig).unwrap();
    let layer = sig["layers"][0]["digest"].as_str().unwrap().to_owned();
    let cip = |authority: Value| {
        json!({
            "apiVersion": "policy.sigstore.dev/v1beta1",
            "kind": "ClusterImagePolicy",
            "metadata": {"name": "p1", "uid": "uid-p1"},
            "spec": {"images": [{"glob": format!("{repo}**")}], "authorities": [authority]},
        })
    };
    let api = FakeKube::start(vec![cip(key_authority(&key_a, None))], Vec::new());
    let rt = runtime();
    let options = Options {
        kubernetes: Some(api.client(&rt)),
        ..Options::default()
    };
    let hook = rt.block_on(start(&[], options));
    wait_ready(&rt, &hook, "P1 never loaded", |r| r["policies"] == 1);
    let validate = || rt.block_on(hook.validate(&Review::create("team-a", pod(&[&image]))));
    // Polls until the answer changes from `before` (at most 10 s).
    let next_answer = |before: &signet_policy::review::ApiserverView| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let view = validate();
            if view.allowed != before.allowed || view.message != before.message {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "the answer never changed: {view:?}; API requests: {:?}",
                api.requests()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let generation = |rt: &tokio::runtime::Runtime| -> Value {
        let (_, ready) = rt.block_on(hook.get("/readyz"));
        serde_json::from_str::<Value>(&ready).unwrap()["generation"].clone()
    };
    // P1 with key A: signed with A, allowed.
    let first = validate();
    assert!(first.allowed, "{first:?}");

    // MODIFIED: P1 now wants key B. The same image is denied, for that reason.
    api.event("MODIFIED", Some(cip(key_authority(&key_b, None))));
    let view = next_answer(&first);
    assert!(!view.allowed);
    assert_eq!(
        view.message.as_deref().unwrap(),
        pod_denial(
            &image,
            "p1",
            &format!(
                "authority \"release-key\": no matching signatures: signature layer {layer}: signature does not verify with the given key (signed with another key, or the payload was altered)"
            ),
        )
    );
    let with_b = view.clone();
    let serving = generation(&rt);

    // A BOOKMARK changes nothing.
    api.event("BOOKMARK", None);

    // MODIFIED to a policy that does not load: reported (/readyz, the reload error
    // metric), and the last good P1 (key B) keeps serving.
    let mut broken = cip(key_authority(&key_a, None));
    broken["spec"]["authorities"][0]["keyless"] = json!({"url": "https://fulcio.example"});
    api.event("MODIFIED", Some(broken));
    wait_ready(&rt, &hook, "the bad policy was never reported", |r| {
        r["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("clusterimagepolicy/p1"))
    });
    let (_, ready) = rt.block_on(hook.get("/readyz"));
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(
        ready["lastError"],
        "1 policy problem(s); fix them and reload:\n  clusterimagepolicy/p1: document 1 (line 1): policy \"p1\": spec.authorities[0]: exactly one of key, keyless, static is required, found key and keyless"
    );
    assert_eq!(ready["policies"], 1);
    let metrics = rt.block_on(hook.get("/metrics")).1;
    assert!(
        metrics.contains("signet_admission_policy_reloads_total{result=\"error\"} 1"),
        "{metrics}"
    );
    assert_eq!(generation(&rt), serving, "the last good set still serves");
    let view = validate();
    assert_eq!(view.message, with_b.message, "still P1 with key B");

    // DELETED: no policy matches, so no-match-policy (deny) applies.
    api.event("DELETED", Some(cip(key_authority(&key_b, None))));
    let no_policy = next_answer(&with_b);
    assert!(!no_policy.allowed);
    assert_eq!(
        no_policy.message.as_deref().unwrap(),
        pod_denial_no_policy(&image)
    );
    wait_ready(&rt, &hook, "the error stays after the good load", |r| {
        r["policies"] == 0 && r["lastError"].is_null()
    });
    assert!(
        rt.block_on(hook.get("/metrics"))
            .1
            .contains("signet_admission_policies_loaded 0")
    );

    // ADDED: key A again, allowed again.
    api.event("ADDED", Some(cip(key_authority(&key_a, None))));
    let view = next_answer(&no_policy);
    assert!(view.allowed, "{view:?}");

    // The watcher listed once, then watched from the list's resourceVersion (every
    // event above came on that one watch: no re-list).
    let requests = api.requests();
    let path = "GET /apis/policy.sigstore.dev/v1beta1/clusterimagepolicies?";
    let (watches, lists): (Vec<&String>, Vec<&String>) = requests
        .iter()
        .filter(|r| r.starts_with(path))
        .partition(|r| r.contains("watch=true"));
    assert_eq!(lists, [&format!("{path}&limit=500")], "{requests:?}");
    assert_eq!(
        watches[0],
        &format!("{path}&watch=true&timeoutSeconds=290&allowWatchBookmarks=true&resourceVersion=1"),
        "{requests:?}"
    );
    rt.block_on(hook.server.shutdown());
}

/// The message for a Pod whose one image `image` matches no policy.
fn pod_denial_no_policy(image: &str) -> String {
    format!(
        "admission webhook \"{WEBHOOK}\" denied the request: signet denied Pod \"web-\": 1 image problem(s)\ncontainer \"c0\" (spec.containers[0].image): image \"{image}\": no ClusterImagePolicy matches this image (no-match-policy: deny)"
    )
}
