//! In-cluster sources through the Kubernetes API (kube-rs): ClusterImagePolicy
//! resources, watched and merged with the policy directory; `key.secretRef` Secrets;
//! and the workload's image pull secrets and ServiceAccount (registry credentials, see
//! [`crate::pull_secrets`]). Secrets and ServiceAccounts are read when needed and
//! cached briefly ([`SECRET_TTL`], at most [`MAX_CACHED`] of each kind).
//!
//! RBAC (deploy/kubernetes/rbac.yaml): get/list/watch `clusterimagepolicies`
//! cluster-wide; get `secrets` and `serviceaccounts` cluster-wide (the pull secrets
//! live in the workloads' namespaces); `key.secretRef` Secrets are looked for in the
//! webhook's own namespace unless the policy names another.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher::{Config as WatcherConfig, Event};
use kube::runtime::{WatchStreamExt, reflector};
use signet_crypto::PublicKey;
use signet_policy::policy::PolicyFile;

use crate::log;
use crate::metrics::Metrics;
use crate::policies::PolicyStore;
use crate::pull_secrets::{ApiError, PullSecret, PullSecretSource};
use crate::secrets::{SecretError, SecretKeys, key_from_secret_data};

/// How long a Secret or ServiceAccount read is reused before it is read again (a
/// rotated key or pull secret takes effect within this).
pub const SECRET_TTL: Duration = Duration::from_secs(30);

/// How many objects of each kind the caches hold at most; when full, expired entries
/// go, then everything.
pub const MAX_CACHED: usize = 4096;

/// A small TTL cache of API reads, keyed by namespace and name.
struct ReadCache<V>(Mutex<HashMap<(String, String), (Instant, V)>>);

impl<V: Clone> ReadCache<V> {
    fn new() -> Self {
        ReadCache(Mutex::new(HashMap::new()))
    }

    /// The cached read of `namespace`/`name`, else `fetch`'s, which is kept unless
    /// `retry` says to ask again next time (an API that could not be asked).
    async fn get_or_fetch(
        &self,
        namespace: &str,
        name: &str,
        fetch: impl std::future::Future<Output = V>,
        retry: impl FnOnce(&V) -> bool,
    ) -> V {
        if let Some(value) = self.get(namespace, name) {
            return value;
        }
        let value = fetch.await;
        if !retry(&value) {
            self.insert(namespace, name, value.clone());
        }
        value
    }

    fn get(&self, namespace: &str, name: &str) -> Option<V> {
        let cache = self.0.lock().ok()?;
        cache
            .get(&(namespace.to_owned(), name.to_owned()))
            .filter(|(at, _)| at.elapsed() < SECRET_TTL)
            .map(|(_, v)| v.clone())
    }

    fn insert(&self, namespace: &str, name: &str, value: V) {
        let Ok(mut cache) = self.0.lock() else { return };
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (at, _)| at.elapsed() < SECRET_TTL);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(
            (namespace.to_owned(), name.to_owned()),
            (Instant::now(), value),
        );
    }
}

/// The webhook's answer to an API error about `what`.
fn api_error(what: String, e: kube::Error) -> ApiError {
    match e {
        kube::Error::Api(status) if status.code == 403 || status.code == 401 => {
            ApiError::Forbidden { what }
        }
        other => ApiError::Unreachable {
            what,
            reason: other.to_string(),
        },
    }
}

/// Whether an API read failed for want of an answer (asked again next time).
fn unreachable<T>(result: &Result<T, ApiError>) -> bool {
    matches!(result, Err(ApiError::Unreachable { .. }))
}

/// A Kubernetes API client, for [`crate::Config::kubernetes`].
#[derive(Clone)]
pub struct ApiClient(pub kube::Client);

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiClient")
    }
}

/// `key.secretRef` keys, image pull secrets and ServiceAccounts from the Kubernetes
/// API.
pub struct KubernetesSecrets {
    client: kube::Client,
    keys: ReadCache<Result<PublicKey, SecretError>>,
    pull_secrets: ReadCache<Result<Option<PullSecret>, ApiError>>,
    accounts: ReadCache<Result<Option<Vec<String>>, ApiError>>,
}

impl std::fmt::Debug for KubernetesSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KubernetesSecrets")
    }
}

impl KubernetesSecrets {
    /// Secrets read with `client`.
    pub fn new(client: kube::Client) -> Self {
        KubernetesSecrets {
            client,
            keys: ReadCache::new(),
            pull_secrets: ReadCache::new(),
            accounts: ReadCache::new(),
        }
    }

    async fn fetch_pull_secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<PullSecret>, ApiError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let what = || format!("Secret {namespace}/{name}");
        match api.get_opt(name).await {
            Ok(Some(secret)) => {
                let mut data = secret.data.unwrap_or_default();
                let entry = PullSecret {
                    dockerconfigjson: data.remove(".dockerconfigjson").map(|b| b.0),
                    dockercfg: data.remove(".dockercfg").map(|b| b.0),
                };
                if entry == PullSecret::default() {
                    log::event(
                        "warn",
                        &format!(
                            "imagePullSecret {namespace}/{name} (type {}) holds neither .dockerconfigjson nor .dockercfg; it is skipped, as kubelet skips it",
                            secret.type_.as_deref().unwrap_or("Opaque")
                        ),
                    );
                }
                Ok(Some(entry))
            }
            Ok(None) => {
                log::event(
                    "warn",
                    &format!(
                        "imagePullSecret {namespace}/{name} does not exist; it is skipped, as kubelet skips it"
                    ),
                );
                Ok(None)
            }
            Err(e) => Err(api_error(what(), e)),
        }
    }

    async fn fetch_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Vec<String>>, ApiError> {
        let api: Api<ServiceAccount> = Api::namespaced(self.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(Some(account)) => Ok(Some(
                account
                    .image_pull_secrets
                    .unwrap_or_default()
                    .into_iter()
                    .map(|r| r.name)
                    .collect(),
            )),
            Ok(None) => {
                log::event(
                    "warn",
                    &format!(
                        "ServiceAccount {namespace}/{name} does not exist; its imagePullSecrets cannot be used"
                    ),
                );
                Ok(None)
            }
            Err(e) => Err(api_error(format!("ServiceAccount {namespace}/{name}"), e)),
        }
    }

    async fn fetch(&self, namespace: &str, name: &str) -> Result<PublicKey, SecretError> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let unavailable = |reason: &str| SecretError::Unavailable {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        match api.get_opt(name).await {
            Ok(Some(secret)) => {
                let data = secret.data.unwrap_or_default();
                key_from_secret_data(
                    namespace,
                    name,
                    data.iter().map(|(k, v)| (k.as_str(), v.0.as_slice())),
                )
            }
            Ok(None) => Err(unavailable("does not exist")),
            Err(kube::Error::Api(status)) if status.code == 403 || status.code == 401 => {
                Err(unavailable("may not be read by the webhook (RBAC)"))
            }
            Err(e) => Err(SecretError::Unreachable {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
}

impl SecretKeys for KubernetesSecrets {
    fn public_key<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<PublicKey, SecretError>> {
        Box::pin(
            self.keys
                .get_or_fetch(namespace, name, self.fetch(namespace, name), |r| {
                    r.as_ref().is_err_and(SecretError::is_infrastructure)
                }),
        )
    }
}

impl PullSecretSource for KubernetesSecrets {
    fn pull_secret<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<PullSecret>, ApiError>> {
        Box::pin(self.pull_secrets.get_or_fetch(
            namespace,
            name,
            self.fetch_pull_secret(namespace, name),
            unreachable,
        ))
    }

    fn service_account_pull_secrets<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, ApiError>> {
        Box::pin(self.accounts.get_or_fetch(
            namespace,
            name,
            self.fetch_account(namespace, name),
            unreachable,
        ))
    }
}

/// The ClusterImagePolicy resource (v1beta1; v1alpha1 objects are served as v1beta1
/// by the apiserver, their fields being identical).
pub fn cluster_image_policy_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("policy.sigstore.dev", "v1beta1", "ClusterImagePolicy"),
        "clusterimagepolicies",
    )
}

/// The TrustRoot resource (v1alpha1, its only version).
pub fn trust_root_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("policy.sigstore.dev", "v1alpha1", "TrustRoot"),
        "trustroots",
    )
}

/// The policy documents of `objects`, named `clusterimagepolicy/<name>` in messages.
pub fn policy_documents<'a>(
    objects: impl IntoIterator<Item = &'a DynamicObject>,
) -> Vec<PolicyFile> {
    documents("clusterimagepolicy", objects)
}

/// The documents of `objects`, named `<kind>/<name>` in messages, sorted.
fn documents<'a>(
    kind: &str,
    objects: impl IntoIterator<Item = &'a DynamicObject>,
) -> Vec<PolicyFile> {
    let mut docs: Vec<PolicyFile> = objects
        .into_iter()
        .map(|o| PolicyFile {
            path: format!(
                "{kind}/{}",
                o.metadata.name.as_deref().unwrap_or("(unnamed)")
            )
            .into(),
            // JSON is YAML; serialising a DynamicObject cannot fail.
            text: serde_json::to_string(o).unwrap_or_default(),
        })
        .collect();
    docs.sort_by(|a, b| a.path.cmp(&b.path));
    docs
}

/// Watches ClusterImagePolicy and TrustRoot resources and hands each whole set to
/// `store` after the initial list and after every change; watch errors are logged and
/// retried with backoff (the previous policies keep serving meanwhile).
pub fn watch_policies(
    client: kube::Client,
    store: Arc<PolicyStore>,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    let trust_roots = watch(
        client.clone(),
        trust_root_resource(),
        "TrustRoot",
        store.clone(),
        metrics.clone(),
    );
    tokio::spawn(async move {
        let policies = watch(
            client,
            cluster_image_policy_resource(),
            "ClusterImagePolicy",
            store,
            metrics,
        );
        let _ = futures_util::future::join(policies, trust_roots).await;
    })
}

/// One resource's watch loop (see [`watch_policies`]).
fn watch(
    client: kube::Client,
    resource: ApiResource,
    kind: &'static str,
    store: Arc<PolicyStore>,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<DynamicObject> = Api::all_with(client, &resource);
        let writer = reflector::store::Writer::new(resource);
        let reader = writer.as_reader();
        let stream = reflector(
            writer,
            kube::runtime::watcher(api, WatcherConfig::default()),
        )
        .default_backoff();
        let mut stream = std::pin::pin!(stream);
        let label = kind.to_ascii_lowercase();
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::InitDone | Event::Apply(_) | Event::Delete(_)) => {
                    let objects = reader.state();
                    let docs = documents(&label, objects.iter().map(|o| o.as_ref()));
                    let store = store.clone();
                    let metrics = metrics.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        store.set_cluster_documents_of(kind, docs, &metrics);
                    })
                    .await;
                }
                Ok(Event::Init | Event::InitApply(_)) => {}
                Err(e) => log::event(
                    "error",
                    &format!(
                        "watching {kind} resources failed: {e}; retrying, the current policies keep serving"
                    ),
                ),
            }
        }
    })
}
