//! `signet admission`: the Kubernetes admission webhook (HTTPS only), and
//! `signet admission check`, which evaluates a manifest's workloads offline the way the
//! webhook would (the mutating webhook's pins applied, then the validating decision).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use signet_admission::{
    Admitter, Config, NamespaceLabels, PolicyStore, Server, Verdict, workloads_from_yaml,
};
use signet_policy::PolicySet;
use signet_policy::decide::NoMatchPolicy;

use crate::cli::parse_duration;

/// `signet admission`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct AdmissionArgs {
    #[command(subcommand)]
    pub(crate) command: Option<AdmissionCommand>,
    #[command(flatten)]
    pub(crate) serve: ServeArgs,
}

#[derive(Subcommand, Debug)]
pub(crate) enum AdmissionCommand {
    /// Evaluate the workloads of a manifest (multi-document YAML) offline, verifying
    /// against registries as the webhook would, and print one decision per workload.
    /// Exits 1 if any is denied.
    Check(CheckArgs),
}

/// Settings shared by the webhook and `check`.
#[derive(Args, Debug, Clone)]
pub(crate) struct PolicyArgs {
    /// Docker config file for registry credentials (default $DOCKER_CONFIG/config.json or
    /// ~/.docker/config.json). With the Kubernetes API, the workload's imagePullSecrets
    /// and its ServiceAccount's are tried first.
    #[arg(long)]
    pub(crate) docker_config: Option<PathBuf>,
    /// The deadline for each admission request's work (keep it below the webhook's
    /// timeoutSeconds, 10 s).
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    pub(crate) timeout: Duration,
    /// A trusted_root.json for keyless (bundle) signatures (default: the embedded
    /// Sigstore public-good root).
    #[arg(long)]
    pub(crate) trusted_root: Option<PathBuf>,
    /// What to do with an image no ClusterImagePolicy matches.
    #[arg(long, default_value = "deny", value_parser = ["deny", "warn", "allow"])]
    pub(crate) no_match_policy: String,
}

#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on (HTTPS).
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub(crate) addr: SocketAddr,
    /// The serving certificate chain (PEM); reloaded when the file changes.
    #[arg(long)]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); reloaded when the file changes.
    #[arg(long)]
    pub(crate) tls_key: Option<PathBuf>,
    /// Directory of ClusterImagePolicy YAML files (several per file allowed); reloaded
    /// when it changes.
    #[arg(long)]
    pub(crate) policy: Option<PathBuf>,
    /// The webhook's own namespace, never checked.
    #[arg(long, env = "POD_NAMESPACE")]
    pub(crate) webhook_namespace: Option<String>,
    /// YAML of Namespace objects whose labels decide which namespaces opted in
    /// (policy.sigstore.dev/include=true); without it the webhook configuration's
    /// namespaceSelector decides.
    #[arg(long)]
    pub(crate) namespaces: Option<PathBuf>,
    /// How long a verified signature is trusted before it is checked again.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub(crate) cache_ttl: Duration,
    /// How many verified (image, authority) pairs are cached at most (0: no cache).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) cache_size: usize,
    /// Use the Kubernetes API (in-cluster config, or the kubeconfig): watch
    /// ClusterImagePolicy resources, read key.secretRef Secrets, and read the workload's
    /// image pull secrets and ServiceAccount for registry credentials. `auto`: when
    /// running in a cluster (KUBERNETES_SERVICE_HOST is set).
    #[arg(long, default_value = "auto", value_parser = ["auto", "on", "off"])]
    pub(crate) kube_api: String,
    #[command(flatten)]
    pub(crate) policy_args: PolicyArgs,
}

#[derive(Args, Debug)]
pub(crate) struct CheckArgs {
    /// Directory of ClusterImagePolicy YAML files.
    #[arg(long)]
    pub(crate) policy: PathBuf,
    #[command(flatten)]
    pub(crate) policy_args: PolicyArgs,
    /// The manifest: multi-document YAML of workloads (and Namespaces); `-` for stdin.
    pub(crate) manifest: PathBuf,
}

pub(crate) async fn run(args: AdmissionArgs) -> Result<()> {
    match args.command {
        Some(AdmissionCommand::Check(c)) => check(c).await,
        None => serve(args.serve).await,
    }
}

fn config(
    addr: SocketAddr,
    cert: PathBuf,
    key: PathBuf,
    policy: PathBuf,
    args: &PolicyArgs,
) -> Result<Config> {
    let mut config = Config::new(addr, cert, key, policy);
    config.registry.docker_config = args.docker_config.clone();
    config.timeout = args.timeout;
    config.settings.no_match = args
        .no_match_policy
        .parse::<NoMatchPolicy>()
        .map_err(|e| anyhow::anyhow!("--no-match-policy: {e}"))?;
    if let Some(path) = &args.trusted_root {
        config.trusted_root = Some(crate::blob::load_trusted_root(Some(path), false)?);
    }
    Ok(config)
}

async fn serve(args: ServeArgs) -> Result<()> {
    let (Some(cert), Some(key)) = (args.tls_cert.clone(), args.tls_key.clone()) else {
        bail!(
            "signet admission serves HTTPS only: pass --tls-cert and --tls-key (PEM files; the apiserver calls webhooks over TLS)"
        );
    };
    let Some(policy) = args.policy.clone() else {
        bail!("--policy DIR is required: the directory of ClusterImagePolicy YAML files");
    };
    let mut config = config(args.addr, cert, key, policy, &args.policy_args)?;
    config.settings.webhook_namespace = args.webhook_namespace.clone().filter(|n| !n.is_empty());
    config.cache_ttl = args.cache_ttl;
    config.cache_capacity = args.cache_size;
    if let Some(path) = &args.namespaces {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading --namespaces {}", path.display()))?;
        let objects = workloads_from_yaml(&text)
            .map_err(|e| anyhow::anyhow!("--namespaces {}: {e}", path.display()))?;
        config.namespaces = NamespaceLabels::from_objects(&objects);
    }
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    if args.kube_api == "on" || (args.kube_api == "auto" && in_cluster) {
        let client = kube::Client::try_default()
            .await
            .context("connecting to the Kubernetes API (--kube-api)")?;
        config.kubernetes = Some(signet_admission::kubernetes::ApiClient(client));
    }
    let handle = Server::start(config).await?;
    // Ready once a policy set has loaded; the server answers (and denies) before that.
    let mut reported = false;
    loop {
        let status = handle.admitter().policies().status();
        if let Some(set) = &status.set {
            println!(
                "signet admission: serving {} ({} ClusterImagePolicy(s), generation {})",
                handle.url(),
                set.policies().len(),
                set.generation()
            );
            break;
        }
        if !reported {
            eprintln!(
                "signet admission: listening on {} but not ready: {}",
                handle.url(),
                status
                    .last_error
                    .as_deref()
                    .unwrap_or("policies not loaded yet")
            );
            reported = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    crate::shutdown_signal().await;
    eprintln!("signet admission: shutting down");
    handle.shutdown().await;
    Ok(())
}

async fn check(args: CheckArgs) -> Result<()> {
    let set = PolicySet::load_dir(&args.policy)?;
    for note in set.notes() {
        eprintln!("note: {note}");
    }
    let text = if args.manifest.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).context("reading the manifest from stdin")?
    } else {
        std::fs::read_to_string(&args.manifest)
            .with_context(|| format!("reading {}", args.manifest.display()))?
    };
    let objects = workloads_from_yaml(&text)
        .map_err(|e| anyhow::anyhow!("{} is not YAML: {e}", args.manifest.display()))?;
    let mut config = config(
        "127.0.0.1:0".parse()?,
        PathBuf::new(),
        PathBuf::new(),
        args.policy.clone(),
        &args.policy_args,
    )?;
    config.namespaces = NamespaceLabels::from_objects(&objects);
    let admitter = Arc::new(Admitter::from_config(
        &config,
        Arc::new(PolicyStore::fixed(set)),
    )?);
    let results = admitter.check_objects(&objects).await;
    if results.is_empty() {
        bail!(
            "{} holds no workload (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController)",
            args.manifest.display()
        );
    }
    let mut denied = 0;
    for r in &results {
        let word = match r.verdict {
            Verdict::Allowed => "ALLOW",
            Verdict::Warned => "WARN ",
            Verdict::Denied => "DENY ",
            Verdict::Skipped => "SKIP ",
        };
        let pinned = if r.pinned > 0 {
            format!(" ({} image(s) pinned to digests)", r.pinned)
        } else {
            String::new()
        };
        println!("{word} {} {}/{}{pinned}", r.kind, r.namespace, r.name);
        if let Some(message) = &r.message {
            for line in message.lines() {
                println!("      {line}");
            }
        }
        for w in &r.warnings {
            println!("      warning: {w}");
        }
        if r.verdict == Verdict::Denied {
            denied += 1;
        }
    }
    if denied > 0 {
        bail!("{denied} of {} workload(s) denied", results.len());
    }
    Ok(())
}
