use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;

use super::*;
use crate::patch::pin_digests;
use crate::review::{WebhookType, check_response};
use crate::workload::{Admission, extract_workload, parse_review};

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const D2: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn policy(name: &str, glob: &str, authorities: &str, extra: &str) -> String {
    format!(
        "---\napiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: {name}}}\nspec:\n  images: [{{glob: \"{glob}\"}}]\n  authorities: {authorities}\n{extra}"
    )
}

const TWO_KEYS: &str =
    "[{name: k1, key: {secretRef: {name: a}}}, {name: k2, key: {secretRef: {name: b}}}]";

fn policies(docs: &[String]) -> PolicySet {
    PolicySet::from_yaml("test.yaml", &docs.concat()).unwrap_or_else(|e| panic!("{e}"))
}

fn fixture(name: &str) -> (String, Workload) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/admission")
        .join(name);
    let request = parse_review(&std::fs::read(path).unwrap()).unwrap();
    let Admission::Workload(w) = extract_workload(&request).unwrap() else {
        panic!("{name} is not a workload")
    };
    (request.uid, w)
}

/// A Pod with the given images as containers c0, c1…
fn pod(images: &[&str]) -> Workload {
    let (_, mut w) = fixture("pod-create-single.json");
    let template = w.images[0].clone();
    w.images = images
        .iter()
        .enumerate()
        .map(|(i, image)| ContainerImage {
            index: i,
            name: format!("c{i}"),
            image: image.to_string(),
            pointer: JsonPointer::root()
                .join("spec")
                .join("containers")
                .join_index(i)
                .join("image"),
            ..template.clone()
        })
        .collect();
    w
}

fn run(
    set: &PolicySet,
    w: &Workload,
    outcomes: &[(&str, &str, usize, AuthorityOutcome)],
    settings: &Settings,
) -> Decision {
    let plan = Plan::new(set, w);
    let mut recorded = Outcomes::new();
    for (image, policy, index, outcome) in outcomes {
        let key = image.parse::<ImageRef>().unwrap().to_string();
        recorded.insert(&key, policy, *index, outcome.clone());
    }
    decide(set, &plan, &recorded, settings)
}

fn rejected(r: &str) -> AuthorityOutcome {
    AuthorityOutcome::Rejected(r.into())
}

fn infra(r: &str) -> AuthorityOutcome {
    AuthorityOutcome::InfraError(r.into())
}

#[test]
fn any_authority_passes_a_policy_and_every_policy_must_pass() {
    let img = format!("registry.example.com/app@{D}");
    let set = policies(&[
        policy("p1", "registry.example.com/**", TWO_KEYS, ""),
        policy(
            "p2",
            "registry.example.com/app*",
            "[{name: only, key: {secretRef: {name: c}}}]",
            "",
        ),
    ]);
    let w = pod(&[&img]);
    let s = Settings::default();
    let all_ok = run(
        &set,
        &w,
        &[
            (&img, "p1", 1, AuthorityOutcome::Verified),
            (&img, "p1", 0, rejected("no signature")),
            (&img, "p2", 0, AuthorityOutcome::Verified),
        ],
        &s,
    );
    assert!(all_ok.allowed, "{:?}", all_ok.message());
    assert!(all_ok.warnings.is_empty());
    assert_eq!(all_ok.verdicts, [(img.clone(), Verdict::Admitted)]);

    let p2_fails = run(
        &set,
        &w,
        &[
            (&img, "p1", 0, AuthorityOutcome::Verified),
            (&img, "p2", 0, rejected("no matching signatures")),
        ],
        &s,
    );
    assert!(!p2_fails.allowed);
    assert_eq!(p2_fails.denials.len(), 1);
    assert_eq!(p2_fails.denials[0].policy.as_deref(), Some("p2"));
    let message = p2_fails.message().unwrap();
    assert_eq!(
        message,
        format!(
            "signet denied Pod \"single\": 1 image problem(s)\ncontainer \"c0\" (spec.containers[0].image): image \"{img}\": policy \"p2\": authority \"only\": no matching signatures"
        )
    );

    let both_keys_fail = run(
        &set,
        &w,
        &[
            (&img, "p1", 0, rejected("signature by another key")),
            (&img, "p1", 1, rejected("no signatures found")),
            (&img, "p2", 0, AuthorityOutcome::Verified),
        ],
        &s,
    );
    assert!(!both_keys_fail.allowed);
    let line = both_keys_fail.denials[0].to_string();
    assert!(line.ends_with("policy \"p1\": authority \"k1\": signature by another key; authority \"k2\": no signatures found"), "{line}");
}

#[test]
fn static_authorities_decide_without_verification() {
    let img = format!("registry.example.com/base/alpine@{D}");
    let set = policies(&[
        policy(
            "pass",
            "registry.example.com/base/*",
            "[{static: {action: pass}}]",
            "",
        ),
        policy(
            "fail",
            "registry.example.com/base/alp*",
            "[{name: nope, static: {action: fail, message: use the mirror}}]",
            "",
        ),
    ]);
    let w = pod(&[&img]);
    let plan = Plan::new(&set, &w);
    assert!(
        plan.verifications(&set).is_empty(),
        "static authorities need no verification"
    );
    let d = decide(&set, &plan, &Outcomes::new(), &Settings::default());
    assert!(!d.allowed);
    assert!(
        d.denials[0]
            .to_string()
            .ends_with("authority \"nope\": disallowed by static policy: use the mirror")
    );
    let only_pass = policies(&[policy(
        "pass",
        "registry.example.com/base/*",
        "[{static: {action: pass}}]",
        "",
    )]);
    assert!(
        decide(
            &only_pass,
            &Plan::new(&only_pass, &w),
            &Outcomes::new(),
            &Settings::default()
        )
        .allowed
    );
}

#[test]
fn no_match_policy() {
    let img = format!("elsewhere.example.com/app@{D}");
    let set = policies(&[policy(
        "p",
        "registry.example.com/**",
        "[{static: {action: pass}}]",
        "",
    )]);
    let w = pod(&[&img]);
    let with = |no_match| Settings {
        no_match,
        ..Settings::default()
    };
    let deny = run(&set, &w, &[], &with(NoMatchPolicy::Deny));
    assert!(!deny.allowed);
    assert_eq!(deny.unmatched, 1);
    assert!(
        deny.message()
            .unwrap()
            .contains("no ClusterImagePolicy matches this image (no-match-policy: deny)")
    );
    let warn = run(&set, &w, &[], &with(NoMatchPolicy::Warn));
    assert!(warn.allowed);
    assert_eq!(warn.warning_lines().len(), 1);
    assert!(warn.warning_lines()[0].contains("no-match-policy: warn"));
    let allow = run(&set, &w, &[], &with(NoMatchPolicy::Allow));
    assert!(allow.allowed && allow.warnings.is_empty());
    assert_eq!("warn".parse::<NoMatchPolicy>(), Ok(NoMatchPolicy::Warn));
    assert!("audit".parse::<NoMatchPolicy>().is_err());
    assert_eq!(NoMatchPolicy::default(), NoMatchPolicy::Deny);
}

#[test]
fn warn_mode_allows_with_the_same_text() {
    let img = format!("registry.example.com/app@{D}");
    let enforce = policies(&[policy("p", "registry.example.com/**", TWO_KEYS, "")]);
    let warn = policies(&[policy(
        "p",
        "registry.example.com/**",
        TWO_KEYS,
        "  mode: warn\n",
    )]);
    let w = pod(&[&img]);
    let outcomes = [
        (img.as_str(), "p", 0, rejected("no signatures found")),
        (img.as_str(), "p", 1, rejected("wrong key")),
    ];
    let denied = run(&enforce, &w, &outcomes, &Settings::default());
    let warned = run(&warn, &w, &outcomes, &Settings::default());
    assert!(!denied.allowed && warned.allowed);
    assert_eq!(warned.verdicts, [(img.clone(), Verdict::Warned)]);
    let denial_line = denied.message().unwrap().lines().nth(1).unwrap().to_owned();
    let warning = &warned.warning_lines()[0];
    assert_eq!(
        warning,
        &denial_line.replace("policy \"p\":", "policy \"p\" (mode: warn):")
    );
    let response = warned.to_response("uid-1");
    let view = check_response(
        "uid-1",
        "signet",
        WebhookType::Validating,
        &response.to_json(),
    )
    .unwrap();
    assert!(view.allowed);
    assert_eq!(&view.warnings, std::slice::from_ref(warning));
}

#[test]
fn infrastructure_errors_fail_closed_unless_the_policy_fails_open() {
    let img = format!("registry.example.com/app@{D}");
    let closed = policies(&[policy("p", "registry.example.com/**", TWO_KEYS, "")]);
    let open = policies(&[policy(
        "p",
        "registry.example.com/**",
        TWO_KEYS,
        "  failOpen: true\n",
    )]);
    let w = pod(&[&img]);
    let down = [
        (img.as_str(), "p", 0, infra("registry timeout after 8s")),
        (img.as_str(), "p", 1, infra("registry timeout after 8s")),
    ];
    let d = run(&closed, &w, &down, &Settings::default());
    assert!(!d.allowed);
    assert!(
        d.message()
            .unwrap()
            .contains("could not be verified, denied (set failOpen: true"),
        "{:?}",
        d.message()
    );
    let d = run(&open, &w, &down, &Settings::default());
    assert!(d.allowed);
    assert_eq!(d.failed_open, 1);
    assert!(d.warning_lines()[0].contains("allowed without verification (failOpen)"));

    // A verification failure denies in both modes, even next to an infrastructure error.
    let mixed = [
        (img.as_str(), "p", 0, rejected("signature mismatch")),
        (img.as_str(), "p", 1, infra("connection refused")),
    ];
    assert!(!run(&closed, &w, &mixed, &Settings::default()).allowed);
    let d = run(&open, &w, &mixed, &Settings::default());
    assert!(
        d.allowed,
        "failOpen: one authority could not be checked, and it might have passed"
    );
    // A verified authority passes regardless of the other's error.
    assert!(
        run(
            &closed,
            &w,
            &[
                (img.as_str(), "p", 0, infra("down")),
                (img.as_str(), "p", 1, AuthorityOutcome::Verified)
            ],
            &Settings::default()
        )
        .allowed
    );
    // No outcome recorded at all (the caller ran out of time): fail closed.
    let d = run(&closed, &w, &[], &Settings::default());
    assert!(!d.allowed);
    assert!(
        d.message()
            .unwrap()
            .contains("no verification result was recorded")
    );
    // Only rejections: failOpen does not help.
    let rejected_only = [
        (img.as_str(), "p", 0, rejected("no signatures")),
        (img.as_str(), "p", 1, rejected("no signatures")),
    ];
    assert!(!run(&open, &w, &rejected_only, &Settings::default()).allowed);
}

#[test]
fn digests_are_required_unless_the_policy_says_otherwise() {
    let tagged = "registry.example.com/app:1.0";
    let strict = policies(&[policy("p", "registry.example.com/**", TWO_KEYS, "")]);
    let lax = policies(&[policy(
        "p",
        "registry.example.com/**",
        TWO_KEYS,
        "  verifyDigest: false\n",
    )]);
    let w = pod(&[tagged]);
    let plan = Plan::new(&strict, &w);
    assert!(
        plan.verifications(&strict).is_empty(),
        "nothing to verify: the image fails for want of a digest"
    );
    let d = decide(&strict, &plan, &Outcomes::new(), &Settings::default());
    assert!(!d.allowed);
    assert!(d.message().unwrap().contains("must be pinned to a digest"));
    let plan = Plan::new(&lax, &w);
    assert_eq!(plan.verifications(&lax).len(), 2);
    assert!(
        run(
            &lax,
            &w,
            &[(tagged, "p", 0, AuthorityOutcome::Verified)],
            &Settings::default()
        )
        .allowed
    );
    // Tags next to digests are fine.
    let both = format!("registry.example.com/app:1.0@{D}");
    assert!(
        run(
            &strict,
            &pod(&[&both]),
            &[(&both, "p", 1, AuthorityOutcome::Verified)],
            &Settings::default()
        )
        .allowed
    );
}

#[test]
fn invalid_references_are_denied() {
    let set = policies(&[policy("p", "**", "[{static: {action: pass}}]", "")]);
    let w = pod(&[
        "Registry.example.com/UPPER/app:1",
        &format!("registry.example.com/app@{D}"),
    ]);
    let d = run(&set, &w, &[], &Settings::default());
    assert!(!d.allowed);
    assert_eq!(d.denials.len(), 1);
    assert!(matches!(
        d.denials[0].problem,
        ImageProblem::InvalidReference { .. }
    ));
    assert!(d.denials[0].to_string().starts_with("container \"c0\" (spec.containers[0].image): image \"Registry.example.com/UPPER/app:1\": not a valid image reference"));
}

#[test]
fn identical_images_are_verified_once() {
    let set = policies(&[policy("p", "index.docker.io/library/redis*", TWO_KEYS, "")]);
    let a = format!("redis@{D}");
    let b = format!("docker.io/library/redis@{D}");
    let c = format!("index.docker.io/library/redis@{D}");
    let w = pod(&[&a, &b, &c, &format!("redis@{D2}")]);
    let plan = Plan::new(&set, &w);
    assert_eq!(plan.images().len(), 2);
    assert_eq!(plan.images()[0].uses.len(), 3);
    assert_eq!(
        plan.verifications(&set).len(),
        4,
        "2 distinct images x 2 authorities"
    );
    let mut outcomes = Outcomes::new();
    for v in plan.verifications(&set) {
        let ok = v.image.key.ends_with(D);
        outcomes.record(
            &v,
            if ok {
                AuthorityOutcome::Verified
            } else {
                rejected("no signatures")
            },
        );
    }
    let d = decide(&set, &plan, &outcomes, &Settings::default());
    assert!(!d.allowed);
    assert_eq!(d.denials.len(), 1);
    assert!(d.denials[0].to_string().starts_with("container \"c3\""));
    assert_eq!(
        d.verdicts
            .iter()
            .filter(|(_, v)| *v == Verdict::Denied)
            .count(),
        1
    );
}

#[test]
fn namespaces_opt_in_and_the_webhook_namespace_is_exempt() {
    let s = Settings {
        webhook_namespace: Some("signet-system".into()),
        ..Settings::default()
    };
    let labels = |v: &str| BTreeMap::from([(INCLUDE_LABEL.to_owned(), v.to_owned())]);
    assert_eq!(
        namespace_scope(&s, "team-a", Some(&labels("true"))),
        Scope::Checked
    );
    assert_eq!(
        namespace_scope(&s, "team-a", Some(&labels("false"))),
        Scope::Exempt(Exemption::NotOptedIn)
    );
    assert_eq!(
        namespace_scope(&s, "team-a", Some(&BTreeMap::new())),
        Scope::Exempt(Exemption::NotOptedIn)
    );
    assert_eq!(
        namespace_scope(&s, "team-a", None),
        Scope::Checked,
        "labels unknown: the namespaceSelector chose"
    );
    assert_eq!(
        namespace_scope(&s, "signet-system", Some(&labels("true"))),
        Scope::Exempt(Exemption::WebhookNamespace)
    );
    let all = Settings {
        namespaces: NamespaceSelection::All,
        ..s.clone()
    };
    assert_eq!(
        namespace_scope(&all, "team-a", Some(&BTreeMap::new())),
        Scope::Checked
    );
    assert_eq!(
        namespace_scope(&all, "signet-system", None),
        Scope::Exempt(Exemption::WebhookNamespace)
    );
    let (_, w) = fixture("pod-create-webhook-namespace.json");
    assert_eq!(
        namespace_scope(&s, &w.namespace, None),
        Scope::Exempt(Exemption::WebhookNamespace)
    );
}

#[test]
fn pinning_plan_and_patch() {
    let set = policies(&[
        policy(
            "signet",
            "registry.example.com/signet/**",
            "[{static: {action: pass}}]",
            "",
        ),
        policy(
            "gitops",
            "registry.example.com/signet/init*",
            "[{static: {action: pass}}]",
            "  mutateDigest: false\n",
        ),
    ]);
    let (uid, w) = fixture("deployment-update-image-changed.json");
    let plan = Plan::new(&set, &w);
    let keys: Vec<&str> = plan.to_pin(&set).iter().map(|i| i.key.as_str()).collect();
    // init: unchanged (and opted out); app:1.1: changed; redis: no policy.
    assert_eq!(keys, ["registry.example.com/signet/app:1.1"]);
    let resolved = BTreeMap::from([(keys[0].to_owned(), D.parse::<Digest>().unwrap())]);
    let pointers = plan.pin_pointers(&resolved);
    let patch = pin_digests(&w.images, &pointers).unwrap();
    let response = AdmissionResponse::allow(&uid)
        .with_patch(patch.clone())
        .to_json();
    let view = check_response(&uid, "signet-mutate", WebhookType::Mutating, &response).unwrap();
    assert_eq!(view.patch.as_ref(), Some(&patch));
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/admission/deployment-update-image-changed.json");
    let mut object = parse_review(&std::fs::read(path).unwrap())
        .unwrap()
        .object
        .unwrap();
    view.patch.unwrap().apply(&mut object).unwrap();
    assert_eq!(
        object
            .pointer("/spec/template/spec/containers/0/image")
            .and_then(|v| v.as_str()),
        Some(format!("registry.example.com/signet/app:1.1@{D}").as_str())
    );
    assert_eq!(
        object
            .pointer("/spec/template/spec/initContainers/0/image")
            .and_then(|v| v.as_str()),
        Some("registry.example.com/signet/init:1.0")
    );

    // On CREATE everything new and matched is pinned; digests and unmatched images are not.
    let (_, created) = fixture("pod-create.json");
    let plan = Plan::new(&set, &created);
    let keys: Vec<&str> = plan.to_pin(&set).iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        ["registry.example.com/signet/app:1.0"],
        "init opted out, sidecar pinned, redis unmatched"
    );
}

#[test]
fn denial_messages_stay_short() {
    let set = policies(&[policy(
        "p",
        "**",
        "[{name: k, key: {secretRef: {name: a}}}]",
        "",
    )]);
    let images: Vec<String> = (0..7)
        .map(|i| format!("registry.example.com/app{i}@{D}"))
        .collect();
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let outcomes: Vec<_> = refs
        .iter()
        .map(|i| (*i, "p", 0, rejected("no signatures found\nsecond line")))
        .collect();
    let d = run(&set, &pod(&refs), &outcomes, &Settings::default());
    let message = d.message().unwrap();
    assert_eq!(
        message.lines().count(),
        1 + MAX_DENIAL_FINDINGS + 1,
        "{message}"
    );
    assert!(message.ends_with("… and 3 more"));
    assert!(
        message.contains("no signatures found second line"),
        "reasons are one line"
    );
    let view = check_response(
        "u",
        "signet",
        WebhookType::Validating,
        &d.to_response("u").to_json(),
    )
    .unwrap();
    assert_eq!(view.code, Some(403));
    assert!(view.message.unwrap().starts_with("admission webhook \"signet\" denied the request: signet denied Pod \"single\": 7 image problem(s)\ncontainer \"c0\""));
}

#[test]
fn every_fixture_workload_is_decided_end_to_end() {
    let set = policies(&[
        policy("p", "registry.example.com/**", TWO_KEYS, ""),
        policy(
            "hub",
            "index.docker.io/library/*",
            "[{static: {action: pass}}]",
            "  verifyDigest: false\n",
        ),
    ]);
    for name in [
        "pod-create.json",
        "deployment-create.json",
        "replicaset-create.json",
        "statefulset-create.json",
        "daemonset-create.json",
        "job-create.json",
        "cronjob-create.json",
        "replicationcontroller-create.json",
        "pod-ephemeralcontainers.json",
        "pod-create-image-volume.json",
    ] {
        let (uid, w) = fixture(name);
        let plan = Plan::new(&set, &w);
        let mut outcomes = Outcomes::new();
        for v in plan.verifications(&set) {
            outcomes.record(&v, AuthorityOutcome::Verified);
        }
        let allow_unmatched = Settings {
            no_match: NoMatchPolicy::Allow,
            ..Settings::default()
        };
        let d = decide(&set, &plan, &outcomes, &allow_unmatched);
        let unpinned = plan
            .images()
            .iter()
            .any(|i| !i.is_pinned() && i.policies.iter().any(|p| p == "p"));
        assert_eq!(d.allowed, !unpinned, "{name}: {:?}", d.message());
        let view = check_response(
            &uid,
            "signet",
            WebhookType::Validating,
            &d.to_response(&uid).to_json(),
        )
        .unwrap();
        assert_eq!(view.allowed, d.allowed);
    }
}

#[derive(Debug, Clone, Copy)]
enum O {
    Verified,
    Rejected,
    Infra,
    Missing,
}

fn outcome_strategy() -> impl Strategy<Value = O> {
    prop_oneof![
        Just(O::Verified),
        Just(O::Rejected),
        Just(O::Infra),
        Just(O::Missing)
    ]
}

proptest! {
    /// The truth table of the combinators, against a direct oracle: AND over matching
    /// policies, OR over a policy's authorities, warn mode never denies, failOpen turns
    /// only unverifiable policies into warnings.
    #[test]
    fn decision_truth_table(
        specs in prop::collection::vec((prop::collection::vec(outcome_strategy(), 1..4), any::<bool>(), any::<bool>()), 1..4),
    ) {
        let img = format!("registry.example.com/app@{D}");
        let mut docs = Vec::new();
        for (i, (auths, warn, fail_open)) in specs.iter().enumerate() {
            let list: Vec<String> = (0..auths.len()).map(|j| format!("{{name: a{j}, key: {{secretRef: {{name: s{j}}}}}}}")).collect();
            let mut extra = String::new();
            if *warn { extra.push_str("  mode: warn\n"); }
            if *fail_open { extra.push_str("  failOpen: true\n"); }
            docs.push(policy(&format!("p{i}"), "registry.example.com/**", &format!("[{}]", list.join(", ")), &extra));
        }
        let set = policies(&docs);
        let w = pod(&[&img]);
        let mut outcomes = Vec::new();
        for (i, (auths, _, _)) in specs.iter().enumerate() {
            for (j, o) in auths.iter().enumerate() {
                let out = match o {
                    O::Verified => AuthorityOutcome::Verified,
                    O::Rejected => rejected("bad"),
                    O::Infra => infra("down"),
                    O::Missing => continue,
                };
                outcomes.push((img.clone(), format!("p{i}"), j, out));
            }
        }
        let borrowed: Vec<_> = outcomes.iter().map(|(a, b, c, d)| (a.as_str(), b.as_str(), *c, d.clone())).collect();
        let d = run(&set, &w, &borrowed, &Settings::default());

        let mut expect_allowed = true;
        let mut expect_failed_open = 0;
        for (auths, warn, fail_open) in &specs {
            let passes = auths.iter().any(|o| matches!(o, O::Verified));
            let unverifiable = auths.iter().any(|o| matches!(o, O::Infra | O::Missing));
            if passes || *warn { continue; }
            if unverifiable && *fail_open { expect_failed_open += 1; continue; }
            expect_allowed = false;
        }
        prop_assert_eq!(d.allowed, expect_allowed);
        prop_assert_eq!(d.failed_open, expect_failed_open);
        let failing = specs.iter().filter(|(a, _, _)| !a.iter().any(|o| matches!(o, O::Verified))).count();
        prop_assert_eq!(d.denials.len() + d.warnings.len(), failing);
    }
}
