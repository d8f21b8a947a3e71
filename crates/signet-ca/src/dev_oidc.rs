//! A development OIDC issuer: **it mints a token for any identity anyone asks for.**
//!
//! For local use and tests only (`signet serve --dev-oidc`, `signet dev-token`). It is
//! off unless the operator turns it on, logs a WARNING when it starts, and the CA
//! trusts it only when its [`DevOidc::issuer_config`] is added to the CA's allow-list
//! (which `signet serve --dev-oidc` does). Its key is an ES256 key kept in
//! `<data_dir>/dev-oidc/signing.key`; its issuer is `<base>/oidc`.
//!
//! Routes: `GET /oidc/.well-known/openid-configuration`, `GET /oidc/jwks`, and
//! `POST /oidc/token` with `{"subject": "alice@example.com"}`: **unauthenticated**, it
//! answers `{"id_token": …}` for whatever subject is posted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
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
use crate::fulcio::{MAX_BODY_BYTES, body_bytes};
use crate::state::{StateDir, write_key};
use crate::{ApiError, CaError};

const SIGNING_KEY: &str = "signing.key";
const ISSUER_URL: &str = "issuer_url";
/// Lifetime of minted tokens.
const TOKEN_LIFETIME_SECS: u64 = 600;

struct DevInner {
    encoding_key: EncodingKey,
    kid: String,
    jwk: Value,
    issuer_url: String,
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
        if subject.is_empty() || subject.len() > 256 || subject.chars().any(char::is_control) {
            return Err(CaError::InvalidConfig {
                detail: format!(
                    "subject {:?} must be 1 to 256 characters without control characters",
                    subject.chars().take(64).collect::<String>()
                ),
            });
        }
        let iat = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = json!({
            "iss": issuer.unwrap_or(&self.inner.issuer_url),
            "sub": subject,
            "aud": crate::config::DEFAULT_AUDIENCE,
            "iat": iat,
            "nbf": iat,
            "exp": iat + TOKEN_LIFETIME_SECS,
        });
        if subject.contains('@') {
            claims["email"] = json!(subject);
            claims["email_verified"] = json!(true);
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

    /// The issuer's routes (see the module docs), with no fallback.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/oidc/.well-known/openid-configuration",
                get(discovery).fallback(method_not_allowed),
            )
            .route("/oidc/jwks", get(jwks).fallback(method_not_allowed))
            .route("/oidc/token", post(token).fallback(method_not_allowed))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }
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
        "token_endpoint": format!("{issuer}/token"),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": ["iss", "sub", "aud", "iat", "nbf", "exp", "email", "email_verified"],
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

async fn token(
    State(dev): State<DevOidc>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
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
    Ok(axum::Json(json!({
        "id_token": token,
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECS,
    }))
    .into_response())
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
            Err(CaError::InvalidConfig { .. })
        ));
        assert!(matches!(
            DevOidc::open(tmp.path(), "ftp://x"),
            Err(CaError::InvalidConfig { .. })
        ));
    }
}
