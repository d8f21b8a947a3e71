//! `signet verify-blob`: verify a Sigstore bundle for a file (or its `sha256:` digest)
//! offline, against the embedded public-good root, `--staging`, or `--trusted-root`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use signet_formats::Digest;
use signet_formats::sigstore::{Bundle, TrustedRoot, trust};
use signet_verify::bundle::{Artifact, BundleVerifier, Policy};
use signet_x509::{IdentityMatcher, StringMatcher};

use crate::cli::VerifyBlobArgs;
use crate::keys;

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

fn matcher(exact: &Option<String>, regexp: &Option<String>, flag: &str) -> Result<StringMatcher> {
    match (exact, regexp) {
        (Some(e), None) => Ok(StringMatcher::Exact(e.clone())),
        (None, Some(r)) => StringMatcher::regex(r).with_context(|| format!("--{flag}-regexp")),
        (Some(_), Some(_)) => bail!("pass --{flag} or --{flag}-regexp, not both"),
        (None, None) => bail!(
            "--{flag} or --{flag}-regexp is required for verification in keyless mode (or pass --key)"
        ),
    }
}

pub(crate) async fn run(args: VerifyBlobArgs) -> Result<()> {
    let keyless = args.certificate_identity.is_some()
        || args.certificate_identity_regexp.is_some()
        || args.certificate_oidc_issuer.is_some()
        || args.certificate_oidc_issuer_regexp.is_some();
    let policy = match &args.key {
        Some(_) if keyless => bail!(
            "exactly one of: key reference (--key) or certificate identity (--certificate-identity/--certificate-oidc-issuer) must be given"
        ),
        Some(k) => Policy::Key(keys::load_public_key(k).await?),
        None => Policy::Identity(IdentityMatcher {
            subject: matcher(
                &args.certificate_identity,
                &args.certificate_identity_regexp,
                "certificate-identity",
            )?,
            issuer: matcher(
                &args.certificate_oidc_issuer,
                &args.certificate_oidc_issuer_regexp,
                "certificate-oidc-issuer",
            )?,
        }),
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
