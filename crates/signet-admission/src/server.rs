//! The HTTPS server: a hand-written accept loop (TCP → TLS handshake with the reloading
//! certificate resolver → hyper's HTTP/1.1-or-2 connection → the axum router).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use signet_check::{BundleTrust, TlogRequirement};
use signet_formats::sigstore::TrustedRoot;
use signet_oci::{ClientConfig, RegistryClient};
use signet_policy::decide::Settings;
use signet_verify::bundle::BundleVerifier;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::admit::Admitter;
use crate::cache::VerdictCache;
use crate::error::Error;
use crate::log;
use crate::metrics::Metrics;
use crate::namespaces::NamespaceLabels;
use crate::policies::PolicyStore;
use crate::tls::CertificateReloader;

/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the webhook needs to start.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Where to listen.
    pub addr: SocketAddr,
    /// The serving certificate chain (PEM), reloaded when it changes.
    pub tls_cert: PathBuf,
    /// Its private key (PEM).
    pub tls_key: PathBuf,
    /// The ClusterImagePolicy directory, reloaded when it changes.
    pub policy_dir: PathBuf,
    /// The registry client's settings (the docker config for credentials; in a
    /// cluster, the workload's pull secrets are looked up first).
    pub registry: ClientConfig,
    /// The deadline for each request's work (below the webhook's `timeoutSeconds`).
    pub timeout: Duration,
    /// `no-match-policy`, the webhook's own namespace, namespace selection.
    pub settings: Settings,
    /// The trusted root for bundles (`None`: the embedded public-good root).
    pub trusted_root: Option<TrustedRoot>,
    /// Namespace labels known without the Kubernetes API.
    pub namespaces: NamespaceLabels,
    /// How long a verified pass is cached.
    pub cache_ttl: Duration,
    /// How many passes the cache holds at most.
    pub cache_capacity: usize,
    /// How often the certificate and policy files are polled.
    pub reload_interval: Duration,
    /// Where `key.secretRef` keys come from (none: such authorities cannot verify).
    pub secrets: Option<Arc<dyn crate::secrets::SecretKeys>>,
    /// Where the workload's image pull secrets and ServiceAccounts come from (none, and
    /// no `kubernetes`: registry credentials come from the docker config alone).
    pub pull_secrets: Option<Arc<dyn crate::pull_secrets::PullSecretSource>>,
    /// The Kubernetes API: ClusterImagePolicy resources are watched, and Secrets
    /// (`key.secretRef`, image pull secrets) and ServiceAccounts read through it
    /// (`None`: out of a cluster).
    #[cfg(feature = "kubernetes")]
    pub kubernetes: Option<crate::kubernetes::ApiClient>,
}

impl Config {
    /// A configuration with signet's defaults: an 8 s deadline, passes cached for 5
    /// minutes (at most 10,000), files polled every 2 s, `no-match-policy: deny`, the
    /// embedded public-good root, the usual docker config.
    pub fn new(addr: SocketAddr, tls_cert: PathBuf, tls_key: PathBuf, policy_dir: PathBuf) -> Self {
        let registry = ClientConfig {
            request_timeout: Duration::from_secs(8),
            max_retries: 1,
            ..ClientConfig::default()
        };
        Config {
            addr,
            tls_cert,
            tls_key,
            policy_dir,
            registry,
            timeout: Duration::from_secs(8),
            settings: Settings::default(),
            trusted_root: None,
            namespaces: NamespaceLabels::unknown(),
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 10_000,
            reload_interval: Duration::from_secs(2),
            secrets: None,
            pull_secrets: None,
            #[cfg(feature = "kubernetes")]
            kubernetes: None,
        }
    }
}

impl Admitter {
    /// The admission logic of `config` over `policies`, without a server: for
    /// `signet admission check` and tests.
    ///
    /// # Errors
    /// [`Error::Registry`] or [`Error::TrustedRoot`].
    pub fn from_config(config: &Config, policies: Arc<PolicyStore>) -> Result<Self, Error> {
        admitter(config, policies, Arc::new(Metrics::new()))
    }
}

fn admitter(
    config: &Config,
    policies: Arc<PolicyStore>,
    metrics: Arc<Metrics>,
) -> Result<Admitter, Error> {
    // No registry request outlives the admission deadline: mutate and validate abort
    // their work at it (`timeout_at` over a JoinSet) and report it as the deadline. A
    // per-request timeout clamped to the same instant would race it and report a
    // registry timeout instead.
    let client = RegistryClient::new(config.registry.clone()).map_err(Error::Registry)?;
    let verifier = match &config.trusted_root {
        Some(root) => BundleVerifier::new(root),
        None => BundleVerifier::production(),
    }
    .map_err(Error::TrustedRoot)?
    .with_cache();
    // A key authority trusts its key alone: `.sig` signatures are never checked
    // against a log, and key-signed bundles need not be either.
    let trust = BundleTrust::with_verifier(verifier, TlogRequirement::DangerIgnoreForKeys);
    #[cfg(feature = "kubernetes")]
    let kube = config
        .kubernetes
        .as_ref()
        .map(|client| Arc::new(crate::kubernetes::KubernetesSecrets::new(client.0.clone())));
    #[cfg(feature = "kubernetes")]
    let (secrets, pull_secrets) = {
        let secrets: Option<Arc<dyn crate::secrets::SecretKeys>> = match (&config.secrets, &kube) {
            (None, Some(k)) => Some(k.clone()),
            (secrets, _) => secrets.clone(),
        };
        let pulls: Option<Arc<dyn crate::pull_secrets::PullSecretSource>> =
            match (&config.pull_secrets, kube) {
                (None, Some(k)) => Some(k),
                (pulls, _) => pulls.clone(),
            };
        (secrets, pulls)
    };
    #[cfg(not(feature = "kubernetes"))]
    let (secrets, pull_secrets) = (config.secrets.clone(), config.pull_secrets.clone());
    let admitter = Admitter::new(
        policies,
        client,
        trust,
        config.settings.clone(),
        config.namespaces.clone(),
        config.timeout,
        VerdictCache::new(config.cache_ttl, config.cache_capacity),
        metrics,
    )
    .with_trusted_root(config.trusted_root.clone());
    let admitter = match secrets {
        Some(s) => admitter.with_secrets(s),
        None => admitter,
    };
    Ok(match pull_secrets {
        Some(p) => admitter.with_pull_secrets(p),
        None => admitter,
    })
}

/// The webhook server.
#[derive(Debug)]
pub struct Server;

/// A running server.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    admitter: Arc<Admitter>,
    certificates: Arc<CertificateReloader>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Server {
    /// Loads the certificate and the policies, listens, and serves until
    /// [`ServerHandle::shutdown`]. A policy directory that does not load does not stop
    /// the start: the server is then not ready, and denies, until it does.
    ///
    /// # Errors
    /// An [`Error`] when the certificate does not load, the address cannot be listened
    /// on, or the registry client or trusted root cannot be set up.
    pub async fn start(config: Config) -> Result<ServerHandle, Error> {
        let metrics = Arc::new(Metrics::new());
        let certificates = Arc::new(CertificateReloader::new(&config.tls_cert, &config.tls_key)?);
        let acceptor = TlsAcceptor::from(Arc::new(certificates.server_config()?));
        let policies = Arc::new(PolicyStore::load(&config.policy_dir, &metrics));
        let admitter = Arc::new(admitter(&config, policies.clone(), metrics.clone())?);
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| Error::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        certificates.spawn_watch(metrics.clone(), config.reload_interval);
        #[cfg(feature = "kubernetes")]
        if let Some(client) = &config.kubernetes {
            crate::kubernetes::watch_policies(client.0.clone(), policies.clone(), metrics.clone());
        }
        policies.spawn_watch(metrics, config.reload_interval);
        let (tx, mut rx) = oneshot::channel::<()>();
        let app = crate::http::router(admitter.clone());
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => accepted,
                };
                let tcp = match accepted {
                    Ok((tcp, _)) => tcp,
                    Err(e) => {
                        // Out of file descriptors and the like: wait, then go on.
                        log::event("error", &format!("accepting a connection failed: {e}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, app) = (acceptor.clone(), app.clone());
                tokio::spawn(async move {
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
                    else {
                        return;
                    };
                    // Dropping the connection (client gone) drops the request's future
                    // and with it any verification still running for it.
                    let mut builder = auto::Builder::new(TokioExecutor::new());
                    // A client that never finishes its headers is cut off.
                    builder
                        .http1()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HANDSHAKE_TIMEOUT);
                    let _ = builder
                        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(app))
                        .await;
                });
            }
        });
        Ok(ServerHandle {
            addr,
            admitter,
            certificates,
            shutdown: Some(tx),
            task,
        })
    }
}

impl ServerHandle {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://ADDR`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The admission logic (for its metrics, cache and policies).
    pub fn admitter(&self) -> &Arc<Admitter> {
        &self.admitter
    }

    /// The certificate resolver.
    pub fn certificates(&self) -> &Arc<CertificateReloader> {
        &self.certificates
    }

    /// Stops accepting connections.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}
