//! From verified token claims to the identity a certificate states: the pure checks of
//! `aud`, `exp`, `nbf`, `iat` and `email_verified`, the subject alternative name, and the
//! GitHub and build-metadata extensions (Fulcio `1.3.6.1.4.1.57264.1.2`–`.6`, `.9`–`.22`).

use serde_json::{Map, Value};

use crate::TokenError;
use crate::config::{IdentityKind, OidcIssuerConfig};

/// The subject alternative name of a leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SubjectName {
    /// An `rfc822Name`.
    Email(String),
    /// A `uniformResourceIdentifier`.
    Uri(String),
    /// A Fulcio `OtherName` (`1.3.6.1.4.1.57264.1.7`, UTF8String).
    OtherName(String),
}

impl SubjectName {
    /// The name as text.
    pub fn value(&self) -> &str {
        match self {
            SubjectName::Email(s) | SubjectName::Uri(s) | SubjectName::OtherName(s) => s,
        }
    }
}

/// One Fulcio extension `1.3.6.1.4.1.57264.1.<arc>` with its text value. Arcs 1–6
/// are written as the raw bytes, 8 and above as a DER UTF8String (as Fulcio does).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FulcioExtension {
    /// The last arc of the OID.
    pub arc: u32,
    /// The value.
    pub value: String,
}

/// Who a certificate is for: what the CA certifies after checking a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The SAN (critical, since the subject is empty).
    pub san: SubjectName,
    /// The token's `iss`: extension `1.1` (raw) and `1.8` (UTF8String).
    pub issuer: String,
    /// The GitHub and build-metadata extensions, in arc order.
    pub build_metadata: Vec<FulcioExtension>,
    /// What a proof of possession may be a signature over, best first: the token's
    /// email for email issuers, else its `sub`, then the other one (cosign signs the
    /// email when the token has one, else `sub`).
    pub challenges: Vec<String>,
}

impl Identity {
    /// An email identity with no build metadata (for tests and benchmarks).
    pub fn email(email: impl Into<String>, issuer: impl Into<String>) -> Self {
        let email = email.into();
        Identity {
            san: SubjectName::Email(email.clone()),
            issuer: issuer.into(),
            build_metadata: Vec::new(),
            challenges: vec![email],
        }
    }
}

/// The claims of a token, checked by [`verify_claims`].
pub(crate) type Claims = Map<String, Value>;

fn string<'a>(claims: &'a Claims, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn required<'a>(claims: &'a Claims, name: &'static str) -> Result<&'a str, TokenError> {
    string(claims, name).ok_or(TokenError::MissingClaim { claim: name })
}

/// A JWT NumericDate (seconds, possibly fractional), rounded down.
fn numeric_date(claims: &Claims, name: &'static str) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or_else(|| TokenError::Malformed {
                detail: format!("claim {name:?} is not a NumericDate"),
            }),
        Some(_) => Err(TokenError::Malformed {
            detail: format!("claim {name:?} is not a number"),
        }),
    }
}

fn audiences(claims: &Claims) -> Result<Vec<String>, TokenError> {
    match claims.get("aud") {
        None | Some(Value::Null) => Err(TokenError::MissingClaim { claim: "aud" }),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| TokenError::Malformed {
                detail: "claim \"aud\" holds a non-string".into(),
            }),
        Some(_) => Err(TokenError::Malformed {
            detail: "claim \"aud\" is neither a string nor an array".into(),
        }),
    }
}

/// `email_verified`: `true`, or the string `"true"` that some providers send.
fn email_verified(claims: &Claims) -> bool {
    match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn invalid_subject(detail: impl Into<String>) -> TokenError {
    TokenError::InvalidSubject {
        detail: detail.into(),
    }
}

/// IA5String SANs (email, URI) must be printable ASCII without spaces.
fn check_ia5(what: &str, value: &str) -> Result<(), TokenError> {
    if value.len() > 2048 {
        return Err(invalid_subject(format!(
            "the {what} is longer than 2048 bytes"
        )));
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid_subject(format!(
            "the {what} {value:?} has characters other than printable ASCII"
        )));
    }
    Ok(())
}

fn check_email(email: &str) -> Result<(), TokenError> {
    check_ia5("email", email)?;
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
        {
            Ok(())
        }
        _ => Err(invalid_subject(format!(
            "{email:?} is not an email address"
        ))),
    }
}

fn check_uri(uri: &str) -> Result<(), TokenError> {
    check_ia5("URI", uri)?;
    let scheme = uri.split_once(':').map(|(s, _)| s).unwrap_or_default();
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme || uri.len() == scheme.len() + 1 {
        return Err(invalid_subject(format!("{uri:?} is not an absolute URI")));
    }
    Ok(())
}

/// The GitHub server URL of a GitHub Actions token (GitHub Enterprise sets `enterprise`
/// but no URL; Fulcio also assumes github.com).
const GITHUB_SERVER: &str = "https://github.com";

/// The GitHub and build-metadata extensions a GitHub Actions token supports, as Fulcio
/// derives them; absent claims leave their extensions out.
fn github_extensions(claims: &Claims) -> Vec<FulcioExtension> {
    let claim = |name| string(claims, name).map(str::to_owned);
    let url = |path: Option<String>| path.map(|p| format!("{GITHUB_SERVER}/{p}"));
    let run_invocation = match (
        string(claims, "repository"),
        string(claims, "run_id"),
        string(claims, "run_attempt"),
    ) {
        (Some(repo), Some(run), Some(attempt)) => Some(format!(
            "{GITHUB_SERVER}/{repo}/actions/runs/{run}/attempts/{attempt}"
        )),
        _ => None,
    };
    let values: [(u32, Option<String>); 19] = [
        (2, claim("event_name")),
        (3, claim("sha")),
        (4, claim("workflow")),
        (5, claim("repository")),
        (6, claim("ref")),
        (9, url(claim("job_workflow_ref"))),
        (10, claim("job_workflow_sha")),
        (11, claim("runner_environment")),
        (12, url(claim("repository"))),
        (13, claim("sha")),
        (14, claim("ref")),
        (15, claim("repository_id")),
        (16, url(claim("repository_owner"))),
        (17, claim("repository_owner_id")),
        (18, url(claim("workflow_ref"))),
        (19, claim("workflow_sha")),
        (20, claim("event_name")),
        (21, run_invocation),
        (22, claim("repository_visibility")),
    ];
    values
        .into_iter()
        .filter_map(|(arc, value)| value.map(|value| FulcioExtension { arc, value }))
        .collect()
}

/// Checks the claims of a token whose signature has been verified, at `now` (unix
/// seconds) with `leeway` seconds of clock skew, and returns the identity to certify.
///
/// # Errors
/// [`TokenError::WrongAudience`], [`TokenError::Expired`], [`TokenError::NotYetValid`],
/// [`TokenError::IssuedInFuture`], [`TokenError::MissingClaim`],
/// [`TokenError::EmailNotVerified`], [`TokenError::InvalidSubject`] or
/// [`TokenError::Malformed`].
pub(crate) fn verify_claims(
    claims: &Claims,
    issuer: &OidcIssuerConfig,
    now: i64,
    leeway: i64,
) -> Result<Identity, TokenError> {
    let iss = required(claims, "iss")?;
    if iss != issuer.url {
        return Err(TokenError::UnknownIssuer {
            issuer: iss.chars().take(200).collect(),
        });
    }
    let found = audiences(claims)?;
    if !found.contains(&issuer.audience) {
        return Err(TokenError::WrongAudience {
            expected: issuer.audience.clone(),
            found,
        });
    }
    let exp = numeric_date(claims, "exp")?.ok_or(TokenError::MissingClaim { claim: "exp" })?;
    if now >= exp.saturating_add(leeway) {
        return Err(TokenError::Expired { exp, now });
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now.saturating_add(leeway) < nbf
    {
        return Err(TokenError::NotYetValid { nbf, now });
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > now.saturating_add(leeway)
    {
        return Err(TokenError::IssuedInFuture { iat, now });
    }
    let sub = required(claims, "sub")?;
    let email = string(claims, "email");

    let (san, primary) = match issuer.kind {
        IdentityKind::Email => {
            let email = email.ok_or(TokenError::MissingClaim { claim: "email" })?;
            if !email_verified(claims) {
                return Err(TokenError::EmailNotVerified {
                    email: email.to_owned(),
                });
            }
            check_email(email)?;
            (SubjectName::Email(email.to_owned()), email)
        }
        IdentityKind::Uri => {
            check_uri(sub)?;
            if let Some(prefix) = &issuer.subject_domain
                && !sub.starts_with(prefix.as_str())
            {
                return Err(invalid_subject(format!(
                    "{sub:?} does not start with this issuer's subject domain {prefix:?}"
                )));
            }
            (SubjectName::Uri(sub.to_owned()), sub)
        }
        IdentityKind::Username => {
            if sub.contains('!') || sub.chars().any(char::is_control) {
                return Err(invalid_subject(format!(
                    "the username {sub:?} contains '!' or control characters"
                )));
            }
            let name = match &issuer.subject_domain {
                Some(domain) => format!("{sub}!{domain}"),
                None => sub.to_owned(),
            };
            (SubjectName::OtherName(name), sub)
        }
        IdentityKind::GithubWorkflow => {
            let workflow = required(claims, "job_workflow_ref")?;
            let uri = format!("{GITHUB_SERVER}/{workflow}");
            check_uri(&uri)?;
            (SubjectName::Uri(uri), sub)
        }
    };

    let mut challenges = vec![primary.to_owned()];
    for other in [email, Some(sub)].into_iter().flatten() {
        if !challenges.iter().any(|c| c == other) {
            challenges.push(other.to_owned());
        }
    }
    let build_metadata = if string(claims, "job_workflow_ref").is_some() {
        github_extensions(claims)
    } else {
        Vec::new()
    };
    Ok(Identity {
        san,
        issuer: iss.to_owned(),
        build_metadata,
        challenges,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn issuer(kind: IdentityKind) -> OidcIssuerConfig {
        OidcIssuerConfig::new("https://issuer.example", kind)
    }

    fn claims(extra: Value) -> Claims {
        let mut c = json!({
            "iss": "https://issuer.example",
            "sub": "alice-id",
            "aud": "sigstore",
            "iat": NOW - 10,
            "nbf": NOW - 10,
            "exp": NOW + 600,
            "email": "alice@example.com",
            "email_verified": true,
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(&k);
            } else {
                c[k] = v;
            }
        }
        c.as_object().cloned().unwrap()
    }

    fn check(extra: Value, kind: IdentityKind) -> Result<Identity, TokenError> {
        verify_claims(&claims(extra), &issuer(kind), NOW, 60)
    }

    #[test]
    fn email_identity() {
        let id = check(json!({}), IdentityKind::Email).unwrap();
        assert_eq!(id.san, SubjectName::Email("alice@example.com".into()));
        assert_eq!(id.issuer, "https://issuer.example");
        assert_eq!(id.challenges, ["alice@example.com", "alice-id"]);
        assert!(id.build_metadata.is_empty());
        // "true" as a string is accepted; anything else is not.
        check(json!({"email_verified": "true"}), IdentityKind::Email).unwrap();
        for bad in [json!(false), json!("yes"), Value::Null] {
            assert_eq!(
                check(json!({ "email_verified": bad }), IdentityKind::Email),
                Err(TokenError::EmailNotVerified {
                    email: "alice@example.com".into()
                })
            );
        }
        assert_eq!(
            check(json!({"email": null}), IdentityKind::Email),
            Err(TokenError::MissingClaim { claim: "email" })
        );
        assert_eq!(
            check(json!({"email": "no-at-sign"}), IdentityKind::Email),
            Err(invalid_subject(r#""no-at-sign" is not an email address"#))
        );
        assert_eq!(
            check(json!({"email": "a b@example.com"}), IdentityKind::Email),
            Err(invalid_subject(
                r#"the email "a b@example.com" has characters other than printable ASCII"#
            ))
        );
    }

    #[test]
    fn time_claims_use_the_leeway() {
        assert_eq!(
            check(json!({"exp": NOW - 60}), IdentityKind::Email),
            Err(TokenError::Expired {
                exp: NOW - 60,
                now: NOW
            })
        );
        check(json!({"exp": NOW - 59}), IdentityKind::Email).unwrap();
        assert_eq!(
            check(json!({"nbf": NOW + 61}), IdentityKind::Email),
            Err(TokenError::NotYetValid {
                nbf: NOW + 61,
                now: NOW
            })
        );
        check(json!({"nbf": NOW + 60}), IdentityKind::Email).unwrap();
        assert_eq!(
            check(json!({"iat": NOW + 61}), IdentityKind::Email),
            Err(TokenError::IssuedInFuture {
                iat: NOW + 61,
                now: NOW
            })
        );
        assert_eq!(
            check(json!({"exp": null}), IdentityKind::Email),
            Err(TokenError::MissingClaim { claim: "exp" })
        );
        check(json!({"exp": (NOW + 10) as f64 + 0.5}), IdentityKind::Email).unwrap();
        assert_eq!(
            check(json!({"exp": "soon"}), IdentityKind::Email),
            Err(TokenError::Malformed {
                detail: r#"claim "exp" is not a number"#.into()
            })
        );
    }

    #[test]
    fn audience_must_include_the_configured_one() {
        check(json!({"aud": ["other", "sigstore"]}), IdentityKind::Email).unwrap();
        assert_eq!(
            check(json!({"aud": "other"}), IdentityKind::Email),
            Err(TokenError::WrongAudience {
                expected: "sigstore".into(),
                found: vec!["other".into()]
            })
        );
        assert_eq!(
            check(json!({"aud": null}), IdentityKind::Email),
            Err(TokenError::MissingClaim { claim: "aud" })
        );
    }

    #[test]
    fn uri_and_username_identities() {
        let id = check(
            json!({"sub": "spiffe://example.org/ns/a", "email": null}),
            IdentityKind::Uri,
        )
        .unwrap();
        assert_eq!(id.san, SubjectName::Uri("spiffe://example.org/ns/a".into()));
        assert_eq!(id.challenges, ["spiffe://example.org/ns/a"]);
        assert_eq!(
            check(json!({"sub": "urn-without-a-colon"}), IdentityKind::Uri),
            Err(invalid_subject(
                r#""urn-without-a-colon" is not an absolute URI"#
            ))
        );
        assert_eq!(
            check(json!({"sub": "not a uri"}), IdentityKind::Uri),
            Err(invalid_subject(
                r#"the URI "not a uri" has characters other than printable ASCII"#
            ))
        );
        let mut domain = issuer(IdentityKind::Uri);
        domain.subject_domain = Some("https://allowed.example/".into());
        assert_eq!(
            verify_claims(
                &claims(json!({"sub": "https://evil.example/x"})),
                &domain,
                NOW,
                60
            ),
            Err(invalid_subject(
                r#""https://evil.example/x" does not start with this issuer's subject domain "https://allowed.example/""#
            ))
        );
        let mut user = issuer(IdentityKind::Username);
        user.subject_domain = Some("example.org".into());
        let id = verify_claims(&claims(json!({})), &user, NOW, 60).unwrap();
        assert_eq!(
            id.san,
            SubjectName::OtherName("alice-id!example.org".into())
        );
        assert_eq!(id.challenges[0], "alice-id");
    }

    #[test]
    fn github_actions_claims_become_extensions() {
        let id = check(
            json!({
                "sub": "repo:octo/app:ref:refs/heads/main",
                "email": null,
                "job_workflow_ref": "octo/app/.github/workflows/release.yml@refs/heads/main",
                "job_workflow_sha": "b1",
                "sha": "a0",
                "event_name": "push",
                "workflow": "release",
                "repository": "octo/app",
                "ref": "refs/heads/main",
                "repository_id": "42",
                "repository_owner": "octo",
                "repository_owner_id": "7",
                "workflow_ref": "octo/app/.github/workflows/release.yml@refs/heads/main",
                "workflow_sha": "a0",
                "run_id": "99",
                "run_attempt": "1",
                "runner_environment": "github-hosted",
                "repository_visibility": "public",
            }),
            IdentityKind::GithubWorkflow,
        )
        .unwrap();
        assert_eq!(
            id.san,
            SubjectName::Uri(
                "https://github.com/octo/app/.github/workflows/release.yml@refs/heads/main".into()
            )
        );
        let arcs: Vec<u32> = id.build_metadata.iter().map(|e| e.arc).collect();
        assert_eq!(
            arcs,
            [
                2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22
            ]
        );
        let value = |arc| {
            id.build_metadata
                .iter()
                .find(|e| e.arc == arc)
                .map(|e| e.value.as_str())
        };
        assert_eq!(value(5), Some("octo/app"));
        assert_eq!(value(12), Some("https://github.com/octo/app"));
        assert_eq!(
            value(21),
            Some("https://github.com/octo/app/actions/runs/99/attempts/1")
        );
        assert_eq!(
            check(json!({}), IdentityKind::GithubWorkflow),
            Err(TokenError::MissingClaim {
                claim: "job_workflow_ref"
            })
        );
    }

    #[test]
    fn issuer_must_be_the_configured_one() {
        assert_eq!(
            check(json!({"iss": "https://other.example"}), IdentityKind::Email),
            Err(TokenError::UnknownIssuer {
                issuer: "https://other.example".into()
            })
        );
    }
}
