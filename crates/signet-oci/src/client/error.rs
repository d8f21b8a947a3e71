//! The error type of the registry client.

use std::path::PathBuf;
use std::time::Duration;

use signet_formats::Digest;

/// Why a registry refused access.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthFailure {
    /// The registry asked for credentials and none were configured.
    NoCredentials,
    /// Credentials were sent and the registry (or its token service) rejected them.
    CredentialsRejected,
    /// The registry answered 403, or refused the scope asked for (for example a push
    /// with a pull-only token).
    Denied {
        /// The registry's own message, when it sent one.
        message: String,
    },
}

impl std::fmt::Display for AuthFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthFailure::NoCredentials => f.write_str("no credentials were found for it"),
            AuthFailure::CredentialsRejected => f.write_str("it rejected the credentials"),
            AuthFailure::Denied { message } if message.is_empty() => {
                f.write_str("it denied access")
            }
            AuthFailure::Denied { message } => write!(f, "it denied access: {message}"),
        }
    }
}

/// Errors from talking to an OCI registry.
///
/// URLs in errors never carry a query string (upload URLs hold opaque state), and no
/// variant ever holds a password or token.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A `--registry-cacert` bundle holds no usable PEM certificate.
    #[error(
        "invalid registry CA certificate bundle #{index}: {reason}; pass a PEM file with one or more certificates"
    )]
    InvalidCaCertificate {
        /// Position of the bundle in `ClientConfig::extra_ca_pem`.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP stack could not be set up.
    #[error("cannot set up the registry HTTP client: {reason}")]
    ClientSetup {
        /// What the HTTP stack reported.
        reason: String,
    },
    /// A tag or digest is not valid in a registry URL.
    #[error(
        "invalid manifest reference {reference:?}: expected a tag ([A-Za-z0-9_.-], at most 128 characters) or a digest (sha256:<hex>)"
    )]
    InvalidReference {
        /// The text that was given.
        reference: String,
    },
    /// No TCP connection could be made.
    #[error(
        "cannot reach registry {registry}: {reason}; check the address, or pass --allow-http-registry for a plain-HTTP registry"
    )]
    Unreachable {
        /// The registry (`host[:port]`).
        registry: String,
        /// What failed (`connection refused`, a DNS error, ...).
        reason: String,
    },
    /// The TLS handshake failed (untrusted or invalid certificate, protocol error).
    #[error(
        "tls connection to registry {registry} failed: {reason}; pass --registry-cacert with the registry's CA certificate, or --allow-insecure-registry to skip certificate verification"
    )]
    Tls {
        /// The registry (`host[:port]`).
        registry: String,
        /// What the TLS stack reported.
        reason: String,
    },
    /// A request took longer than `ClientConfig::request_timeout`.
    #[error(
        "request to {url} timed out after {timeout:?}; the registry may be overloaded or unreachable"
    )]
    Timeout {
        /// The URL (without query).
        url: String,
        /// The timeout that expired.
        timeout: Duration,
    },
    /// The connection failed after the request was sent (reset, truncated response).
    #[error("request to {url} failed: {reason}")]
    Transport {
        /// The URL (without query).
        url: String,
        /// What the HTTP stack reported.
        reason: String,
    },
    /// The registry wants credentials we do not have, or rejected ours.
    #[error(
        "registry {registry} denied access because {failure}; log in with `docker login {registry}` or pass --registry-username/--registry-password"
    )]
    Unauthorized {
        /// The registry (`host[:port]`).
        registry: String,
        /// Why access was refused.
        failure: AuthFailure,
    },
    /// The token service named by a `Bearer` challenge failed or answered nonsense.
    #[error("token service {realm} for registry {registry} failed: {reason}")]
    TokenService {
        /// The registry (`host[:port]`).
        registry: String,
        /// The token endpoint (without query).
        realm: String,
        /// What went wrong.
        reason: String,
    },
    /// A docker config file exists but cannot be used.
    #[error(
        "cannot read registry credentials from docker config {path}: {reason}; fix the file, or pass --registry-username/--registry-password"
    )]
    CredentialConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A docker credential helper failed.
    #[error(
        "docker credential helper docker-credential-{helper} failed for registry {registry}: {reason}"
    )]
    CredentialHelper {
        /// The helper name (without the `docker-credential-` prefix).
        helper: String,
        /// The registry credentials were asked for.
        registry: String,
        /// What went wrong.
        reason: String,
    },
    /// Content does not hash to the digest it was asked for, or to the digest the
    /// registry claimed in `Docker-Content-Digest`.
    #[error("content from {url} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The URL (without query).
        url: String,
        /// The digest asked for, or claimed by the registry.
        expected: Digest,
        /// The digest of the bytes received (or sent, for a push).
        actual: Digest,
    },
    /// A response body is larger than the configured limit.
    #[error("response from {url} is larger than the {limit}-byte limit{}", size.map(|s| format!(" ({s} bytes)")).unwrap_or_default())]
    TooLarge {
        /// The URL (without query).
        url: String,
        /// The limit in bytes.
        limit: usize,
        /// The announced size, when the registry sent `Content-Length`.
        size: Option<u64>,
    },
    /// A blob does not exist in the repository.
    #[error("blob {digest} not found in {repository}")]
    BlobNotFound {
        /// The repository (`registry/path`).
        repository: String,
        /// The blob digest.
        digest: Digest,
    },
    /// The registry kept answering 429 after all retries.
    #[error(
        "registry rate limit hit at {url} (still 429 after {retries} retries); wait and try again, or log in for a higher limit"
    )]
    RateLimited {
        /// The URL (without query).
        url: String,
        /// How many retries were made.
        retries: u32,
    },
    /// The registry kept answering 5xx after all retries.
    #[error("registry server error {status} at {url}: {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The URL (without query).
        url: String,
        /// The registry's error message, or a short excerpt of its body.
        message: String,
    },
    /// Any other unexpected HTTP status.
    #[error("unexpected HTTP status {status} from {url}: {message}")]
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
        /// The URL (without query).
        url: String,
        /// The registry's error message, or a short excerpt of its body.
        message: String,
    },
    /// A successful response lacks something the protocol requires (a `Location`
    /// header on an upload, a parsable header).
    #[error("invalid response from {url}: {reason}")]
    InvalidResponse {
        /// The URL (without query).
        url: String,
        /// What is missing or malformed.
        reason: String,
    },
}
