//! `signet-conformance`: the client side of the sigstore-conformance CLI protocol.
//!
//! `verify-bundle` is the protocol's. `sign-bundle` signs with `--key KEY` (a PEM
//! private key: PKCS#8, SEC1, PKCS#1, or cosign's encrypted format with the password
//! in `COSIGN_PASSWORD`), a signet extension; the protocol's keyless form
//! (`--identity-token`) needs a Fulcio CA and a Rekor log and fails with a clear error.
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
    /// Sign a file (or, with `--in-toto`, an in-toto statement as DSSE) into a v0.3 bundle.
    SignBundle(SignArgs),
}

#[derive(Args)]
struct SignArgs {
    /// Use the staging instance (keyless only).
    #[arg(long)]
    staging: bool,
    /// FILE is an in-toto statement: sign it as a DSSE envelope.
    #[arg(long)]
    in_toto: bool,
    /// An OIDC identity token (keyless signing).
    #[arg(long, conflicts_with = "key", required_unless_present = "key")]
    identity_token: Option<String>,
    /// A PEM private key (signet extension: key-based signing, no log).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Where to write the bundle.
    #[arg(long)]
    bundle: PathBuf,
    /// A trusted_root.json (keyless only).
    #[arg(long)]
    trusted_root: Option<PathBuf>,
    /// A signing_config.json (keyless only).
    #[arg(long)]
    signing_config: Option<PathBuf>,
    /// The file to sign.
    file: PathBuf,
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
    /// Key mode only (signet extension): accept a bundle with no tlog entry or timestamp.
    #[arg(long, requires = "key")]
    insecure_ignore_tlog: bool,
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
    let mut verifier = BundleVerifier::new(&root)?;
    if args.insecure_ignore_tlog {
        verifier = verifier.allow_key_signatures_without_time();
    }
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

fn sign_bundle(args: &SignArgs) -> anyhow::Result<()> {
    let Some(key_path) = &args.key else {
        bail!(
            "keyless signing (--identity-token) needs a Fulcio CA and a Rekor log, which this client does not reach; sign with --key"
        );
    };
    let pem = std::fs::read(key_path)
        .with_context(|| format!("cannot read key {}", key_path.display()))?;
    let key = if pem.starts_with(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY")
        || pem.starts_with(b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY")
    {
        let password = std::env::var("COSIGN_PASSWORD").unwrap_or_default();
        signet_crypto::cosign::EncryptedKeyFile::parse(&pem)
            .and_then(|f| f.decrypt(password.as_bytes()))
    } else {
        signet_crypto::import_private_key(&pem, None)
    }
    .with_context(|| format!("invalid key {}", key_path.display()))?;
    let payload = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let bundle = if args.in_toto {
        signet_formats::sigstore::Statement::parse(&payload)
            .with_context(|| format!("{} is not an in-toto statement", args.file.display()))?;
        signet_sign::bundle::sign_dsse(
            &key,
            signet_formats::sigstore::DSSE_IN_TOTO_PAYLOAD_TYPE,
            &payload,
        )?
    } else {
        signet_sign::bundle::sign_message(&key, &payload)?
    };
    let json = bundle.to_json_v03().context("encoding the bundle")?;
    std::fs::write(&args.bundle, json)
        .with_context(|| format!("cannot write bundle {}", args.bundle.display()))?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::VerifyBundle(args) => verify_bundle(args),
        Command::SignBundle(args) => sign_bundle(args),
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
