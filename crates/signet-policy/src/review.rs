//! AdmissionReview v1 responses, and [`check_response`], which reads a response the
//! way the apiserver does (admission-control.md §8) so that tests can hold the webhook
//! to the contract.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::patch::JsonPatch;
use crate::workload::{ADMISSION_API_VERSION, ADMISSION_KIND};

/// The HTTP-like code of a denial. The apiserver raises anything below 400 to 400.
pub const DENY_CODE: u16 = 403;

/// The apiserver recommends warnings under this many characters.
pub const WARNING_RECOMMENDED_LEN: usize = 120;
/// Warnings longer than this may be truncated by the apiserver; we truncate first.
pub const WARNING_MAX_LEN: usize = 256;
/// Past this many characters in total, the apiserver drops further warnings; we stop
/// before and say how many were left out.
pub const WARNINGS_MAX_TOTAL: usize = 4096;

/// An AdmissionReview v1 response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AdmissionResponse {
    /// The request's uid.
    pub uid: String,
    /// Whether the request is allowed.
    pub allowed: bool,
    /// The denial message (only when denied).
    pub message: Option<String>,
    /// Warnings, already made safe for `Warning: 299` headers.
    pub warnings: Vec<String>,
    /// The JSON patch (mutating webhook only; never empty when present).
    pub patch: Option<JsonPatch>,
}

impl AdmissionResponse {
    /// Allows the request.
    pub fn allow(uid: &str) -> Self {
        AdmissionResponse {
            uid: uid.to_owned(),
            allowed: true,
            message: None,
            warnings: Vec::new(),
            patch: None,
        }
    }

    /// Denies the request with `message` (kept to its lines; other control characters
    /// become spaces).
    pub fn deny(uid: &str, message: &str) -> Self {
        let message = message
            .lines()
            .map(|l| sanitize_line(l, usize::MAX))
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        AdmissionResponse {
            uid: uid.to_owned(),
            allowed: false,
            message: Some(message),
            warnings: Vec::new(),
            patch: None,
        }
    }

    /// Adds warnings: each is made one line without control characters, cut at
    /// [`WARNING_MAX_LEN`]; past [`WARNINGS_MAX_TOTAL`] characters the rest are replaced
    /// by one line saying how many were left out.
    pub fn with_warnings<I, S>(mut self, warnings: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut total: usize = self.warnings.iter().map(|w| w.chars().count()).sum();
        let mut dropped = 0usize;
        for w in warnings {
            let line = sanitize_line(w.as_ref(), WARNING_MAX_LEN);
            if line.is_empty() {
                continue;
            }
            let len = line.chars().count();
            // Keep room for the "N more" line.
            if dropped > 0 || total + len > WARNINGS_MAX_TOTAL - 64 {
                dropped += 1;
                continue;
            }
            total += len;
            self.warnings.push(line);
        }
        if dropped > 0 {
            self.warnings
                .push(format!("{dropped} more warnings were left out"));
        }
        self
    }

    /// Adds a patch (ignored when empty: an empty patch is sent as no patch at all).
    pub fn with_patch(mut self, patch: JsonPatch) -> Self {
        self.patch = if patch.is_empty() { None } else { Some(patch) };
        self
    }

    /// The full AdmissionReview JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        let mut response = serde_json::Map::new();
        response.insert("uid".into(), Value::String(self.uid.clone()));
        response.insert("allowed".into(), Value::Bool(self.allowed));
        if !self.allowed {
            let mut status = serde_json::Map::new();
            status.insert("status".into(), Value::String("Failure".into()));
            status.insert("code".into(), Value::from(DENY_CODE));
            status.insert("reason".into(), Value::String("Forbidden".into()));
            status.insert(
                "message".into(),
                Value::String(self.message.clone().unwrap_or_else(|| "denied".into())),
            );
            response.insert("status".into(), Value::Object(status));
        }
        if !self.warnings.is_empty() {
            response.insert(
                "warnings".into(),
                Value::Array(self.warnings.iter().cloned().map(Value::String).collect()),
            );
        }
        if let Some(patch) = &self.patch {
            response.insert("patchType".into(), Value::String("JSONPatch".into()));
            response.insert("patch".into(), Value::String(patch.to_base64()));
        }
        let mut review = serde_json::Map::new();
        review.insert(
            "apiVersion".into(),
            Value::String(ADMISSION_API_VERSION.into()),
        );
        review.insert("kind".into(), Value::String(ADMISSION_KIND.into()));
        review.insert("response".into(), Value::Object(response));
        // Serialising a Value into a Vec cannot fail.
        serde_json::to_vec(&Value::Object(review)).unwrap_or_default()
    }
}

/// One line, no control characters (the apiserver drops warnings that have them), at
/// most `max` characters (an ellipsis marks a cut).
pub(crate) fn sanitize_line(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    let mut last_space = false;
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        out.push(c);
    }
    let out = out.trim().to_owned();
    if out.chars().count() > max {
        let mut cut: String = out.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        out
    }
}

/// Which webhook configuration a response answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookType {
    /// A ValidatingWebhookConfiguration: no patch allowed.
    Validating,
    /// A MutatingWebhookConfiguration.
    Mutating,
}

/// What the apiserver makes of a response that passed its checks.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiserverView {
    /// Whether the request is admitted.
    pub allowed: bool,
    /// The status code after the apiserver's normalisation (a denial below 400 is 400).
    pub code: Option<u16>,
    /// The message the user sees, prefixed `admission webhook "<name>" denied the
    /// request: ` on denial.
    pub message: Option<String>,
    /// The warnings as they would be sent in `Warning: 299` headers.
    pub warnings: Vec<String>,
    /// The decoded patch.
    pub patch: Option<JsonPatch>,
}

/// A response the apiserver would refuse (the request then fails as a webhook error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseViolation {
    /// The body is not JSON of the right shape.
    #[error("the response body is not an AdmissionReview: {reason}")]
    Malformed {
        /// What the parser reported.
        reason: String,
    },
    /// The body's apiVersion/kind are not `admission.k8s.io/v1` AdmissionReview.
    #[error(
        "expected response of kind admission.k8s.io/v1, Kind=AdmissionReview, got {api_version}, Kind={kind}"
    )]
    WrongGroupVersionKind {
        /// What was sent.
        api_version: String,
        /// What was sent.
        kind: String,
    },
    /// No `response`.
    #[error("webhook response was absent")]
    MissingResponse,
    /// `response.uid` differs from `request.uid`.
    #[error("expected response.uid={expected:?}, got {found:?}")]
    UidMismatch {
        /// The request uid.
        expected: String,
        /// The response uid.
        found: String,
    },
    /// `patchType` without `patch`.
    #[error("webhook returned response.patchType but not response.patch")]
    PatchTypeWithoutPatch,
    /// `patch` without `patchType`.
    #[error("webhook returned response.patch but not response.patchType")]
    PatchWithoutPatchType,
    /// `patchType` other than `JSONPatch`.
    #[error("webhook returned invalid response.patchType of {found:?}")]
    UnsupportedPatchType {
        /// What was sent.
        found: String,
    },
    /// A validating webhook returned a patch.
    #[error("validating webhook may not return response.patch")]
    PatchFromValidating,
    /// The patch is not base64 of a JSON patch.
    #[error("response.patch is not base64 of a JSON patch: {reason}")]
    InvalidPatch {
        /// What failed.
        reason: String,
    },
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct ReviewOut {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    response: Option<ResponseOut>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseOut {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    allowed: bool,
    #[serde(default)]
    status: Option<StatusOut>,
    #[serde(default)]
    patch: Option<String>,
    #[serde(default)]
    patch_type: Option<String>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
}

#[derive(Deserialize, Serialize)]
struct StatusOut {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: Option<String>,
}

/// Reads a webhook response body the way the apiserver does (`VerifyAdmissionResponse`
/// and `ToStatusErr`) for a request with uid `request_uid`, sent to webhook
/// `webhook_name`.
///
/// # Errors
/// The [`ResponseViolation`] that makes the apiserver reject the response.
pub fn check_response(
    request_uid: &str,
    webhook_name: &str,
    webhook: WebhookType,
    body: &[u8],
) -> Result<ApiserverView, ResponseViolation> {
    let review: ReviewOut =
        serde_json::from_slice(body).map_err(|e| ResponseViolation::Malformed {
            reason: e.to_string(),
        })?;
    if review.api_version != ADMISSION_API_VERSION || review.kind != ADMISSION_KIND {
        return Err(ResponseViolation::WrongGroupVersionKind {
            api_version: review.api_version,
            kind: review.kind,
        });
    }
    let response = review.response.ok_or(ResponseViolation::MissingResponse)?;
    if response.uid != request_uid {
        return Err(ResponseViolation::UidMismatch {
            expected: request_uid.to_owned(),
            found: response.uid,
        });
    }
    let patch = match (&response.patch, &response.patch_type) {
        (None, None) => None,
        (None, Some(_)) => return Err(ResponseViolation::PatchTypeWithoutPatch),
        (Some(_), None) => return Err(ResponseViolation::PatchWithoutPatchType),
        (Some(_), Some(_)) if webhook == WebhookType::Validating => {
            return Err(ResponseViolation::PatchFromValidating);
        }
        (Some(_), Some(t)) if t != "JSONPatch" => {
            return Err(ResponseViolation::UnsupportedPatchType { found: t.clone() });
        }
        (Some(p), Some(_)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(p)
                .map_err(|e| ResponseViolation::InvalidPatch {
                    reason: e.to_string(),
                })?;
            Some(
                JsonPatch::parse(&bytes).map_err(|e| ResponseViolation::InvalidPatch {
                    reason: e.to_string(),
                })?,
            )
        }
    };
    // The apiserver turns warnings with control characters into nothing and cuts long
    // ones; a correct webhook sends neither.
    let warnings = response
        .warnings
        .unwrap_or_default()
        .into_iter()
        .filter(|w| !w.chars().any(char::is_control))
        .map(|w| {
            if w.chars().count() > WARNING_MAX_LEN {
                w.chars().take(WARNING_MAX_LEN).collect()
            } else {
                w
            }
        })
        .collect();
    if response.allowed {
        return Ok(ApiserverView {
            allowed: true,
            code: None,
            message: None,
            warnings,
            patch,
        });
    }
    let status = response.status.unwrap_or(StatusOut {
        status: None,
        code: None,
        message: None,
    });
    let code = match status.code {
        Some(c) if (400..=599).contains(&c) => u16::try_from(c).unwrap_or(400),
        _ => 400,
    };
    let detail = status.message.unwrap_or_default();
    let message = if detail.is_empty() {
        format!("admission webhook {webhook_name:?} denied the request without explanation")
    } else {
        format!("admission webhook {webhook_name:?} denied the request: {detail}")
    };
    Ok(ApiserverView {
        allowed: false,
        code: Some(code),
        message: Some(message),
        warnings,
        patch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::{JsonPointer, PatchOperation};

    fn patch() -> JsonPatch {
        JsonPatch(vec![PatchOperation::Replace {
            path: JsonPointer::parse("/spec/containers/0/image").unwrap(),
            value: Value::String("a:1@sha256:00".into()),
        }])
    }

    #[test]
    fn responses_pass_the_apiserver_checks() {
        let allow = AdmissionResponse::allow("u1").to_json();
        let view = check_response("u1", "signet", WebhookType::Validating, &allow).unwrap();
        assert!(view.allowed);
        assert_eq!(
            String::from_utf8(allow).unwrap(),
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"allowed":true,"uid":"u1"}}"#
        );

        let deny = AdmissionResponse::deny("u2", "image x: line one\nline two")
            .with_warnings(["w\u{7}1"])
            .to_json();
        let view = check_response("u2", "signet.dev", WebhookType::Validating, &deny).unwrap();
        assert!(!view.allowed);
        assert_eq!(view.code, Some(403));
        assert_eq!(
            view.message.as_deref(),
            Some(
                "admission webhook \"signet.dev\" denied the request: image x: line one\nline two"
            )
        );
        assert_eq!(view.warnings, ["w 1"]);

        let mutate = AdmissionResponse::allow("u3").with_patch(patch()).to_json();
        let view = check_response("u3", "m", WebhookType::Mutating, &mutate).unwrap();
        assert_eq!(view.patch, Some(patch()));
        assert_eq!(
            check_response("u3", "v", WebhookType::Validating, &mutate),
            Err(ResponseViolation::PatchFromValidating)
        );
        let empty = AdmissionResponse::allow("u4")
            .with_patch(JsonPatch::default())
            .to_json();
        assert!(
            !String::from_utf8(empty).unwrap().contains("patch"),
            "an empty patch is no patch"
        );
    }

    #[test]
    fn the_apiserver_rejects_broken_responses() {
        let cases: [(&str, ResponseViolation); 7] = [
            (
                r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","response":{"uid":"u","allowed":true}}"#,
                ResponseViolation::WrongGroupVersionKind {
                    api_version: "admission.k8s.io/v1beta1".into(),
                    kind: "AdmissionReview".into(),
                },
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
                ResponseViolation::MissingResponse,
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"x","allowed":true}}"#,
                ResponseViolation::UidMismatch {
                    expected: "u".into(),
                    found: "x".into(),
                },
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true,"patchType":"JSONPatch"}}"#,
                ResponseViolation::PatchTypeWithoutPatch,
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true,"patch":"W10="}}"#,
                ResponseViolation::PatchWithoutPatchType,
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true,"patch":"W10=","patchType":"MergePatch"}}"#,
                ResponseViolation::UnsupportedPatchType {
                    found: "MergePatch".into(),
                },
            ),
            (
                r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":true,"patch":"[]","patchType":"JSONPatch"}}"#,
                ResponseViolation::InvalidPatch {
                    reason: String::new(),
                },
            ),
        ];
        for (body, expected) in cases {
            let got = check_response("u", "w", WebhookType::Mutating, body.as_bytes());
            match (&got, &expected) {
                (
                    Err(ResponseViolation::InvalidPatch { .. }),
                    ResponseViolation::InvalidPatch { .. },
                ) => {}
                _ => assert_eq!(got, Err(expected), "{body}"),
            }
        }
        // A denial with a low code and no status is raised to 400 Failure.
        let low = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"u","allowed":false,"status":{"code":200}}}"#;
        let view = check_response("u", "w", WebhookType::Validating, low).unwrap();
        assert_eq!(view.code, Some(400));
        assert_eq!(
            view.message.as_deref(),
            Some("admission webhook \"w\" denied the request without explanation")
        );
    }

    #[test]
    fn warnings_are_bounded() {
        let long = "x".repeat(1000);
        let r = AdmissionResponse::allow("u").with_warnings(std::iter::repeat_n(long.as_str(), 40));
        assert!(
            r.warnings
                .iter()
                .all(|w| w.chars().count() <= WARNING_MAX_LEN)
        );
        let total: usize = r.warnings.iter().map(|w| w.chars().count()).sum();
        assert!(total <= WARNINGS_MAX_TOTAL, "{total}");
        assert!(
            r.warnings
                .last()
                .unwrap()
                .ends_with("more warnings were left out")
        );
        assert_eq!(sanitize_line("  a\r\n\tb  ", 10), "a b");
    }
}
