//! The Fulcio-compatible HTTP API and [`CaService`].
//!
//! | endpoint | who calls it | answer |
//! |---|---|---|
//! | `POST /api/v2/signingCert` | sigstore-python (CSR, token in `Authorization`), sigstore-js and sigstore-go (`publicKeyRequest`, token in `credentials`) | 201 `{"signedCertificateEmbeddedSct":{"chain":{"certificates":[leaf, intermediate, root]}}}` |
//! | `POST /api/v1/signingCert` | cosign 2.x (Fulcio's legacy client: `publicKey` + `signedEmailAddress`, token in `Authorization`) | 201 `application/pem-certificate-chain`, empty `SCT` header (the SCT is embedded) |
//! | `GET /api/v2/trustBundle` | clients and operators | `{"chains":[{"certificates":[intermediate, root]}]}` |
//! | `GET /api/v2/configuration` | clients | `{"issuers":[{"issuerUrl","audience","challengeClaim"}]}` |
//! | `GET /api/v1/rootCert` | cosign 2.x | the PEM chain |
//!
//! Request bodies are limited to [`MAX_BODY_BYTES`]; every failure is a JSON
//! `{"code","message"}` with a 4xx status (5xx only when the issuer's keys cannot be
//! fetched or signing fails). Rejected tokens are logged on one line with the reason,
//! never the token.

use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use signet_crypto::{KeyId, PublicKey};

use crate::authority::Authority;
use crate::certificate::pem;
use crate::config::{CaConfig, IdentityKind};
use crate::error::method_not_allowed;
use crate::identity::Identity;
use crate::oidc::TokenVerifier;
use crate::request::{
    check_declared_algorithm, decode_base64, key_from_csr, parse_public_key, verify_proof,
};
use crate::{ApiError, CaError, RequestError, TokenError};

/// The largest request body the services accept.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `Content-Type` of a PEM chain (Fulcio's legacy API, the TSA's chain).
pub(crate) const PEM_CHAIN: &str = "application/pem-certificate-chain";

struct CaInner {
    authority: Authority,
    tokens: TokenVerifier,
    chain_pem: Vec<String>,
    organization: String,
}

/// The certificate authority: its keys, its token checks and its HTTP API.
///
/// Cloning is cheap (the state is shared).
#[derive(Clone)]
pub struct CaService {
    inner: Arc<CaInner>,
}

impl std::fmt::Debug for CaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaService")
            .field("root", &self.inner.authority.root())
            .field("ct_log_id", &self.ct_log_id())
            .finish_non_exhaustive()
    }
}

impl CaService {
    /// Opens the CA kept in `<data_dir>/ca`, creating its root, intermediate and CT log
    /// key (P-256) on first start.
    ///
    /// # Errors
    /// [`CaError::InvalidConfig`], [`CaError::Io`], [`CaError::IncompleteState`],
    /// [`CaError::CorruptState`], [`CaError::Crypto`] or [`CaError::HttpClient`].
    pub fn open(data_dir: &Path, config: CaConfig) -> Result<CaService, CaError> {
        config.validate()?;
        let authority = Authority::open(
            data_dir.join("ca"),
            &config.organization,
            config.leaf_validity,
            SystemTime::now(),
        )?;
        let chain_pem = vec![
            pem(authority.intermediate().der()),
            pem(authority.root().der()),
        ];
        Ok(CaService {
            inner: Arc::new(CaInner {
                tokens: TokenVerifier::new(&config)?,
                authority,
                chain_pem,
                organization: config.organization.clone(),
            }),
        })
    }

    /// The Fulcio API routes (see the module docs), with the body limit. It has no
    /// fallback: merge it, then set [`crate::not_found`] on the merged router.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/api/v2/signingCert",
                post(signing_cert_v2).fallback(method_not_allowed),
            )
            .route(
                "/api/v1/signingCert",
                post(signing_cert_v1).fallback(method_not_allowed),
            )
            .route(
                "/api/v2/trustBundle",
                get(trust_bundle).fallback(method_not_allowed),
            )
            .route(
                "/api/v2/configuration",
                get(configuration).fallback(method_not_allowed),
            )
            .route(
                "/api/v1/rootCert",
                get(root_cert).fallback(method_not_allowed),
            )
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.inner.clone())
    }

    /// The root certificate (DER), the trust anchor.
    pub fn root_der(&self) -> &[u8] {
        self.inner.authority.root().der()
    }

    /// The CA chain as DER, intermediate first, root last (a trusted root's `certChain`).
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        vec![
            self.inner.authority.intermediate().der().to_vec(),
            self.inner.authority.root().der().to_vec(),
        ]
    }

    /// The CA chain as PEM, intermediate first, root last (`SIGSTORE_ROOT_FILE` for
    /// cosign takes this file).
    pub fn chain_pem(&self) -> String {
        self.inner.chain_pem.concat()
    }

    /// The CT log's public key, which signs the embedded SCTs
    /// (`SIGSTORE_CT_LOG_PUBLIC_KEY_FILE` for cosign takes its PEM).
    pub fn ct_log_public_key(&self) -> &PublicKey {
        self.inner.authority.ct_log_public_key()
    }

    /// The CT log ID: SHA-256 of the CT key's DER SPKI.
    pub fn ct_log_id(&self) -> KeyId {
        self.inner.authority.ct_log_id()
    }

    /// When the authority (root, intermediate and CT key) was created: the start of its
    /// trusted-root validity windows.
    pub fn created(&self) -> signet_x509::UnixTime {
        self.inner.authority.created()
    }

    pub(crate) fn organization(&self) -> &str {
        &self.inner.organization
    }

    /// Checks an identity token as `POST /api/v2/signingCert` does (allow-listed issuer,
    /// signature against its JWKS, audience, times, verified email) at `now`.
    ///
    /// # Errors
    /// Any [`TokenError`].
    pub async fn verify_token(&self, token: &str, now: SystemTime) -> Result<Identity, TokenError> {
        self.inner.tokens.verify(token, now).await
    }

    /// Issues a leaf certificate (DER, with an embedded SCT) for `identity` and `key` at
    /// `now`, **without checking any token or proof of possession**: the caller vouches
    /// for both (in-process signing, benchmarks). Use [`CaService::verify_token`] first.
    ///
    /// # Errors
    /// [`CaError::Crypto`] or [`CaError::Encoding`].
    pub fn issue_unsafe(
        &self,
        identity: &Identity,
        key: &PublicKey,
        now: SystemTime,
    ) -> Result<Vec<u8>, CaError> {
        self.inner.authority.issue(identity, key, now)
    }
}

// ---------------------------------------------------------------------------------
// Wire types (Fulcio's protojson: camelCase, proto names accepted too).

#[derive(Deserialize, Default)]
struct Credentials {
    #[serde(default, rename = "oidcIdentityToken", alias = "oidc_identity_token")]
    oidc_identity_token: Option<String>,
}

#[derive(Deserialize)]
struct WirePublicKey {
    #[serde(default)]
    algorithm: Option<Value>,
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct PublicKeyRequest {
    #[serde(default, rename = "publicKey", alias = "public_key")]
    public_key: Option<WirePublicKey>,
    #[serde(default, rename = "proofOfPossession", alias = "proof_of_possession")]
    proof_of_possession: Option<String>,
}

#[derive(Deserialize)]
struct SigningCertRequest {
    #[serde(default)]
    credentials: Option<Credentials>,
    #[serde(default, rename = "publicKeyRequest", alias = "public_key_request")]
    public_key_request: Option<PublicKeyRequest>,
    #[serde(
        default,
        rename = "certificateSigningRequest",
        alias = "certificate_signing_request"
    )]
    certificate_signing_request: Option<String>,
}

/// Fulcio's legacy (v1) request, as cosign 2.x sends it.
#[derive(Deserialize)]
struct LegacySigningCertRequest {
    #[serde(default, rename = "publicKey")]
    public_key: Option<WirePublicKey>,
    #[serde(default, rename = "signedEmailAddress")]
    signed_email_address: Option<String>,
}

/// The key a certificate is requested for, before it is proven.
enum KeyRequest {
    Csr(Vec<u8>),
    Proof { key: PublicKey, proof: Vec<u8> },
}

pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge {
                limit: MAX_BODY_BYTES,
            }
        } else {
            ApiError::MalformedBody {
                detail: rejection.body_text(),
            }
        }
    })
}

pub(crate) fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
}

/// The media type of a (lowercased) `Content-Type`, without its parameters.
pub(crate) fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match content_type(headers) {
        None => Ok(()),
        Some(t) if media_type(&t) == "application/json" => Ok(()),
        Some(found) => Err(ApiError::UnsupportedMediaType {
            found: found.chars().take(100).collect(),
            expected: "application/json",
        }),
    }
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::MalformedBody {
        detail: format!("expected a JSON object: {e}"),
    })
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn public_key_from_wire(
    field: &'static str,
    key: Option<WirePublicKey>,
    base64_content: bool,
) -> Result<PublicKey, RequestError> {
    let key = key.ok_or(RequestError::MalformedField {
        field,
        detail: "missing".into(),
    })?;
    let content = key
        .content
        .filter(|c| !c.is_empty())
        .ok_or(RequestError::MalformedField {
            field,
            detail: "`content` is missing".into(),
        })?;
    let bytes = if base64_content {
        decode_base64(field, &content)?
    } else {
        content.into_bytes()
    };
    let public = parse_public_key(field, &bytes)?;
    check_declared_algorithm(key.algorithm.as_ref(), &public)?;
    Ok(public)
}

fn proof_bytes(proof: Option<String>, field: &'static str) -> Result<Vec<u8>, RequestError> {
    let proof = proof
        .filter(|p| !p.is_empty())
        .ok_or(RequestError::MalformedField {
            field,
            detail: "missing: sign the token's email (or sub) with the key".into(),
        })?;
    decode_base64(field, &proof)
}

/// Token checks, proof of possession, issuance: the whole request after parsing.
async fn certify(
    inner: &CaInner,
    token: Option<String>,
    key_request: KeyRequest,
) -> Result<Vec<String>, ApiError> {
    let now = SystemTime::now();
    let token = token.ok_or(TokenError::Missing);
    let identity = match token {
        Ok(token) => inner.tokens.verify(&token, now).await,
        Err(e) => Err(e),
    }
    .inspect_err(|e| {
        tracing::warn!(target: "signet_ca", reason = %e, "rejected identity token");
    })?;
    let key = match key_request {
        KeyRequest::Csr(csr) => key_from_csr(&csr),
        KeyRequest::Proof { key, proof } => {
            verify_proof(&key, &proof, &identity.challenges).map(|()| key)
        }
    }
    .inspect_err(|e| {
        tracing::warn!(
            target: "signet_ca",
            identity = identity.san.value(),
            reason = %e,
            "rejected certificate request"
        );
    })?;
    let leaf = inner.authority.issue(&identity, &key, now)?;
    let mut chain = Vec::with_capacity(1 + inner.chain_pem.len());
    chain.push(pem(&leaf));
    chain.extend(inner.chain_pem.iter().cloned());
    Ok(chain)
}

async fn signing_cert_v2(
    State(inner): State<Arc<CaInner>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    require_json(&headers)?;
    let request: SigningCertRequest = parse_json(&body)?;
    let token = request
        .credentials
        .and_then(|c| c.oidc_identity_token)
        .filter(|t| !t.is_empty())
        .or_else(|| bearer(&headers));
    let key_request = match (
        request.public_key_request,
        request.certificate_signing_request,
    ) {
        (Some(_), Some(_)) => return Err(RequestError::BothKeyAndCsr.into()),
        (None, None) => return Err(RequestError::MissingKey.into()),
        (None, Some(csr)) => KeyRequest::Csr(decode_base64("certificateSigningRequest", &csr)?),
        (Some(pkr), None) => KeyRequest::Proof {
            key: public_key_from_wire("publicKeyRequest.publicKey", pkr.public_key, false)?,
            proof: proof_bytes(
                pkr.proof_of_possession,
                "publicKeyRequest.proofOfPossession",
            )?,
        },
    };
    let chain = certify(&inner, token, key_request).await?;
    let body = json!({
        "signedCertificateEmbeddedSct": { "chain": { "certificates": chain } }
    });
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

async fn signing_cert_v1(
    State(inner): State<Arc<CaInner>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    require_json(&headers)?;
    let request: LegacySigningCertRequest = parse_json(&body)?;
    let key_request = KeyRequest::Proof {
        key: public_key_from_wire("publicKey", request.public_key, true)?,
        proof: proof_bytes(request.signed_email_address, "signedEmailAddress")?,
    };
    let chain = certify(&inner, bearer(&headers), key_request).await?;
    Ok((
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, PEM_CHAIN),
            (header::HeaderName::from_static("sct"), ""),
        ],
        chain.concat(),
    )
        .into_response())
}

async fn trust_bundle(State(inner): State<Arc<CaInner>>) -> Response {
    axum::Json(json!({ "chains": [ { "certificates": inner.chain_pem } ] })).into_response()
}

async fn configuration(State(inner): State<Arc<CaInner>>) -> Response {
    let issuers: Vec<Value> = inner
        .tokens
        .issuers()
        .iter()
        .map(|i| {
            json!({
                "issuerUrl": i.url,
                "audience": i.audience,
                "challengeClaim": if i.kind == IdentityKind::Email { "email" } else { "sub" },
            })
        })
        .collect();
    axum::Json(json!({ "issuers": issuers })).into_response()
}

async fn root_cert(State(inner): State<Arc<CaInner>>) -> Response {
    (
        [(header::CONTENT_TYPE, PEM_CHAIN)],
        inner.chain_pem.concat(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(bearer(&headers).as_deref(), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert_eq!(bearer(&headers), None);
    }
}
