//! `signet verify-blob`: verify a Sigstore bundle for a file (or its `sha256:` digest)
//! offline, against the embedded public-good root, `--staging`, or `--trusted-root`.
//! `signet sign-blob`: sign a file with a key, or keylessly, into a v0.3 bundle.

use std::path::Path;

use anyhow::{Context, Result, bail};
use signet_formats::Digest;
use signet_formats::sigstore::{Bundle, TrustedRoot, trust};
use signet_verify::bundle::{Artifact, BundleVerifier, Policy};

use crate::cli::{SignBlobArgs, VerifyBlobArgs};
use crate::identity::{self, Expected};

/// Most bytes read from a bundle or trusted-root file.
const MAX_JSON_BYTES: u64 = 32 * 1024 * 1024;

fn read_limited(path: &Path, what: &str) -> Result<Vec<u8>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("reading {what} {}", path.display()))?;
    if meta.len() > MAX_JSON_BYTES {
        bail!(
            "{what} {} is {} bytes, over the {MAX_JSON_BYTES}-byte limit",
            path.display(),
            meta.len()
        );
    }
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// `--trusted-root FILE` (size-limited), else the embedded staging or production root.
pub(crate) fn load_trusted_root(path: Option<&Path>, staging: bool) -> Result<TrustedRoot> {
    match path {
        Some(path) => TrustedRoot::parse(&read_limited(path, "trusted root")?)
            .with_context(|| format!("trusted root {}", path.display())),
        None if staging => Ok(trust::staging_trusted_root()),
        None => Ok(trust::production_trusted_root()),
    }
}

pub(crate) async fn run(args: VerifyBlobArgs) -> Result<()> {
    let policy = match identity::expected(&args.key, &args.identity).await? {
        Expected::Key(key) => Policy::Key(key),
        Expected::Identity(matcher) => Policy::Identity(matcher),
    };
    let root = load_trusted_root(args.trusted_root.as_deref(), args.staging)?;
    let mut verifier = BundleVerifier::new(&root)?;
    if args.insecure_ignore_tlog {
        verifier = verifier.allow_key_signatures_without_time();
    }
    let bundle = Bundle::parse(&read_limited(&args.bundle, "bundle")?)
        .with_context(|| format!("bundle {}", args.bundle.display()))?;
    // `sha256:<hex>` names the artifact by digest, unless a file of that name exists.
    let bytes;
    let artifact = match args.artifact.parse::<Digest>() {
        Ok(d) if !Path::new(&args.artifact).exists() => Artifact::Sha256(d),
        _ => {
            bytes = std::fs::read(&args.artifact)
                .with_context(|| format!("reading {}", args.artifact))?;
            Artifact::Bytes(&bytes)
        }
    };
    verifier
        .verify(&bundle, artifact, &policy)
        .map_err(|e| anyhow::anyhow!("{}", signet_check::explain(&e, &policy)))
        .with_context(|| format!("bundle {}", args.bundle.display()))?;
    eprintln!("Verified OK");
    Ok(())
}

/// Most bytes `sign-blob` reads into memory.
const MAX_BLOB_BYTES: u64 = 1024 * 1024 * 1024;

pub(crate) async fn sign(args: SignBlobArgs) -> Result<()> {
    if !args.new_bundle_format {
        bail!("signet sign-blob writes only the bundle format; drop --new-bundle-format=false");
    }
    let artifact = read_artifact(&args.artifact)?;
    let bundle = match &args.key {
        Some(key_ref) => {
            let key = crate::keys::load_private_key(key_ref).await?;
            if args.tlog_upload {
                eprintln!(
                    "Note: no transparency log is configured for key-based signing; the bundle has no tlog entry (verify it with --key and --insecure-ignore-tlog)"
                );
            }
            signet_sign::bundle::sign_message(&key, &artifact)?
        }
        None => {
            crate::keyless::prepare(&args.keyless)
                .await?
                .signer()
                .sign_message(&artifact)
                .await?
        }
    };
    let json = bundle.to_json_v03().context("encoding the bundle")?;
    crate::keys::write_file(&args.bundle, json.as_bytes(), 0o644)?;
    if let Some(path) = &args.output_signature {
        let signature = match &bundle.content {
            signet_formats::sigstore::BundleContent::MessageSignature(m) => &m.signature,
            signet_formats::sigstore::BundleContent::DsseEnvelope(_) => {
                bail!("internal error: a blob bundle holds a DSSE envelope")
            }
        };
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(signature);
        crate::keys::write_file(path, b64.as_bytes(), 0o644)?;
    }
    eprintln!("Wrote bundle to file {}", args.bundle.display());
    Ok(())
}

fn read_artifact(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a regular file", path.display());
    }
    if meta.len() > MAX_BLOB_BYTES {
        bail!(
            "{} is {} bytes, over the {MAX_BLOB_BYTES}-byte limit for sign-blob",
            path.display(),
            meta.len()
        );
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}
