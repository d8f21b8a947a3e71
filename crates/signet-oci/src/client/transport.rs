//! Sending one logical request: choosing https or http, retrying 429/5xx and
//! connection failures, mapping transport errors, and reading bounded bodies.

use std::error::Error as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, IF_MATCH, RETRY_AFTER,
};
use reqwest::{Method, Response, StatusCode, Url};
use signet_formats::Registry;

use super::HttpPolicy;
use super::auth::Secret;
use super::error::RegistryError;
use super::session::{Inner, Scheme};

/// Where a request goes.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    /// A path on the registry (`/v2/...`); the scheme is chosen per registry.
    Path(String),
    /// A URL the registry handed out (an upload `Location`); credentials are sent
    /// only if it is on the registry's own origin.
    Absolute(Url),
    /// The token service named by a `Bearer` challenge; credentials are always sent.
    TokenService(Url),
}

/// A request that can be sent more than once (retries, auth, scheme fallback).
#[derive(Debug)]
pub(crate) struct Prepared<'a> {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) accept: Option<&'static str>,
    pub(crate) content_type: Option<&'a str>,
    pub(crate) body: Option<&'a [u8]>,
    /// `If-Match` (an ETag the registry sent), for conditional manifest PUTs.
    pub(crate) if_match: Option<&'a str>,
}

/// Why a send produced no HTTP response.
#[derive(Debug)]
pub(crate) enum FailureKind {
    /// TCP connection refused.
    Refused,
    /// TLS handshake failed.
    Tls(String),
    /// Other failure before the request was sent (DNS, unreachable network).
    Connect(String),
    /// The request timed out.
    Timeout,
    /// The connection failed after the request was sent.
    Other(String),
}

/// A failed send, with what is needed to report it.
#[derive(Debug)]
pub(crate) struct SendFailure {
    pub(crate) kind: FailureKind,
    /// The URL without its query.
    pub(crate) url: String,
    /// `host[:port]` of the URL.
    pub(crate) authority: String,
}

impl SendFailure {
    /// Whether no HTTP request reached the server: worth trying plain HTTP instead.
    fn is_connection_level(&self) -> bool {
        matches!(
            self.kind,
            FailureKind::Refused | FailureKind::Tls(_) | FailureKind::Connect(_)
        )
    }

    /// Whether trying again may help. TLS failures are deterministic and a timeout
    /// already cost a full `request_timeout`.
    fn is_retriable(&self) -> bool {
        matches!(
            self.kind,
            FailureKind::Refused | FailureKind::Connect(_) | FailureKind::Other(_)
        )
    }

    pub(crate) fn into_error(self, timeout: Duration) -> RegistryError {
        match self.kind {
            FailureKind::Refused => RegistryError::Unreachable {
                registry: self.authority,
                reason: "connection refused".to_owned(),
            },
            FailureKind::Connect(reason) => RegistryError::Unreachable {
                registry: self.authority,
                reason,
            },
            FailureKind::Tls(reason) => RegistryError::Tls {
                registry: self.authority,
                reason,
            },
            FailureKind::Timeout => RegistryError::Timeout {
                url: self.url,
                timeout,
            },
            FailureKind::Other(reason) => RegistryError::Transport {
                url: self.url,
                reason,
            },
        }
    }
}

/// A URL as it may appear in errors: no userinfo, query or fragment.
pub(crate) fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => url.to_string(),
    }
}

/// Sorts a reqwest error into what happened, from its source chain.
fn classify(e: &reqwest::Error) -> FailureKind {
    let mut messages: Vec<String> = Vec::new();
    let mut io_kind = None;
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
        }
        let m = s.to_string();
        if !m.is_empty() && !messages.iter().any(|x| x.contains(&m)) {
            messages.push(m);
        }
        source = s.source();
    }
    let reason = messages
        .last()
        .cloned()
        .unwrap_or_else(|| "unknown error".to_owned());
    let reason = reason.chars().take(300).collect::<String>();
    if e.is_timeout() {
        return FailureKind::Timeout;
    }
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused) {
        return FailureKind::Refused;
    }
    if e.is_connect() {
        let all = messages.join(": ").to_ascii_lowercase();
        let tls_words = [
            "certificate",
            "tls",
            "handshake",
            "peer",
            "alert",
            "corrupt message",
        ];
        if io_kind == Some(std::io::ErrorKind::InvalidData)
            || tls_words.iter().any(|w| all.contains(w))
        {
            return FailureKind::Tls(reason);
        }
        return FailureKind::Connect(reason);
    }
    FailureKind::Other(reason)
}

/// Retry-After is honoured up to this long.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);
/// The first backoff step; it doubles on each retry.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// How long to wait before retry number `attempt + 1`: the server's `Retry-After`
/// (delta-seconds) capped at 10 s, else exponential backoff from 100 ms.
pub(crate) fn retry_delay(attempt: u32, retry_after: Option<&HeaderValue>) -> Duration {
    if let Some(secs) = retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
    {
        return Duration::from_secs(secs).min(MAX_RETRY_DELAY);
    }
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(MAX_RETRY_DELAY)
}

fn is_retriable_status(s: StatusCode) -> bool {
    s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
}

/// Resolves an upload `Location` (absolute, or relative to the URL that returned it,
/// possibly with its own query) and appends `digest=`.
pub(crate) fn resolve_location(base: &Url, location: &str, digest: &str) -> Result<Url, String> {
    let mut url = base
        .join(location.trim())
        .map_err(|e| format!("the upload Location {location:?} is not a URL ({e})"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(format!(
            "the upload Location uses scheme {:?}; expected http or https",
            url.scheme()
        ));
    }
    url.set_fragment(None);
    url.query_pairs_mut().append_pair("digest", digest);
    Ok(url)
}

/// Reads a body of at most `limit` bytes: refuses an announced larger
/// `Content-Length` without reading, and stops as soon as the count passes `limit`.
pub(crate) async fn read_limited(
    mut resp: Response,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, RegistryError> {
    let url = display_url(resp.url());
    let announced = resp
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = announced
        && n > limit as u64
    {
        return Err(RegistryError::TooLarge {
            url,
            limit,
            size: Some(n),
        });
    }
    let capacity = announced.map_or(8 * 1024, |n| n as usize);
    let mut out = Vec::with_capacity(capacity.min(limit));
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > limit {
                    return Err(RegistryError::TooLarge {
                        url,
                        limit,
                        size: announced,
                    });
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) => {
                let authority = authority(resp.url());
                return Err(SendFailure {
                    kind: classify(&e),
                    url,
                    authority,
                }
                .into_error(timeout));
            }
        }
    }
}

/// The error bodies we read are at most this long.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The registry's message for a failed response: `CODE: message` from the OCI error
/// JSON, else a short single-line excerpt of the body, else the status text. Reads
/// (and so frees for reuse) the connection; never fails.
pub(crate) async fn error_message(resp: Response) -> String {
    let status = resp.status();
    let body = read_limited(resp, MAX_ERROR_BODY, Duration::MAX)
        .await
        .unwrap_or_default();
    let from_json = serde_json::from_slice::<OciErrors>(&body).ok().map(|e| {
        e.errors
            .iter()
            .map(|e| match (e.code.as_deref(), e.message.as_deref()) {
                (Some(c), Some(m)) if !m.is_empty() => format!("{c}: {m}"),
                (Some(c), _) => c.to_owned(),
                (None, Some(m)) => m.to_owned(),
                (None, None) => String::new(),
            })
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ")
    });
    let text = match from_json {
        Some(t) if !t.is_empty() => t,
        _ => String::from_utf8_lossy(&body)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let text: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
    if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_lowercase()
    } else {
        text
    }
}

#[derive(serde::Deserialize)]
struct OciErrors {
    #[serde(default)]
    errors: Vec<OciError>,
}

#[derive(serde::Deserialize)]
struct OciError {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

impl Inner {
    /// Sends `req` with `auth`, retrying 429, 5xx and connection failures; a final 429
    /// or 5xx becomes `RateLimited` or `Server`. Other statuses are returned.
    pub(crate) async fn send(
        &self,
        registry: &Registry,
        req: &Prepared<'_>,
        auth: Option<&Secret>,
    ) -> Result<Response, RegistryError> {
        let max = self.config.max_retries;
        let mut attempt = 0u32;
        loop {
            let outcome = self.send_choosing_scheme(registry, req, auth).await;
            let delay = match &outcome {
                Ok(r) if is_retriable_status(r.status()) && attempt < max => {
                    retry_delay(attempt, r.headers().get(RETRY_AFTER))
                }
                Err(f) if f.is_retriable() && attempt < max => retry_delay(attempt, None),
                _ => return self.finish(outcome, attempt).await,
            };
            if let Ok(r) = outcome {
                // Read the error body so that the connection can be reused.
                let _ = error_message(r).await;
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn finish(
        &self,
        outcome: Result<Response, SendFailure>,
        retries: u32,
    ) -> Result<Response, RegistryError> {
        match outcome {
            Err(f) => Err(f.into_error(self.config.request_timeout)),
            Ok(r) if r.status() == StatusCode::TOO_MANY_REQUESTS => {
                let url = display_url(r.url());
                let _ = error_message(r).await;
                Err(RegistryError::RateLimited { url, retries })
            }
            Ok(r) if r.status().is_server_error() => {
                let status = r.status().as_u16();
                let url = display_url(r.url());
                let message = error_message(r).await;
                Err(RegistryError::Server {
                    status,
                    url,
                    message,
                })
            }
            Ok(r) => Ok(r),
        }
    }

    /// One attempt. For a registry path whose scheme is not known yet: https first,
    /// then (for `AllowHttp` or a loopback registry) plain http if https failed before
    /// any HTTP exchange. The scheme that answered is remembered for the registry.
    async fn send_choosing_scheme(
        &self,
        registry: &Registry,
        req: &Prepared<'_>,
        auth: Option<&Secret>,
    ) -> Result<Response, SendFailure> {
        let path = match &req.target {
            Target::Absolute(url) => {
                // Credentials go only to the registry's own origin.
                let same_origin = url.host_str().is_some()
                    && authority(url) == registry.api_host()
                    && self
                        .scheme(registry)
                        .is_none_or(|s| s.as_str() == url.scheme());
                return self.send_once(url, req, auth.filter(|_| same_origin)).await;
            }
            Target::TokenService(url) => return self.send_once(url, req, auth).await,
            Target::Path(p) => p,
        };
        let known = self.scheme(registry);
        if known.is_none() && registry.is_localhost() {
            return self.send_loopback_first(registry, req, auth, path).await;
        }
        let first = known.unwrap_or(Scheme::Https);
        let url = registry_url(first, registry, path)?;
        let err = match self.send_once(&url, req, auth).await {
            Ok(resp) => {
                if known.is_none() {
                    self.remember_scheme(registry, first);
                }
                return Ok(resp);
            }
            Err(e) => e,
        };
        let may_fall_back = self.config.http == HttpPolicy::AllowHttp || registry.is_localhost();
        if known.is_some() || !may_fall_back || !err.is_connection_level() {
            return Err(err);
        }
        let http_url = registry_url(Scheme::Http, registry, path)?;
        match self.send_once(&http_url, req, auth).await {
            Ok(resp) => {
                if matches!(err.kind, FailureKind::Tls(_))
                    && resp.status() == StatusCode::BAD_REQUEST
                {
                    // Go's "Client sent an HTTP request to an HTTPS server": the
                    // registry speaks TLS, so the TLS failure is the real problem.
                    let text = error_message(resp).await;
                    if text.contains("HTTPS server") {
                        return Err(err);
                    }
                    return Err(SendFailure {
                        kind: FailureKind::Other(format!(
                            "https failed and plain http answered 400 ({text})"
                        )),
                        url: display_url(&http_url),
                        authority: registry.api_host().to_owned(),
                    });
                }
                self.remember_scheme(registry, Scheme::Http);
                Ok(resp)
            }
            // Neither scheme connected: the TLS failure explains more than a refused
            // http connection. If http did connect (and then failed), report that.
            Err(http_err) => Err(
                if matches!(err.kind, FailureKind::Tls(_)) && http_err.is_connection_level() {
                    err
                } else {
                    http_err
                },
            ),
        }
    }

    /// The first request to a loopback registry: plain http first, as Docker and
    /// go-containerregistry treat loopback registries as insecure, so that a local
    /// plain-http registry costs no TLS set-up. A TLS registry on loopback answers a
    /// plain request at once with a 400 ("HTTP request to an HTTPS server") or closes
    /// the connection; then https is used and remembered. No credentials go out on
    /// this first plain request unless the caller already had them for the registry.
    async fn send_loopback_first(
        &self,
        registry: &Registry,
        req: &Prepared<'_>,
        auth: Option<&Secret>,
        path: &str,
    ) -> Result<Response, SendFailure> {
        let http_url = registry_url(Scheme::Http, registry, path)?;
        // A 400 to a HEAD carries no body, so "HTTP request to an HTTPS server" cannot be
        // read from it: https is tried next, and this 400 is the answer only if https
        // does not work either.
        let mut http_400 = None;
        let http_failure = match self.send_once(&http_url, req, auth).await {
            Ok(resp) if resp.status() == StatusCode::BAD_REQUEST => {
                let text = error_message(resp).await;
                let failure = SendFailure {
                    kind: FailureKind::Other(format!(
                        "the registry answered 400 Bad Request: {text}"
                    )),
                    url: display_url(&http_url),
                    authority: registry.api_host().to_owned(),
                };
                if req.method == Method::HEAD {
                    http_400 = Some(failure);
                } else if !text.to_ascii_uppercase().contains("HTTPS") {
                    self.remember_scheme(registry, Scheme::Http);
                    return Err(failure);
                }
                None
            }
            Ok(resp) => {
                self.remember_scheme(registry, Scheme::Http);
                return Ok(resp);
            }
            Err(e) if e.is_connection_level() => Some(e),
            Err(e) => return Err(e),
        };
        let https_url = registry_url(Scheme::Https, registry, path)?;
        match self.send_once(&https_url, req, auth).await {
            Ok(resp) => {
                self.remember_scheme(registry, Scheme::Https);
                Ok(resp)
            }
            // http answered a HEAD with 400 and https does not speak: a plain-http
            // registry that refused the request.
            Err(e) if http_400.is_some() && e.is_connection_level() => {
                self.remember_scheme(registry, Scheme::Http);
                Err(http_400.unwrap_or(e))
            }
            // Nothing answered on either scheme: report the plain connection failure
            // (refused, most likely) unless https got further.
            Err(e) => Err(match http_failure {
                Some(h) if e.is_connection_level() && !matches!(e.kind, FailureKind::Tls(_)) => h,
                _ => e,
            }),
        }
    }

    /// One HTTP exchange, bounded by `request_timeout`. Counts the request when it
    /// reached the server (a refused connection or failed handshake sends none).
    async fn send_once(
        &self,
        url: &Url,
        req: &Prepared<'_>,
        auth: Option<&Secret>,
    ) -> Result<Response, SendFailure> {
        let client = self.http.for_url(url).map_err(|reason| SendFailure {
            kind: FailureKind::Other(format!("setting up TLS: {reason}")),
            url: display_url(url),
            authority: authority(url),
        })?;
        let mut b = client
            .request(req.method.clone(), url.clone())
            .timeout(self.config.request_timeout);
        if let Some(a) = req.accept {
            b = b.header(ACCEPT, a);
        }
        if let Some(ct) = req.content_type {
            b = b.header(CONTENT_TYPE, ct);
        }
        if let Some(tag) = req.if_match {
            b = b.header(IF_MATCH, tag);
        }
        if let Some(secret) = auth {
            let mut v = HeaderValue::from_str(secret.expose()).map_err(|_| SendFailure {
                kind: FailureKind::Other(
                    "the credentials contain characters not allowed in an HTTP header".to_owned(),
                ),
                url: display_url(url),
                authority: authority(url),
            })?;
            v.set_sensitive(true);
            b = b.header(AUTHORIZATION, v);
        }
        match req.body {
            Some(body) => b = b.body(body.to_vec()),
            None if req.method == Method::POST || req.method == Method::PUT => {
                b = b.body(Vec::new())
            }
            None => {}
        }
        match b.send().await {
            Ok(r) => {
                self.requests.fetch_add(1, Ordering::Relaxed);
                Ok(r)
            }
            Err(e) => {
                let f = SendFailure {
                    kind: classify(&e),
                    url: display_url(url),
                    authority: authority(url),
                };
                if !f.is_connection_level() {
                    self.requests.fetch_add(1, Ordering::Relaxed);
                }
                Err(f)
            }
        }
    }
}

fn registry_url(scheme: Scheme, registry: &Registry, path: &str) -> Result<Url, SendFailure> {
    let text = format!("{}://{}{}", scheme.as_str(), registry.api_host(), path);
    Url::parse(&text).map_err(|e| SendFailure {
        kind: FailureKind::Connect(format!("cannot form a URL from the registry name ({e})")),
        url: text.clone(),
        authority: registry.api_host().to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn resolves_locations() {
        let base = Url::parse("http://127.0.0.1:5000/v2/demo/app/blobs/uploads/").unwrap();
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let enc = "sha256%3Ae3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        // Absolute, with a query already (distribution's _state).
        let u = resolve_location(
            &base,
            "http://127.0.0.1:5000/v2/demo/app/blobs/uploads/u1?_state=abc%3D",
            d,
        )
        .unwrap();
        assert_eq!(
            u.as_str(),
            format!(
                "http://127.0.0.1:5000/v2/demo/app/blobs/uploads/u1?_state=abc%3D&digest={enc}"
            )
        );
        // Path-absolute.
        let u = resolve_location(&base, "/v2/demo/app/blobs/uploads/u2", d).unwrap();
        assert_eq!(
            u.as_str(),
            format!("http://127.0.0.1:5000/v2/demo/app/blobs/uploads/u2?digest={enc}")
        );
        // Relative to the upload URL.
        let u = resolve_location(&base, "u3?x=1", d).unwrap();
        assert_eq!(
            u.as_str(),
            format!("http://127.0.0.1:5000/v2/demo/app/blobs/uploads/u3?x=1&digest={enc}")
        );
        // Another host (a storage backend).
        let u = resolve_location(&base, "https://upload.example/session/9", d).unwrap();
        assert_eq!(
            u.as_str(),
            format!("https://upload.example/session/9?digest={enc}")
        );
        assert!(resolve_location(&base, "file:///etc/passwd", d).is_err());
        assert!(resolve_location(&base, "http://[::1", d).is_err());
    }

    #[test]
    fn retry_delays() {
        assert_eq!(retry_delay(0, None), Duration::from_millis(100));
        assert_eq!(retry_delay(1, None), Duration::from_millis(200));
        assert_eq!(retry_delay(2, None), Duration::from_millis(400));
        assert_eq!(retry_delay(40, None), MAX_RETRY_DELAY);
        let h = HeaderValue::from_static("2");
        assert_eq!(retry_delay(0, Some(&h)), Duration::from_secs(2));
        let h = HeaderValue::from_static("3600");
        assert_eq!(retry_delay(0, Some(&h)), MAX_RETRY_DELAY);
        let h = HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_delay(1, Some(&h)), Duration::from_millis(200));
    }

    #[test]
    fn urls_in_errors_have_no_query_or_userinfo() {
        let u = Url::parse("https://user:pw@reg.example:5000/v2/x/blobs/uploads/1?_state=secret")
            .unwrap();
        assert_eq!(
            display_url(&u),
            "https://reg.example:5000/v2/x/blobs/uploads/1"
        );
    }
}
