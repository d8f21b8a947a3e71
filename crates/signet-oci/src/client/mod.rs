//! An OCI distribution HTTP client: manifests and blobs by tag or digest, with auth
//! (Basic, Bearer tokens, docker config and credential helpers), https-with-fallback,
//! retries, timeouts and size limits.
//!
//! It never pings `/v2/`: each operation goes straight to its URL, and a 401 is
//! answered once (credentials or a token), after which the registry's auth method and
//! tokens are reused by every later request of the client and its clones.

mod auth;
mod error;
mod session;
mod transport;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderMap, LOCATION};
use reqwest::{Method, Response, StatusCode};
use signet_formats::manifest::Descriptor;
use signet_formats::{Digest, MANIFEST_ACCEPT, MediaType, Repository, Tag};

use auth::Access;
pub use auth::{CredentialSet, DockerAuths, DockerAuthsError};
pub use error::{AuthFailure, RegistryError};
use session::Inner;
use transport::{Prepared, Target, display_url, error_message, read_limited, resolve_location};

/// Whether registry TLS certificates are verified.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsVerification {
    /// Verify against the system roots plus `ClientConfig::extra_ca_pem`.
    #[default]
    Verify,
    /// Accept any certificate (`--allow-insecure-registry`). The connection is
    /// encrypted but not authenticated.
    Insecure,
}

/// Whether plain HTTP may be used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HttpPolicy {
    /// Only https, except for loopback registries, which (as in Docker and
    /// go-containerregistry) fall back to http when https fails to connect.
    #[default]
    HttpsOnly,
    /// Fall back to http for any registry whose https connection fails
    /// (`--allow-http-registry`).
    AllowHttp,
}

/// Settings for a [`RegistryClient`].
#[derive(Clone)]
pub struct ClientConfig {
    /// Username for every registry (`--registry-username`); wins over the docker config.
    pub username: Option<String>,
    /// Password for every registry (`--registry-password`); wins over the docker config.
    pub password: Option<String>,
    /// A docker `config.json`; `None` means `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`. A missing file means anonymous access.
    pub docker_config: Option<PathBuf>,
    /// Extra trusted CA certificates, each a PEM bundle (`--registry-cacert`).
    pub extra_ca_pem: Vec<Vec<u8>>,
    /// Certificate verification.
    pub tls: TlsVerification,
    /// Plain-HTTP policy.
    pub http: HttpPolicy,
    /// Bound on each HTTP request, body included.
    pub request_timeout: Duration,
    /// Retries for 429, 5xx and connection failures.
    pub max_retries: u32,
    /// Largest manifest accepted.
    pub max_manifest_bytes: usize,
    /// Largest blob accepted (cosign's `COSIGN_MAX_ATTACHMENT_SIZE` default).
    pub max_blob_bytes: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            username: None,
            password: None,
            docker_config: None,
            extra_ca_pem: Vec::new(),
            tls: TlsVerification::Verify,
            http: HttpPolicy::HttpsOnly,
            request_timeout: Duration::from_secs(30),
            max_retries: 3,
            max_manifest_bytes: 4 * 1024 * 1024,
            max_blob_bytes: 128 * 1024 * 1024,
        }
    }
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("docker_config", &self.docker_config)
            .field("extra_ca_pem", &self.extra_ca_pem.len())
            .field("tls", &self.tls)
            .field("http", &self.http)
            .field("request_timeout", &self.request_timeout)
            .field("max_retries", &self.max_retries)
            .field("max_manifest_bytes", &self.max_manifest_bytes)
            .field("max_blob_bytes", &self.max_blob_bytes)
            .finish()
    }
}

/// A manifest as fetched: its exact bytes, media type and digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedManifest {
    /// The bytes, exactly as served.
    pub bytes: Vec<u8>,
    /// The registry's `Content-Type`, else the body's `mediaType`.
    pub media_type: MediaType,
    /// The digest of `bytes` (sha256, or the algorithm of the digest asked for).
    pub digest: Digest,
}

/// The outcome of [`RegistryClient::put_manifest_if_match`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutManifest {
    /// The registry stored it.
    Stored {
        /// The sha256 of the bytes.
        digest: Digest,
        /// The `OCI-Subject` header: a registry with the referrers API sends it when
        /// the manifest has a `subject`.
        subject: Option<Digest>,
    },
    /// 412: the `If-Match` ETag no longer matched.
    PreconditionFailed,
}

/// The answer to [`RegistryClient::get_referrers`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReferrersResponse {
    /// The registry has the referrers API: the index it returned (not yet parsed).
    Index {
        /// The response body, at most `max_manifest_bytes`.
        bytes: Vec<u8>,
        /// `OCI-Filters-Applied` names `artifactType`: the server applied the filter.
        artifact_type_filtered: bool,
    },
    /// No referrers API (404, 400, or a 200 that is not an OCI index): the caller
    /// reads the `sha256-<hex>` fallback tag instead.
    Unsupported {
        /// The HTTP status.
        status: u16,
    },
}

/// Percent-encodes a query value (everything but RFC 3986 unreserved characters;
/// `+` and `/` in media types must not reach the server as a space or a separator).
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An OCI registry client. Cheap to clone; clones share connections, learnt auth,
/// tokens and the request counter, and may be used from many tasks at once.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

// `Debug` for `RegistryClient` lives in `store.rs` (it prints no configuration).

/// A manifest reference: a tag or a digest.
enum ManifestRef {
    Tag(Tag),
    Digest(Digest),
}

impl ManifestRef {
    fn parse(reference: &str) -> Result<Self, RegistryError> {
        let invalid = || RegistryError::InvalidReference {
            reference: reference.chars().take(200).collect(),
        };
        if reference.contains(':') {
            Digest::from_str(reference)
                .map(ManifestRef::Digest)
                .map_err(|_| invalid())
        } else {
            Tag::from_str(reference)
                .map(ManifestRef::Tag)
                .map_err(|_| invalid())
        }
    }

    fn digest(&self) -> Option<&Digest> {
        match self {
            ManifestRef::Digest(d) => Some(d),
            ManifestRef::Tag(_) => None,
        }
    }
}

impl fmt::Display for ManifestRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestRef::Tag(t) => write!(f, "{t}"),
            ManifestRef::Digest(d) => write!(f, "{d}"),
        }
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `Docker-Content-Digest`, when present and well formed.
fn content_digest(headers: &HeaderMap) -> Option<Digest> {
    header_str(headers, "docker-content-digest").and_then(|v| v.parse().ok())
}

/// `Content-Type` without parameters, unless it is a generic type that says nothing
/// about the manifest kind.
fn manifest_content_type(headers: &HeaderMap) -> Option<MediaType> {
    let ct = header_str(headers, CONTENT_TYPE.as_str())?;
    let ct = ct.split(';').next().unwrap_or("").trim();
    match ct {
        "" | "application/json" | "text/plain" | "application/octet-stream" => None,
        other => Some(MediaType::new(other)),
    }
}

/// The media type of manifest `bytes` whose `Content-Type` did not say: the body's
/// `mediaType`, else index or image manifest by shape.
fn sniff_media_type(bytes: &[u8]) -> MediaType {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType", default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde::de::IgnoredAny>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe {
            media_type: Some(m),
            ..
        }) if !m.is_empty() => MediaType::new(m),
        Ok(Probe {
            manifests: Some(_), ..
        }) => MediaType::OCI_INDEX,
        _ => MediaType::OCI_MANIFEST,
    }
}

fn manifest_path(repo: &Repository, reference: &ManifestRef) -> String {
    format!("/v2/{}/manifests/{reference}", repo.path())
}

fn blob_path(repo: &Repository, digest: &Digest) -> String {
    format!("/v2/{}/blobs/{digest}", repo.path())
}

async fn unexpected(resp: Response) -> RegistryError {
    let status = resp.status().as_u16();
    let url = display_url(resp.url());
    let message = error_message(resp).await;
    RegistryError::UnexpectedStatus {
        status,
        url,
        message,
    }
}

impl RegistryClient {
    /// A client with `config`. Fails on unusable CA bundles; does no I/O beyond
    /// loading the system trust roots.
    pub fn new(config: ClientConfig) -> Result<Self, RegistryError> {
        let base = || {
            reqwest::Client::builder()
                .timeout(config.request_timeout)
                .connect_timeout(config.request_timeout)
                .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")))
                .pool_idle_timeout(Duration::from_secs(90))
        };
        let setup_error = |e: reqwest::Error| {
            std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}"))
        };
        // The plain-http client must never speak TLS: it follows redirects only to
        // other plain-http URLs (an https redirect from a plain-http registry is an
        // error), so skipping certificate loading for it is safe.
        let plain = base()
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                if attempt.url().scheme() != "http" {
                    attempt.error("a plain-http registry redirected to https; this is not followed")
                } else if attempt.previous().len() >= 10 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }))
            .tls_danger_accept_invalid_certs(true)
            .build()
            .map_err(|e| RegistryError::ClientSetup {
                reason: setup_error(e),
            })?;
        let mut certificates = Vec::new();
        for (index, pem) in config.extra_ca_pem.iter().enumerate() {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
                RegistryError::InvalidCaCertificate {
                    index,
                    reason: e.to_string(),
                }
            })?;
            if certs.is_empty() {
                return Err(RegistryError::InvalidCaCertificate {
                    index,
                    reason: "it contains no PEM CERTIFICATE block".to_owned(),
                });
            }
            certificates.extend(certs);
        }
        let insecure = config.tls == TlsVerification::Insecure;
        let (timeout, agent) = (
            config.request_timeout,
            concat!("signet/", env!("CARGO_PKG_VERSION")),
        );
        let make_tls = move || {
            let mut builder = reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .user_agent(agent)
                .redirect(reqwest::redirect::Policy::limited(10))
                .pool_idle_timeout(Duration::from_secs(90));
            if !certificates.is_empty() {
                builder = builder.tls_certs_merge(certificates.clone());
            }
            if insecure {
                builder = builder.tls_danger_accept_invalid_certs(true);
            }
            builder.build().map_err(|e| {
                std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| format!("{e}: {s}"))
            })
        };
        let http = session::HttpClients::new(plain, Box::new(make_tls));
        let docker_config = config
            .docker_config
            .clone()
            .or_else(auth::default_docker_config);
        Ok(RegistryClient {
            inner: Arc::new(Inner::new(http, config, docker_config)),
        })
    }

    /// GETs a manifest by tag or digest (`reference` is the tag text or `sha256:…`).
    /// `Ok(None)` on 404. A digest reference must match the bytes; a
    /// `Docker-Content-Digest` header must match them too; bodies over
    /// `max_manifest_bytes` fail with `TooLarge` without being read.
    pub async fn get_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<FetchedManifest>, RegistryError> {
        Ok(self
            .get_manifest_with_etag(repo, reference)
            .await?
            .map(|(m, _)| m))
    }

    /// [`RegistryClient::get_manifest`], plus the response's `ETag` when the registry
    /// sent one (for a conditional PUT with [`RegistryClient::put_manifest_if_match`]).
    pub async fn get_manifest_with_etag(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<(FetchedManifest, Option<String>)>, RegistryError> {
        let reference = ManifestRef::parse(reference)?;
        let req = Prepared {
            method: Method::GET,
            target: Target::Path(manifest_path(repo, &reference)),
            accept: Some(MANIFEST_ACCEPT),
            content_type: None,
            body: None,
            if_match: None,
        };
        let resp = self.inner.execute(repo, Access::Pull, &req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            let _ = error_message(resp).await;
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(unexpected(resp).await);
        }
        let url = display_url(resp.url());
        let claimed = content_digest(resp.headers());
        let content_type = manifest_content_type(resp.headers());
        let etag = header_str(resp.headers(), ETAG.as_str()).map(str::to_owned);
        let bytes = read_limited(
            resp,
            self.inner.config.max_manifest_bytes,
            self.inner.config.request_timeout,
        )
        .await?;
        let digest = match reference.digest() {
            Some(d) => {
                if !d.matches(&bytes) {
                    return Err(RegistryError::DigestMismatch {
                        url,
                        expected: d.clone(),
                        actual: Digest::compute(d.algorithm(), &bytes),
                    });
                }
                d.clone()
            }
            None => Digest::sha256_of(&bytes),
        };
        if let Some(claimed) = claimed
            && !claimed.matches(&bytes)
        {
            return Err(RegistryError::DigestMismatch {
                url,
                actual: Digest::compute(claimed.algorithm(), &bytes),
                expected: claimed,
            });
        }
        let media_type = content_type.unwrap_or_else(|| sniff_media_type(&bytes));
        Ok(Some((
            FetchedManifest {
                bytes,
                media_type,
                digest,
            },
            etag,
        )))
    }

    /// HEADs a manifest: its descriptor from `Content-Type`, `Content-Length` and
    /// `Docker-Content-Digest`, or `Ok(None)` on 404. If the registry leaves any of
    /// those out, the manifest is fetched instead.
    pub async fn head_manifest(
        &self,
        repo: &Repository,
        reference: &str,
    ) -> Result<Option<Descriptor>, RegistryError> {
        let parsed = ManifestRef::parse(reference)?;
        let req = Prepared {
            method: Method::HEAD,
            target: Target::Path(manifest_path(repo, &parsed)),
            accept: Some(MANIFEST_ACCEPT),
            content_type: None,
            body: None,
            if_match: None,
        };
        let resp = self.inner.execute(repo, Access::Pull, &req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(unexpected(resp).await);
        }
        let headers = resp.headers();
        let claimed = content_digest(headers);
        if let (Some(asked), Some(claimed)) = (parsed.digest(), &claimed)
            && asked != claimed
        {
            return Err(RegistryError::DigestMismatch {
                url: display_url(resp.url()),
                expected: asked.clone(),
                actual: claimed.clone(),
            });
        }
        let digest = claimed.or_else(|| parsed.digest().cloned());
        let size = header_str(headers, CONTENT_LENGTH.as_str()).and_then(|v| v.parse::<i64>().ok());
        let media_type = manifest_content_type(headers);
        match (digest, size, media_type) {
            (Some(digest), Some(size), Some(media_type)) => {
                let mut d = Descriptor::of(media_type, &[]);
                d.size = size;
                d.digest = digest;
                Ok(Some(d))
            }
            _ => Ok(self.get_manifest(repo, reference).await?.map(|m| {
                let mut d = Descriptor::of(m.media_type, &m.bytes);
                d.digest = m.digest;
                d
            })),
        }
    }

    /// PUTs a manifest under a tag or its digest with `Content-Type: media_type`, and
    /// returns the sha256 of `bytes`.
    pub async fn put_manifest(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &MediaType,
        bytes: &[u8],
    ) -> Result<Digest, RegistryError> {
        match self
            .put_manifest_if_match(repo, reference, media_type, bytes, None)
            .await?
        {
            PutManifest::Stored { digest, .. } => Ok(digest),
            // Only a conditional PUT can fail its precondition.
            PutManifest::PreconditionFailed => Err(RegistryError::InvalidResponse {
                url: format!(
                    "{}/v2/{}/manifests/{reference}",
                    repo.registry(),
                    repo.path()
                ),
                reason: "412 Precondition Failed to a PUT without If-Match".to_owned(),
            }),
        }
    }

    /// [`RegistryClient::put_manifest`] with `If-Match: if_match` when given (an ETag
    /// from [`RegistryClient::get_manifest_with_etag`]). A registry that honours it
    /// answers 412 when the manifest changed since: [`PutManifest::PreconditionFailed`].
    /// Most registries ignore `If-Match` on manifests, so it narrows races but does not
    /// close them.
    pub async fn put_manifest_if_match(
        &self,
        repo: &Repository,
        reference: &str,
        media_type: &MediaType,
        bytes: &[u8],
        if_match: Option<&str>,
    ) -> Result<PutManifest, RegistryError> {
        let parsed = ManifestRef::parse(reference)?;
        let path = manifest_path(repo, &parsed);
        if let Some(d) = parsed.digest()
            && !d.matches(bytes)
        {
            return Err(RegistryError::DigestMismatch {
                url: format!("{}{path}", repo.registry()),
                expected: d.clone(),
                actual: Digest::compute(d.algorithm(), bytes),
            });
        }
        let req = Prepared {
            method: Method::PUT,
            target: Target::Path(path),
            accept: None,
            content_type: Some(media_type.as_str()),
            body: Some(bytes),
            if_match,
        };
        let resp = self.inner.execute(repo, Access::Push, &req).await?;
        if resp.status() == StatusCode::PRECONDITION_FAILED && if_match.is_some() {
            let _ = error_message(resp).await;
            return Ok(PutManifest::PreconditionFailed);
        }
        if !resp.status().is_success() {
            return Err(unexpected(resp).await);
        }
        let digest = Digest::sha256_of(bytes);
        if let Some(claimed) = content_digest(resp.headers())
            && !claimed.matches(bytes)
        {
            return Err(RegistryError::DigestMismatch {
                url: display_url(resp.url()),
                actual: Digest::compute(claimed.algorithm(), bytes),
                expected: claimed,
            });
        }
        let subject = header_str(resp.headers(), "oci-subject").and_then(|v| v.parse().ok());
        let _ = error_message(resp).await;
        Ok(PutManifest::Stored { digest, subject })
    }

    /// GETs a blob of at most `max_blob_bytes` (or `limit`, if smaller) and checks it
    /// against `digest`. A missing blob is `BlobNotFound`.
    pub async fn get_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        limit: Option<usize>,
    ) -> Result<Vec<u8>, RegistryError> {
        let limit = limit.map_or(self.inner.config.max_blob_bytes, |l| {
            l.min(self.inner.config.max_blob_bytes)
        });
        let req = Prepared {
            method: Method::GET,
            target: Target::Path(blob_path(repo, digest)),
            accept: None,
            content_type: None,
            body: None,
            if_match: None,
        };
        let resp = self.inner.execute(repo, Access::Pull, &req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            let _ = error_message(resp).await;
            return Err(RegistryError::BlobNotFound {
                repository: repo.to_string(),
                digest: digest.clone(),
            });
        }
        if !resp.status().is_success() {
            return Err(unexpected(resp).await);
        }
        let url = display_url(resp.url());
        let bytes = read_limited(resp, limit, self.inner.config.request_timeout).await?;
        if !digest.matches(&bytes) {
            return Err(RegistryError::DigestMismatch {
                url,
                expected: digest.clone(),
                actual: Digest::compute(digest.algorithm(), &bytes),
            });
        }
        Ok(bytes)
    }

    /// Uploads a blob unless the registry already has it: HEAD, then POST
    /// `/blobs/uploads/` and PUT `<Location>?digest=` with the bytes.
    pub async fn push_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        let path = blob_path(repo, digest);
        if !digest.matches(bytes) {
            return Err(RegistryError::DigestMismatch {
                url: format!("{}{path}", repo.registry()),
                expected: digest.clone(),
                actual: Digest::compute(digest.algorithm(), bytes),
            });
        }
        let head = Prepared {
            method: Method::HEAD,
            target: Target::Path(path),
            accept: None,
            content_type: None,
            body: None,
            if_match: None,
        };
        let resp = self.inner.execute(repo, Access::Push, &head).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        if resp.status() != StatusCode::NOT_FOUND {
            return Err(unexpected(resp).await);
        }
        let start = Prepared {
            method: Method::POST,
            target: Target::Path(format!("/v2/{}/blobs/uploads/", repo.path())),
            accept: None,
            content_type: None,
            body: None,
            if_match: None,
        };
        let resp = self.inner.execute(repo, Access::Push, &start).await?;
        if !resp.status().is_success() {
            return Err(unexpected(resp).await);
        }
        let url = display_url(resp.url());
        let Some(location) = header_str(resp.headers(), LOCATION.as_str()) else {
            return Err(RegistryError::InvalidResponse {
                url,
                reason: "the upload was started but the response has no Location header".to_owned(),
            });
        };
        let upload =
            resolve_location(resp.url(), location, &digest.to_string()).map_err(|reason| {
                RegistryError::InvalidResponse {
                    url: url.clone(),
                    reason,
                }
            })?;
        let _ = error_message(resp).await;
        let put = Prepared {
            method: Method::PUT,
            target: Target::Absolute(upload),
            accept: None,
            content_type: Some("application/octet-stream"),
            body: Some(bytes),
            if_match: None,
        };
        let resp = self.inner.execute(repo, Access::Push, &put).await?;
        if !resp.status().is_success() {
            return Err(unexpected(resp).await);
        }
        let _ = error_message(resp).await;
        Ok(())
    }

    /// DELETEs a manifest by digest; `Ok(false)` if it did not exist.
    pub async fn delete_manifest(
        &self,
        repo: &Repository,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let req = Prepared {
            method: Method::DELETE,
            target: Target::Path(manifest_path(repo, &ManifestRef::Digest(digest.clone()))),
            accept: None,
            content_type: None,
            body: None,
            if_match: None,
        };
        let resp = self.inner.execute(repo, Access::Delete, &req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            let _ = error_message(resp).await;
            return Ok(false);
        }
        if !resp.status().is_success() {
            return Err(unexpected(resp).await);
        }
        let _ = error_message(resp).await;
        Ok(true)
    }

    /// GETs `/v2/<repo>/referrers/<subject>` (OCI distribution 1.1), with
    /// `?artifactType=` when `artifact_type` is given, and reads at most
    /// `max_manifest_bytes`. A 200 whose `Content-Type` is the OCI index type is the
    /// list; 404, 400 or a 200 of another type mean the registry has no referrers API
    /// (what go-containerregistry checks). Other statuses are errors. A 404 is
    /// remembered for the registry (the spec forbids it from a registry with the API),
    /// so later calls on this client answer `Unsupported` without a round trip.
    pub async fn get_referrers(
        &self,
        repo: &Repository,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<ReferrersResponse, RegistryError> {
        if self.inner.lacks_referrers_api(repo.registry()) {
            return Ok(ReferrersResponse::Unsupported { status: 404 });
        }
        let mut path = format!("/v2/{}/referrers/{subject}", repo.path());
        if let Some(t) = artifact_type {
            path.push_str("?artifactType=");
            path.push_str(&query_escape(t));
        }
        let req = Prepared {
            method: Method::GET,
            target: Target::Path(path),
            accept: Some("application/vnd.oci.image.index.v1+json"),
            content_type: None,
            body: None,
            if_match: None,
        };
        let resp = self.inner.execute(repo, Access::Pull, &req).await?;
        let status = resp.status();
        let is_index = header_str(resp.headers(), CONTENT_TYPE.as_str())
            .map(|ct| ct.split(';').next().unwrap_or("").trim())
            == Some(MediaType::OCI_INDEX.as_str());
        if status == StatusCode::OK && is_index {
            let artifact_type_filtered = resp
                .headers()
                .get_all("oci-filters-applied")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|f| f.trim() == "artifactType");
            let bytes = read_limited(
                resp,
                self.inner.config.max_manifest_bytes,
                self.inner.config.request_timeout,
            )
            .await?;
            return Ok(ReferrersResponse::Index {
                bytes,
                artifact_type_filtered,
            });
        }
        if matches!(
            status,
            StatusCode::OK | StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST
        ) {
            let _ = error_message(resp).await;
            if status == StatusCode::NOT_FOUND {
                self.inner.remember_no_referrers_api(repo.registry());
            }
            return Ok(ReferrersResponse::Unsupported {
                status: status.as_u16(),
            });
        }
        Err(unexpected(resp).await)
    }

    /// A client that looks registry credentials up in `credentials` first (each source
    /// in order, the first with an entry for the registry answering), then as this one
    /// does (flags, docker config). It shares this client's connections, what it learnt
    /// about registries (scheme, auth method, referrers API) and its request count, but
    /// not its tokens: a token got with one set of credentials is never sent on behalf
    /// of another. Keep it for as long as the same credentials apply, to reuse tokens.
    pub fn with_credentials(&self, credentials: CredentialSet) -> RegistryClient {
        RegistryClient {
            inner: Arc::new(self.inner.with_credentials(credentials)),
        }
    }

    /// HTTP requests this client (and its clones) sent so far, retries and token
    /// fetches included. Connection attempts that failed before any request was sent
    /// (refused, TLS handshake failure during https-to-http fallback) are not counted.
    pub fn request_count(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }
}
