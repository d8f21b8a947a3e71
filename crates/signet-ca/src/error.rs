//! The crate's errors, and the one place they become HTTP responses.

use std::path::PathBuf;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use signet_crypto::{KeyAlgorithm, KeyError};

/// Why a service could not open its state, or could not be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaError {
    /// Reading or writing the data directory failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`, `create directory`, …).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Some files of an authority's state exist and others do not.
    #[error(
        "the state in {dir} is incomplete ({missing} is missing): restore the directory from a backup, or move it away to create a new authority (clients must then trust the new root)"
    )]
    IncompleteState {
        /// The state directory.
        dir: PathBuf,
        /// The first missing file.
        missing: &'static str,
    },
    /// A state file does not hold what it should.
    #[error("{path} is not a valid {what}: {detail}")]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Key generation or signing failed in the crypto library.
    #[error("cryptographic operation failed: {source}")]
    Crypto {
        /// signet-crypto's error.
        #[source]
        source: KeyError,
    },
    /// A certificate could not be encoded.
    #[error("cannot encode {what}: {detail}")]
    Encoding {
        /// What was being encoded.
        what: &'static str,
        /// The DER encoder's message.
        detail: String,
    },
    /// The configuration is not usable.
    #[error("invalid configuration: {detail}")]
    InvalidConfig {
        /// What is wrong, naming the field.
        detail: String,
    },
    /// The development OIDC issuer has never been enabled for this data directory.
    #[error(
        "the development OIDC issuer is not enabled for {dir}: start `signet serve --dev-oidc` with this data directory first"
    )]
    DevOidcNotEnabled {
        /// The data directory.
        dir: PathBuf,
    },
    /// The HTTP client for OIDC discovery could not be built.
    #[error("cannot build the HTTP client for OIDC discovery: {detail}")]
    HttpClient {
        /// reqwest's message.
        detail: String,
    },
}

impl From<KeyError> for CaError {
    fn from(source: KeyError) -> Self {
        CaError::Crypto { source }
    }
}

/// Why an OIDC identity token was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// No token in the `Authorization: Bearer` header nor in `credentials.oidcIdentityToken`.
    #[error(
        "no identity token: send it as `Authorization: Bearer <token>` or in `credentials.oidcIdentityToken`"
    )]
    Missing,
    /// The token is not a compact JWS with JSON header and claims.
    #[error("the identity token is malformed: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// The token's `alg` is not an asymmetric signature algorithm the CA accepts.
    #[error(
        "identity token algorithm {alg:?} is not accepted: only ES256, ES384, RS256, RS384, RS512, PS256, PS384, PS512 and EdDSA are"
    )]
    UnsupportedAlgorithm {
        /// The header's `alg`.
        alg: String,
    },
    /// The token's `iss` is not in the CA's allow-list.
    #[error("identity token issuer {issuer:?} is not trusted by this CA")]
    UnknownIssuer {
        /// The (unverified) `iss` claim.
        issuer: String,
    },
    /// The issuer's discovery document or JWKS could not be fetched.
    #[error("cannot fetch the signing keys of issuer {issuer:?}: {detail}")]
    IssuerUnavailable {
        /// The issuer.
        issuer: String,
        /// What failed.
        detail: String,
    },
    /// No key of the issuer's JWKS can check the token.
    #[error(
        "no key of issuer {issuer:?} matches the token (kid {kid:?}, alg {alg}): the token was not signed by this issuer"
    )]
    UnknownKey {
        /// The issuer.
        issuer: String,
        /// The header's `kid`.
        kid: Option<String>,
        /// The header's `alg`.
        alg: String,
    },
    /// The signature does not verify with the issuer's key.
    #[error("the identity token signature does not verify with the keys of issuer {issuer:?}")]
    BadSignature {
        /// The issuer.
        issuer: String,
    },
    /// `aud` does not contain the configured audience.
    #[error("the identity token audience {found:?} does not include {expected:?}")]
    WrongAudience {
        /// The configured audience.
        expected: String,
        /// The token's `aud` values.
        found: Vec<String>,
    },
    /// `exp` has passed.
    #[error("the identity token expired at {exp} (now {now}, unix seconds): get a fresh token")]
    Expired {
        /// The `exp` claim.
        exp: i64,
        /// The CA's clock.
        now: i64,
    },
    /// `nbf` is in the future.
    #[error("the identity token is not valid before {nbf} (now {now}, unix seconds)")]
    NotYetValid {
        /// The `nbf` claim.
        nbf: i64,
        /// The CA's clock.
        now: i64,
    },
    /// `iat` is in the future.
    #[error("the identity token was issued in the future ({iat}, now {now}, unix seconds)")]
    IssuedInFuture {
        /// The `iat` claim.
        iat: i64,
        /// The CA's clock.
        now: i64,
    },
    /// A claim the identity needs is absent or empty.
    #[error("the identity token has no {claim:?} claim, which this issuer's identities need")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// An email issuer did not verify the email.
    #[error("the issuer has not verified the email address {email:?} (email_verified is not true)")]
    EmailNotVerified {
        /// The `email` claim.
        email: String,
    },
    /// The subject cannot become a certificate identity.
    #[error("the identity token subject cannot be certified: {detail}")]
    InvalidSubject {
        /// What is wrong.
        detail: String,
    },
}

/// Why the key in a certificate request, or the proof that the caller holds it, was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// Neither `publicKeyRequest` nor `certificateSigningRequest` was sent.
    #[error("the request has no key: send `publicKeyRequest` or `certificateSigningRequest`")]
    MissingKey,
    /// Both were sent.
    #[error(
        "the request has both `publicKeyRequest` and `certificateSigningRequest`: send only one"
    )]
    BothKeyAndCsr,
    /// A field is not valid base64, PEM or DER.
    #[error("`{field}` is malformed: {detail}")]
    MalformedField {
        /// The JSON field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The public key is of a kind or size the CA does not certify.
    #[error("the public key cannot be certified: {source}")]
    UnsupportedPublicKey {
        /// signet-crypto's verdict.
        #[source]
        source: KeyError,
    },
    /// `publicKey.algorithm` names another kind of key than `content` holds.
    #[error("`publicKey.algorithm` is {declared:?} but the key is {actual}")]
    AlgorithmMismatch {
        /// The declared algorithm.
        declared: String,
        /// The key's algorithm.
        actual: KeyAlgorithm,
    },
    /// The CSR's signature algorithm does not fit its key or is not supported.
    #[error("the CSR signature algorithm {algorithm} is not supported for a {key} key")]
    UnsupportedCsrSignature {
        /// The dotted OID.
        algorithm: String,
        /// The CSR key's algorithm.
        key: KeyAlgorithm,
    },
    /// The CSR is not signed by its own key.
    #[error(
        "the CSR signature does not verify with the CSR's public key: the caller does not hold that key"
    )]
    CsrSignatureInvalid,
    /// The proof of possession does not verify with the submitted key.
    #[error(
        "the proof of possession does not verify with the submitted public key over the token subject (tried {challenges:?}): sign the token's email (or sub) with the key being certified"
    )]
    ProofInvalid {
        /// The strings the signature was checked over.
        challenges: Vec<String>,
    },
}

/// Why an RFC 3161 timestamp request was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampRequestError {
    /// The DER `TimeStampReq` or JSON request does not parse.
    #[error("malformed timestamp request: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// The hash algorithm is not SHA-256, SHA-384 or SHA-512.
    #[error(
        "timestamp request hash algorithm {algorithm} is not accepted: use sha256, sha384 or sha512"
    )]
    UnsupportedHash {
        /// The OID or name.
        algorithm: String,
    },
    /// The imprint's length does not fit its algorithm.
    #[error("the message imprint is {found} bytes, a {algorithm} digest is {expected}")]
    ImprintLength {
        /// The algorithm name.
        algorithm: &'static str,
        /// The expected length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// The request version is not 1.
    #[error("timestamp request version {version} is not supported (expected 1)")]
    UnsupportedVersion {
        /// The version found.
        version: i64,
    },
    /// The request carries extensions, which this TSA does not support.
    #[error("timestamp request extensions are not supported")]
    UnsupportedExtensions,
}

/// Everything an HTTP endpoint of this crate can answer with other than success.
/// Each becomes a 4xx or 5xx response with a JSON body `{"code": <status>, "message": …}`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The identity token was rejected (401; 503 when the issuer is unreachable).
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The key or proof of possession was rejected (400).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The timestamp request was rejected (400).
    #[error(transparent)]
    Timestamp(#[from] TimestampRequestError),
    /// The body is not the JSON the endpoint expects (400).
    #[error("malformed request body: {detail}")]
    MalformedBody {
        /// The parser's message, with the field when known.
        detail: String,
    },
    /// The body is larger than the endpoint accepts (413).
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The `Content-Type` is not one the endpoint accepts (415).
    #[error("unsupported Content-Type {found:?}: expected {expected}")]
    UnsupportedMediaType {
        /// The header found.
        found: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// No such endpoint (404).
    #[error("no endpoint at {path}")]
    NotFound {
        /// The request path.
        path: String,
    },
    /// The endpoint exists but not with this method (405).
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    /// Signing or encoding failed on the server (500).
    #[error("internal error: {detail}")]
    Internal {
        /// What failed.
        detail: String,
    },
}

impl ApiError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Token(TokenError::IssuerUnavailable { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Token(_) => StatusCode::UNAUTHORIZED,
            ApiError::Request(_) | ApiError::Timestamp(_) | ApiError::MalformedBody { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<CaError> for ApiError {
    fn from(e: CaError) -> Self {
        ApiError::Internal {
            detail: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::json!({
            "code": status.as_u16(),
            "message": self.to_string(),
        });
        (status, axum::Json(body)).into_response()
    }
}

/// A JSON 404 for unknown paths. Axum routers that both have a fallback cannot be
/// merged, so this crate's routers have none: set this one on the merged router
/// (`router.fallback(signet_ca::not_found)`).
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound {
        path: uri.path().chars().take(200).collect(),
    }
}

pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
