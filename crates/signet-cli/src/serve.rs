//! `signet serve`: a private Sigstore stack in one process — the Fulcio-compatible CA
//! (`signet-ca`), the Rekor-compatible log (`signet-log`), the RFC 3161 TSA and, with
//! `--dev-oidc`, a development OIDC issuer — on one address, with the trust files that
//! point clients at it. `signet dev-token` mints a token from the dev issuer.
//!
//! `<data-dir>/trust/`: `trusted_root.json`, `signing_config.json` (v0.2),
//! `client_trust_config.json` (sigstore-python's `--trust-config`), and for cosign 2.x
//! `fulcio_chain.pem` (`SIGSTORE_ROOT_FILE`), `rekor.pub` (`SIGSTORE_REKOR_PUBLIC_KEY`),
//! `ctlog.pub` (`SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`) and `tsa_chain.pem`.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use signet_ca::{CaConfig, CaService, DevOidc, OidcIssuerConfig, TsaConfig, TsaService};
use signet_formats::sigstore::TrustedRoot;
use signet_log::{LogConfig, LogService};

use crate::cli::{DevTokenArgs, ServeArgs, ServeService};

/// The optional `--config` file (YAML or JSON).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeConfig {
    /// OIDC issuers the CA trusts (besides the dev issuer with `--dev-oidc`).
    #[serde(default)]
    issuers: Vec<OidcIssuerConfig>,
    /// The URL clients reach the stack at (default: `http://<addr>`).
    #[serde(default)]
    url: Option<String>,
}

fn read_config(path: Option<&Path>) -> Result<ServeConfig> {
    let Some(path) = path else {
        return Ok(ServeConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading serve config {}", path.display()))?;
    serde_saphyr::from_str(&text).with_context(|| format!("serve config {}", path.display()))
}

/// The files under `<data-dir>/trust/` that describe the stack to clients.
struct TrustFiles {
    trusted_root: Value,
    signing_config: Value,
    /// PEM files for cosign 2.x's environment variables, and the TrustRoot resource:
    /// (file name, contents).
    pem: Vec<(&'static str, String)>,
}

fn service(url: &str, start: &str) -> Value {
    json!({"url": url, "majorApiVersion": 1, "operator": "signet", "validFor": {"start": start}})
}

fn write_trust(dir: &Path, files: &TrustFiles) -> Result<()> {
    let trust = dir.join("trust");
    std::fs::create_dir_all(&trust).with_context(|| format!("creating {}", trust.display()))?;
    let client = json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": files.trusted_root,
        "signingConfig": files.signing_config,
    });
    let json = |v: &Value| serde_json::to_string_pretty(v).map(|t| t + "\n");
    let mut out = vec![
        ("trusted_root.json", json(&files.trusted_root)?),
        ("signing_config.json", json(&files.signing_config)?),
        ("client_trust_config.json", json(&client)?),
    ];
    out.extend(files.pem.iter().cloned());
    for (name, text) in out {
        // Written whole and renamed: a client never reads half a file.
        let path = trust.join(name);
        let tmp = trust.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn rfc3339(seconds: i64) -> String {
    signet_formats::sigstore::UnixTime(seconds).to_rfc3339()
}

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    // The services log rejections (one line each, never a token) and warnings through
    // `tracing`; print them on stderr.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let config = read_config(args.config.as_deref())?;
    let data = &args.data_dir;
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let bound: SocketAddr = listener.local_addr()?;
    let url = args
        .url
        .clone()
        .or(config.url.clone())
        .unwrap_or_else(|| format!("http://{bound}"));
    let url = url.trim_end_matches('/').to_string();
    let wants = |s: ServeService| args.service.is_none_or(|only| only == s);

    let mut app = axum::Router::new();
    let mut lines = Vec::new();
    let dev = if args.dev_oidc {
        let dev = DevOidc::open(data, &url).context("opening the dev OIDC issuer")?;
        app = app.merge(dev.router());
        lines.push(format!("oidc: {} (DEVELOPMENT ONLY)", dev.issuer_url()));
        Some(dev)
    } else {
        None
    };
    let mut issuers = config.issuers.clone();
    if let Some(dev) = &dev {
        issuers.push(dev.issuer_config());
    }
    let ca = if wants(ServeService::Ca) {
        if issuers.is_empty() {
            bail!(
                "the CA trusts no OIDC issuer: list issuers in --config (issuers: [{{url, type}}]) or pass --dev-oidc for local testing"
            );
        }
        let ca = CaService::open(data, CaConfig::with_issuers(issuers))
            .context("opening the certificate authority")?;
        app = app.merge(ca.router());
        lines.push(format!("ca: {url} (Fulcio v2: /api/v2/signingCert)"));
        Some(ca)
    } else {
        None
    };
    let log = if wants(ServeService::Log) {
        let log_dir = data.join("log");
        std::fs::create_dir_all(&log_dir)?;
        let log = LogService::open(&log_dir, LogConfig::from_base_url(&url)?)
            .context("opening the transparency log")?;
        app = app.merge(log.router());
        lines.push(format!("log: {url} (Rekor v1: /api/v1/log)"));
        Some(log)
    } else {
        None
    };
    let tsa_url = format!("{url}/api/v1/timestamp");
    let tsa = if wants(ServeService::Tsa) {
        let tsa = TsaService::open(data, TsaConfig::default()).context("opening the TSA")?;
        app = app.merge(tsa.router());
        lines.push(format!("tsa: {tsa_url} (RFC 3161)"));
        Some(tsa)
    } else {
        None
    };
    let app = app.fallback(signet_ca::not_found);

    // The trust files describe the services this process runs.
    let mut root: Value = serde_json::from_str(
        &TrustedRoot {
            tlogs: Vec::new(),
            certificate_authorities: ca.iter().map(|c| c.certificate_authority(&url)).collect(),
            ctlogs: ca.iter().map(|c| c.ct_log(&url)).collect(),
            timestamp_authorities: tsa
                .iter()
                .map(|t| t.timestamp_authority(&tsa_url))
                .collect(),
        }
        .to_json(),
    )?;
    if let Some(log) = &log {
        root["tlogs"] = json!([log.transparency_log_instance(&url)]);
    }
    // Whatever is written must load in signet's own verifier.
    let parsed = TrustedRoot::parse(root.to_string().as_bytes())
        .context("the trusted root written for this stack")?;
    let start = rfc3339(
        [
            ca.as_ref().map(|c| c.created().0),
            log.as_ref().map(LogService::created_at),
            tsa.as_ref().map(|t| t.created().0),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(0),
    );
    let signing_config = json!({
        "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
        "caUrls": ca.as_ref().map(|_| vec![service(&url, &start)]).unwrap_or_default(),
        "oidcUrls": dev.as_ref().map(|d| vec![service(d.issuer_url(), &start)]).unwrap_or_default(),
        "rekorTlogUrls": log.as_ref().map(|_| vec![service(&url, &start)]).unwrap_or_default(),
        "tsaUrls": tsa.as_ref().map(|_| vec![service(&tsa_url, &start)]).unwrap_or_default(),
        "rekorTlogConfig": {"selector": "ANY"},
        "tsaConfig": {"selector": "ANY"},
    });
    write_trust(
        data,
        &TrustFiles {
            trusted_root: root,
            signing_config,
            pem: [
                ca.as_ref().map(|c| ("fulcio_chain.pem", c.chain_pem())),
                ca.as_ref()
                    .map(|c| ("ctlog.pub", c.ct_log_public_key().to_pem())),
                log.as_ref().map(|l| ("rekor.pub", l.public_key().to_pem())),
                tsa.as_ref().map(|t| ("tsa_chain.pem", t.chain_pem())),
                // For `kubectl apply` and keyless.trustRootRef: signet in a cluster.
                Some((
                    "trustroot.yaml",
                    signet_policy::trust_root_yaml("signet", &parsed),
                )),
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
    )?;

    for line in &lines {
        println!("{line}");
    }
    println!("trust: {}", data.join("trust").display());
    use std::io::Write as _;
    std::io::stdout().flush().ok();

    axum::serve(listener, app)
        .with_graceful_shutdown(crate::shutdown_signal())
        .await
        .context("serving")?;
    drop(log);
    Ok(())
}

/// `signet dev-token`: a token from the dev issuer of a stack started with `--dev-oidc`.
pub(crate) fn dev_token(args: &DevTokenArgs) -> Result<()> {
    let dev = DevOidc::load(&args.data_dir).with_context(|| {
        format!(
            "no dev OIDC issuer in {}: start `signet serve --data-dir {} --dev-oidc` first",
            args.data_dir.display(),
            args.data_dir.display()
        )
    })?;
    println!("{}", dev.mint(&args.subject, args.issuer.as_deref())?);
    Ok(())
}
