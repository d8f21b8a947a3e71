//! What the certificate authority trusts and how long its certificates live.

use std::time::Duration;

use serde::Deserialize;

use crate::CaError;

/// The audience Sigstore clients request tokens for (`--oidc-client-id`'s default).
pub const DEFAULT_AUDIENCE: &str = "sigstore";

/// How a token's claims become the certificate's subject alternative name
/// (Fulcio's issuer `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum IdentityKind {
    /// The `email` claim, which the issuer must mark `email_verified`, becomes an
    /// `rfc822Name` SAN (Google, Microsoft, Dex, the development issuer).
    Email,
    /// The `sub` claim, which must be an absolute URI (starting with the issuer's
    /// `subject_domain` when one is set), becomes a URI SAN (SPIFFE, workload identities).
    Uri,
    /// The `sub` claim becomes a Fulcio `OtherName` SAN (`1.3.6.1.4.1.57264.1.7`),
    /// as `sub!subject_domain` when a subject domain is set.
    Username,
    /// GitHub Actions: `<server>/<job_workflow_ref>` becomes a URI SAN, and the
    /// workflow claims become the GitHub and build-metadata extensions.
    GithubWorkflow,
}

/// One OIDC issuer whose tokens the CA accepts.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcIssuerConfig {
    /// The issuer URL, compared byte for byte with the token's `iss`; its discovery
    /// document is `<url>/.well-known/openid-configuration`.
    pub url: String,
    /// How the identity is read from the token.
    #[serde(rename = "type")]
    pub kind: IdentityKind,
    /// The `aud` the token must carry (the client ID); `sigstore` by default.
    #[serde(default = "default_audience", alias = "client_id")]
    pub audience: String,
    /// For [`IdentityKind::Uri`]: the prefix the `sub` URI must start with. For
    /// [`IdentityKind::Username`]: the domain appended as `sub!domain`.
    #[serde(default)]
    pub subject_domain: Option<String>,
}

fn default_audience() -> String {
    DEFAULT_AUDIENCE.to_owned()
}

impl OidcIssuerConfig {
    /// An issuer with the default audience and no subject domain.
    pub fn new(url: impl Into<String>, kind: IdentityKind) -> Self {
        OidcIssuerConfig {
            url: url.into(),
            kind,
            audience: DEFAULT_AUDIENCE.to_owned(),
            subject_domain: None,
        }
    }
}

/// The certificate authority's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaConfig {
    /// The issuers whose tokens are accepted. A token from any other issuer is
    /// rejected before anything is fetched.
    pub issuers: Vec<OidcIssuerConfig>,
    /// How long leaf certificates are valid (Fulcio: 10 minutes).
    pub leaf_validity: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub clock_leeway: Duration,
    /// How long a fetched JWKS is used before it is fetched again.
    pub jwks_cache_ttl: Duration,
    /// Timeout of each discovery or JWKS request.
    pub http_timeout: Duration,
    /// The `O=` of the generated root and intermediate (only used on first start).
    pub organization: String,
}

impl Default for CaConfig {
    fn default() -> Self {
        CaConfig {
            issuers: Vec::new(),
            leaf_validity: Duration::from_secs(600),
            clock_leeway: Duration::from_secs(60),
            jwks_cache_ttl: Duration::from_secs(300),
            http_timeout: Duration::from_secs(10),
            organization: "signet".to_owned(),
        }
    }
}

impl CaConfig {
    /// The default configuration trusting `issuers`.
    pub fn with_issuers(issuers: Vec<OidcIssuerConfig>) -> Self {
        CaConfig {
            issuers,
            ..CaConfig::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), CaError> {
        let invalid = |detail: String| Err(CaError::InvalidConfig { detail });
        for (i, issuer) in self.issuers.iter().enumerate() {
            if !(issuer.url.starts_with("https://") || issuer.url.starts_with("http://")) {
                return invalid(format!(
                    "issuer {i} url {:?} is not an http(s) URL",
                    issuer.url
                ));
            }
            if issuer.audience.is_empty() {
                return invalid(format!("issuer {:?} has an empty audience", issuer.url));
            }
            if self.issuers[..i].iter().any(|o| o.url == issuer.url) {
                return invalid(format!("issuer {:?} is listed twice", issuer.url));
            }
        }
        if self.leaf_validity.is_zero() || self.leaf_validity > Duration::from_secs(86_400) {
            return invalid(format!(
                "leaf_validity {:?} must be between 1 s and 24 h",
                self.leaf_validity
            ));
        }
        check_organization(&self.organization)
    }
}

/// The `O=` of generated certificates: non-empty, and nothing RFC 4514 would parse.
pub(crate) fn check_organization(organization: &str) -> Result<(), CaError> {
    if organization.is_empty() || organization.contains([',', '+', '=', '"', '\\']) {
        return Err(CaError::InvalidConfig {
            detail: format!("organization {organization:?} must be non-empty plain text"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_config_reads_like_fulcio_config() {
        let issuer: OidcIssuerConfig = serde_json::from_value(serde_json::json!({
            "url": "https://token.actions.githubusercontent.com",
            "type": "github-workflow",
        }))
        .unwrap();
        assert_eq!(issuer.kind, IdentityKind::GithubWorkflow);
        assert_eq!(issuer.audience, "sigstore");
        let issuer: OidcIssuerConfig = serde_json::from_value(serde_json::json!({
            "url": "https://dex.example", "type": "email", "client_id": "mine",
        }))
        .unwrap();
        assert_eq!(issuer.audience, "mine");
    }

    #[test]
    fn validation_names_the_problem() {
        let mut config = CaConfig::with_issuers(vec![
            OidcIssuerConfig::new("https://a.example", IdentityKind::Email),
            OidcIssuerConfig::new("https://a.example", IdentityKind::Uri),
        ]);
        let invalid = |config: &CaConfig| match config.validate() {
            Err(CaError::InvalidConfig { detail }) => detail,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        assert_eq!(
            invalid(&config),
            "issuer \"https://a.example\" is listed twice"
        );
        config.issuers.pop();
        config.validate().unwrap();
        config.organization = "a,b".into();
        assert_eq!(
            invalid(&config),
            "organization \"a,b\" must be non-empty plain text"
        );
        config.organization = "signet".into();
        config.issuers[0].url = "ftp://x".into();
        assert_eq!(
            invalid(&config),
            "issuer 0 url \"ftp://x\" is not an http(s) URL"
        );
    }
}
