//! A development OIDC issuer: **it mints a token for any identity anyone asks for.**
//!
//! For local use and tests only (`signet serve --dev-oidc`, `signet dev-token`). It is
//! off unless the operator turns it on, logs a WARNING when it starts, and the CA
//! trusts it only when its [`DevOidc::issuer_config`] is added to the CA's allow-list
//! (which `signet serve --dev-oidc` does). Its key is an ES256 key kept in
//! `<data_dir>/dev-oidc/signing.key`; its issuer is `<base>/oidc`.
//!
//! Routes, all **unauthenticated** (a "login" is typing a subject):
//! - `GET /oidc/.well-known/openid-configuration` (with the authorization, device and
//!   token endpoints, `code_challenge_methods_supported: ["S256"]`) and `GET /oidc/jwks`;
//! - `GET /oidc/authorize?response_type=code&client_id&redirect_uri&state&nonce&code_challenge&code_challenge_method=S256[&login_hint=SUBJECT]`:
//!   the authorization-code flow with PKCE S256. Only loopback `redirect_uri`s
//!   (`http://localhost`, `127.0.0.1` or `[::1]`, any port) are accepted. Without
//!   `login_hint`, an HTML form asks for the subject; with it, a 302 to
//!   `redirect_uri?code=…&state=…`. Codes are single use and expire after 60 s;
//! - `POST /oidc/device` (form: `client_id`, `scope`, optional PKCE `code_challenge`):
//!   an RFC 8628 device authorization (`device_code`, `user_code`,
//!   `verification_uri` = `<issuer>/device/approve`, `verification_uri_complete`,
//!   `expires_in` 600, `interval` 1); `GET /oidc/device/approve?user_code=…&subject=…`
//!   approves it (without `subject`, an HTML form);
//! - `POST /oidc/token`: form-encoded `grant_type=authorization_code` (code,
//!   client_id, redirect_uri and the PKCE verifier checked; single use) or
//!   `grant_type=urn:ietf:params:oauth:grant-type:device_code`
//!   (`authorization_pending` until approved, `slow_down` when polled faster than the
//!   interval, `expired_token`, single use), with RFC 6749 errors (400
//!   `{"error", "error_description"}`); tokens from these carry `aud` = the client id
//!   and the request's `nonce`. The JSON form `{"subject": "alice@example.com"}`
//!   answers a token (`aud` `sigstore`) for whatever subject is posted.
//!
//! Pending codes live in memory (at most 1,000 of each kind; expired ones are dropped).

mod grants;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use der::Decode;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer as _};

use crate::config::{IdentityKind, OidcIssuerConfig};
use crate::error::method_not_allowed;
use crate::fulcio::{MAX_BODY_BYTES, body_bytes, content_type, media_type};
use crate::state::{StateDir, write_key};
use crate::{ApiError, CaError};
use grants::{AuthorizationRequest, Grant, Grants, OAuthError};

const SIGNING_KEY: &str = "signing.key";
const ISSUER_URL: &str = "issuer_url";
/// Lifetime of minted tokens.
const TOKEN_LIFETIME_SECS: u64 = 600;
/// RFC 8628's grant type.
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Longest accepted `client_id`, `state`, `nonce` or code parameter.
const MAX_PARAM_LEN: usize = 512;

struct DevInner {
    encoding_key: EncodingKey,
    kid: String,
    jwk: Value,
    issuer_url: String,
    grants: Mutex<Grants>,
}

/// The development OIDC issuer. See the module docs: never expose it to anyone you
/// would not let sign as anyone.
#[derive(Clone)]
pub struct DevOidc {
    inner: Arc<DevInner>,
}

impl std::fmt::Debug for DevOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevOidc")
            .field("issuer_url", &self.inner.issuer_url)
            .field("kid", &self.inner.kid)
            .finish_non_exhaustive()
    }
}

fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("dev-oidc")
}

impl DevOidc {
    /// Turns the development issuer on for `<data_dir>`, served under `base_url`
    /// (its issuer is `<base_url>/oidc`), creating its key on first use. Logs a WARNING.
    ///
    /// # Errors
    /// [`CaError::InvalidConfig`] for a base URL that is not http(s), or any state error.
    pub fn open(data_dir: &Path, base_url: &str) -> Result<DevOidc, CaError> {
        let base = base_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://"))
            || base.contains(['?', '#'])
        {
            return Err(CaError::InvalidConfig {
                detail: format!(
                    "the development issuer's base URL {base_url:?} is not an http(s) URL"
                ),
            });
        }
        let issuer_url = format!("{base}/oidc");
        let state = StateDir::open_or_create(dir(data_dir), &[SIGNING_KEY], |tmp| {
            write_key(
                tmp,
                SIGNING_KEY,
                &PrivateKey::generate(KeyAlgorithm::EcdsaP256)?,
            )
        })?;
        replace_text(&state.path(ISSUER_URL), &issuer_url)?;
        let dev = Self::from_key(state.read_key(SIGNING_KEY)?, issuer_url)?;
        tracing::warn!(
            target: "signet_ca",
            issuer = %dev.inner.issuer_url,
            "WARNING: the development OIDC issuer is ON: it mints identity tokens for any subject without authentication. Never use it outside local testing."
        );
        Ok(dev)
    }

    /// The issuer last enabled for `<data_dir>` by [`DevOidc::open`] (for `signet
    /// dev-token`, in another process).
    ///
    /// # Errors
    /// [`CaError::DevOidcNotEnabled`] when it never was; any state error.
    pub fn load(data_dir: &Path) -> Result<DevOidc, CaError> {
        let state = StateDir::open_existing(dir(data_dir), &[SIGNING_KEY, ISSUER_URL])
            .ok_or_else(|| CaError::DevOidcNotEnabled {
                dir: data_dir.to_path_buf(),
            })??;
        let issuer_url = state.read_text(ISSUER_URL)?;
        Self::from_key(state.read_key(SIGNING_KEY)?, issuer_url)
    }

    fn from_key(key: PrivateKey, issuer_url: String) -> Result<DevOidc, CaError> {
        if key.algorithm() != KeyAlgorithm::EcdsaP256 {
            return Err(CaError::InvalidConfig {
                detail: "the development issuer's key must be ECDSA P-256".into(),
            });
        }
        let spki = spki::SubjectPublicKeyInfoRef::from_der(key.public_key().spki_der())
            .map_err(crate::certificate::encoding("the development issuer's key"))?;
        let point = spki.subject_public_key.raw_bytes();
        let (x, y) = match point {
            [0x04, xy @ ..] if xy.len() == 64 => xy.split_at(32),
            _ => {
                return Err(CaError::InvalidConfig {
                    detail: "the development issuer's key is not an uncompressed P-256 point"
                        .into(),
                });
            }
        };
        let kid = key.public_key().key_id().to_string()[..16].to_owned();
        let jwk = json!({
            "kty": "EC",
            "crv": "P-256",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
            "kid": kid,
            "alg": "ES256",
            "use": "sig",
        });
        Ok(DevOidc {
            inner: Arc::new(DevInner {
                encoding_key: EncodingKey::from_ec_der(&key.to_pkcs8_der()),
                kid,
                jwk,
                issuer_url,
                grants: Mutex::new(Grants::default()),
            }),
        })
    }

    /// The issuer URL (`iss` of minted tokens).
    pub fn issuer_url(&self) -> &str {
        &self.inner.issuer_url
    }

    /// The allow-list entry that makes the CA trust this issuer (email identities,
    /// audience `sigstore`).
    pub fn issuer_config(&self) -> OidcIssuerConfig {
        OidcIssuerConfig::new(self.inner.issuer_url.clone(), IdentityKind::Email)
    }

    /// Mints a 10-minute ES256 token for `subject` (`sub`; also `email`, verified, when
    /// it contains `@`), audience `sigstore`, issued by `issuer` (default
    /// [`DevOidc::issuer_url`]).
    ///
    /// # Errors
    /// [`CaError::InvalidConfig`] for an empty or over-long subject, or one with control
    /// characters; [`CaError::Encoding`] if signing fails.
    pub fn mint(&self, subject: &str, issuer: Option<&str>) -> Result<String, CaError> {
        self.mint_at(subject, issuer, SystemTime::now())
    }

    /// [`DevOidc::mint`] at an explicit time.
    ///
    /// # Errors
    /// As [`DevOidc::mint`].
    pub fn mint_at(
        &self,
        subject: &str,
        issuer: Option<&str>,
        now: SystemTime,
    ) -> Result<String, CaError> {
        self.mint_token(subject, issuer, crate::config::DEFAULT_AUDIENCE, None, now)
    }

    fn mint_token(
        &self,
        subject: &str,
        issuer: Option<&str>,
        audience: &str,
        nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<String, CaError> {
        check_subject(subject)?;
        let iat = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = json!({
            "iss": issuer.unwrap_or(&self.inner.issuer_url),
            "sub": subject,
            "aud": audience,
            "iat": iat,
            "nbf": iat,
            "exp": iat + TOKEN_LIFETIME_SECS,
        });
        if subject.contains('@') {
            claims["email"] = json!(subject);
            claims["email_verified"] = json!(true);
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.inner.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.inner.encoding_key).map_err(|e| {
            CaError::Encoding {
                what: "a development token",
                detail: e.to_string(),
            }
        })
    }

    fn grants(&self) -> std::sync::MutexGuard<'_, Grants> {
        // The table stays consistent even if a holder panicked: every method leaves it
        // whole before returning.
        self.inner
            .grants
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The issuer's routes (see the module docs), with no fallback.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/oidc/.well-known/openid-configuration",
                get(discovery).fallback(method_not_allowed),
            )
            .route("/oidc/jwks", get(jwks).fallback(method_not_allowed))
            .route(
                "/oidc/authorize",
                get(authorize).fallback(method_not_allowed),
            )
            .route("/oidc/device", post(device).fallback(method_not_allowed))
            .route(
                "/oidc/device/approve",
                get(approve).fallback(method_not_allowed),
            )
            .route("/oidc/token", post(token).fallback(method_not_allowed))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }
}

/// The subjects the issuer mints for: 1 to 256 characters, no control characters.
fn check_subject(subject: &str) -> Result<(), CaError> {
    if subject.is_empty() || subject.len() > 256 || subject.chars().any(char::is_control) {
        return Err(CaError::InvalidConfig {
            detail: format!(
                "subject {:?} must be 1 to 256 characters without control characters",
                subject.chars().take(64).collect::<String>()
            ),
        });
    }
    Ok(())
}

fn replace_text(path: &Path, text: &str) -> Result<(), CaError> {
    let tmp = path.with_extension("tmp");
    let io = |action, source| CaError::Io {
        action,
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, format!("{text}\n")).map_err(|e| io("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("rename into place", e))
}

async fn discovery(State(dev): State<DevOidc>) -> Response {
    let issuer = dev.issuer_url();
    axum::Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "device_authorization_endpoint": format!("{issuer}/device"),
        "token_endpoint": format!("{issuer}/token"),
        "response_types_supported": ["code", "id_token"],
        "grant_types_supported": ["authorization_code", DEVICE_GRANT],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["openid", "email"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "email", "email_verified", "nonce"],
    }))
    .into_response()
}

async fn jwks(State(dev): State<DevOidc>) -> Response {
    axum::Json(json!({ "keys": [dev.inner.jwk] })).into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    subject: String,
}

/// The token endpoint: OAuth 2.0 grants when the body is a form, else the JSON
/// `{"subject"}` shortcut.
async fn token(
    State(dev): State<DevOidc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    if content_type(&headers).is_some_and(|t| media_type(&t) == "application/x-www-form-urlencoded")
    {
        return Ok(match oauth_token(&dev, &body) {
            Ok(response) => response,
            Err(e) => oauth_error(&e),
        });
    }
    let request: TokenRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::MalformedBody {
            detail: format!("expected {{\"subject\": \"…\"}}: {e}"),
        })?;
    let token = dev
        .mint(&request.subject, None)
        .map_err(|e| ApiError::MalformedBody {
            detail: e.to_string(),
        })?;
    tracing::warn!(
        target: "signet_ca",
        subject = %request.subject,
        "development OIDC issuer minted a token (unauthenticated)"
    );
    Ok(token_response(&token))
}

fn token_response(token: &str) -> Response {
    (
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({
            "id_token": token,
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECS,
        })),
    )
        .into_response()
}

/// The status of an OAuth error: 400, except 503 when full and 500 for our failures.
fn oauth_status(e: &OAuthError) -> StatusCode {
    match e.code {
        "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// RFC 6749 §5.2: `{"error", "error_description"}` with [`oauth_status`].
fn oauth_error(e: &OAuthError) -> Response {
    (
        oauth_status(e),
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({"error": e.code, "error_description": e.description})),
    )
        .into_response()
}

fn invalid_request(description: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_request", description)
}

/// A form body or query as a map; a parameter given twice is refused (RFC 6749 §3.1).
fn parse_form(bytes: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let mut map = HashMap::new();
    for (k, v) in form_urlencoded::parse(bytes) {
        if map.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(invalid_request(format!("parameter {k:?} is repeated")));
        }
    }
    Ok(map)
}

/// A required parameter of bounded length without control characters.
fn param<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    optional_param(form, name)?.ok_or_else(|| invalid_request(format!("{name} is required")))
}

fn optional_param<'a>(
    form: &'a HashMap<String, String>,
    name: &str,
) -> Result<Option<&'a str>, OAuthError> {
    match form.get(name).map(String::as_str) {
        None | Some("") => Ok(None),
        Some(v) if v.len() > MAX_PARAM_LEN || v.chars().any(char::is_control) => {
            Err(invalid_request(format!(
                "{name} must be at most {MAX_PARAM_LEN} characters without control characters"
            )))
        }
        Some(v) => Ok(Some(v)),
    }
}

fn oauth_token(dev: &DevOidc, body: &[u8]) -> Result<Response, OAuthError> {
    let form = parse_form(body)?;
    let now = Instant::now();
    let grant_type = param(&form, "grant_type")?;
    let grant = match grant_type {
        "authorization_code" => dev.grants().redeem_code(
            param(&form, "code")?,
            param(&form, "client_id")?,
            param(&form, "redirect_uri")?,
            param(&form, "code_verifier")?,
            now,
        )?,
        DEVICE_GRANT => dev.grants().poll_device(
            param(&form, "device_code")?,
            param(&form, "client_id")?,
            optional_param(&form, "code_verifier")?,
            now,
        )?,
        other => {
            return Err(OAuthError::new(
                "unsupported_grant_type",
                format!(
                    "grant_type {:?} is not supported: use authorization_code or {DEVICE_GRANT}",
                    other.chars().take(64).collect::<String>()
                ),
            ));
        }
    };
    let Grant {
        subject,
        client_id,
        nonce,
    } = grant;
    let token = dev
        .mint_token(
            &subject,
            None,
            &client_id,
            nonce.as_deref(),
            SystemTime::now(),
        )
        .map_err(|e| OAuthError::new("server_error", e.to_string()))?;
    tracing::warn!(
        target: "signet_ca",
        subject = %subject,
        grant_type = %grant_type,
        "development OIDC issuer minted a token (unauthenticated)"
    );
    Ok(token_response(&token))
}

/// The device authorization endpoint (RFC 8628 §3.1–3.2).
async fn device(
    State(dev): State<DevOidc>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    let started = parse_form(&body).and_then(|form| {
        let client_id = param(&form, "client_id")?;
        let challenge = challenge(&form)?;
        dev.grants()
            .start_device(client_id, challenge.map(str::to_string), Instant::now())
    });
    let codes = match started {
        Ok(codes) => codes,
        Err(e) => return Ok(oauth_error(&e)),
    };
    let verification_uri = format!("{}/device/approve", dev.issuer_url());
    let complete = format!("{verification_uri}?user_code={}", codes.user_code);
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(json!({
            "device_code": codes.device_code,
            "user_code": codes.user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": complete,
            "expires_in": codes.expires_in.as_secs(),
            "interval": codes.interval.as_secs(),
        })),
    )
        .into_response())
}

/// An optional PKCE challenge, which must be S256.
fn challenge(form: &HashMap<String, String>) -> Result<Option<&str>, OAuthError> {
    let Some(challenge) = optional_param(form, "code_challenge")? else {
        return Ok(None);
    };
    if optional_param(form, "code_challenge_method")? != Some("S256") {
        return Err(invalid_request(
            "code_challenge_method must be S256 (plain is not supported)",
        ));
    }
    if !grants::valid_challenge(challenge) {
        return Err(invalid_request(
            "code_challenge must be the base64url of a SHA-256 digest",
        ));
    }
    Ok(Some(challenge))
}

/// Escapes text for an HTML element or a quoted attribute.
fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A small HTML page (`body` is already HTML), never cached.
fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1>\
         <p><strong>signet development OIDC issuer: no authentication, for local testing only.</strong></p>\
         {body}</body></html>",
        title = html_escape(title),
    );
    (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
}

fn error_page(e: &OAuthError) -> Response {
    page(
        oauth_status(e),
        "Sign-in refused",
        &format!(
            "<p>{}: {}</p>",
            html_escape(e.code),
            html_escape(&e.description)
        ),
    )
}

/// A GET form to `action` carrying `hidden` parameters and asking for `field`.
fn form_page(
    title: &str,
    action: &str,
    hidden: &[(&str, &str)],
    fields: &[(&str, &str)],
) -> Response {
    let mut body = format!("<form method=\"get\" action=\"{}\">", html_escape(action));
    for (name, value) in hidden {
        body.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            html_escape(name),
            html_escape(value)
        ));
    }
    for (name, label) in fields {
        body.push_str(&format!(
            "<p><label>{} <input name=\"{}\" size=\"40\" required></label></p>",
            html_escape(label),
            html_escape(name)
        ));
    }
    body.push_str("<p><button type=\"submit\">Continue</button></p></form>");
    page(StatusCode::OK, title, &body)
}

/// A checked authorization request, before the subject is known.
struct Authorization<'a> {
    client_id: &'a str,
    redirect: reqwest::Url,
    state: Option<&'a str>,
    nonce: Option<&'a str>,
    challenge: &'a str,
}

fn check_authorization(query: &HashMap<String, String>) -> Result<Authorization<'_>, OAuthError> {
    if param(query, "response_type")? != "code" {
        return Err(OAuthError::new(
            "unsupported_response_type",
            "response_type must be code",
        ));
    }
    let client_id = param(query, "client_id")?;
    let redirect =
        grants::loopback_redirect(param(query, "redirect_uri")?).map_err(invalid_request)?;
    let challenge = challenge(query)?
        .ok_or_else(|| invalid_request("code_challenge is required (PKCE S256, RFC 7636)"))?;
    Ok(Authorization {
        client_id,
        redirect,
        state: optional_param(query, "state")?,
        nonce: optional_param(query, "nonce")?,
        challenge,
    })
}

/// The authorization endpoint: a form asking for the subject, then a redirect to the
/// loopback `redirect_uri` with a code. Errors are pages, never redirects.
async fn authorize(State(dev): State<DevOidc>, RawQuery(query): RawQuery) -> Response {
    let query = match parse_form(query.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(e) => return error_page(&e),
    };
    let request = match check_authorization(&query) {
        Ok(r) => r,
        Err(e) => return error_page(&e),
    };
    let subject = match optional_param(&query, "login_hint") {
        Ok(Some(s)) => s,
        Ok(None) => {
            let hidden: Vec<(&str, &str)> = query
                .iter()
                .filter(|(k, _)| k.as_str() != "login_hint")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            return form_page(
                "Sign in",
                &format!("{}/authorize", dev.issuer_url()),
                &hidden,
                &[("login_hint", "Sign in as (e.g. alice@example.com):")],
            );
        }
        Err(e) => return error_page(&e),
    };
    if let Err(e) = check_subject(subject) {
        return error_page(&invalid_request(e.to_string()));
    }
    let issued = dev.grants().issue_code(
        AuthorizationRequest {
            client_id: request.client_id.to_string(),
            redirect_uri: query.get("redirect_uri").cloned().unwrap_or_default(),
            nonce: request.nonce.map(str::to_string),
            code_challenge: request.challenge.to_string(),
            subject: subject.to_string(),
        },
        Instant::now(),
    );
    let code = match issued {
        Ok(code) => code,
        Err(e) => return error_page(&e),
    };
    let mut location = request.redirect;
    {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(state) = request.state {
            pairs.append_pair("state", state);
        }
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

/// The device verification page: approves `user_code` for `subject`, or asks for them.
async fn approve(State(dev): State<DevOidc>, RawQuery(query): RawQuery) -> Response {
    let query = match parse_form(query.unwrap_or_default().as_bytes()) {
        Ok(q) => q,
        Err(e) => return error_page(&e),
    };
    let (user_code, subject) = match (
        optional_param(&query, "user_code"),
        optional_param(&query, "subject"),
    ) {
        (Ok(Some(code)), Ok(Some(subject))) => (code, subject),
        (Ok(code), Ok(_)) => {
            let action = format!("{}/device/approve", dev.issuer_url());
            return match code {
                Some(code) => form_page(
                    "Approve a device",
                    &action,
                    &[("user_code", code)],
                    &[("subject", "Sign in as (e.g. alice@example.com):")],
                ),
                None => form_page(
                    "Approve a device",
                    &action,
                    &[],
                    &[
                        ("user_code", "The code shown on the device:"),
                        ("subject", "Sign in as (e.g. alice@example.com):"),
                    ],
                ),
            };
        }
        (Err(e), _) | (_, Err(e)) => return error_page(&e),
    };
    if let Err(e) = check_subject(subject) {
        return error_page(&invalid_request(e.to_string()));
    }
    match dev.grants().approve(user_code, subject, Instant::now()) {
        Ok(()) => {
            tracing::warn!(
                target: "signet_ca",
                subject = %subject,
                "development OIDC issuer approved a device code (unauthenticated)"
            );
            page(
                StatusCode::OK,
                "Device approved",
                &format!(
                    "<p>Signed in as {}. Return to your terminal.</p>",
                    html_escape(subject)
                ),
            )
        }
        Err(e) => error_page(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::{inspect, verify_signature};

    #[test]
    fn tokens_verify_with_the_published_key_and_load_finds_the_issuer() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            DevOidc::load(tmp.path()),
            Err(CaError::DevOidcNotEnabled { .. })
        ));
        let dev = DevOidc::open(tmp.path(), "http://127.0.0.1:9/").unwrap();
        assert_eq!(dev.issuer_url(), "http://127.0.0.1:9/oidc");
        let loaded = DevOidc::load(tmp.path()).unwrap();
        assert_eq!(loaded.issuer_url(), dev.issuer_url());
        assert_eq!(loaded.inner.jwk, dev.inner.jwk);

        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let token = loaded.mint_at("alice@example.com", None, now).unwrap();
        let unverified = inspect(&token).unwrap();
        assert_eq!(unverified.issuer, "http://127.0.0.1:9/oidc");
        assert_eq!(unverified.kid.as_deref(), Some(dev.inner.kid.as_str()));
        let jwks = crate::oidc::parse_jwks(
            &serde_json::to_vec(&json!({ "keys": [dev.inner.jwk] })).unwrap(),
        )
        .unwrap();
        let claims = verify_signature(&token, &unverified, &jwks).unwrap();
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["aud"], "sigstore");
        assert_eq!(claims["exp"], 1_800_000_600);
        let identity =
            crate::identity::verify_claims(&claims, &dev.issuer_config(), 1_800_000_001, 60)
                .unwrap();
        assert_eq!(
            identity.san,
            crate::SubjectName::Email("alice@example.com".into())
        );

        // A subject without '@' carries no email; a bad subject is refused.
        let token = dev
            .mint("workload-1", Some("https://elsewhere.example"))
            .unwrap();
        assert_eq!(inspect(&token).unwrap().issuer, "https://elsewhere.example");
        assert!(matches!(
            dev.mint("bad\nsubject", None),
            Err(CaError::InvalidConfig { detail })
                if detail == r#"subject "bad\nsubject" must be 1 to 256 characters without control characters"#
        ));
        assert!(matches!(
            DevOidc::open(tmp.path(), "ftp://x"),
            Err(CaError::InvalidConfig { detail })
                if detail == r#"the development issuer's base URL "ftp://x" is not an http(s) URL"#
        ));
    }

    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const REDIRECT: &str = "http://127.0.0.1:4711/auth/callback";

    struct Answer {
        status: StatusCode,
        headers: HeaderMap,
        body: String,
    }

    impl Answer {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap()
        }

        /// The redirect's `Location` and its query parameters.
        fn redirect(&self) -> (reqwest::Url, HashMap<String, String>) {
            assert_eq!(self.status, StatusCode::FOUND, "{}", self.body);
            let location =
                reqwest::Url::parse(self.headers[header::LOCATION].to_str().unwrap()).unwrap();
            let params = location.query_pairs().into_owned().collect();
            (location, params)
        }
    }

    async fn call(dev: &DevOidc, method: &str, uri: &str, form: Option<&[(&str, &str)]>) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        let body = match form {
            Some(pairs) => {
                request = request.header("content-type", "application/x-www-form-urlencoded");
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish()
            }
            None => String::new(),
        };
        let response = dev
            .router()
            .oneshot(request.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8(bytes.to_vec()).unwrap(),
        }
    }

    fn query(pairs: &[(&str, &str)]) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish()
    }

    fn authorize_uri(redirect: &str, extra: &[(&str, &str)]) -> String {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", "sigstore"),
            ("redirect_uri", redirect),
            ("scope", "openid email"),
            ("state", "st<ate>"),
            ("nonce", "nonce-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        pairs.extend_from_slice(extra);
        format!("/oidc/authorize?{}", query(&pairs))
    }

    fn claims(dev: &DevOidc, token: &str) -> Value {
        let unverified = inspect(token).unwrap();
        let jwks = crate::oidc::parse_jwks(
            &serde_json::to_vec(&json!({ "keys": [dev.inner.jwk] })).unwrap(),
        )
        .unwrap();
        Value::Object(verify_signature(token, &unverified, &jwks).unwrap())
    }

    fn dev() -> (tempfile::TempDir, DevOidc) {
        let tmp = tempfile::tempdir().unwrap();
        let dev = DevOidc::open(tmp.path(), "http://127.0.0.1:9").unwrap();
        (tmp, dev)
    }

    #[tokio::test]
    async fn discovery_names_the_interactive_endpoints() {
        let (_tmp, dev) = dev();
        let doc = call(&dev, "GET", "/oidc/.well-known/openid-configuration", None)
            .await
            .json();
        let issuer = "http://127.0.0.1:9/oidc";
        assert_eq!(doc["issuer"], issuer);
        assert_eq!(doc["authorization_endpoint"], format!("{issuer}/authorize"));
        assert_eq!(
            doc["device_authorization_endpoint"],
            format!("{issuer}/device")
        );
        assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["grant_types_supported"],
            json!(["authorization_code", DEVICE_GRANT])
        );
    }

    #[tokio::test]
    async fn the_authorization_code_flow_asks_redirects_and_redeems_once() {
        let (_tmp, dev) = dev();
        // Without a subject: a form that carries every parameter along (escaped).
        let form = call(&dev, "GET", &authorize_uri(REDIRECT, &[]), None).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("name=\"login_hint\""), "{}", form.body);
        assert!(
            form.body.contains("value=\"st&lt;ate&gt;\""),
            "{}",
            form.body
        );
        assert!(form.body.contains("no authentication"), "{}", form.body);

        let answer = call(
            &dev,
            "GET",
            &authorize_uri(REDIRECT, &[("login_hint", "alice@example.com")]),
            None,
        )
        .await;
        let (location, params) = answer.redirect();
        assert_eq!(
            location.as_str().split('?').next(),
            Some(REDIRECT),
            "{location}"
        );
        assert_eq!(params["state"], "st<ate>");
        let code = params["code"].as_str();

        let redeem = |verifier: &'static str, code: String| {
            let dev = dev.clone();
            async move {
                call(
                    &dev,
                    "POST",
                    "/oidc/token",
                    Some(&[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("client_id", "sigstore"),
                        ("redirect_uri", REDIRECT),
                        ("code_verifier", verifier),
                    ]),
                )
                .await
            }
        };
        let ok = redeem(VERIFIER, code.to_string()).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        assert_eq!(ok.headers[header::CACHE_CONTROL], "no-store");
        let claims = claims(&dev, ok.json()["id_token"].as_str().unwrap());
        assert_eq!(claims["sub"], "alice@example.com");
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["aud"], "sigstore");
        assert_eq!(claims["nonce"], "nonce-1");
        assert_eq!(claims["iss"], "http://127.0.0.1:9/oidc");

        // The code is single use.
        let again = redeem(VERIFIER, code.to_string()).await;
        assert_eq!(again.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            again.json(),
            json!({
                "error": "invalid_grant",
                "error_description": "unknown or already used authorization code",
            })
        );

        // A wrong PKCE verifier is refused.
        let answer = call(
            &dev,
            "GET",
            &authorize_uri(REDIRECT, &[("login_hint", "alice@example.com")]),
            None,
        )
        .await;
        let code = answer.redirect().1["code"].clone();
        let bad = redeem("wrong-verifier-wrong-verifier-wrong-verifier-0", code).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            bad.json(),
            json!({
                "error": "invalid_grant",
                "error_description": "code_verifier does not match the code_challenge (PKCE S256)",
            })
        );
    }

    #[tokio::test]
    async fn authorization_requests_are_refused_without_a_redirect_when_unsafe() {
        let (_tmp, dev) = dev();
        for (uri, why) in [
            (
                authorize_uri(
                    "https://evil.example/cb",
                    &[("login_hint", "a@example.com")],
                ),
                "http:// loopback",
            ),
            (
                authorize_uri("http://evil.example/cb", &[("login_hint", "a@example.com")]),
                "localhost",
            ),
            (
                authorize_uri(REDIRECT, &[("login_hint", "a\u{7}@example.com")]),
                "control",
            ),
            (
                format!(
                    "/oidc/authorize?{}",
                    query(&[
                        ("response_type", "code"),
                        ("client_id", "sigstore"),
                        ("redirect_uri", REDIRECT),
                        ("login_hint", "a@example.com"),
                    ])
                ),
                "code_challenge is required",
            ),
            (
                authorize_uri(REDIRECT, &[("code_challenge_method", "plain")]),
                "repeated",
            ),
            (
                authorize_uri(REDIRECT, &[]).replace("response_type=code", "response_type=token"),
                "response_type",
            ),
        ] {
            let answer = call(&dev, "GET", &uri, None).await;
            assert_eq!(
                answer.status,
                StatusCode::BAD_REQUEST,
                "{uri}: {}",
                answer.body
            );
            assert!(!answer.headers.contains_key(header::LOCATION), "{uri}");
            assert!(answer.body.contains(why), "{uri}: {}", answer.body);
        }
    }

    #[tokio::test]
    async fn the_device_flow_is_pending_until_approved_then_mints_for_the_client() {
        let (_tmp, dev) = dev();
        let start = call(
            &dev,
            "POST",
            "/oidc/device",
            Some(&[("client_id", "my-client"), ("scope", "openid email")]),
        )
        .await;
        assert_eq!(start.status, StatusCode::OK, "{}", start.body);
        let start = start.json();
        assert_eq!(start["interval"], 1);
        assert_eq!(start["expires_in"], 600);
        let user_code = start["user_code"].as_str().unwrap();
        assert_eq!(
            start["verification_uri"],
            "http://127.0.0.1:9/oidc/device/approve"
        );
        assert_eq!(
            start["verification_uri_complete"],
            format!("http://127.0.0.1:9/oidc/device/approve?user_code={user_code}")
        );
        let device_code = start["device_code"].as_str().unwrap().to_string();
        let poll = || {
            let dev = dev.clone();
            let device_code = device_code.clone();
            async move {
                call(
                    &dev,
                    "POST",
                    "/oidc/token",
                    Some(&[
                        ("grant_type", DEVICE_GRANT),
                        ("device_code", &device_code),
                        ("client_id", "my-client"),
                    ]),
                )
                .await
            }
        };
        let pending = poll().await;
        assert_eq!(pending.status, StatusCode::BAD_REQUEST);
        assert_eq!(pending.json()["error"], "authorization_pending");
        let fast = poll().await;
        assert_eq!(fast.json()["error"], "slow_down");

        // The approval page asks for a subject, then approves.
        let path = format!("/oidc/device/approve?user_code={user_code}");
        let form = call(&dev, "GET", &path, None).await;
        assert_eq!(form.status, StatusCode::OK);
        assert!(form.body.contains("name=\"subject\""), "{}", form.body);
        let approved = call(
            &dev,
            "GET",
            &format!("{path}&subject=carol@example.com"),
            None,
        )
        .await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.body);
        assert!(approved.body.contains("carol@example.com"));

        // The interval grew to 6 s after the slow_down; the test does not wait that
        // long, so it checks the grant through the table instead.
        let grant = dev
            .grants()
            .poll_device(
                &device_code,
                "my-client",
                None,
                Instant::now() + std::time::Duration::from_secs(7),
            )
            .unwrap();
        assert_eq!(grant.subject, "carol@example.com");
        let token = dev
            .mint_token(
                &grant.subject,
                None,
                &grant.client_id,
                None,
                SystemTime::now(),
            )
            .unwrap();
        assert_eq!(claims(&dev, &token)["aud"], "my-client");
        // Redeemed: the code is gone.
        assert_eq!(poll().await.json()["error"], "invalid_grant");
    }

    #[tokio::test]
    async fn an_approved_device_code_is_answered_with_a_token_on_the_next_poll() {
        let (_tmp, dev) = dev();
        let start = call(
            &dev,
            "POST",
            "/oidc/device",
            Some(&[("client_id", "sigstore")]),
        )
        .await
        .json();
        let user_code = start["user_code"].as_str().unwrap();
        let approved = call(
            &dev,
            "GET",
            &format!("/oidc/device/approve?user_code={user_code}&subject=dan@example.com"),
            None,
        )
        .await;
        assert_eq!(approved.status, StatusCode::OK);
        let token = call(
            &dev,
            "POST",
            "/oidc/token",
            Some(&[
                ("grant_type", DEVICE_GRANT),
                ("device_code", start["device_code"].as_str().unwrap()),
                ("client_id", "sigstore"),
            ]),
        )
        .await;
        assert_eq!(token.status, StatusCode::OK, "{}", token.body);
        let claims = claims(&dev, token.json()["id_token"].as_str().unwrap());
        assert_eq!(claims["sub"], "dan@example.com");
        assert_eq!(claims["aud"], "sigstore");
    }

    #[tokio::test]
    async fn token_requests_get_rfc_6749_errors() {
        let (_tmp, dev) = dev();
        for (form, error) in [
            (vec![("grant_type", "password")], "unsupported_grant_type"),
            (
                vec![("grant_type", "authorization_code")],
                "invalid_request",
            ),
            (
                vec![("grant_type", DEVICE_GRANT), ("grant_type", DEVICE_GRANT)],
                "invalid_request",
            ),
            (
                vec![
                    ("grant_type", DEVICE_GRANT),
                    ("device_code", "nope"),
                    ("client_id", "sigstore"),
                ],
                "invalid_grant",
            ),
        ] {
            let answer = call(&dev, "POST", "/oidc/token", Some(&form)).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{form:?}");
            assert_eq!(answer.json()["error"], error, "{form:?}: {}", answer.body);
        }
        let answer = call(&dev, "POST", "/oidc/device", Some(&[("scope", "openid")])).await;
        assert_eq!(answer.json()["error"], "invalid_request");
    }
}
