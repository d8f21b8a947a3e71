//! The serving certificate, reloaded when its files change.
//!
//! [`CertificateReloader`] is the rustls certificate resolver: every handshake gets the
//! pair loaded last. A background task polls the two files' sizes and modification
//! times; on a change it loads both, checks that the key matches the certificate, and
//! swaps them in. A pair that does not load (half-written, mismatched) is logged and
//! counted, and the previous pair keeps serving; the next change is tried again.
//! cert-manager and kubelet secret mounts replace both files within seconds, so a
//! failed load is normally followed by a good one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::log;
use crate::metrics::Metrics;

/// Why a certificate or key does not load.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file cannot be read.
    #[error(
        "cannot read {what} {path}: {source}; check --tls-cert/--tls-key and the mounted Secret"
    )]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error(
        "{path} holds no PEM CERTIFICATE block: pass the serving certificate (and its chain) in PEM"
    )]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no usable private key.
    #[error(
        "{path} holds no usable PEM private key ({reason}): pass a PKCS#8, SEC1 or PKCS#1 key in PEM"
    )]
    Key {
        /// The file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// The key is not the certificate's.
    #[error("the key in {key} does not match the certificate in {cert}: {reason}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {0}")]
    Config(String),
}

/// The aws-lc-rs provider: the only one in signet's dependency graph.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// Loads a certificate chain and key from PEM files.
///
/// # Errors
/// A [`TlsError`] naming the file and what is wrong.
pub(crate) fn load_pair(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let cert_pem = read(cert, "certificate")?;
    let key_pem = read(key, "key")?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Key {
        path: key.to_owned(),
        reason: e.to_string(),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(private)
        .map_err(|e| TlsError::Key {
            path: key.to_owned(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| TlsError::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(certified)
}

type FileStamp = Option<(u64, SystemTime)>;

fn stamp(path: &Path) -> FileStamp {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.len(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH)))
}

/// The certificate resolver that reloads its files.
pub struct CertificateReloader {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    stamps: RwLock<(FileStamp, FileStamp)>,
}

impl std::fmt::Debug for CertificateReloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateReloader")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish()
    }
}

impl CertificateReloader {
    /// Loads the pair now.
    ///
    /// # Errors
    /// A [`TlsError`]: the webhook does not start without a certificate.
    pub fn new(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let provider = provider();
        let stamps = (stamp(cert), stamp(key));
        let pair = load_pair(cert, key, &provider)?;
        Ok(CertificateReloader {
            cert: cert.to_owned(),
            key: key.to_owned(),
            provider,
            current: RwLock::new(Arc::new(pair)),
            stamps: RwLock::new(stamps),
        })
    }

    /// Reloads when either file changed. `Ok(true)` when a new pair serves now; an
    /// error leaves the previous pair serving.
    ///
    /// # Errors
    /// The [`TlsError`] of a changed pair that does not load.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = (stamp(&self.cert), stamp(&self.key));
        if self.stamps.read().is_ok_and(|s| *s == now) {
            return Ok(false);
        }
        if let Ok(mut s) = self.stamps.write() {
            *s = now;
        }
        let pair = load_pair(&self.cert, &self.key, &self.provider)?;
        if let Ok(mut c) = self.current.write() {
            *c = Arc::new(pair);
        }
        Ok(true)
    }

    /// The rustls server configuration using this resolver (HTTP/2 and HTTP/1.1).
    ///
    /// # Errors
    /// [`TlsError::Config`] if rustls refuses the provider's protocol versions.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    /// Polls the files every `interval` while the reloader is alive.
    pub(crate) fn spawn_watch(self: &Arc<Self>, metrics: Arc<Metrics>, interval: Duration) {
        crate::poll::spawn_poll(self, interval, move |reloader: &Self| {
            match reloader.reload_if_changed() {
                Ok(false) => {}
                Ok(true) => {
                    metrics.certificate_reload(true);
                    log::event(
                        "info",
                        &format!(
                            "reloaded the TLS certificate from {}",
                            reloader.cert.display()
                        ),
                    );
                }
                Err(e) => {
                    metrics.certificate_reload(false);
                    log::event(
                        "error",
                        &format!("{e}; the previous certificate keeps serving"),
                    );
                }
            }
        });
    }
}

impl ResolvesServerCert for CertificateReloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}
