//! OIDC identity tokens for keyless signing: where they come from, and the claims a
//! signer needs before the CA has checked them (the subject for the proof of
//! possession, the issuer for messages).
//!
//! The token is not verified here: that is the certificate authority's job. Its claims
//! are read only to build the request, and the CA's certificate is checked against the
//! expected identity afterwards.

use std::fmt;

use base64::Engine as _;
use serde_json::Value;

use super::KeylessError;

/// The environment variable cosign and sigstore-python read a token from.
pub const SIGSTORE_ID_TOKEN: &str = "SIGSTORE_ID_TOKEN";
/// GitHub Actions: the URL that mints an OIDC token for the running workflow.
pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// GitHub Actions: the bearer token for [`ACTIONS_ID_TOKEN_REQUEST_URL`].
pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";

/// A JWT identity token, with the unverified claims a signer uses.
#[derive(Clone)]
pub struct IdentityToken {
    raw: String,
    issuer: String,
    subject: String,
    email: Option<String>,
}

impl fmt::Debug for IdentityToken {
    // Never print the token itself: it is a bearer credential.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityToken")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

impl IdentityToken {
    /// Reads the claims of a compact JWT (`header.payload.signature`).
    ///
    /// # Errors
    /// [`KeylessError::MalformedToken`] when it is not a JWT with `iss` and `sub`.
    pub fn parse(raw: &str) -> Result<Self, KeylessError> {
        let raw = raw.trim();
        let bad = |reason: &str| KeylessError::MalformedToken {
            reason: reason.to_string(),
        };
        let mut parts = raw.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not three dot-separated parts"));
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| bad("the payload is not base64url"))?;
        let claims: Value =
            serde_json::from_slice(&bytes).map_err(|_| bad("the payload is not JSON"))?;
        let text = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_string);
        let issuer = text("iss").ok_or_else(|| bad("no `iss` claim"))?;
        let subject = text("sub").ok_or_else(|| bad("no `sub` claim"))?;
        Ok(IdentityToken {
            raw: raw.to_string(),
            issuer,
            subject,
            email: text("email"),
        })
    }

    /// The compact JWT.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// What the certificate will name and what the proof of possession signs: the
    /// `email` claim when there is one, else `sub` (as cosign and Fulcio do).
    pub fn principal(&self) -> &str {
        self.email.as_deref().unwrap_or(&self.subject)
    }
}

/// Where the token came from, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// `--identity-token`.
    Flag,
    /// The `SIGSTORE_ID_TOKEN` environment variable.
    Environment,
    /// GitHub Actions' ambient credentials.
    GitHubActions,
}

/// Finds a token: the flag's value, then `SIGSTORE_ID_TOKEN`, then GitHub Actions'
/// ambient credentials (requested for `audience`).
///
/// # Errors
/// [`KeylessError::NoToken`] when no source has one; [`KeylessError::Http`] or
/// [`KeylessError::MalformedToken`] when GitHub's endpoint fails.
pub async fn find_token(
    client: &reqwest::Client,
    flag: Option<&str>,
    audience: &str,
) -> Result<(IdentityToken, TokenSource), KeylessError> {
    if let Some(raw) = flag.filter(|s| !s.trim().is_empty()) {
        return Ok((read_flag(raw)?, TokenSource::Flag));
    }
    if let Ok(raw) = std::env::var(SIGSTORE_ID_TOKEN)
        && !raw.trim().is_empty()
    {
        return Ok((IdentityToken::parse(&raw)?, TokenSource::Environment));
    }
    if let (Ok(url), Ok(bearer)) = (
        std::env::var(ACTIONS_ID_TOKEN_REQUEST_URL),
        std::env::var(ACTIONS_ID_TOKEN_REQUEST_TOKEN),
    ) {
        let token = github_actions_token(client, &url, &bearer, audience).await?;
        return Ok((token, TokenSource::GitHubActions));
    }
    Err(KeylessError::NoToken)
}

/// A flag value is the token, or `@FILE` or the path of a file holding it (as cosign
/// accepts).
fn read_flag(raw: &str) -> Result<IdentityToken, KeylessError> {
    let path = raw.strip_prefix('@').unwrap_or(raw);
    if raw.starts_with('@') || std::path::Path::new(path).is_file() {
        let text = std::fs::read_to_string(path).map_err(|source| KeylessError::TokenFile {
            path: path.into(),
            source,
        })?;
        return IdentityToken::parse(&text);
    }
    IdentityToken::parse(raw)
}

async fn github_actions_token(
    client: &reqwest::Client,
    url: &str,
    bearer: &str,
    audience: &str,
) -> Result<IdentityToken, KeylessError> {
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}audience={audience}");
    let body = super::http::get_json(
        client,
        &url,
        Some(&format!("bearer {bearer}")),
        "GitHub Actions OIDC",
    )
    .await?;
    let value = body.get("value").and_then(Value::as_str).ok_or_else(|| {
        KeylessError::MalformedResponse {
            service: "GitHub Actions OIDC",
            reason: "no `value` field".into(),
        }
    })?;
    IdentityToken::parse(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", e(r#"{"alg":"ES256"}"#), e(claims))
    }

    #[test]
    fn claims_are_read_and_the_principal_prefers_email() {
        let t = IdentityToken::parse(&jwt(
            r#"{"iss":"https://issuer.example","sub":"1234","email":"a@example.com"}"#,
        ))
        .unwrap();
        assert_eq!(t.issuer(), "https://issuer.example");
        assert_eq!(t.principal(), "a@example.com");
        let t = IdentityToken::parse(&jwt(r#"{"iss":"https://i","sub":"repo:x/y"}"#)).unwrap();
        assert_eq!(t.principal(), "repo:x/y");
        assert!(!format!("{t:?}").contains(t.as_str()));
    }

    #[test]
    fn malformed_tokens_say_why() {
        for (raw, why) in [
            ("abc", "three"),
            ("a.!!!.c", "base64url"),
            (&jwt("[1]") as &str, "`iss`"),
            (&jwt(r#"{"iss":"x"}"#), "`sub`"),
            (&jwt("not json"), "JSON"),
        ] {
            let err = IdentityToken::parse(raw).unwrap_err().to_string();
            assert!(err.contains(why), "{raw}: {err}");
        }
    }
}
