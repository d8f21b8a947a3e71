//! The few HTTP calls keyless signing makes, with bounded response sizes and errors
//! that name the service.

use serde_json::Value;

use super::KeylessError;

/// The largest response body read from any signing service.
pub(crate) const MAX_RESPONSE: usize = 1 << 20;

async fn read_capped(
    mut response: reqwest::Response,
    service: &'static str,
) -> Result<Vec<u8>, KeylessError> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| KeylessError::Http { service, source })?
    {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err(KeylessError::ResponseTooLarge {
                service,
                limit: MAX_RESPONSE,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Sends `request`, and returns the status and the (capped) body.
pub(crate) async fn send(
    request: reqwest::RequestBuilder,
    service: &'static str,
) -> Result<(reqwest::StatusCode, Vec<u8>), KeylessError> {
    let response = request
        .send()
        .await
        .map_err(|source| KeylessError::Http { service, source })?;
    let status = response.status();
    let body = read_capped(response, service).await?;
    Ok((status, body))
}

/// The service's own error text from a JSON error body (`message`, `error`), else the
/// start of the body.
pub(crate) fn error_text(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(m) = ["message", "error", "msg"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_str))
    {
        return m.to_string();
    }
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

fn parse_json(body: &[u8], service: &'static str) -> Result<Value, KeylessError> {
    serde_json::from_slice(body).map_err(|e| KeylessError::MalformedResponse {
        service,
        reason: format!("not JSON: {e}"),
    })
}

/// `GET url` (with an `Authorization` header if given), expecting 200 and JSON.
pub(crate) async fn get_json(
    client: &reqwest::Client,
    url: &str,
    authorization: Option<&str>,
    service: &'static str,
) -> Result<Value, KeylessError> {
    let mut request = client.get(url).header("Accept", "application/json");
    if let Some(a) = authorization {
        request = request.header("Authorization", a);
    }
    let (status, body) = send(request, service).await?;
    if !status.is_success() {
        return Err(KeylessError::Rejected {
            service,
            status: status.as_u16(),
            message: error_text(&body),
        });
    }
    parse_json(&body, service)
}

/// `POST url` with a JSON body, expecting one of `accepted` statuses and JSON back.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &Value,
    authorization: Option<&str>,
    service: &'static str,
    accepted: &[u16],
) -> Result<(u16, Value), KeylessError> {
    let mut request = client
        .post(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json")
        .body(body.to_string());
    if let Some(a) = authorization {
        request = request.header("Authorization", a);
    }
    let (status, bytes) = send(request, service).await?;
    if !accepted.contains(&status.as_u16()) {
        return Err(KeylessError::Rejected {
            service,
            status: status.as_u16(),
            message: error_text(&bytes),
        });
    }
    Ok((status.as_u16(), parse_json(&bytes, service)?))
}
