//! `signet verify-blob`: verify a Sigstore bundle for a file (or its `sha256:` digest)
//! offline, against the embedded public-good root, `--staging`, or `--trusted-root`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use signet_formats::Digest;
use signet_formats::sigstore::{Bundle, TrustedRoot, trust};
use signet_verify::bundle::{Artifact, BundleVerifier, Policy};

use crate::cli::VerifyBlobArgs;
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

pub(crate) async fn run(args: VerifyBlobArgs) -> Result<()> {
    let policy = match identity::expected(&args.key, &args.identity).await? {
        Expected::Key(key) => Policy::Key(key),
        Expected::Identity(matcher) => Policy::Identity(matcher),
    };
    let root = match &args.trusted_root {
        Some(path) => TrustedRoot::parse(&read_limited(path, "trusted root")?)
            .with_context(|| format!("trusted root {}", path.display()))?,
        None if args.staging => trust::staging_trusted_root(),
        None => trust::production_trusted_root(),
    };
    let verifier = BundleVerifier::new(&root)?;
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
        .with_context(|| format!("bundle {}", args.bundle.display()))?;
    eprintln!("Verified OK");
    Ok(())
}
