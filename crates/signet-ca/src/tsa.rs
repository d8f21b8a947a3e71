//! The RFC 3161 timestamp authority and its HTTP API (sigstore timestamp-authority paths).
//!
//! | endpoint | request | answer |
//! |---|---|---|
//! | `POST /api/v1/timestamp` | `application/timestamp-query` (DER, sigstore-python, openssl) or `application/json` (`{"artifactHash","hashAlgorithm","certificates","nonce"}`, sigstore-js) | 201 `application/timestamp-reply` `TimeStampResp` |
//! | `GET /api/v1/timestamp/certchain` | | the PEM chain, TSA leaf first |
//!
//! Clients take the URL `<base>/api/v1/timestamp` from the signing config's `tsaUrls`
//! and post to it as given.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode};
use signet_x509::Certificate;

use crate::certificate::{
    CaProfile, ID_KP_TIME_STAMPING, IssuingKey, authority_certificate, encoding, is_issued_by, pem,
    random_serial, subject_der,
};
use crate::config::check_organization;
use crate::error::method_not_allowed;
use crate::fulcio::{MAX_BODY_BYTES, PEM_CHAIN, body_bytes, content_type, media_type};
use crate::state::{StateDir, write_certificate, write_key};
use crate::timestamp::{
    DEFAULT_POLICY, TimestampRequest, TimestampSigner, parse_der_request, parse_json_request,
};
use crate::{ApiError, CaError};

const ROOT_KEY: &str = "root.key";
const ROOT_CERT: &str = "root.pem";
const LEAF_KEY: &str = "leaf.key";
const LEAF_CERT: &str = "leaf.pem";
const FILES: &[&str] = &[ROOT_KEY, ROOT_CERT, LEAF_KEY, LEAF_CERT];
const LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);

/// `Content-Type` of a DER timestamp request.
pub const TIMESTAMP_QUERY: &str = "application/timestamp-query";
/// `Content-Type` of a DER timestamp response.
pub const TIMESTAMP_REPLY: &str = "application/timestamp-reply";

/// The TSA's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsaConfig {
    /// The policy OID of timestamps whose request names none (sigstore's
    /// `1.3.6.1.4.1.57264.2` by default). A requested policy is echoed, as sigstore's
    /// timestamp-authority does.
    pub policy: ObjectIdentifier,
    /// The `O=` of the generated certificates (only used on first start).
    pub organization: String,
}

impl Default for TsaConfig {
    fn default() -> Self {
        TsaConfig {
            policy: DEFAULT_POLICY,
            organization: "signet".to_owned(),
        }
    }
}

struct TsaInner {
    signer: TimestampSigner,
    leaf: Certificate,
    root: Certificate,
    chain_pem: String,
}

/// The timestamp authority: a P-256 TSA leaf (critical timeStamping EKU) under its own
/// root, kept in `<data_dir>/tsa`.
#[derive(Clone)]
pub struct TsaService {
    inner: Arc<TsaInner>,
}

impl std::fmt::Debug for TsaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsaService")
            .field("leaf", &self.inner.leaf)
            .finish_non_exhaustive()
    }
}

impl TsaService {
    /// Opens the TSA kept in `<data_dir>/tsa`, creating its root and leaf on first start.
    ///
    /// # Errors
    /// [`CaError::Io`], [`CaError::IncompleteState`], [`CaError::CorruptState`],
    /// [`CaError::Crypto`] or [`CaError::InvalidConfig`].
    pub fn open(data_dir: &Path, config: TsaConfig) -> Result<TsaService, CaError> {
        let org = &config.organization;
        check_organization(org)?;
        let now = SystemTime::now();
        let state = StateDir::open_or_create(data_dir.join("tsa"), FILES, |tmp| {
            let root_key = IssuingKey::generate()?;
            let leaf_key = IssuingKey::generate()?;
            let root = authority_certificate(
                &root_key,
                &CaProfile {
                    subject: &format!("CN=signet tsa root,O={org}"),
                    issuer: None,
                    path_len: Some(0),
                    ca: true,
                    eku: None,
                    not_before: now,
                    lifetime: LIFETIME,
                },
            )?;
            let root_subject = subject_der(&root)?;
            let leaf = authority_certificate(
                &leaf_key,
                &CaProfile {
                    subject: &format!("CN=signet tsa,O={org}"),
                    issuer: Some((&root_subject, &root_key)),
                    path_len: None,
                    ca: false,
                    eku: Some((ID_KP_TIME_STAMPING, true)),
                    not_before: now,
                    lifetime: LIFETIME,
                },
            )?;
            write_key(tmp, ROOT_KEY, root_key.private_key())?;
            write_certificate(tmp, ROOT_CERT, &root)?;
            write_key(tmp, LEAF_KEY, leaf_key.private_key())?;
            write_certificate(tmp, LEAF_CERT, &leaf)
        })?;
        let root = state.read_certificate(ROOT_CERT)?;
        let leaf = state.read_certificate(LEAF_CERT)?;
        let key = IssuingKey::new(state.read_key(LEAF_KEY)?)?;
        let corrupt = |detail: &str| CaError::CorruptState {
            path: state.path(LEAF_CERT),
            what: "TSA certificate",
            detail: detail.to_owned(),
        };
        if leaf.public_key().ok().as_ref() != Some(key.public_key()) {
            return Err(corrupt("its key is not leaf.key"));
        }
        if !is_issued_by(&leaf, &root) {
            return Err(corrupt("it is not issued by root.pem"));
        }
        let parsed =
            x509_cert::Certificate::from_der(leaf.der()).map_err(encoding("the TSA leaf"))?;
        let signer = TimestampSigner {
            key,
            certificate: leaf.der().to_vec(),
            issuer_der: parsed
                .tbs_certificate()
                .issuer()
                .to_der()
                .map_err(encoding("the TSA leaf"))?,
            serial_der: parsed
                .tbs_certificate()
                .serial_number()
                .to_der()
                .map_err(encoding("the TSA leaf"))?,
            policy: config.policy,
        };
        let chain_pem = [pem(leaf.der()), pem(root.der())].concat();
        Ok(TsaService {
            inner: Arc::new(TsaInner {
                signer,
                leaf,
                root,
                chain_pem,
            }),
        })
    }

    /// The TSA routes (see the module docs), with the body limit and no fallback.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/api/v1/timestamp",
                post(timestamp).fallback(method_not_allowed),
            )
            .route(
                "/api/v1/timestamp/certchain",
                get(cert_chain).fallback(method_not_allowed),
            )
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.inner.clone())
    }

    /// The chain as DER: TSA leaf, then root (a trusted root's `certChain`).
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        vec![
            self.inner.leaf.der().to_vec(),
            self.inner.root.der().to_vec(),
        ]
    }

    /// The chain as PEM: TSA leaf, then root.
    pub fn chain_pem(&self) -> String {
        self.inner.chain_pem.clone()
    }

    /// When the TSA was created: the start of its trusted-root validity window.
    pub fn created(&self) -> signet_x509::UnixTime {
        self.inner.leaf.not_before()
    }

    /// Answers a DER `TimeStampReq` at `now` with a DER `TimeStampResp`.
    ///
    /// # Errors
    /// [`ApiError::Timestamp`] for a bad request, [`ApiError::Internal`] when signing fails.
    pub fn timestamp(&self, request_der: &[u8], now: SystemTime) -> Result<Vec<u8>, ApiError> {
        let request = parse_der_request(request_der)?;
        respond(&self.inner, &request, now)
    }
}

fn respond(
    inner: &TsaInner,
    request: &TimestampRequest,
    now: SystemTime,
) -> Result<Vec<u8>, ApiError> {
    let serial = random_serial()?;
    Ok(inner.signer.respond(request, now, &serial)?)
}

async fn timestamp(
    State(inner): State<Arc<TsaInner>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body_bytes(body)?;
    let kind = content_type(&headers);
    let request = match kind.as_deref().map(media_type) {
        Some(TIMESTAMP_QUERY) => parse_der_request(&body)?,
        Some("application/json") => parse_json_request(&body)?,
        // No type: JSON starts with `{`, DER with a SEQUENCE tag.
        None if body.first() == Some(&b'{') => parse_json_request(&body)?,
        None => parse_der_request(&body)?,
        Some(_) => {
            return Err(ApiError::UnsupportedMediaType {
                found: kind.unwrap_or_default().chars().take(100).collect(),
                expected: "application/timestamp-query or application/json",
            });
        }
    };
    let reply = respond(&inner, &request, SystemTime::now())?;
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, TIMESTAMP_REPLY)],
        reply,
    )
        .into_response())
}

async fn cert_chain(State(inner): State<Arc<TsaInner>>) -> Response {
    ([(header::CONTENT_TYPE, PEM_CHAIN)], inner.chain_pem.clone()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest as _;
    use signet_x509::TimeRange;
    use signet_x509::timestamp::{
        TimestampAuthority, TimestampError, parse_timestamp_response, verify_timestamp,
    };

    #[test]
    fn responses_verify_with_signet_x509() {
        let tmp = tempfile::tempdir().unwrap();
        let tsa = TsaService::open(tmp.path(), TsaConfig::default()).unwrap();
        let signature = b"the bundle signature";
        let digest = sha2::Sha256::digest(signature);
        let json = serde_json::json!({
            "artifactHash": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, digest),
            "hashAlgorithm": "sha256",
            "certificates": true,
            "nonce": 42,
        });
        let request = parse_json_request(json.to_string().as_bytes()).unwrap();
        let reply = respond(&tsa.inner, &request, SystemTime::now()).unwrap();
        let ts = parse_timestamp_response(&reply).unwrap();
        assert_eq!(ts.certificates().len(), 1);
        let chain = tsa
            .chain_der()
            .iter()
            .map(|d| Certificate::from_der(d).unwrap())
            .collect();
        let authority =
            TimestampAuthority::new(chain, TimeRange::starting_at(tsa.created())).unwrap();
        let verified = verify_timestamp(&ts, signature, std::slice::from_ref(&authority)).unwrap();
        assert!(verified.gen_time >= tsa.created());
        assert!(matches!(
            verify_timestamp(&ts, b"another signature", std::slice::from_ref(&authority)),
            Err(TimestampError::ImprintMismatch { .. })
        ));
        // Without certReq the certificate is left out, and the chain's leaf is used.
        let mut bare = request;
        bare.cert_req = false;
        let reply = respond(&tsa.inner, &bare, SystemTime::now()).unwrap();
        let ts = parse_timestamp_response(&reply).unwrap();
        assert!(ts.certificates().is_empty());
        verify_timestamp(&ts, signature, &[authority]).unwrap();
    }
}
