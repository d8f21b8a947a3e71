//! The admission logic without a network: static authorities, Secrets the webhook
//! cannot read, fail-open, and the offline `check` of a manifest.

use std::sync::Arc;

use serde_json::json;
use signet_policy::PolicySet;

use super::*;
use crate::server::Config;

/// The admission logic over `policies`, with the default configuration.
fn admitter_over(policies: &str) -> Admitter {
    let set = PolicySet::from_yaml("test.yaml", policies).unwrap();
    let config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        "unused.crt".into(),
        "unused.key".into(),
        "unused".into(),
    );
    Admitter::from_config(&config, Arc::new(PolicyStore::fixed(set))).unwrap()
}

fn admitter(policies: &str) -> Arc<Admitter> {
    Arc::new(admitter_over(policies))
}

/// The denial message of a validating review of `body`.
async fn denial(a: &Arc<Admitter>, body: &[u8]) -> String {
    let (r, v) = a.validate(body).await.unwrap();
    assert!(!r.allowed && v == Verdict::Denied, "{r:?}");
    r.message.unwrap()
}

fn review(image: &str) -> Vec<u8> {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "team-a",
            "operation": "CREATE",
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                       "spec": {"containers": [{"name": "app", "image": image}]}}
        }
    })
    .to_string()
    .into_bytes()
}

const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn policy(authority: &str, extra: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: p}}\nspec:\n  images: [{{glob: \"r.example/**\"}}]\n  authorities: [{authority}]\n{extra}"
    )
}

#[tokio::test]
async fn static_authorities_need_no_registry() {
    let a = admitter(&policy("{static: {action: pass}}", ""));
    let (r, v) = a
        .validate(&review(&format!("r.example/app@{DIGEST}")))
        .await
        .unwrap();
    assert!(r.allowed && v == Verdict::Allowed, "{r:?}");
    let a = admitter(&policy("{static: {action: fail, message: frozen}}", ""));
    let (r, v) = a
        .validate(&review(&format!("r.example/app@{DIGEST}")))
        .await
        .unwrap();
    assert_eq!(v, Verdict::Denied);
    assert!(
        r.message
            .unwrap()
            .contains("disallowed by static policy: frozen")
    );
}

#[tokio::test]
async fn a_secret_ref_is_an_infrastructure_failure_out_of_cluster() {
    let authority = "{name: k, key: {secretRef: {name: cosign-pub, namespace: signet-system}}}";
    let a = admitter(&policy(authority, ""));
    let message = denial(&a, &review(&format!("r.example/app@{DIGEST}"))).await;
    assert!(
        message.contains("key.secretRef signet-system/cosign-pub needs the Kubernetes API"),
        "{message}"
    );
    assert!(message.contains("set failOpen: true"), "{message}");
    // with failOpen: allowed, with a warning, and counted
    let a = admitter(&policy(authority, "  failOpen: true\n"));
    let (r, v) = a
        .validate(&review(&format!("r.example/app@{DIGEST}")))
        .await
        .unwrap();
    assert!(r.allowed, "{r:?}");
    assert_eq!(v, Verdict::Warned);
    assert!(
        r.warnings[0].contains("allowed without verification (failOpen)"),
        "{r:?}"
    );
    assert_eq!(a.metrics().fail_open_count(), 1);
    assert!(a.cache().is_empty());
}

#[tokio::test]
async fn mutate_leaves_what_it_cannot_resolve_and_warns() {
    // 127.0.0.1:9 refuses connections.
    let set = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: p}\nspec:\n  images: [{glob: \"127.0.0.1:9/**\"}]\n  authorities: [{static: {action: pass}}]\n";
    let a = admitter(set);
    let (r, v) = a.mutate(&review("127.0.0.1:9/app:1")).await.unwrap();
    assert!(r.allowed && v == Verdict::Warned, "{r:?}");
    assert!(r.patch.is_none());
    assert_eq!(r.warnings.len(), 1, "{r:?}");
    assert!(
        r.warnings[0].starts_with("signet could not pin 127.0.0.1:9/app:1 to a digest: "),
        "{r:?}"
    );
    // Unpinned, the validating webhook denies.
    let message = denial(&a, &review("127.0.0.1:9/app:1")).await;
    assert!(
        message.contains(
            "image \"127.0.0.1:9/app:1\": policy \"p\": the image must be pinned to a digest"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn check_objects_skips_what_is_not_a_workload() {
    let a = admitter(&policy(
        "{static: {action: pass}}",
        "  verifyDigest: false\n  mutateDigest: false\n",
    ));
    let objects = workloads_from_yaml(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: a}, spec: {containers: [{name: c, image: \"r.example/app:1\"}]}}\n- {apiVersion: batch/v1, kind: Job, metadata: {name: j, namespace: jobs}, spec: {template: {spec: {containers: [{name: c, image: \"other.example/x:1\"}]}}}}\n",
    )
    .unwrap();
    assert_eq!(objects.len(), 3);
    let results = a.check_objects(&objects).await;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].verdict, Verdict::Allowed);
    assert_eq!(results[0].namespace, "default");
    assert_eq!(
        results[1].verdict,
        Verdict::Denied,
        "no policy matches other.example"
    );
    assert_eq!(
        (results[1].namespace.as_str(), results[1].name.as_str()),
        ("jobs", "j")
    );
    let message = results[1].message.as_deref().unwrap();
    assert!(message.contains("other.example/x:1"), "{message}");
    assert!(!workloads_from_yaml("a: [").unwrap_err().is_empty());
}

#[tokio::test]
async fn concurrent_identical_checks_share_one_run() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let flights = InFlight::default();
    let runs = Arc::new(AtomicUsize::new(0));
    let key = CacheKey::new(
        "r/a",
        &signet_formats::Digest::sha256_of(b"x"),
        PolicySet::empty().generation(),
        b"k",
    );
    let check = |runs: Arc<AtomicUsize>| async move {
        runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Arc::new(Vec::new())
    };
    let (a, b) = tokio::join!(
        flights.join(key, check(runs.clone())),
        flights.join(key, check(runs.clone()))
    );
    assert!(a.is_empty() && b.is_empty());
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "one registry check for both"
    );
    // once finished, the next request checks again (results are not cached here)
    flights.join(key, check(runs.clone())).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn authorities_map_to_requirements_or_say_why_not() {
    let set = PolicySet::from_yaml(
        "t.yaml",
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: p}\nspec:\n  images: [{glob: \"r.example/**\"}]\n  authorities:\n  - keyless:\n      identities:\n      - {issuer: https://issuer.example, subject: a@example.com}\n      - {issuerRegExp: \"^https://\", subjectRegExp: \"@example\\\\.com$\"}\n    signatureFormat: bundle\n  - keyless:\n      trustRootRef: private\n      identities: [{issuer: i, subject: s}]\n",
    )
    .unwrap();
    let p = &set.policies()[0];
    let two = requirements(&p.authorities[0]).unwrap();
    assert_eq!(
        two.len(),
        2,
        "one requirement per identity: any passing passes"
    );
    assert!(
        two.iter()
            .all(|r| r.formats == SignatureFormats::BundlesOnly)
    );
    assert!(matches!(
        two[0].policy.authority,
        signet_verify::Authority::Keyless(_)
    ));
    // The regexes are the policy's own, compiled when it loaded.
    let signet_verify::Authority::Keyless(m) = &two[1].policy.authority else {
        panic!("{:?}", two[1].policy.authority);
    };
    assert!(
        matches!((&m.issuer, &m.subject), (StringMatcher::Regex(i), StringMatcher::Regex(s)) if i.as_str() == "^https://" && s.as_str() == "@example\\.com$"),
        "{m:?}"
    );
    // The TrustRoot is attached by the caller (crate::trust_roots), not here.
    let one = requirements(&p.authorities[1]).unwrap();
    assert_eq!(one.len(), 1);
    assert!(one[0].trust.is_none());
    // The verdict cache key depends on the authority's content.
    assert_ne!(
        authority_identity(&p.authorities[0]),
        authority_identity(&p.authorities[1])
    );
}

/// Secrets and ServiceAccounts for [`Admitter::with_pull_secrets`], counting reads.
#[derive(Debug, Default)]
struct FakeApi {
    down: bool,
    broken: bool,
    reads: std::sync::atomic::AtomicUsize,
}

impl PullSecretSource for FakeApi {
    fn pull_secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::pull_secrets::PullSecret>, crate::pull_secrets::ApiError>>
    {
        Box::pin(async move {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if self.down {
                return Err(crate::pull_secrets::ApiError::Unreachable {
                    what: format!("Secret {namespace}/{name}"),
                    reason: "connection refused".into(),
                });
            }
            Ok(self.broken.then(|| crate::pull_secrets::PullSecret {
                dockerconfigjson: Some(b"{\"auths\": 3}".to_vec()),
                dockercfg: None,
            }))
        })
    }

    fn service_account_pull_secrets<'a>(
        &'a self,
        _namespace: &'a str,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, crate::pull_secrets::ApiError>> {
        Box::pin(async move {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(None)
        })
    }
}

fn review_with_pull_secret(image: &str) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&review(image)).unwrap();
    v["request"]["object"]["spec"]["imagePullSecrets"] = json!([{"name": "regcred"}]);
    v.to_string().into_bytes()
}

const PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAETxUuah0i//OgilbAA3AotYuGyako\\noWYKTUnVZUiCCntbBICYg4Zza2pV4Aa+dinGZJPULhPEv1oMtcd1thQcEQ==\\n-----END PUBLIC KEY-----\\n";

#[tokio::test]
async fn pull_secrets_are_read_only_when_the_registry_is_needed_and_fail_as_they_should() {
    let key_authority = format!("{{name: k, key: {{data: \"{PUBLIC_KEY}\"}}}}");
    let with = |policies: &str, api: FakeApi| {
        let api = Arc::new(api);
        let a = admitter_over(policies).with_pull_secrets(api.clone());
        (Arc::new(a), api)
    };
    let down = || FakeApi {
        down: true,
        ..FakeApi::default()
    };
    let image = format!("r.example/app@{DIGEST}");
    // A static authority needs no registry, so no Secret is read, even with the API down.
    let (a, api) = with(&policy("{static: {action: pass}}", ""), down());
    let (r, _) = a.validate(&review_with_pull_secret(&image)).await.unwrap();
    assert!(r.allowed, "{r:?}");
    assert_eq!(api.reads.load(std::sync::atomic::Ordering::SeqCst), 0);
    // The API down: an infrastructure failure, which denies...
    let (a, api) = with(&policy(&key_authority, ""), down());
    let message = denial(&a, &review_with_pull_secret(&image)).await;
    assert!(
        message.contains(
            "authority \"k\": registry credentials: the Kubernetes API could not be asked for Secret team-a/regcred: connection refused"
        ),
        "{message}"
    );
    // The pod's Secret and its ServiceAccount, asked together, once for the request.
    assert_eq!(api.reads.load(std::sync::atomic::Ordering::SeqCst), 2);
    // ...unless the policy fails open.
    let (a, _) = with(&policy(&key_authority, "  failOpen: true\n"), down());
    let (r, v) = a.validate(&review_with_pull_secret(&image)).await.unwrap();
    assert!(r.allowed, "{r:?}");
    assert_eq!(v, Verdict::Warned);
    assert!(
        r.warnings[0].contains(
            "allowed without verification (failOpen): authority \"k\": registry credentials: "
        ),
        "{r:?}"
    );
    // A malformed pull secret denies, failOpen or not, and says which and why.
    let (a, _) = with(
        &policy(&key_authority, "  failOpen: true\n"),
        FakeApi {
            broken: true,
            ..FakeApi::default()
        },
    );
    let message = denial(&a, &review_with_pull_secret(&image)).await;
    assert!(
        message.contains(
            "authority \"k\": imagePullSecret team-a/regcred: .dockerconfigjson does not hold registry credentials: its `auths` is not a JSON object"
        ),
        "{message}"
    );
    // The mutating webhook reports it as a pin it could not make.
    let (r, _) = a
        .mutate(&review_with_pull_secret("r.example/app:1"))
        .await
        .unwrap();
    assert!(r.allowed && r.patch.is_none());
    assert!(
        r.warnings[0].contains("imagePullSecret team-a/regcred"),
        "{r:?}"
    );
}
