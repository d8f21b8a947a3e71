//! Per-client state shared by all clones: what each registry speaks (scheme, auth
//! method), credentials looked up so far, and bearer tokens. Also the request flow
//! that uses it: proactive auth, one 401 round, token fetches.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Method, Response, StatusCode, Url};
use signet_formats::{Registry, Repository};
use tokio::sync::OnceCell;

use super::ClientConfig;
use super::auth::{
    Access, AuthMethod, CachedToken, Credential, CredentialSet, LookupError, Secret,
    docker_config_key, form_encode, lookup_docker_config, parse_token_response,
    parse_www_authenticate, select_method,
};
use super::error::{AuthFailure, RegistryError};
use super::transport::{Prepared, Target, display_url, error_message, read_limited};

/// The URL scheme a registry answers on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    Https,
    Http,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }
}

/// What we have learnt about one registry.
#[derive(Clone, Debug, Default)]
struct RegistryState {
    scheme: Option<Scheme>,
    auth: Option<AuthMethod>,
    /// When `/referrers/` answered 404, which the OCI distribution spec forbids a
    /// registry with the referrers API to do: until [`NO_REFERRERS_API_TTL`] later, the
    /// fallback tag is read without asking again (a long-lived process still notices
    /// an upgraded registry).
    no_referrers_api: Option<std::time::Instant>,
}

type CredentialCell = Arc<OnceCell<Result<Option<Credential>, LookupError>>>;
type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// How long a registry's 404 from `/referrers/` is trusted to mean "no API".
pub(crate) const NO_REFERRERS_API_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// Token answers are at most this long.
const MAX_TOKEN_BODY: usize = 1024 * 1024;

/// The two HTTP clients: one for plain-http URLs, cheap to build, and the TLS client,
/// whose construction loads the system trust roots (about 4 ms, more than a whole
/// verify otherwise costs), so it is built only when an https URL is first used.
pub(crate) struct HttpClients {
    /// Used only for `http://` URLs; its redirect policy refuses to leave plain http,
    /// so it never makes a TLS connection (and its TLS settings never matter).
    pub(crate) plain: reqwest::Client,
    tls: std::sync::OnceLock<Result<reqwest::Client, String>>,
    make_tls: Box<dyn Fn() -> Result<reqwest::Client, String> + Send + Sync>,
}

impl HttpClients {
    pub(crate) fn new(
        plain: reqwest::Client,
        make_tls: Box<dyn Fn() -> Result<reqwest::Client, String> + Send + Sync>,
    ) -> Self {
        HttpClients {
            plain,
            tls: std::sync::OnceLock::new(),
            make_tls,
        }
    }

    /// The client for `url`: the TLS client (built on first use) for https.
    pub(crate) fn for_url(&self, url: &Url) -> Result<&reqwest::Client, String> {
        if url.scheme() == "http" {
            return Ok(&self.plain);
        }
        self.tls
            .get_or_init(|| (self.make_tls)())
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The state behind a `RegistryClient`. A client made by
/// [`super::RegistryClient::with_credentials`] shares the connections, what registries
/// speak, the docker config lookups and the request count with its parent, and has its
/// own credentials and tokens.
pub(crate) struct Inner {
    pub(crate) http: Arc<HttpClients>,
    pub(crate) config: ClientConfig,
    pub(crate) docker_config: Option<PathBuf>,
    registries: Arc<Mutex<HashMap<String, RegistryState>>>,
    credentials: Arc<Mutex<HashMap<String, CredentialCell>>>,
    /// Never shared: a token is worth what the credentials that got it are.
    tokens: Mutex<HashMap<(String, String), TokenSlot>>,
    pub(crate) requests: Arc<AtomicU64>,
    /// Credentials looked up before the flags and the docker config.
    extra: Option<ExtraCredentials>,
}

/// A [`CredentialSet`] and what it gave per registry: its documents are parsed on the
/// first lookup for a registry, not on every request that needs credentials.
struct ExtraCredentials {
    set: CredentialSet,
    found: Mutex<HashMap<String, Option<Credential>>>,
}

impl ExtraCredentials {
    fn lookup(&self, registry: &Registry) -> Option<Credential> {
        let mut found = lock(&self.found);
        if let Some(credential) = found.get(registry.as_str()) {
            return credential.clone();
        }
        let credential = self.set.lookup(registry).map(|(_, c)| c);
        found.insert(registry.as_str().to_owned(), credential.clone());
        credential
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Inner {
    pub(crate) fn new(
        http: HttpClients,
        config: ClientConfig,
        docker_config: Option<PathBuf>,
    ) -> Self {
        Inner {
            http: Arc::new(http),
            config,
            docker_config,
            registries: Arc::default(),
            credentials: Arc::default(),
            tokens: Mutex::default(),
            requests: Arc::new(AtomicU64::new(0)),
            extra: None,
        }
    }

    /// A client state sharing everything with this one but credentials and tokens,
    /// looking credentials up in `extra` first.
    pub(crate) fn with_credentials(&self, extra: CredentialSet) -> Inner {
        Inner {
            http: self.http.clone(),
            config: self.config.clone(),
            docker_config: self.docker_config.clone(),
            registries: self.registries.clone(),
            credentials: self.credentials.clone(),
            tokens: Mutex::default(),
            requests: self.requests.clone(),
            extra: Some(ExtraCredentials {
                set: extra,
                found: Mutex::default(),
            }),
        }
    }

    pub(crate) fn scheme(&self, registry: &Registry) -> Option<Scheme> {
        lock(&self.registries)
            .get(registry.as_str())
            .and_then(|s| s.scheme)
    }

    pub(crate) fn remember_scheme(&self, registry: &Registry, scheme: Scheme) {
        lock(&self.registries)
            .entry(registry.as_str().to_owned())
            .or_default()
            .scheme = Some(scheme);
    }

    pub(crate) fn lacks_referrers_api(&self, registry: &Registry) -> bool {
        lock(&self.registries)
            .get(registry.as_str())
            .and_then(|s| s.no_referrers_api)
            .is_some_and(|at| at.elapsed() < NO_REFERRERS_API_TTL)
    }

    pub(crate) fn remember_no_referrers_api(&self, registry: &Registry) {
        lock(&self.registries)
            .entry(registry.as_str().to_owned())
            .or_default()
            .no_referrers_api = Some(std::time::Instant::now());
    }

    fn auth_method(&self, registry: &Registry) -> Option<AuthMethod> {
        lock(&self.registries)
            .get(registry.as_str())
            .and_then(|s| s.auth.clone())
    }

    fn remember_auth(&self, registry: &Registry, method: AuthMethod) {
        lock(&self.registries)
            .entry(registry.as_str().to_owned())
            .or_default()
            .auth = Some(method);
    }

    /// Sends `req` to `repo`'s registry with whatever auth is already known to work,
    /// and on a 401 authenticates as the challenge asks and sends it once more.
    /// Returns any response other than 401/403 (and other than a final 429/5xx).
    pub(crate) async fn execute(
        &self,
        repo: &Repository,
        access: Access,
        req: &Prepared<'_>,
    ) -> Result<Response, RegistryError> {
        let registry = repo.registry();
        let scope = access.scope(repo.path());
        let sent = self.proactive_auth(registry, access, repo.path()).await?;
        let resp = self.send(registry, req, sent.as_ref()).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return self.check_forbidden(registry, resp).await;
        }
        let challenges: Vec<_> = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_www_authenticate)
            .collect();
        let insufficient_scope = challenges
            .iter()
            .any(|c| c.param("error") == Some("insufficient_scope"));
        let message = error_message(resp).await;
        let credential = self.credential(registry).await?;
        let unauthorized = |failure| RegistryError::Unauthorized {
            registry: registry.to_string(),
            failure,
        };
        let Some(method) = select_method(&challenges) else {
            return Err(unauthorized(match (&sent, &credential) {
                (None, None) => AuthFailure::NoCredentials,
                (Some(_), _) => AuthFailure::CredentialsRejected,
                (None, Some(_)) => AuthFailure::Denied { message },
            }));
        };
        self.remember_auth(registry, method.clone());
        let header = match &method {
            AuthMethod::Basic => {
                if sent.is_some() {
                    return Err(unauthorized(match credential {
                        Some(_) => AuthFailure::CredentialsRejected,
                        None => AuthFailure::NoCredentials,
                    }));
                }
                match credential.as_ref().and_then(Credential::basic_header) {
                    Some(h) => h,
                    None => return Err(unauthorized(AuthFailure::NoCredentials)),
                }
            }
            AuthMethod::Bearer { realm, service } => {
                if sent.is_some() && insufficient_scope {
                    return Err(unauthorized(match credential {
                        Some(_) => AuthFailure::Denied { message },
                        None => AuthFailure::NoCredentials,
                    }));
                }
                self.token(
                    registry,
                    realm,
                    service.as_deref(),
                    &scope,
                    credential.as_ref(),
                    sent.as_ref(),
                )
                .await?
            }
        };
        let resp = self.send(registry, req, Some(&header)).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            let message = error_message(resp).await;
            return Err(unauthorized(match (&credential, &method) {
                (None, _) => AuthFailure::NoCredentials,
                (Some(_), AuthMethod::Basic) => AuthFailure::CredentialsRejected,
                (Some(_), AuthMethod::Bearer { .. }) => AuthFailure::Denied { message },
            }));
        }
        self.check_forbidden(registry, resp).await
    }

    async fn check_forbidden(
        &self,
        registry: &Registry,
        resp: Response,
    ) -> Result<Response, RegistryError> {
        if resp.status() != StatusCode::FORBIDDEN {
            return Ok(resp);
        }
        let message = error_message(resp).await;
        Err(RegistryError::Unauthorized {
            registry: registry.to_string(),
            failure: AuthFailure::Denied { message },
        })
    }

    /// The `Authorization` value to send before any 401, from what earlier requests
    /// taught us about the registry.
    async fn proactive_auth(
        &self,
        registry: &Registry,
        access: Access,
        path: &str,
    ) -> Result<Option<Secret>, RegistryError> {
        match self.auth_method(registry) {
            None => Ok(None),
            Some(AuthMethod::Basic) => Ok(self
                .credential(registry)
                .await?
                .as_ref()
                .and_then(Credential::basic_header)),
            Some(AuthMethod::Bearer { realm, service }) => {
                if access == Access::Pull {
                    // A push token for the repository also allows pulls.
                    if let Some(t) = self.cached_token(registry, &Access::Push.scope(path)) {
                        return Ok(Some(t));
                    }
                }
                let credential = self.credential(registry).await?;
                let t = self
                    .token(
                        registry,
                        &realm,
                        service.as_deref(),
                        &access.scope(path),
                        credential.as_ref(),
                        None,
                    )
                    .await?;
                Ok(Some(t))
            }
        }
    }

    fn token_slot(&self, registry: &Registry, scope: &str) -> TokenSlot {
        lock(&self.tokens)
            .entry((registry.as_str().to_owned(), scope.to_owned()))
            .or_default()
            .clone()
    }

    fn cached_token(&self, registry: &Registry, scope: &str) -> Option<Secret> {
        let slot = lock(&self.tokens)
            .get(&(registry.as_str().to_owned(), scope.to_owned()))
            .cloned()?;
        let guard = slot.try_lock().ok()?;
        guard
            .as_ref()
            .filter(|t| t.is_fresh())
            .map(|t| t.token.clone())
    }

    /// A fresh token for `scope`: the cached one unless it expired or is `rejected`
    /// (the one a 401 just refused); concurrent callers share one fetch.
    async fn token(
        &self,
        registry: &Registry,
        realm: &Url,
        service: Option<&str>,
        scope: &str,
        credential: Option<&Credential>,
        rejected: Option<&Secret>,
    ) -> Result<Secret, RegistryError> {
        let slot = self.token_slot(registry, scope);
        let mut guard = slot.lock().await;
        if let Some(t) = guard.as_ref()
            && t.is_fresh()
            && rejected != Some(&t.token)
        {
            return Ok(t.token.clone());
        }
        *guard = None;
        let t = self
            .fetch_token(registry, realm, service, scope, credential)
            .await?;
        let token = t.token.clone();
        *guard = Some(t);
        Ok(token)
    }

    /// Asks the token service for `scope`: GET with Basic credentials, or the OAuth2
    /// refresh-token POST when we hold an identity token.
    async fn fetch_token(
        &self,
        registry: &Registry,
        realm: &Url,
        service: Option<&str>,
        scope: &str,
        credential: Option<&Credential>,
    ) -> Result<CachedToken, RegistryError> {
        let realm_text = display_url(realm);
        let form;
        let (req, auth) = match credential {
            Some(Credential::IdentityToken(refresh)) => {
                let mut pairs = vec![
                    ("grant_type", "refresh_token"),
                    ("client_id", "signet"),
                    ("scope", scope),
                    ("refresh_token", refresh.expose()),
                ];
                if let Some(s) = service {
                    pairs.push(("service", s));
                }
                form = form_encode(&pairs);
                let req = Prepared {
                    method: Method::POST,
                    target: Target::TokenService(realm.clone()),
                    accept: Some("application/json"),
                    content_type: Some("application/x-www-form-urlencoded"),
                    body: Some(form.as_bytes()),
                    if_match: None,
                };
                (req, None)
            }
            other => {
                let mut url = realm.clone();
                {
                    let mut q = url.query_pairs_mut();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    q.append_pair("scope", scope);
                }
                let req = Prepared {
                    method: Method::GET,
                    target: Target::TokenService(url),
                    accept: Some("application/json"),
                    content_type: None,
                    body: None,
                    if_match: None,
                };
                (req, other.and_then(Credential::basic_header))
            }
        };
        let resp = self.send(registry, &req, auth.as_ref()).await?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let _ = error_message(resp).await;
            return Err(RegistryError::Unauthorized {
                registry: registry.to_string(),
                failure: match credential {
                    Some(_) => AuthFailure::CredentialsRejected,
                    None => AuthFailure::NoCredentials,
                },
            });
        }
        if !status.is_success() {
            let message = error_message(resp).await;
            return Err(RegistryError::TokenService {
                registry: registry.to_string(),
                realm: realm_text,
                reason: format!("HTTP status {} ({message})", status.as_u16()),
            });
        }
        let body = read_limited(resp, MAX_TOKEN_BODY, self.config.request_timeout)
            .await
            .map_err(|e| match e {
                RegistryError::TooLarge { .. } => RegistryError::TokenService {
                    registry: registry.to_string(),
                    realm: realm_text.clone(),
                    reason: format!("the response is larger than {MAX_TOKEN_BODY} bytes"),
                },
                other => other,
            })?;
        parse_token_response(&body).map_err(|reason| RegistryError::TokenService {
            registry: registry.to_string(),
            realm: realm_text,
            reason,
        })
    }

    /// Credentials for `registry`: the first of the extra sources with an entry for it
    /// ([`super::RegistryClient::with_credentials`]), else the explicit flags, else the
    /// docker config (looked up on first need, once per registry, and cached, failures
    /// included).
    pub(crate) async fn credential(
        &self,
        registry: &Registry,
    ) -> Result<Option<Credential>, RegistryError> {
        if let Some(credential) = self.extra.as_ref().and_then(|e| e.lookup(registry)) {
            return Ok(Some(credential));
        }
        if self.config.username.is_some() || self.config.password.is_some() {
            return Ok(Some(Credential::UserPassword {
                username: self.config.username.clone().unwrap_or_default(),
                password: Secret::new(self.config.password.clone().unwrap_or_default()),
            }));
        }
        let Some(path) = self.docker_config.clone() else {
            return Ok(None);
        };
        let cell = lock(&self.credentials)
            .entry(registry.as_str().to_owned())
            .or_default()
            .clone();
        let timeout = self.config.request_timeout;
        let key = docker_config_key(registry);
        let result = cell
            .get_or_init(|| async move {
                let lookup_path = path.clone();
                let task =
                    tokio::task::spawn_blocking(move || lookup_docker_config(&lookup_path, &key));
                match tokio::time::timeout(timeout, task).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(_)) => Err(LookupError::Config {
                        path,
                        reason: "the credential lookup failed unexpectedly".to_owned(),
                    }),
                    Err(_) => Err(LookupError::Config {
                        path,
                        reason: format!("the credential lookup took longer than {timeout:?}"),
                    }),
                }
            })
            .await;
        result.clone().map_err(|e| e.to_error(registry))
    }
}
