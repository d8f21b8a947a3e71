//! `signet-conformance`: the client side of the sigstore-conformance CLI protocol
//! (`verify-bundle`; `sign-bundle` is not implemented yet).
//!
//! Exit status 0 means the bundle verified; any failure prints one `error: …` line on
//! stderr and exits 1.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use signet_crypto::PublicKey;
use signet_formats::Digest;
use signet_formats::sigstore::{Bundle, TrustedRoot, trust};
use signet_verify::bundle::{Artifact, BundleVerifier, Policy};
use signet_x509::IdentityMatcher;

#[derive(Parser)]
#[command(
    name = "signet-conformance",
    about = "sigstore-conformance client for signet"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a Sigstore bundle for a file or a `sha256:` digest.
    VerifyBundle(VerifyArgs),
    /// Sign a file into a bundle (not implemented yet).
    SignBundle {
        /// The protocol's arguments (ignored).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Args)]
struct VerifyArgs {
    /// Use the staging trusted root instead of production.
    #[arg(long)]
    staging: bool,
    /// The bundle to verify.
    #[arg(long)]
    bundle: PathBuf,
    /// The expected certificate SAN (exact).
    #[arg(long, requires = "certificate_oidc_issuer", conflicts_with = "key")]
    certificate_identity: Option<String>,
    /// The expected OIDC issuer (exact).
    #[arg(long, requires = "certificate_identity", conflicts_with = "key")]
    certificate_oidc_issuer: Option<String>,
    /// A PEM public key (key mode).
    #[arg(long)]
    key: Option<PathBuf>,
    /// A trusted_root.json (default: the embedded production root).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// The artifact path, or `sha256:<64 hex>`.
    file_or_digest: String,
}

/// A digest only if it has the prefix and length, and no such path exists.
fn artifact_input(arg: &str) -> anyhow::Result<ArtifactInput> {
    if arg.len() == 71 && arg.starts_with("sha256:") && !Path::new(arg).exists() {
        let digest: Digest = arg
            .parse()
            .with_context(|| format!("invalid digest {arg}"))?;
        return Ok(ArtifactInput::Digest(digest));
    }
    let bytes = std::fs::read(arg).with_context(|| format!("cannot read artifact {arg}"))?;
    Ok(ArtifactInput::Bytes(bytes))
}

enum ArtifactInput {
    Bytes(Vec<u8>),
    Digest(Digest),
}

fn verify_bundle(args: &VerifyArgs) -> anyhow::Result<()> {
    let root = match &args.trusted_root {
        Some(path) => {
            let json = std::fs::read(path)
                .with_context(|| format!("cannot read trusted root {}", path.display()))?;
            TrustedRoot::parse(&json)
                .with_context(|| format!("invalid trusted root {}", path.display()))?
        }
        None if args.staging => trust::staging_trusted_root(),
        None => trust::production_trusted_root(),
    };
    let verifier = BundleVerifier::new(&root)?;
    let policy = match (
        &args.key,
        &args.certificate_identity,
        &args.certificate_oidc_issuer,
    ) {
        (Some(path), None, None) => {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read key {}", path.display()))?;
            Policy::Key(
                PublicKey::from_pem(&pem)
                    .with_context(|| format!("invalid key {}", path.display()))?,
            )
        }
        (None, Some(identity), Some(issuer)) => {
            Policy::Identity(IdentityMatcher::exact(identity.as_str(), issuer.as_str()))
        }
        _ => bail!("pass either --key, or --certificate-identity with --certificate-oidc-issuer"),
    };
    let json = std::fs::read(&args.bundle)
        .with_context(|| format!("cannot read bundle {}", args.bundle.display()))?;
    let bundle = Bundle::parse(&json)
        .with_context(|| format!("invalid bundle {}", args.bundle.display()))?;
    let input = artifact_input(&args.file_or_digest)?;
    let artifact = match &input {
        ArtifactInput::Bytes(b) => Artifact::Bytes(b),
        ArtifactInput::Digest(d) => Artifact::Sha256(d.clone()),
    };
    verifier
        .verify(&bundle, artifact, &policy)
        .context("verification failed")?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::VerifyBundle(args) => verify_bundle(args),
        Command::SignBundle { .. } => Err(anyhow::anyhow!("sign-bundle is not implemented yet")),
    };
    match result {
        Ok(()) => {
            eprintln!("OK");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
