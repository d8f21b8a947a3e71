//! The crate's error type: what stops the webhook from starting.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::tls::TlsError;

/// Why the webhook cannot start (request-time problems become AdmissionReview
/// responses or HTTP 4xx, never errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TLS certificate or key does not load.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}; pick a free port or another address")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The registry client cannot be set up.
    #[error("cannot set up the registry client: {0}")]
    Registry(#[source] signet_oci::RegistryError),
    /// The trusted root does not load.
    #[error(
        "the trusted root does not load: {0}; pass a trusted_root.json from the Sigstore instance that signs your images"
    )]
    TrustedRoot(#[source] signet_verify::bundle::TrustedRootError),
    /// The namespace file does not load.
    #[error("cannot read namespaces from {path}: {reason}")]
    Namespaces {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
