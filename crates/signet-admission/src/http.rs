//! The HTTP layer: routes, body limits, status codes.
//!
//! - `POST /validate`, `POST /mutate`: an AdmissionReview v1 body of at most 3 MiB
//!   (the apiserver's own limit). A body that is too large gets 413, one that is not
//!   an AdmissionReview with a uid gets 400; both as a JSON `Status`. Anything with a
//!   uid gets 200 and an AdmissionReview response (a denial when the object is bad).
//! - `GET /healthz`: 200 while the process serves.
//! - `GET /readyz`: 200 once policies are loaded (with the last reload error, if
//!   any), else 503.
//! - `GET /metrics`: OpenMetrics text.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde_json::json;
use signet_policy::workload::MAX_REVIEW_BYTES;

use crate::admit::{Admitter, Endpoint};

/// A body declared larger than the limit but at most this large is read and discarded
/// before the 413 (a well-behaved client then reads the answer).
const DRAIN_LIMIT: u64 = 4 * MAX_REVIEW_BYTES as u64;

/// The router over `admitter`.
pub(crate) fn router(admitter: Arc<Admitter>) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .route("/mutate", post(mutate))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::disable())
        .with_state(admitter)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A Kubernetes `Status` body for a request that gets no AdmissionReview answer.
fn status_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "code": status.as_u16(),
        "reason": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    json_response(status, body.to_string().into_bytes())
}

async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        status_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!(
                "the AdmissionReview is larger than {MAX_REVIEW_BYTES} bytes, the apiserver's own limit"
            ),
        )
    };
    if let Some(n) = declared
        && n > MAX_REVIEW_BYTES as u64
    {
        // Read and discard a body of moderate excess, so that the client sees the
        // 413 instead of a broken pipe; anything larger is cut off.
        if n <= DRAIN_LIMIT {
            let mut stream = body.into_data_stream();
            while let Some(Ok(_)) = stream.next().await {}
        }
        return Err(too_large());
    }
    axum::body::to_bytes(body, MAX_REVIEW_BYTES)
        .await
        .map_err(|_| too_large())
}

async fn admit(
    admitter: &Arc<Admitter>,
    endpoint: Endpoint,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let name = match endpoint {
        Endpoint::Validate => "validate",
        Endpoint::Mutate => "mutate",
    };
    let bytes = match read_body(&headers, body).await {
        Ok(b) => b,
        Err(r) => {
            admitter
                .metrics()
                .request(name, "rejected", started.elapsed().as_secs_f64());
            return r;
        }
    };
    match admitter.review(endpoint, &bytes).await {
        Ok((response, verdict)) => {
            admitter
                .metrics()
                .request(name, verdict.label(), started.elapsed().as_secs_f64());
            json_response(StatusCode::OK, response.to_json())
        }
        Err(e) => {
            admitter
                .metrics()
                .request(name, "rejected", started.elapsed().as_secs_f64());
            status_error(StatusCode::BAD_REQUEST, &e.to_string())
        }
    }
}

async fn validate(State(a): State<Arc<Admitter>>, headers: HeaderMap, body: Body) -> Response {
    admit(&a, Endpoint::Validate, headers, body).await
}

async fn mutate(State(a): State<Arc<Admitter>>, headers: HeaderMap, body: Body) -> Response {
    admit(&a, Endpoint::Mutate, headers, body).await
}

async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, "ok\n")
}

async fn readyz(State(a): State<Arc<Admitter>>) -> Response {
    let status = a.policies().status();
    match &status.set {
        Some(set) => json_response(
            StatusCode::OK,
            json!({
                "ready": true,
                "policies": set.policies().len(),
                "trustRoots": set.trust_roots().count(),
                "generation": set.generation().to_string(),
                "lastError": status.last_error,
            })
            .to_string()
            .into_bytes(),
        ),
        None => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "ready": false,
                "lastError": status.last_error,
            })
            .to_string()
            .into_bytes(),
        ),
    }
}

async fn metrics(State(a): State<Arc<Admitter>>) -> Response {
    let mut r = Response::new(Body::from(a.metrics().encode()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
