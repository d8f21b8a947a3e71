//! Interactive OIDC sign-in for keyless signing, as cosign does it: the device flow
//! (RFC 8628) and the browser flow (authorization code with PKCE S256, RFC 7636, a
//! `state` and a `nonce`, answered on a loopback listener, RFC 8252).
//!
//! Both start from the issuer's discovery document
//! (`<issuer>/.well-known/openid-configuration`), whose `issuer` must be the configured
//! one, and end with the token endpoint's `id_token`, whose `iss` must be the issuer and
//! whose `aud` must contain the client id (and, in the browser flow, whose `nonce` must
//! be this sign-in's). Only these claims are read: the certificate authority verifies
//! the token's signature. What the user must do is handed to a [`Prompt`] callback;
//! nothing here prints, and the token is never shown.

use std::collections::HashMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Url;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, sleep, timeout_at};

use super::KeylessError;
use super::http;
use super::token::{IdentityToken, unverified_claims};

/// cosign's default issuer (`--oidc-issuer`): Sigstore's public-good Dex.
pub const DEFAULT_ISSUER: &str = "https://oauth2.sigstore.dev/auth";
/// cosign's default client id (`--oidc-client-id`), which is also the audience
/// Fulcio expects.
pub const DEFAULT_CLIENT_ID: &str = "sigstore";
/// How long the browser flow waits for the redirect back, by default.
pub const DEFAULT_BROWSER_TIMEOUT: Duration = Duration::from_secs(120);
/// The path of the default loopback redirect URI.
pub const CALLBACK_PATH: &str = "/auth/callback";

const SERVICE: &str = "OIDC issuer";
const SCOPE: &str = "openid email";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// RFC 8628 §3.2: the polling interval when the issuer names none.
const DEFAULT_INTERVAL: u64 = 5;
/// RFC 8628 §3.5: each `slow_down` adds 5 seconds.
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The device flow gives up after the code's `expires_in`, and never waits longer
/// than this.
const MAX_DEVICE_WAIT: Duration = Duration::from_secs(3600);
/// The longest request head the loopback listener reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// A connection to the loopback listener must send its request head within this.
const REQUEST_HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections to the loopback listener read at once; more are closed unread.
const MAX_PENDING_CONNECTIONS: usize = 16;

/// How the identity token is obtained (cosign's `--fulcio-auth-flow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFlow {
    /// cosign's `normal`: sign in in a browser, which redirects to a loopback listener.
    Browser,
    /// RFC 8628: sign in on any device at a URL the issuer gives, while this polls.
    Device,
    /// Only a token given up front (`--identity-token`, `SIGSTORE_ID_TOKEN`, ambient CI
    /// credentials); never interactive.
    Token,
}

/// The OIDC client that signs in: cosign's `--oidc-*` flags.
#[derive(Clone)]
pub struct OidcClient {
    /// The issuer URL (`--oidc-issuer`).
    pub issuer: String,
    /// The client id (`--oidc-client-id`); minted tokens' `aud` must contain it.
    pub client_id: String,
    /// A client secret (`--oidc-client-secret-file`), sent as `client_secret` to the
    /// device and token endpoints. Public clients (Sigstore's) have none.
    pub client_secret: Option<String>,
    /// The browser flow's redirect URI (`--oidc-redirect-url`): an `http` loopback URL
    /// whose host and port the listener binds (port 0: any free port). Default:
    /// `http://localhost:PORT/auth/callback` on a free port.
    pub redirect_url: Option<String>,
}

impl OidcClient {
    /// A public client `sigstore` of `issuer`, with the default redirect.
    pub fn new(issuer: impl Into<String>) -> Self {
        OidcClient {
            issuer: issuer.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: None,
            redirect_url: None,
        }
    }
}

impl fmt::Debug for OidcClient {
    // The secret is a credential: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcClient")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "…"))
            .field("redirect_url", &self.redirect_url)
            .finish()
    }
}

/// The endpoints an issuer's discovery document names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The issuer, as configured (the document's `issuer` equals it).
    pub issuer: String,
    /// `authorization_endpoint` (the browser flow).
    pub authorization_endpoint: Option<String>,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `device_authorization_endpoint` (the device flow).
    pub device_authorization_endpoint: Option<String>,
}

/// What the user has to do, for the caller to show (and, for
/// [`Prompt::Browser`], to open with [`open_browser`]).
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Prompt<'a> {
    /// No token was given and stdin is not a terminal: the device flow was chosen.
    NonInteractive,
    /// Sign in at `verification_uri` with `user_code`.
    Device {
        /// Where to sign in.
        verification_uri: &'a str,
        /// The code to enter there.
        user_code: &'a str,
        /// A URL that carries the code, when the issuer gives one.
        verification_uri_complete: Option<&'a str>,
        /// How long the code is valid, in seconds.
        expires_in: u64,
    },
    /// Open `url` in a browser.
    Browser {
        /// The authorization URL.
        url: &'a str,
    },
}

impl fmt::Display for Prompt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prompt::NonInteractive => write!(
                f,
                "Non-interactive mode detected (stdin is not a terminal), using the device flow."
            ),
            Prompt::Device {
                verification_uri,
                user_code,
                verification_uri_complete,
                expires_in,
            } => {
                match verification_uri_complete {
                    Some(complete) => write!(
                        f,
                        "Open this URL in a browser to sign in: {complete}\n(or enter the code {user_code} at {verification_uri})"
                    )?,
                    None => write!(
                        f,
                        "Enter the verification code {user_code} in your browser at: {verification_uri}"
                    )?,
                }
                write!(f, "\nThe code is valid for {expires_in} seconds.")
            }
            Prompt::Browser { url } => write!(f, "Open this URL in a browser: {url}"),
        }
    }
}

/// Tries to open `url` in a browser: `$BROWSER` (its first `:`-separated entry, with
/// `%s` replaced by the URL, else the URL appended), else `open` on macOS and
/// `xdg-open` elsewhere. Returns whether a program was started; not being able to
/// open one is not an error (the URL has been printed).
pub fn open_browser(url: &str) -> bool {
    let configured = std::env::var("BROWSER").ok();
    let entry = configured
        .as_deref()
        .and_then(|b| b.split(':').map(str::trim).find(|e| !e.is_empty()));
    let (program, mut args): (String, Vec<String>) = match entry {
        Some(entry) => {
            let mut words = entry.split_whitespace().map(str::to_string);
            let program = words.next().unwrap_or_default();
            (program, words.collect())
        }
        None if cfg!(target_os = "macos") => ("open".into(), Vec::new()),
        None => ("xdg-open".into(), Vec::new()),
    };
    if args.iter().any(|a| a.contains("%s")) {
        for a in &mut args {
            *a = a.replace("%s", url);
        }
    } else {
        args.push(url.to_string());
    }
    match std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        Ok(mut child) => {
            // Reaped in the background; its exit status does not matter.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            true
        }
        Err(_) => false,
    }
}

/// Text from the network shown to the user: no control characters, bounded.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

fn malformed(reason: impl Into<String>) -> KeylessError {
    KeylessError::MalformedResponse {
        service: SERVICE,
        reason: reason.into(),
    }
}

fn same_issuer(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Reads `<issuer>/.well-known/openid-configuration`.
///
/// # Errors
/// [`KeylessError::IssuerMismatch`] when the document names another issuer;
/// [`KeylessError::MalformedResponse`] without a token endpoint, or with an endpoint
/// that is not an http(s) URL (or is plain http for an https issuer); transport and
/// HTTP errors.
pub async fn discover(client: &reqwest::Client, issuer: &str) -> Result<Endpoints, KeylessError> {
    let base = issuer.trim_end_matches('/');
    let doc = http::get_json(
        client,
        &format!("{base}/.well-known/openid-configuration"),
        None,
        SERVICE,
    )
    .await?;
    let found = doc
        .get("issuer")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the discovery document has no `issuer`"))?;
    if !same_issuer(found, issuer) {
        return Err(KeylessError::IssuerMismatch {
            expected: issuer.to_string(),
            found: printable(found),
            what: "its discovery document",
        });
    }
    let https = base.starts_with("https://");
    let endpoint = |name: &str| -> Result<Option<String>, KeylessError> {
        let Some(value) = doc.get(name).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let text = value
            .as_str()
            .ok_or_else(|| malformed(format!("`{name}` is not a string")))?;
        let url = Url::parse(text).map_err(|e| malformed(format!("`{name}` is not a URL: {e}")))?;
        let allowed = match url.scheme() {
            "https" => true,
            "http" => !https,
            _ => false,
        };
        if !allowed {
            return Err(malformed(format!(
                "`{name}` {} is not {}",
                printable(text),
                if https {
                    "an https URL"
                } else {
                    "an http(s) URL"
                }
            )));
        }
        Ok(Some(text.to_string()))
    };
    Ok(Endpoints {
        issuer: issuer.to_string(),
        authorization_endpoint: endpoint("authorization_endpoint")?,
        token_endpoint: endpoint("token_endpoint")?
            .ok_or_else(|| malformed("the discovery document has no `token_endpoint`"))?,
        device_authorization_endpoint: endpoint("device_authorization_endpoint")?,
    })
}

/// Checks the claims an identity token from `issuer` for `client_id` must have: `iss`,
/// `aud` (a string, or a list containing it) and, when given, `nonce`.
pub(crate) fn check_id_token(
    raw: &str,
    issuer: &str,
    client_id: &str,
    nonce: Option<&str>,
) -> Result<IdentityToken, KeylessError> {
    let raw = raw.trim();
    let claims = unverified_claims(raw)?;
    let token = IdentityToken::from_claims(raw, &claims)?;
    if !same_issuer(token.issuer(), issuer) {
        return Err(KeylessError::IssuerMismatch {
            expected: issuer.to_string(),
            found: printable(token.issuer()),
            what: "an identity token",
        });
    }
    let audience = claims.get("aud");
    let for_us = match audience {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !for_us {
        return Err(KeylessError::AudienceMismatch {
            client_id: client_id.to_string(),
            audience: printable(&audience.map_or_else(|| "missing".into(), Value::to_string)),
        });
    }
    if let Some(expected) = nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(expected)
    {
        return Err(KeylessError::NonceMismatch);
    }
    Ok(token)
}

fn random_token() -> Result<String, KeylessError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeylessError::Loopback {
        action: "draw random state",
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A PKCE pair (RFC 7636 §4.1–4.2): a 43-character verifier and its S256 challenge.
struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    fn new() -> Result<Pkce, KeylessError> {
        let verifier = random_token()?;
        let challenge = URL_SAFE_NO_PAD.encode(signet_crypto::digest_sha256(verifier.as_bytes()));
        Ok(Pkce {
            verifier,
            challenge,
        })
    }
}

/// A token endpoint's answer.
enum TokenAnswer {
    IdToken(String),
    Error {
        error: String,
        description: Option<String>,
        status: u16,
    },
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn post_form(
    client: &reqwest::Client,
    url: &str,
    oidc: &OidcClient,
    pairs: &[(&str, &str)],
) -> Result<(u16, Value), KeylessError> {
    let mut pairs = pairs.to_vec();
    if let Some(secret) = &oidc.client_secret {
        pairs.push(("client_secret", secret));
    }
    let request = client
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body(form(&pairs));
    let (status, body) = http::send(request, SERVICE).await?;
    let status = status.as_u16();
    match serde_json::from_slice::<Value>(&body) {
        Ok(json) => Ok((status, json)),
        Err(_) if (200..300).contains(&status) => Err(malformed("the answer is not JSON")),
        Err(_) => Err(KeylessError::Rejected {
            service: SERVICE,
            status,
            message: printable(&http::error_text(&body)),
        }),
    }
}

async fn token_request(
    client: &reqwest::Client,
    endpoints: &Endpoints,
    oidc: &OidcClient,
    pairs: &[(&str, &str)],
) -> Result<TokenAnswer, KeylessError> {
    let (status, json) = post_form(client, &endpoints.token_endpoint, oidc, pairs).await?;
    let text = |k: &str| json.get(k).and_then(Value::as_str).map(printable);
    if (200..300).contains(&status) {
        let id_token = json.get("id_token").and_then(Value::as_str).ok_or_else(|| {
            malformed("the token endpoint answered without an `id_token` (an OpenID Connect ID token, scope openid)")
        })?;
        return Ok(TokenAnswer::IdToken(id_token.to_string()));
    }
    match text("error") {
        Some(error) => Ok(TokenAnswer::Error {
            error,
            description: text("error_description"),
            status,
        }),
        None => Err(KeylessError::Rejected {
            service: SERVICE,
            status,
            message: printable(&http::error_text(json.to_string().as_bytes())),
        }),
    }
}

fn refused(error: String, description: Option<String>, status: u16) -> KeylessError {
    KeylessError::Rejected {
        service: SERVICE,
        status,
        message: match description {
            Some(d) => format!("{error}: {d}"),
            None => error,
        },
    }
}

/// The device flow (RFC 8628): asks the device endpoint for a code, hands the URL and
/// code to `prompt`, and polls the token endpoint every `interval` seconds (5 more
/// after each `slow_down`) until the user approves, denies, or the code expires.
///
/// # Errors
/// [`KeylessError::UnsupportedFlow`] without a device endpoint;
/// [`KeylessError::AuthorizationDenied`] (`access_denied`);
/// [`KeylessError::DeviceCodeExpired`] (`expired_token`, or `expires_in` passed);
/// the claim checks of the token; transport and HTTP errors.
pub async fn device_flow(
    client: &reqwest::Client,
    oidc: &OidcClient,
    endpoints: &Endpoints,
    prompt: &mut (dyn FnMut(&Prompt<'_>) + Send),
) -> Result<IdentityToken, KeylessError> {
    let endpoint = endpoints
        .device_authorization_endpoint
        .as_deref()
        .ok_or_else(|| KeylessError::UnsupportedFlow {
            issuer: endpoints.issuer.clone(),
            flow: "device",
            endpoint: "device_authorization_endpoint",
            alternative: "normal",
        })?;
    let pkce = Pkce::new()?;
    let (status, json) = post_form(
        client,
        endpoint,
        oidc,
        &[
            ("client_id", &oidc.client_id),
            ("scope", SCOPE),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .await?;
    if !(200..300).contains(&status) {
        let text = |k: &str| json.get(k).and_then(Value::as_str).map(printable);
        return Err(refused(
            text("error").unwrap_or_else(|| "the device authorization was refused".into()),
            text("error_description"),
            status,
        ));
    }
    let text = |k: &str| -> Result<String, KeylessError> {
        json.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| malformed(format!("the device authorization has no `{k}`")))
    };
    let number = |k: &str, default: u64| -> Result<u64, KeylessError> {
        match json.get(k) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| malformed(format!("`{k}` is not a number of seconds"))),
        }
    };
    let device_code = text("device_code")?;
    let user_code = printable(&text("user_code")?);
    // Google's issuer says `verification_url`.
    let verification_uri =
        printable(&text("verification_uri").or_else(|_| text("verification_url"))?);
    let complete = text("verification_uri_complete")
        .ok()
        .map(|u| printable(&u));
    let expires_in = number("expires_in", 600)?;
    let mut interval = Duration::from_secs(number("interval", DEFAULT_INTERVAL)?.max(1));
    prompt(&Prompt::Device {
        verification_uri: &verification_uri,
        user_code: &user_code,
        verification_uri_complete: complete.as_deref(),
        expires_in,
    });
    let deadline = Instant::now() + Duration::from_secs(expires_in).min(MAX_DEVICE_WAIT);
    loop {
        sleep(interval).await;
        if Instant::now() >= deadline {
            return Err(KeylessError::DeviceCodeExpired);
        }
        let answer = token_request(
            client,
            endpoints,
            oidc,
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", &device_code),
                ("client_id", &oidc.client_id),
                ("code_verifier", &pkce.verifier),
            ],
        )
        .await?;
        match answer {
            TokenAnswer::IdToken(raw) => {
                return check_id_token(&raw, &endpoints.issuer, &oidc.client_id, None);
            }
            TokenAnswer::Error {
                error,
                description,
                status,
            } => match error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += SLOW_DOWN_STEP,
                "expired_token" => return Err(KeylessError::DeviceCodeExpired),
                "access_denied" => {
                    return Err(KeylessError::AuthorizationDenied { error, description });
                }
                _ => return Err(refused(error, description, status)),
            },
        }
    }
}

/// The browser flow: binds the loopback listener, hands the authorization URL (PKCE
/// S256, `state`, `nonce`) to `prompt`, waits at most `wait` for the one redirect back,
/// and exchanges its code (with the verifier) at the token endpoint.
///
/// # Errors
/// [`KeylessError::UnsupportedFlow`] without an authorization endpoint;
/// [`KeylessError::InvalidRedirectUrl`], [`KeylessError::Loopback`];
/// [`KeylessError::SignInTimedOut`]; the callback's [`KeylessError::StateMismatch`],
/// [`KeylessError::AuthorizationDenied`], [`KeylessError::Callback`]; the claim checks
/// of the token (including [`KeylessError::NonceMismatch`]); transport and HTTP errors.
pub async fn browser_flow(
    client: &reqwest::Client,
    oidc: &OidcClient,
    endpoints: &Endpoints,
    wait: Duration,
    prompt: &mut (dyn FnMut(&Prompt<'_>) + Send),
) -> Result<IdentityToken, KeylessError> {
    let endpoint = endpoints.authorization_endpoint.as_deref().ok_or_else(|| {
        KeylessError::UnsupportedFlow {
            issuer: endpoints.issuer.clone(),
            flow: "browser",
            endpoint: "authorization_endpoint",
            alternative: "device",
        }
    })?;
    let mut url = Url::parse(endpoint)
        .map_err(|e| malformed(format!("`authorization_endpoint` is not a URL: {e}")))?;
    let loopback = Loopback::bind(oidc.redirect_url.as_deref()).await?;
    let redirect_uri = loopback.redirect_uri.clone();
    let pkce = Pkce::new()?;
    let state = random_token()?;
    let nonce = random_token()?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &oidc.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", SCOPE)
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    prompt(&Prompt::Browser { url: url.as_str() });
    // The listener is closed once the one callback has been answered.
    let code = loopback.receive(&state, wait).await?;
    match token_request(
        client,
        endpoints,
        oidc,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", &oidc.client_id),
            ("code_verifier", &pkce.verifier),
        ],
    )
    .await?
    {
        TokenAnswer::IdToken(raw) => {
            check_id_token(&raw, &endpoints.issuer, &oidc.client_id, Some(&nonce))
        }
        TokenAnswer::Error {
            error,
            description,
            status,
        } => Err(refused(error, description, status)),
    }
}

/// The loopback listener the browser is redirected to (RFC 8252 §7.3).
pub(crate) struct Loopback {
    listeners: Vec<TcpListener>,
    /// The redirect URI sent to the issuer.
    pub(crate) redirect_uri: String,
    /// The path the callback must arrive on.
    path: String,
}

fn bind_error(source: std::io::Error) -> KeylessError {
    KeylessError::Loopback {
        action: "listen on the loopback interface",
        source,
    }
}

impl Loopback {
    /// Binds `redirect_url`'s host and port (`localhost`: 127.0.0.1, and `[::1]` on the
    /// same port when it can), or `http://localhost:<free port>/auth/callback`.
    pub(crate) async fn bind(redirect_url: Option<&str>) -> Result<Loopback, KeylessError> {
        let given = redirect_url.unwrap_or("http://localhost:0/auth/callback");
        let invalid = |reason: &str| KeylessError::InvalidRedirectUrl {
            url: given.to_string(),
            reason: reason.to_string(),
        };
        let mut url = Url::parse(given).map_err(|e| invalid(&e.to_string()))?;
        if url.scheme() != "http" {
            return Err(invalid(
                "it must be an http:// URL on the loopback interface",
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("it must not have a query or a fragment"));
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let mut listeners = Vec::new();
        match url.host_str() {
            Some("localhost") => {
                let v4 = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                    .await
                    .map_err(bind_error)?;
                let bound = v4.local_addr().map_err(bind_error)?.port();
                listeners.push(v4);
                // A browser may resolve localhost to ::1 first; listen there too if we can.
                if let Ok(v6) = TcpListener::bind((Ipv6Addr::LOCALHOST, bound)).await {
                    listeners.push(v6);
                }
            }
            Some("127.0.0.1") => listeners.push(
                TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                    .await
                    .map_err(bind_error)?,
            ),
            Some("[::1]") => listeners.push(
                TcpListener::bind((Ipv6Addr::LOCALHOST, port))
                    .await
                    .map_err(bind_error)?,
            ),
            _ => {
                return Err(invalid(
                    "its host must be localhost, 127.0.0.1 or [::1]: the code is delivered to this machine",
                ));
            }
        }
        let bound = listeners[0].local_addr().map_err(bind_error)?.port();
        if port == 0 {
            url.set_port(Some(bound))
                .map_err(|()| invalid("cannot set its port"))?;
        }
        Ok(Loopback {
            listeners,
            path: url.path().to_string(),
            redirect_uri: url.to_string(),
        })
    }

    async fn accept(&self) -> std::io::Result<TcpStream> {
        match self.listeners.as_slice() {
            [a] => a.accept().await.map(|(s, _)| s),
            [a, b, ..] => tokio::select! {
                r = a.accept() => r.map(|(s, _)| s),
                r = b.accept() => r.map(|(s, _)| s),
            },
            [] => std::future::pending().await,
        }
    }

    /// Waits at most `wait` for the redirect to the callback path, answers the browser,
    /// and returns the code. Connections are read concurrently (an idle one, such as a
    /// browser's speculative connection, delays nothing); other paths get a 404 and are
    /// not counted; the first request on the callback path decides the outcome.
    pub(crate) async fn receive(self, state: &str, wait: Duration) -> Result<String, KeylessError> {
        let deadline = Instant::now() + wait;
        let mut reading = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                accepted = timeout_at(deadline, self.accept()) => {
                    let mut stream = match accepted {
                        Err(_) => {
                            return Err(KeylessError::SignInTimedOut {
                                seconds: wait.as_secs(),
                            });
                        }
                        Ok(Err(source)) => {
                            return Err(KeylessError::Loopback {
                                action: "accept the browser's connection",
                                source,
                            });
                        }
                        Ok(Ok(stream)) => stream,
                    };
                    if reading.len() < MAX_PENDING_CONNECTIONS {
                        reading.spawn(async move {
                            let head = tokio::time::timeout(REQUEST_HEAD_TIMEOUT, read_head(&mut stream))
                                .await
                                .ok()
                                .flatten()?;
                            Some((stream, head))
                        });
                    }
                }
                Some(read) = reading.join_next(), if !reading.is_empty() => {
                    if let Ok(Some((mut stream, head))) = read
                        && let Some(outcome) = self.answer(&mut stream, &head, state).await
                    {
                        return outcome;
                    }
                }
            }
        }
    }

    /// Answers one request: `None` when it is not the callback (and the wait goes on).
    async fn answer(
        &self,
        stream: &mut TcpStream,
        head: &str,
        state: &str,
    ) -> Option<Result<String, KeylessError>> {
        let Some((method, path, query)) = request_line(head) else {
            respond(stream, "400 Bad Request", "Bad request", "").await;
            return None;
        };
        if path != self.path {
            respond(stream, "404 Not Found", "Not found", "").await;
            return None;
        }
        if method != "GET" {
            respond(stream, "405 Method Not Allowed", "Method not allowed", "").await;
            return None;
        }
        let outcome = callback_outcome(query, state);
        match &outcome {
            Ok(_) => {
                respond(
                    stream,
                    "200 OK",
                    "Signed in",
                    "<p>signet received the sign-in. You can close this tab and return to the terminal.</p>",
                )
                .await;
            }
            Err(e) => {
                respond(
                    stream,
                    "400 Bad Request",
                    "Sign-in failed",
                    &format!("<p>{}</p>", html_escape(&e.to_string())),
                )
                .await;
            }
        }
        Some(outcome)
    }
}

/// Reads a request head (up to the blank line), or `None` if the peer sends more than
/// [`MAX_REQUEST_HEAD`] bytes or closes first.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.windows(2).any(|w| w == b"\n\n") {
            return Some(String::from_utf8_lossy(&head).into_owned());
        }
        if head.len() > MAX_REQUEST_HEAD {
            return None;
        }
    }
}

/// `GET /path?query HTTP/1.1` → (method, path, query).
fn request_line(head: &str) -> Option<(&str, &str, &str)> {
    let mut words = head.lines().next()?.split(' ');
    let (method, target, version) = (words.next()?, words.next()?, words.next()?);
    if words.next().is_some() || !version.starts_with("HTTP/1.") || !target.starts_with('/') {
        return None;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Some((method, path, query))
}

/// The callback's verdict: the code, or why not. The `state` must be this sign-in's
/// (a redirect without it, or with another, is refused); an `error` is the issuer's
/// refusal.
pub(crate) fn callback_outcome(query: &str, expected_state: &str) -> Result<String, KeylessError> {
    let mut params: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if params.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(KeylessError::Callback {
                reason: format!("the parameter {:?} is repeated", printable(&k)),
            });
        }
    }
    let state = params.get("state").map(String::as_str);
    if let Some(error) = params.get("error") {
        if state.is_some_and(|s| s != expected_state) {
            return Err(KeylessError::StateMismatch);
        }
        return Err(KeylessError::AuthorizationDenied {
            error: printable(error),
            description: params.get("error_description").map(|d| printable(d)),
        });
    }
    if state != Some(expected_state) {
        return Err(KeylessError::StateMismatch);
    }
    params
        .remove("code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| KeylessError::Callback {
            reason: "the redirect carries neither a code nor an error".into(),
        })
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Answers the browser and closes the connection (errors ignored: the outcome is
/// already decided).
async fn respond(stream: &mut TcpStream, status: &str, title: &str, body: &str) {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{html}",
        html.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests;
