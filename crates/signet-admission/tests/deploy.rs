//! The Kubernetes manifests in `deploy/kubernetes/`: every file parses, the kustomization
//! lists them all, the webhook configurations have the defaults issue 5 asks for, the
//! Deployment is hardened, and the shipped policies load through signet-policy.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use signet_policy::PolicySet;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/kubernetes")
}

fn docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

fn all_objects() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for dir in [deploy_dir(), deploy_dir().join("examples")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for d in docs(&path) {
                out.push((name.clone(), d));
            }
        }
    }
    out
}

/// Asserts that the OpenAPI `properties` of `what` define each of `fields`.
fn assert_properties(properties: &Value, fields: &[&str], what: &str) {
    for field in fields {
        assert!(properties.get(field).is_some(), "{what} lacks {field}");
    }
}

fn find<'a>(objects: &'a [(String, Value)], kind: &str) -> Vec<&'a Value> {
    objects
        .iter()
        .filter(|(_, o)| o["kind"] == kind)
        .map(|(_, o)| o)
        .collect()
}

#[test]
fn every_manifest_parses_and_the_kustomization_lists_them() {
    let objects = all_objects();
    for (file, o) in &objects {
        assert!(
            o["apiVersion"].is_string() && o["kind"].is_string(),
            "{file}: {o}"
        );
    }
    let kustomization = docs(&deploy_dir().join("kustomization.yaml")).remove(0);
    assert_eq!(kustomization["namespace"], "signet-system");
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, on_disk, "every manifest is applied, and only those");
    for kind in [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Deployment",
        "Service",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        assert!(!find(&objects, kind).is_empty(), "no {kind}");
    }
}

#[test]
fn webhook_configurations_have_safe_defaults() {
    let objects = all_objects();
    let expected_resources: BTreeSet<&str> = [
        "pods",
        "pods/ephemeralcontainers",
        "deployments",
        "replicasets",
        "statefulsets",
        "daemonsets",
        "jobs",
        "cronjobs",
        "replicationcontrollers",
    ]
    .into_iter()
    .collect();
    for (kind, path) in [
        ("MutatingWebhookConfiguration", "/mutate"),
        ("ValidatingWebhookConfiguration", "/validate"),
    ] {
        let config = find(&objects, kind)[0];
        let hooks = config["webhooks"].as_array().unwrap();
        assert_eq!(hooks.len(), 1);
        let h = &hooks[0];
        assert_eq!(h["failurePolicy"], "Fail", "{kind}");
        assert_eq!(h["timeoutSeconds"], 10, "{kind}");
        assert_eq!(h["sideEffects"], "None", "{kind}");
        assert_eq!(h["admissionReviewVersions"], json!(["v1"]), "{kind}");
        assert_eq!(
            h["namespaceSelector"],
            json!({"matchExpressions": [{"key": "policy.sigstore.dev/include", "operator": "In", "values": ["true"]}]}),
            "{kind}"
        );
        assert_eq!(h["clientConfig"]["service"]["path"], path);
        assert_eq!(h["clientConfig"]["service"]["name"], "signet-webhook");
        if kind == "MutatingWebhookConfiguration" {
            assert_eq!(h["reinvocationPolicy"], "IfNeeded");
        } else {
            assert!(h.get("reinvocationPolicy").is_none());
        }
        let mut resources = BTreeSet::new();
        for rule in h["rules"].as_array().unwrap() {
            assert_eq!(rule["operations"], json!(["CREATE", "UPDATE"]), "{kind}");
            for r in rule["resources"].as_array().unwrap() {
                resources.insert(r.as_str().unwrap());
            }
        }
        assert_eq!(resources, expected_resources, "{kind}");
    }
}

#[test]
fn the_deployment_is_hardened_and_probed() {
    let objects = all_objects();
    let d = find(&objects, "Deployment")[0];
    assert_eq!(d["spec"]["replicas"], 2);
    let pod = &d["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["serviceAccountName"], "signet-admission");
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert!(c["resources"]["requests"]["cpu"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(args[0], "admission");
    for flag in ["--tls-cert=", "--tls-key=", "--policy=", "--timeout=8s"] {
        assert!(
            args.iter().any(|a| a.starts_with(flag)),
            "{flag} in {args:?}"
        );
    }
    assert_eq!(
        c["env"][0]["name"], "POD_NAMESPACE",
        "the webhook's own namespace is exempt"
    );
    // key.secretRef Secrets: the webhook's namespace.
    let role = find(&objects, "Role")[0];
    assert_eq!(role["metadata"]["namespace"], "signet-system");
    assert_eq!(role["rules"][0]["resources"], json!(["secrets"]));
    let cluster_roles = find(&objects, "ClusterRole");
    let named = |name: &str| {
        *cluster_roles
            .iter()
            .find(|r| r["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("ClusterRole {name}"))
    };
    assert!(
        !named("signet-admission").to_string().contains("secrets"),
        "the policy watch grants no Secret access"
    );
    assert_eq!(
        named("signet-admission")["rules"],
        json!([{"apiGroups": ["policy.sigstore.dev"], "resources": ["clusterimagepolicies", "trustroots"], "verbs": ["get", "list", "watch"]}]),
        "both watched resources, read-only"
    );
    // Image pull secrets and ServiceAccounts: in every namespace, `get` only (no list
    // or watch of Secrets cluster-wide), bound to the webhook's ServiceAccount.
    let pulls = named("signet-admission-pull-secrets");
    assert_eq!(
        pulls["rules"],
        json!([{"apiGroups": [""], "resources": ["secrets", "serviceaccounts"], "verbs": ["get"]}])
    );
    let binding = find(&objects, "ClusterRoleBinding")
        .into_iter()
        .find(|b| b["roleRef"]["name"] == "signet-admission-pull-secrets")
        .expect("the pull-secrets ClusterRole is bound");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "signet-admission", "namespace": "signet-system"}])
    );
}

#[test]
fn the_crd_and_the_shipped_policies_match_what_signet_reads() {
    let objects = all_objects();
    let crds = find(&objects, "CustomResourceDefinition");
    let crd = |name: &str| {
        *crds
            .iter()
            .find(|c| c["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("the {name} CRD is shipped"))
    };
    let policy = crd("clusterimagepolicies.policy.sigstore.dev");
    assert_eq!(policy["spec"]["scope"], "Cluster");
    let versions = policy["spec"]["versions"].as_array().unwrap();
    let storage: Vec<&str> = versions
        .iter()
        .filter(|v| v["storage"] == true)
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(storage, ["v1beta1"]);
    for v in versions {
        let spec = &v["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
        assert_properties(
            spec,
            &[
                "images",
                "authorities",
                "mode",
                "match",
                "policy",
                "mutateDigest",
                "verifyDigest",
                "failOpen",
            ],
            &format!("{} spec", v["name"]),
        );
        assert_properties(
            &spec["authorities"]["items"]["properties"],
            &[
                "name",
                "key",
                "keyless",
                "static",
                "source",
                "ctlog",
                "signatureFormat",
                "attestations",
                "rfc3161timestamp",
            ],
            &format!("{} authorities[]", v["name"]),
        );
    }
    // The TrustRoot CRD carries every sigstoreKeys field signet reads (the apiserver
    // prunes the others).
    let trust_root = crd("trustroots.policy.sigstore.dev");
    assert_eq!(trust_root["spec"]["scope"], "Cluster");
    let version = &trust_root["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    let keys = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["sigstoreKeys"]
        ["properties"];
    for (list, fields) in [
        (
            "certificateAuthorities",
            &["subject", "uri", "certChain"][..],
        ),
        ("timestampAuthorities", &["subject", "uri", "certChain"][..]),
        ("tLogs", &["baseURL", "hashAlgorithm", "publicKey"][..]),
        ("ctLogs", &["baseURL", "hashAlgorithm", "publicKey"][..]),
    ] {
        assert_properties(
            &keys[list]["items"]["properties"],
            fields,
            &format!("TrustRoot sigstoreKeys.{list}[]"),
        );
    }
    // The example and the ConfigMap's policies load, and are the same policy.
    let example =
        std::fs::read_to_string(deploy_dir().join("examples/clusterimagepolicy.yaml")).unwrap();
    let from_example = PolicySet::from_yaml("clusterimagepolicy.yaml", &example).unwrap();
    assert_eq!(from_example.policies().len(), 1);
    let cm = find(&objects, "ConfigMap")[0];
    let mut loaded = 0;
    for (file, text) in cm["data"].as_object().unwrap() {
        let set = PolicySet::from_yaml(file, text.as_str().unwrap())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(set.generation(), from_example.generation(), "{file}");
        loaded += set.policies().len();
    }
    assert_eq!(loaded, 1);
}
