//! The Rekor v1 HTTP API over [`LogService`]. Errors become `{"code", "message"}`
//! JSON bodies in one place ([`ApiError`]), with Rekor's status codes.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use signet_tlog::{LogIndex, TreeSize};

use crate::LogError;
use crate::error::chain;
use crate::service::{LogService, SearchOperator, SearchQuery};

/// An error answer: status, Rekor's JSON body, and headers where Rekor sends them.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    location: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            location: None,
        }
    }
}

const ENTRIES_PATH: &str = "/api/v1/log/entries";

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        let status = match &e {
            LogError::BadRequest { .. }
            | LogError::Rejected(_)
            | LogError::TreeSizeTooLarge { .. } => StatusCode::BAD_REQUEST,
            LogError::Duplicate { .. } => StatusCode::CONFLICT,
            LogError::NotFound { .. } => StatusCode::NOT_FOUND,
            LogError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let location = match &e {
            LogError::Duplicate { uuid, .. } => Some(format!("{ENTRIES_PATH}/{uuid}")),
            _ => None,
        };
        ApiError {
            status,
            message: chain(&e),
            location,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({"code": self.status.as_u16(), "message": self.message}));
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        if let Some(location) = self.location.and_then(|l| HeaderValue::try_from(l).ok()) {
            headers.insert(header::LOCATION, location);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

fn from_bytes_rejection(r: &BytesRejection) -> ApiError {
    ApiError::new(
        r.status(),
        format!("reading the request body: {}", r.body_text()),
    )
}

fn from_query_rejection(r: &QueryRejection) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, r.body_text())
}

type ApiResult = Result<Response, ApiError>;

/// The router; `DefaultBodyLimit` caps every body at the configured size (413).
pub(crate) fn router(service: LogService) -> Router {
    let limit = service.config().max_request_bytes;
    Router::new()
        .route(ENTRIES_PATH, post(create_entry).get(entry_by_index))
        .route("/api/v1/log/entries/{uuid}", get(entry_by_uuid))
        .route("/api/v1/log", get(log_info))
        .route("/api/v1/log/proof", get(consistency))
        .route("/api/v1/log/publicKey", get(public_key))
        .route("/api/v1/index/retrieve", post(search))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(service)
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "path not found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (status, Json(value)).into_response()
}

async fn create_entry(
    State(service): State<LogService>,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let body = body.map_err(|r| from_bytes_rejection(&r))?;
    let entry = service.submit(&body).await?;
    let mut response = json_response(StatusCode::CREATED, &entry.to_rekor_json());
    let uuid = entry.uuid.to_string();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::try_from(format!("{ENTRIES_PATH}/{uuid}")) {
        headers.insert(header::LOCATION, v);
    }
    if let Ok(v) = HeaderValue::try_from(uuid) {
        headers.insert(header::ETAG, v);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct IndexQuery {
    #[serde(rename = "logIndex")]
    log_index: Option<String>,
}

fn parse_u64(name: &str, value: &str) -> Result<u64, ApiError> {
    value.parse().map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{name} must be a non-negative integer, found {:?}",
                value.chars().take(40).collect::<String>()
            ),
        )
    })
}

/// A query parameter that must be present and a non-negative integer.
fn required_u64(name: &str, value: Option<String>) -> Result<u64, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("query parameter {name} is required"),
        )
    })?;
    parse_u64(name, &value)
}

async fn entry_by_index(
    State(service): State<LogService>,
    query: Result<Query<IndexQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|r| from_query_rejection(&r))?;
    let index = required_u64("logIndex", q.log_index)?;
    let entry = service.entry_by_index(LogIndex(index)).await?;
    Ok(json_response(StatusCode::OK, &entry.to_rekor_json()))
}

async fn entry_by_uuid(
    State(service): State<LogService>,
    uuid: Result<Path<String>, PathRejection>,
) -> ApiResult {
    let Path(uuid) = uuid.map_err(|r| ApiError::new(StatusCode::BAD_REQUEST, r.body_text()))?;
    let entry = service.entry_by_uuid(&uuid).await?;
    Ok(json_response(StatusCode::OK, &entry.to_rekor_json()))
}

async fn log_info(State(service): State<LogService>) -> Response {
    json_response(StatusCode::OK, &service.tree_head().to_rekor_json())
}

#[derive(Deserialize)]
struct ProofQuery {
    #[serde(rename = "firstSize")]
    first_size: Option<String>,
    #[serde(rename = "lastSize")]
    last_size: Option<String>,
    #[serde(rename = "treeID")]
    tree_id: Option<String>,
}

async fn consistency(
    State(service): State<LogService>,
    query: Result<Query<ProofQuery>, QueryRejection>,
) -> ApiResult {
    let Query(q) = query.map_err(|r| from_query_rejection(&r))?;
    if let Some(tree_id) = q.tree_id
        && tree_id != service.tree_id().to_string()
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("treeID {tree_id:?} is not this log's tree"),
        ));
    }
    let last = required_u64("lastSize", q.last_size)?;
    let first = match q.first_size {
        Some(f) => parse_u64("firstSize", &f)?,
        None => 1,
    };
    if first < 1 || last < 1 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "firstSize and lastSize must be at least 1",
        ));
    }
    let proof = service
        .consistency_proof(TreeSize(first), TreeSize(last))
        .await?;
    Ok(json_response(StatusCode::OK, &proof.to_rekor_json()))
}

async fn public_key(State(service): State<LogService>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        service.public_key().to_pem(),
    )
        .into_response()
}

#[derive(Deserialize)]
struct SearchBody {
    hash: Option<String>,
    #[serde(rename = "publicKey")]
    public_key: Option<SearchKey>,
    email: Option<String>,
    operator: Option<String>,
}

#[derive(Deserialize)]
struct SearchKey {
    format: Option<String>,
    content: Option<String>,
    url: Option<String>,
}

async fn search(
    State(service): State<LogService>,
    body: Result<Json<SearchBody>, JsonRejection>,
) -> ApiResult {
    let Json(body) = body.map_err(|r| ApiError::new(r.status(), r.body_text()))?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let mut query = SearchQuery::new();
    query.hash = body.hash;
    query.email = body.email;
    query.operator = match body.operator.as_deref() {
        None | Some("or") => SearchOperator::Or,
        Some("and") => SearchOperator::And,
        Some(other) => return Err(bad(format!("operator {other:?} is not \"and\" or \"or\""))),
    };
    if let Some(key) = body.public_key {
        let format = key.format.as_deref().unwrap_or_default();
        if format != "x509" {
            return Err(bad(format!(
                "publicKey.format {format:?} is not supported: this log indexes x509 keys only"
            )));
        }
        if key.url.is_some() {
            return Err(bad(
                "publicKey.url is not supported: send the key in publicKey.content".into(),
            ));
        }
        let content = key
            .content
            .ok_or_else(|| bad("publicKey.content is required".into()))?;
        let pem = STANDARD
            .decode(content)
            .map_err(|_| bad("publicKey.content is not standard base64".into()))?;
        query.public_key_pem = Some(pem);
    }
    let uuids = service.search(&query).await?;
    let list: Vec<String> = uuids.iter().map(ToString::to_string).collect();
    Ok(json_response(StatusCode::OK, &json!(list)))
}
