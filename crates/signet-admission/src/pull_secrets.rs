//! The registry credentials of the workload being admitted, found as kubelet finds
//! them to pull its images (and as policy-controller's k8schain does): the pod spec's
//! `imagePullSecrets` (for workloads, their pod template's), then the `imagePullSecrets`
//! of its ServiceAccount (`serviceAccountName`, default `default`), all in the request's
//! namespace; then the webhook's own docker config.
//!
//! Secrets of type `kubernetes.io/dockerconfigjson` (`.dockerconfigjson`) and
//! `kubernetes.io/dockercfg` (`.dockercfg`, the legacy flat map) are parsed by
//! signet-oci's docker config parser ([`signet_oci::DockerAuths`]), which never runs a
//! credential helper. As with kubelet, a Secret or ServiceAccount that does not exist
//! is skipped (the webhook logs it), and a Secret with neither entry is skipped; a
//! Secret whose entry does not parse is an error that names it. An API that cannot be
//! asked, or that refuses the webhook (RBAC), is an infrastructure failure.
//!
//! The source is a trait, [`PullSecretSource`]; in a cluster it is
//! `kubernetes::KubernetesSecrets` (the `kubernetes` feature), which caches reads for
//! 30 s. Out of a cluster there is none, and only the docker config is used.

use std::fmt;

use futures_util::future::{BoxFuture, join, join_all};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use signet_oci::{CredentialSet, DockerAuths};
use signet_policy::workload::WorkloadKind;

/// What a workload names for pulling its images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSecretRefs {
    /// The request's namespace, where the Secrets and the ServiceAccount live.
    pub namespace: String,
    /// The pod spec's `imagePullSecrets[].name`, in order, without empty names or
    /// repeats.
    pub secrets: Vec<String>,
    /// `serviceAccountName` (else the deprecated `serviceAccount`), else `default`.
    pub service_account: String,
}

impl PullSecretRefs {
    /// The references in `object`, a `kind`, admitted in `namespace`: read from its pod
    /// spec (`spec`, `spec.template.spec` or `spec.jobTemplate.spec.template.spec`).
    /// Fields of the wrong type are ignored (the apiserver has validated the object).
    pub fn of(kind: WorkloadKind, namespace: &str, object: &Value) -> Self {
        let spec = object.pointer(kind.pod_spec_pointer().as_str());
        let mut secrets: Vec<String> = Vec::new();
        if let Some(Value::Array(items)) = spec.and_then(|s| s.get("imagePullSecrets")) {
            for name in items
                .iter()
                .filter_map(|i| i.get("name").and_then(Value::as_str))
            {
                if !name.is_empty() && !secrets.iter().any(|s| s == name) {
                    secrets.push(name.to_owned());
                }
            }
        }
        let field = |name: &str| {
            spec.and_then(|s| s.get(name))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let service_account = field("serviceAccountName")
            .or_else(|| field("serviceAccount"))
            .unwrap_or("default")
            .to_owned();
        PullSecretRefs {
            namespace: namespace.to_owned(),
            secrets,
            service_account,
        }
    }
}

/// The registry credential entries of a Secret, as the API returned them (decoded).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PullSecret {
    /// `data[".dockerconfigjson"]`.
    pub dockerconfigjson: Option<Vec<u8>>,
    /// `data[".dockercfg"]`.
    pub dockercfg: Option<Vec<u8>>,
}

impl fmt::Debug for PullSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PullSecret")
            .field(
                "dockerconfigjson",
                &self.dockerconfigjson.as_ref().map(Vec::len),
            )
            .field("dockercfg", &self.dockercfg.as_ref().map(Vec::len))
            .finish()
    }
}

/// Why the Kubernetes API gave no answer about an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The API could not be asked (down, timeout).
    #[error("the Kubernetes API could not be asked for {what}: {reason}")]
    Unreachable {
        /// `Secret team-a/regcred`, `ServiceAccount team-a/default`.
        what: String,
        /// What failed.
        reason: String,
    },
    /// The API refused the webhook.
    #[error(
        "the webhook may not read {what}: it needs get on secrets and serviceaccounts in the namespaces it admits (deploy/kubernetes/rbac.yaml)"
    )]
    Forbidden {
        /// `Secret team-a/regcred`, `ServiceAccount team-a/default`.
        what: String,
    },
}

/// A source of Secrets and ServiceAccounts (the Kubernetes API in a cluster).
pub trait PullSecretSource: fmt::Debug + Send + Sync {
    /// Secret `name` in `namespace`: `Ok(None)` when it does not exist.
    fn pull_secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<PullSecret>, ApiError>>;

    /// The `imagePullSecrets[].name` of ServiceAccount `name` in `namespace`:
    /// `Ok(None)` when it does not exist.
    fn service_account_pull_secrets<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, ApiError>>;
}

/// Why a workload's registry credentials cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PullSecretError {
    /// The API could not be asked, or refused: an infrastructure failure.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// An image pull secret does not parse.
    #[error(
        "imagePullSecret {namespace}/{name}: {key} does not hold registry credentials: {reason}"
    )]
    Malformed {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// `.dockerconfigjson` or `.dockercfg`.
        key: &'static str,
        /// What is wrong (never a password).
        reason: String,
    },
}

impl PullSecretError {
    /// Whether the credentials could not be looked up at all (as opposed to looked up
    /// and found unusable).
    pub fn is_infrastructure(&self) -> bool {
        matches!(self, PullSecretError::Api(_))
    }
}

/// A workload's registry credentials.
#[derive(Debug, Clone)]
pub struct PullCredentials {
    /// The usable sources, in lookup order.
    pub set: CredentialSet,
    /// Everything looked at, for messages (`Secret team-a/regcred`, `Secret
    /// team-a/gone (does not exist)`, `ServiceAccount team-a/default (none)`).
    pub looked_at: Vec<String>,
    /// SHA-256 over the namespace and every usable source's name and bytes: equal for
    /// equal credentials in one namespace, and never equal across namespaces.
    pub fingerprint: [u8; 32],
}

/// Reads the Secrets `refs` names (the pod's, then its ServiceAccount's) from `source`
/// and parses them.
///
/// # Errors
/// [`PullSecretError::Api`] when the API cannot be asked or refuses;
/// [`PullSecretError::Malformed`] when a Secret's entry does not parse.
pub async fn resolve(
    source: &dyn PullSecretSource,
    refs: &PullSecretRefs,
) -> Result<PullCredentials, PullSecretError> {
    let ns = refs.namespace.as_str();
    let (pod_secrets, account) = join(
        join_all(refs.secrets.iter().map(|n| source.pull_secret(ns, n))),
        source.service_account_pull_secrets(ns, &refs.service_account),
    )
    .await;
    let account_label = format!("ServiceAccount {ns}/{}", refs.service_account);
    let mut named: Vec<(String, Option<String>, Option<PullSecret>)> = Vec::new();
    for (name, secret) in refs.secrets.iter().zip(pod_secrets) {
        named.push((name.clone(), None, secret?));
    }
    // What the ServiceAccount adds, or why it adds nothing.
    let (account_secrets, account_note): (Vec<String>, Option<String>) = match account? {
        Some(names) if names.is_empty() => (
            Vec::new(),
            Some(format!("{account_label} (no imagePullSecrets)")),
        ),
        Some(names) => {
            let mut unique: Vec<String> = Vec::new();
            for n in names {
                if !n.is_empty() && !refs.secrets.contains(&n) && !unique.contains(&n) {
                    unique.push(n);
                }
            }
            (unique, None)
        }
        None => (
            Vec::new(),
            Some(format!("{account_label} (does not exist)")),
        ),
    };
    let read = join_all(account_secrets.iter().map(|n| source.pull_secret(ns, n))).await;
    for (name, secret) in account_secrets.iter().zip(read) {
        named.push((name.clone(), Some(refs.service_account.clone()), secret?));
    }
    let mut set = CredentialSet::new();
    let mut looked_at = Vec::new();
    let mut h = Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    part(ns.as_bytes());
    for (name, account, secret) in named {
        let via = account
            .map(|a| format!(" (ServiceAccount {a})"))
            .unwrap_or_default();
        let label = format!("Secret {ns}/{name}{via}");
        let Some(secret) = secret else {
            looked_at.push(format!("{label} (does not exist)"));
            continue;
        };
        let mut usable = false;
        for (key, bytes, parse) in [
            (
                ".dockerconfigjson",
                &secret.dockerconfigjson,
                DockerAuths::from_config_json as fn(&[u8]) -> _,
            ),
            (".dockercfg", &secret.dockercfg, DockerAuths::from_dockercfg),
        ] {
            let Some(bytes) = bytes else { continue };
            let auths = parse(bytes).map_err(|e| PullSecretError::Malformed {
                namespace: ns.to_owned(),
                name: name.clone(),
                key,
                reason: e.reason,
            })?;
            part(label.as_bytes());
            part(key.as_bytes());
            part(bytes);
            set.push(label.clone(), auths);
            usable = true;
        }
        looked_at.push(if usable {
            label
        } else {
            format!("{label} (holds neither .dockerconfigjson nor .dockercfg)")
        });
    }
    // Only when the ServiceAccount added no Secret, so after the pod's own.
    looked_at.extend(account_note);
    Ok(PullCredentials {
        set,
        looked_at,
        fingerprint: h.finalize().into(),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use base64::Engine as _;
    use serde_json::json;

    use super::*;

    #[test]
    fn references_come_from_the_pod_spec_of_each_kind() {
        let pod = json!({"spec": {
            "imagePullSecrets": [{"name": "a"}, {"name": ""}, {"name": "b"}, {"name": "a"}, {}],
            "serviceAccountName": "builder",
            "containers": [],
        }});
        let refs = PullSecretRefs::of(WorkloadKind::Pod, "team-a", &pod);
        assert_eq!(
            refs,
            PullSecretRefs {
                namespace: "team-a".into(),
                secrets: vec!["a".into(), "b".into()],
                service_account: "builder".into(),
            }
        );
        let deployment = json!({"spec": {"template": {"spec": {
            "imagePullSecrets": [{"name": "regcred"}],
            "serviceAccount": "legacy",
        }}}});
        let refs = PullSecretRefs::of(WorkloadKind::Deployment, "ns", &deployment);
        assert_eq!(refs.secrets, ["regcred"]);
        assert_eq!(refs.service_account, "legacy");
        let cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {
            "imagePullSecrets": [{"name": "cron-cred"}],
        }}}}}});
        let refs = PullSecretRefs::of(WorkloadKind::CronJob, "ns", &cron);
        assert_eq!(refs.secrets, ["cron-cred"]);
        assert_eq!(refs.service_account, "default");
        // A Deployment's own spec.imagePullSecrets is not its pod template's.
        let wrong_place = json!({"spec": {"imagePullSecrets": [{"name": "x"}]}});
        assert!(
            PullSecretRefs::of(WorkloadKind::Deployment, "ns", &wrong_place)
                .secrets
                .is_empty()
        );
        // Wrong types are ignored, never a panic.
        for junk in [
            json!(null),
            json!({"spec": {"imagePullSecrets": "x", "serviceAccountName": 3}}),
            json!({"spec": {"imagePullSecrets": [1, {"name": 2}]}}),
        ] {
            let refs = PullSecretRefs::of(WorkloadKind::Pod, "ns", &junk);
            assert!(refs.secrets.is_empty());
            assert_eq!(refs.service_account, "default");
        }
    }

    /// Secrets and ServiceAccounts in memory, with every read recorded.
    #[derive(Debug, Default)]
    struct Fake {
        secrets: HashMap<(String, String), PullSecret>,
        accounts: HashMap<(String, String), Vec<String>>,
        down: bool,
        reads: Mutex<Vec<String>>,
    }

    impl PullSecretSource for Fake {
        fn pull_secret<'a>(
            &'a self,
            namespace: &'a str,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<PullSecret>, ApiError>> {
            Box::pin(async move {
                self.reads
                    .lock()
                    .unwrap()
                    .push(format!("secret {namespace}/{name}"));
                if self.down {
                    return Err(ApiError::Unreachable {
                        what: format!("Secret {namespace}/{name}"),
                        reason: "connection refused".into(),
                    });
                }
                Ok(self
                    .secrets
                    .get(&(namespace.to_owned(), name.to_owned()))
                    .cloned())
            })
        }

        fn service_account_pull_secrets<'a>(
            &'a self,
            namespace: &'a str,
            name: &'a str,
        ) -> BoxFuture<'a, Result<Option<Vec<String>>, ApiError>> {
            Box::pin(async move {
                self.reads
                    .lock()
                    .unwrap()
                    .push(format!("serviceaccount {namespace}/{name}"));
                Ok(self
                    .accounts
                    .get(&(namespace.to_owned(), name.to_owned()))
                    .cloned())
            })
        }
    }

    fn docker_config(host: &str, user: &str) -> PullSecret {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:pw"));
        PullSecret {
            dockerconfigjson: Some(
                format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#).into_bytes(),
            ),
            dockercfg: None,
        }
    }

    fn registry(host: &str) -> signet_formats::Registry {
        signet_formats::Repository::parse(&format!("{host}/r"))
            .unwrap()
            .registry()
            .clone()
    }

    fn key(ns: &str, name: &str) -> (String, String) {
        (ns.to_owned(), name.to_owned())
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn the_pods_secrets_come_first_then_the_service_accounts() {
        let mut fake = Fake::default();
        fake.secrets
            .insert(key("team-a", "pod-cred"), docker_config("r.io", "pod"));
        fake.secrets
            .insert(key("team-a", "sa-cred"), docker_config("r.io", "sa"));
        fake.secrets.insert(
            key("team-a", "legacy"),
            PullSecret {
                dockerconfigjson: None,
                dockercfg: Some(br#"{"old.io":{"username":"u","password":"p"}}"#.to_vec()),
            },
        );
        fake.secrets
            .insert(key("team-a", "opaque"), PullSecret::default());
        fake.secrets
            .insert(key("team-b", "pod-cred"), docker_config("r.io", "other-ns"));
        fake.accounts.insert(
            key("team-a", "builder"),
            vec!["sa-cred".into(), "pod-cred".into(), "legacy".into()],
        );
        let refs = PullSecretRefs {
            namespace: "team-a".into(),
            secrets: vec!["pod-cred".into(), "gone".into(), "opaque".into()],
            service_account: "builder".into(),
        };
        let creds = run(resolve(&fake, &refs)).unwrap();
        assert_eq!(
            creds.set.labels().collect::<Vec<_>>(),
            [
                "Secret team-a/pod-cred",
                "Secret team-a/sa-cred (ServiceAccount builder)",
                "Secret team-a/legacy (ServiceAccount builder)",
            ]
        );
        assert_eq!(
            creds.set.source_for(&registry("r.io")),
            Some("Secret team-a/pod-cred")
        );
        assert_eq!(
            creds.set.source_for(&registry("old.io")),
            Some("Secret team-a/legacy (ServiceAccount builder)")
        );
        assert_eq!(
            creds.looked_at,
            [
                "Secret team-a/pod-cred",
                "Secret team-a/gone (does not exist)",
                "Secret team-a/opaque (holds neither .dockerconfigjson nor .dockercfg)",
                "Secret team-a/sa-cred (ServiceAccount builder)",
                "Secret team-a/legacy (ServiceAccount builder)",
            ]
        );
        // pod-cred is read once, though the ServiceAccount names it too; nothing is
        // read from another namespace.
        let reads = fake.reads.lock().unwrap().clone();
        assert_eq!(
            reads
                .iter()
                .filter(|r| *r == "secret team-a/pod-cred")
                .count(),
            1
        );
        assert!(reads.iter().all(|r| r.contains(" team-a/")), "{reads:?}");
        // The same names in another namespace: other credentials, another fingerprint.
        let mut elsewhere = refs.clone();
        elsewhere.namespace = "team-b".into();
        let other = run(resolve(&fake, &elsewhere)).unwrap();
        assert_eq!(
            other.set.labels().collect::<Vec<_>>(),
            ["Secret team-b/pod-cred"]
        );
        assert!(
            other
                .looked_at
                .contains(&"ServiceAccount team-b/builder (does not exist)".to_owned())
        );
        assert_ne!(other.fingerprint, creds.fingerprint);
        assert_eq!(
            run(resolve(&fake, &refs)).unwrap().fingerprint,
            creds.fingerprint
        );
        // Nothing named, default ServiceAccount absent: empty, not an error.
        let none = run(resolve(
            &fake,
            &PullSecretRefs {
                namespace: "team-c".into(),
                secrets: vec![],
                service_account: "default".into(),
            },
        ))
        .unwrap();
        assert!(none.set.is_empty());
    }

    #[test]
    fn malformed_secrets_and_an_unreachable_api_are_errors() {
        let mut fake = Fake::default();
        fake.secrets.insert(
            key("ns", "broken"),
            PullSecret {
                dockerconfigjson: Some(br#"{"auths":{"r.io":{"auth":"%%%"}}}"#.to_vec()),
                dockercfg: None,
            },
        );
        let refs = PullSecretRefs {
            namespace: "ns".into(),
            secrets: vec!["broken".into()],
            service_account: "default".into(),
        };
        let e = run(resolve(&fake, &refs)).unwrap_err();
        assert!(!e.is_infrastructure());
        assert_eq!(
            e.to_string(),
            "imagePullSecret ns/broken: .dockerconfigjson does not hold registry credentials: the `auth` entry for r.io is not base64 of user:password"
        );
        fake.down = true;
        let e = run(resolve(&fake, &refs)).unwrap_err();
        assert!(e.is_infrastructure());
        assert_eq!(
            e.to_string(),
            "the Kubernetes API could not be asked for Secret ns/broken: connection refused"
        );
    }
}
