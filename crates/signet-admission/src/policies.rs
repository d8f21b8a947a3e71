//! The policy directory, loaded at start and reloaded when it changes.
//!
//! The directory is polled: a fingerprint of its YAML files (names, sizes, modification
//! times, following symlinks as ConfigMap mounts use them) is compared every interval,
//! and a change triggers a full load through `signet_policy::PolicySet::load_dir`. A load
//! that fails is logged with every problem and counted; the previous good set keeps
//! serving, and `/readyz` reports the error. Until a first load succeeds the webhook is
//! not ready and denies every request it would check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use signet_policy::PolicySet;
use signet_policy::policy::PolicyFile;

use crate::log;
use crate::metrics::Metrics;

/// What `/readyz` reports.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PolicyStatus {
    /// The set serving now, if any has loaded.
    pub set: Option<Arc<PolicySet>>,
    /// Why the last load failed, if it did (the previous set keeps serving).
    pub last_error: Option<String>,
}

/// The policies the webhook serves, shared by every request.
#[derive(Debug)]
pub struct PolicyStore {
    dir: PathBuf,
    status: RwLock<PolicyStatus>,
    fingerprint: RwLock<Option<Vec<(String, u64, SystemTime)>>>,
    /// ClusterImagePolicy and TrustRoot resources from the Kubernetes API, when
    /// watched, by kind.
    cluster: RwLock<BTreeMap<&'static str, Vec<PolicyFile>>>,
    /// Held by a reload from reading its sources to publishing the set, so that
    /// concurrent reloads (the two resource watches, the directory poll) publish in
    /// the order they read: the last set served is built from the newest sources.
    reloading: Mutex<()>,
}

impl PolicyStore {
    /// A store for `dir`, loaded now (a failure is kept in the status, not returned).
    pub fn load(dir: &Path, metrics: &Metrics) -> Self {
        let store = PolicyStore {
            dir: dir.to_owned(),
            status: RwLock::new(PolicyStatus {
                set: None,
                last_error: None,
            }),
            fingerprint: RwLock::new(None),
            cluster: RwLock::new(BTreeMap::new()),
            reloading: Mutex::new(()),
        };
        store.reload_if_changed(metrics);
        store
    }

    /// A store serving a fixed set (tests, `signet admission check`).
    pub fn fixed(set: PolicySet) -> Self {
        PolicyStore {
            dir: PathBuf::new(),
            status: RwLock::new(PolicyStatus {
                set: Some(Arc::new(set)),
                last_error: None,
            }),
            fingerprint: RwLock::new(None),
            cluster: RwLock::new(BTreeMap::new()),
            reloading: Mutex::new(()),
        }
    }

    /// Replaces the policies that come from ClusterImagePolicy resources and reloads:
    /// the served set is the directory's documents plus these, validated together (a
    /// name defined in both is an error, and the previous set keeps serving).
    pub fn set_cluster_documents(&self, documents: Vec<PolicyFile>, metrics: &Metrics) {
        self.set_cluster_documents_of("ClusterImagePolicy", documents, metrics);
    }

    /// Replaces the documents that come from the resources of `kind` (ClusterImagePolicy
    /// or TrustRoot) and reloads, as [`PolicyStore::set_cluster_documents`].
    pub fn set_cluster_documents_of(
        &self,
        kind: &'static str,
        documents: Vec<PolicyFile>,
        metrics: &Metrics,
    ) {
        if let Ok(mut c) = self.cluster.write() {
            c.insert(kind, documents);
        }
        self.reload(metrics);
    }

    fn load_sources(&self) -> Result<PolicySet, signet_policy::LoadError> {
        let mut files = if self.dir.as_os_str().is_empty() {
            Vec::new()
        } else {
            signet_policy::policy::read_dir(&self.dir)?
        };
        if let Ok(c) = self.cluster.read() {
            files.extend(c.values().flatten().cloned());
        }
        PolicySet::from_files(files)
    }

    /// The current status.
    pub fn status(&self) -> PolicyStatus {
        self.status
            .read()
            .map(|s| s.clone())
            .unwrap_or(PolicyStatus {
                set: None,
                last_error: Some("the policy store lock is poisoned".into()),
            })
    }

    /// The set serving now.
    pub fn current(&self) -> Option<Arc<PolicySet>> {
        self.status().set
    }

    fn fingerprint_now(&self) -> Result<Vec<(String, u64, SystemTime)>, std::io::Error> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
                continue;
            }
            // Follows symlinks (ConfigMap mounts swap a `..data` link).
            match std::fs::metadata(entry.path()) {
                Ok(m) => out.push((
                    name,
                    m.len(),
                    m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                )),
                Err(_) => out.push((name, u64::MAX, SystemTime::UNIX_EPOCH)),
            }
        }
        out.sort();
        Ok(out)
    }

    /// Reloads when the directory changed since the last look (or was never loaded).
    /// Returns whether a load was attempted.
    pub fn reload_if_changed(&self, metrics: &Metrics) -> bool {
        if self.dir.as_os_str().is_empty() {
            return false;
        }
        let now = self.fingerprint_now().ok();
        let unchanged = self
            .fingerprint
            .read()
            .map(|f| f.is_some() && *f == now)
            .unwrap_or(false);
        if unchanged {
            return false;
        }
        if let Ok(mut f) = self.fingerprint.write() {
            *f = now;
        }
        self.reload(metrics);
        true
    }

    /// Where the policies come from, for log lines: the directory, and the
    /// ClusterImagePolicy and TrustRoot resources when there are any.
    fn sources(&self) -> String {
        let count = |kind: &str| {
            self.cluster
                .read()
                .map_or(0, |c| c.get(kind).map_or(0, Vec::len))
        };
        let mut parts: Vec<String> = Vec::new();
        if !self.dir.as_os_str().is_empty() {
            parts.push(self.dir.display().to_string());
        }
        let (policies, roots) = (count("ClusterImagePolicy"), count("TrustRoot"));
        if policies > 0 || parts.is_empty() {
            parts.push(format!("{policies} ClusterImagePolicy resource(s)"));
        }
        if roots > 0 {
            parts.push(format!("{roots} TrustRoot resource(s)"));
        }
        parts.join(" and ")
    }

    /// Loads the directory and the cluster's policies now; a set that does not load
    /// leaves the previous one serving.
    fn reload(&self, metrics: &Metrics) {
        let _reloading = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match self.load_sources() {
            Ok(set) => {
                for note in set.notes() {
                    log::event("note", &note.to_string());
                }
                log::event(
                    "info",
                    &format!(
                        "loaded {} ClusterImagePolicy(s) from {} (generation {})",
                        set.policies().len(),
                        self.sources(),
                        set.generation()
                    ),
                );
                metrics.policy_reload(true, set.policies().len());
                if let Ok(mut s) = self.status.write() {
                    s.set = Some(Arc::new(set));
                    s.last_error = None;
                }
            }
            Err(e) => {
                let serving = self.current().is_some();
                log::event(
                    "error",
                    &format!(
                        "policies from {} do not load{}: {e}",
                        self.sources(),
                        if serving {
                            "; the previous policies keep serving"
                        } else {
                            "; no policy is loaded, so every checked request is denied"
                        }
                    ),
                );
                metrics.policy_reload(false, 0);
                if let Ok(mut s) = self.status.write() {
                    s.last_error = Some(e.to_string());
                }
            }
        }
    }

    /// Polls the directory every `interval` until the store is dropped elsewhere.
    pub(crate) fn spawn_watch(self: &Arc<Self>, metrics: Arc<Metrics>, interval: Duration) {
        crate::poll::spawn_poll(self, interval, move |store: &Self| {
            store.reload_if_changed(&metrics);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: p}\nspec:\n  images: [{glob: \"r.io/**\"}]\n  authorities: [{static: {action: pass}}]\n";

    #[test]
    fn concurrent_reloads_serve_the_newest_sources() {
        let m = Metrics::new();
        let store = PolicyStore::fixed(PolicySet::empty());
        let root = signet_formats::sigstore::trust::production_trusted_root();
        let doc = |text: String| {
            vec![PolicyFile {
                path: "cluster".into(),
                text,
            }]
        };
        // The two watches hand over new resources at the same moment, round after
        // round; after each round the set served must hold both rounds' documents.
        let barrier = std::sync::Barrier::new(2);
        let mut stale = Vec::new();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for round in 0..40 {
                    barrier.wait();
                    let yaml = signet_policy::trust_root_yaml(&format!("r{round}"), &root);
                    store.set_cluster_documents_of("TrustRoot", doc(yaml), &m);
                    barrier.wait();
                }
            });
            for round in 0..40 {
                barrier.wait();
                let yaml = GOOD.replace("{name: p}", &format!("{{name: p{round}}}"));
                store.set_cluster_documents(doc(yaml), &m);
                barrier.wait();
                let set = store.current().unwrap();
                if set.get(&format!("p{round}")).is_none()
                    || set.trust_root(&format!("r{round}")).is_none()
                {
                    stale.push(round);
                }
            }
        });
        assert!(
            stale.is_empty(),
            "an older set served after rounds {stale:?}"
        );
    }

    #[test]
    fn a_bad_reload_keeps_the_previous_set() {
        let dir = tempfile::tempdir().unwrap();
        let m = Metrics::new();
        let store = PolicyStore::load(dir.path(), &m);
        assert!(
            store.current().is_some(),
            "an empty directory is an empty set"
        );
        std::fs::write(dir.path().join("p.yaml"), GOOD).unwrap();
        assert!(store.reload_if_changed(&m));
        let first = store.current().unwrap();
        assert_eq!(first.policies().len(), 1);
        assert!(!store.reload_if_changed(&m), "unchanged: no reload");
        std::fs::write(dir.path().join("p.yaml"), "garbage: [").unwrap();
        assert!(store.reload_if_changed(&m));
        let status = store.status();
        let error = status.last_error.unwrap();
        assert!(error.contains("p.yaml"), "{error}");
        assert_eq!(
            status.set.unwrap().generation(),
            first.generation(),
            "the good set keeps serving"
        );
        let broken = tempfile::tempdir().unwrap();
        std::fs::write(broken.path().join("x.yaml"), "garbage: [").unwrap();
        let store = PolicyStore::load(broken.path(), &m);
        assert!(store.current().is_none());
        assert!(store.status().last_error.unwrap().contains("x.yaml"));
    }
}
