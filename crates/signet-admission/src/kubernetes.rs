//! In-cluster sources through the Kubernetes API (kube-rs): ClusterImagePolicy
//! resources, watched and merged with the policy directory, and `key.secretRef`
//! Secrets, read when needed and cached briefly.
//!
//! RBAC (deploy/kubernetes/rbac.yaml): get/list/watch `clusterimagepolicies`
//! cluster-wide; get Secrets in the webhook's own namespace only.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher::{Config as WatcherConfig, Event};
use kube::runtime::{WatchStreamExt, reflector};
use signet_crypto::PublicKey;
use signet_policy::policy::PolicyFile;

use crate::log;
use crate::metrics::Metrics;
use crate::policies::PolicyStore;
use crate::secrets::{SecretError, SecretKeys, key_from_secret_data};

/// How long a Secret's key is reused before it is read again (a rotated key takes
/// effect within this).
const SECRET_TTL: Duration = Duration::from_secs(30);

/// A Kubernetes API client, for [`crate::Config::kubernetes`].
#[derive(Clone)]
pub struct ApiClient(pub kube::Client);

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiClient")
    }
}

/// `key.secretRef` keys from the Kubernetes API.
pub struct KubernetesSecrets {
    client: kube::Client,
    cache: Mutex<HashMap<(String, String), CachedKey>>,
}

/// When a Secret was read, and what it gave.
type CachedKey = (Instant, Result<PublicKey, SecretError>);

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
            cache: Mutex::new(HashMap::new()),
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
        Box::pin(async move {
            let key = (namespace.to_owned(), name.to_owned());
            if let Ok(cache) = self.cache.lock()
                && let Some((at, result)) = cache.get(&key)
                && at.elapsed() < SECRET_TTL
            {
                return result.clone();
            }
            let result = self.fetch(namespace, name).await;
            // An unreachable API is asked again next time.
            if !result.as_ref().is_err_and(SecretError::is_infrastructure)
                && let Ok(mut cache) = self.cache.lock()
            {
                cache.insert(key, (Instant::now(), result.clone()));
            }
            result
        })
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

/// The policy documents of `objects`, named `clusterimagepolicy/<name>` in messages.
pub fn policy_documents<'a>(
    objects: impl IntoIterator<Item = &'a DynamicObject>,
) -> Vec<PolicyFile> {
    let mut docs: Vec<PolicyFile> = objects
        .into_iter()
        .map(|o| PolicyFile {
            path: format!(
                "clusterimagepolicy/{}",
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

/// Watches ClusterImagePolicy resources and hands the whole set to `store` after the
/// initial list and after every change; watch errors are logged and retried with
/// backoff (the previous policies keep serving meanwhile).
pub fn watch_policies(
    client: kube::Client,
    store: Arc<PolicyStore>,
    metrics: Arc<Metrics>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let resource = cluster_image_policy_resource();
        let api: Api<DynamicObject> = Api::all_with(client, &resource);
        let writer = reflector::store::Writer::new(resource);
        let reader = writer.as_reader();
        let stream = reflector(
            writer,
            kube::runtime::watcher(api, WatcherConfig::default()),
        )
        .default_backoff();
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            match event {
                Ok(Event::InitDone | Event::Apply(_) | Event::Delete(_)) => {
                    let objects = reader.state();
                    let docs = policy_documents(objects.iter().map(|o| o.as_ref()));
                    let store = store.clone();
                    let metrics = metrics.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        store.set_cluster_documents(docs, &metrics);
                    })
                    .await;
                }
                Ok(Event::Init | Event::InitApply(_)) => {}
                Err(e) => log::event(
                    "error",
                    &format!(
                        "watching ClusterImagePolicy resources failed: {e}; retrying, the current policies keep serving"
                    ),
                ),
            }
        }
    })
}
