//! Keyless signing for `sign` and `sign-blob`: the token (given, ambient, or from an
//! interactive sign-in), the services (flags, else a signing config, else the
//! public-good instance), and the trusted root each new bundle is checked against
//! before anything is written.

use std::io::IsTerminal as _;
use std::time::Duration;

use anyhow::{Context, Result};
use signet_formats::sigstore::{Service, SigningConfig, UnixTime};
use signet_sign::keyless::interactive::{DEFAULT_BROWSER_TIMEOUT, DEFAULT_ISSUER};
use signet_sign::keyless::{
    AuthFlow, IdentityToken, KeylessSigner, OidcClient, Prompt, Services, TokenOptions,
    TokenSource, find_token, open_browser,
};
use signet_verify::bundle::BundleVerifier;

use crate::cli::{AuthFlowArg, KeylessArgs};

const PUBLIC_FULCIO: &str = "https://fulcio.sigstore.dev";
const PUBLIC_REKOR: &str = "https://rekor.sigstore.dev";

/// Everything a [`signet_sign::keyless::KeylessSigner`] borrows.
pub(crate) struct Keyless {
    pub(crate) client: reqwest::Client,
    pub(crate) services: Services,
    pub(crate) token: IdentityToken,
    pub(crate) verifier: BundleVerifier,
}

/// The current time, for signing and for picking services.
pub(crate) fn now() -> UnixTime {
    UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    )
}

impl Keyless {
    /// The signer that borrows all of this.
    pub(crate) fn signer(&self) -> KeylessSigner<'_> {
        KeylessSigner::new(&self.client, &self.services, &self.token, &self.verifier)
    }
}

/// The first service valid now (and of `version`, when given).
fn pick(services: &[Service], version: Option<u32>) -> Option<String> {
    let now = now();
    services
        .iter()
        .find(|s| s.valid_for.contains(now) && version.is_none_or(|v| s.major_api_version == v))
        .map(|s| s.url.clone())
}

/// Resolves the services and trust, then finds the token (last, since a missing one
/// is the likeliest error and the others are cheaper to report first).
pub(crate) async fn prepare(args: &KeylessArgs) -> Result<Keyless> {
    let config = match &args.signing_config {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("reading signing config {}", path.display()))?;
            Some(
                SigningConfig::parse(&bytes)
                    .with_context(|| format!("signing config {}", path.display()))?,
            )
        }
        None => None,
    };
    let from_config = |f: fn(&SigningConfig) -> Option<String>| config.as_ref().and_then(f);
    let services = Services {
        fulcio_url: args
            .fulcio_url
            .clone()
            .or_else(|| from_config(|c| pick(&c.ca_urls, None)))
            .unwrap_or_else(|| PUBLIC_FULCIO.into()),
        rekor_url: args
            .rekor_url
            .clone()
            .or_else(|| from_config(|c| pick(&c.rekor_tlog_urls, Some(1))))
            .unwrap_or_else(|| PUBLIC_REKOR.into()),
        tsa_url: args
            .timestamp_server_url
            .clone()
            .or_else(|| from_config(|c| pick(&c.tsa_urls, None))),
    };
    if let Some(c) = &config
        && args.rekor_url.is_none()
        && pick(&c.rekor_tlog_urls, Some(1)).is_none()
        && !c.rekor_tlog_urls.is_empty()
    {
        anyhow::bail!(
            "the signing config lists only Rekor v2 logs, which signet cannot write to yet; pass --rekor-url for a Rekor v1 log"
        );
    }
    let root = crate::blob::load_trusted_root(args.signing_trusted_root.as_deref(), false)?;
    let verifier = BundleVerifier::new(&root).context("trusted root")?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("signet/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;
    let client_secret = match &args.oidc_client_secret_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("reading the OIDC client secret {}", path.display()))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let issuer = args
        .oidc_issuer
        .clone()
        .or_else(|| from_config(|c| pick(&c.oidc_urls, None)))
        .unwrap_or_else(|| DEFAULT_ISSUER.into());
    let options = TokenOptions {
        identity_token: args.identity_token.as_deref(),
        audience: &args.oidc_audience,
        flow: args.fulcio_auth_flow.map(|f| match f {
            AuthFlowArg::Normal => AuthFlow::Browser,
            AuthFlowArg::Device => AuthFlow::Device,
            AuthFlowArg::Token => AuthFlow::Token,
        }),
        oidc: OidcClient {
            issuer,
            client_id: args.oidc_client_id.clone(),
            client_secret,
            redirect_url: args.oidc_redirect_url.clone(),
        },
        terminal: std::io::stdin().is_terminal(),
        browser_timeout: DEFAULT_BROWSER_TIMEOUT,
    };
    let mut prompt = |p: &Prompt<'_>| {
        eprintln!("{p}");
        if let Prompt::Browser { url } = p {
            // Failing to start a browser is fine: the URL is printed.
            open_browser(url);
        }
    };
    let (token, source) = find_token(&client, &options, &mut prompt).await?;
    let from = match source {
        TokenSource::Flag => "--identity-token",
        TokenSource::Environment => "SIGSTORE_ID_TOKEN",
        TokenSource::GitHubActions => "GitHub Actions",
        TokenSource::Device => "the device flow",
        TokenSource::Browser => "a browser sign-in",
    };
    eprintln!(
        "Signing keylessly as {} (issuer {}, token from {from}) through {} and {}",
        token.principal(),
        token.issuer(),
        services.fulcio_url,
        services.rekor_url
    );
    Ok(Keyless {
        client,
        services,
        token,
        verifier,
    })
}
