//! OIDC identity tokens for keyless signing: where they come from, and the claims a
//! signer needs before the CA has checked them (the subject for the proof of
//! possession, the issuer for messages).
//!
//! The token is not verified here: that is the certificate authority's job. Its claims
//! are read only to build the request, and the CA's certificate is checked against the
//! expected identity afterwards.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::KeylessError;
use super::interactive::{self, AuthFlow, OidcClient, Prompt};

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
        Self::from_claims(raw, &unverified_claims(raw)?)
    }

    /// The token `raw` whose payload is `claims` (from [`unverified_claims`]).
    pub(crate) fn from_claims(raw: &str, claims: &Value) -> Result<Self, KeylessError> {
        let bad = |reason: &str| KeylessError::MalformedToken {
            reason: reason.to_string(),
        };
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

/// The payload of a compact JWT (`header.payload.signature`), unverified.
pub(crate) fn unverified_claims(raw: &str) -> Result<Value, KeylessError> {
    let bad = |reason: &str| KeylessError::MalformedToken {
        reason: reason.to_string(),
    };
    let mut parts = raw.trim().split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("not three dot-separated parts"));
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| bad("the payload is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| bad("the payload is not JSON"))
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
    /// The device flow (RFC 8628) against the OIDC issuer.
    Device,
    /// The browser flow (authorization code with PKCE) against the OIDC issuer.
    Browser,
}

/// Where [`find_token`] looks, and how it may sign in.
pub struct TokenOptions<'a> {
    /// `--identity-token`: a JWT, `@FILE`, or the path of a file holding one.
    pub identity_token: Option<&'a str>,
    /// The audience requested from ambient CI credentials.
    pub audience: &'a str,
    /// `--fulcio-auth-flow`; `None` chooses (see [`find_token`]).
    pub flow: Option<AuthFlow>,
    /// The issuer and client for interactive sign-in.
    pub oidc: OidcClient,
    /// Whether stdin is a terminal (the browser flow is then the default, as in cosign).
    pub terminal: bool,
    /// How long the browser flow waits for the redirect back.
    pub browser_timeout: Duration,
}

impl fmt::Debug for TokenOptions<'_> {
    // The token is a bearer credential: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenOptions")
            .field("identity_token", &self.identity_token.map(|_| "…"))
            .field("audience", &self.audience)
            .field("flow", &self.flow)
            .field("oidc", &self.oidc)
            .field("terminal", &self.terminal)
            .field("browser_timeout", &self.browser_timeout)
            .finish()
    }
}

impl TokenOptions<'_> {
    /// No token given, audience `sigstore`, cosign's default issuer and client, the
    /// flow chosen as [`find_token`] says, not a terminal, a 120 s browser wait.
    pub fn new() -> Self {
        TokenOptions {
            identity_token: None,
            audience: interactive::DEFAULT_CLIENT_ID,
            flow: None,
            oidc: OidcClient::new(interactive::DEFAULT_ISSUER),
            terminal: false,
            browser_timeout: interactive::DEFAULT_BROWSER_TIMEOUT,
        }
    }
}

impl Default for TokenOptions<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// Finds a token, as cosign does:
/// - with `flow` [`AuthFlow::Token`], or with none: the flag's value, then
///   `SIGSTORE_ID_TOKEN`, then GitHub Actions' ambient credentials (requested for
///   `audience`);
/// - with [`AuthFlow::Browser`] or [`AuthFlow::Device`] (forced), or with none when no
///   token was found above: an interactive sign-in at `oidc.issuer`, the browser flow
///   when stdin is a terminal, else the device flow (after a
///   [`Prompt::NonInteractive`]). What the user must do goes to `prompt`.
///
/// # Errors
/// [`KeylessError::NoToken`] when `flow` is [`AuthFlow::Token`] and no source has one;
/// [`KeylessError::Http`] or [`KeylessError::MalformedToken`] when GitHub's endpoint
/// fails; any error of [`interactive::discover`], [`interactive::device_flow`] or
/// [`interactive::browser_flow`].
pub async fn find_token(
    client: &reqwest::Client,
    options: &TokenOptions<'_>,
    prompt: &mut (dyn FnMut(&Prompt<'_>) + Send),
) -> Result<(IdentityToken, TokenSource), KeylessError> {
    let interactive_flow = match options.flow {
        Some(AuthFlow::Token) => {
            return given_token(client, options.identity_token, options.audience)
                .await?
                .ok_or(KeylessError::NoToken);
        }
        Some(flow) => flow,
        None => {
            if let Some(found) =
                given_token(client, options.identity_token, options.audience).await?
            {
                return Ok(found);
            }
            if options.terminal {
                AuthFlow::Browser
            } else {
                prompt(&Prompt::NonInteractive);
                AuthFlow::Device
            }
        }
    };
    let endpoints = interactive::discover(client, &options.oidc.issuer).await?;
    if interactive_flow == AuthFlow::Browser {
        let token = interactive::browser_flow(
            client,
            &options.oidc,
            &endpoints,
            options.browser_timeout,
            prompt,
        )
        .await?;
        Ok((token, TokenSource::Browser))
    } else {
        let token = interactive::device_flow(client, &options.oidc, &endpoints, prompt).await?;
        Ok((token, TokenSource::Device))
    }
}

/// The flag's value, then `SIGSTORE_ID_TOKEN`, then GitHub Actions' ambient
/// credentials; `None` when none is there.
async fn given_token(
    client: &reqwest::Client,
    flag: Option<&str>,
    audience: &str,
) -> Result<Option<(IdentityToken, TokenSource)>, KeylessError> {
    if let Some(raw) = flag.filter(|s| !s.trim().is_empty()) {
        return Ok(Some((read_flag(raw)?, TokenSource::Flag)));
    }
    if let Ok(raw) = std::env::var(SIGSTORE_ID_TOKEN)
        && !raw.trim().is_empty()
    {
        return Ok(Some((
            IdentityToken::parse(&raw)?,
            TokenSource::Environment,
        )));
    }
    if let (Ok(url), Ok(bearer)) = (
        std::env::var(ACTIONS_ID_TOKEN_REQUEST_URL),
        std::env::var(ACTIONS_ID_TOKEN_REQUEST_TOKEN),
    ) {
        let token = github_actions_token(client, &url, &bearer, audience).await?;
        return Ok(Some((token, TokenSource::GitHubActions)));
    }
    Ok(None)
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
            ("abc", "not three dot-separated parts"),
            ("a.!!!.c", "the payload is not base64url"),
            (&jwt("[1]") as &str, "no `iss` claim"),
            (&jwt(r#"{"iss":"x"}"#), "no `sub` claim"),
            (&jwt("not json"), "the payload is not JSON"),
        ] {
            let err = IdentityToken::parse(raw).unwrap_err();
            assert!(
                matches!(&err, KeylessError::MalformedToken { reason } if reason == why),
                "{raw}: {err:?}"
            );
        }
    }
}
