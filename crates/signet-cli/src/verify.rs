//! `signet verify`: Sigstore bundles stored as OCI 1.1 referrers first (cosign v3), then
//! cosign's legacy `.sig` signatures (both fetched and checked by `signet-check`), with
//! cosign's stdout, stderr header and exit codes, and a reason for every rejected
//! signature.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use futures_util::stream;
use signet_check::{
    BundleTrust, CheckError, CheckOptions, Requirement, SignatureFormats, Target, TlogRequirement,
};
use signet_formats::{ImageLocation, gojson};
use signet_oci::RegistryClient;
use signet_verify::{Authority, ClaimCheck, Policy, VerifiedSignature, VerifyError};

use crate::cli::{Output, VerifyArgs};
use crate::exit::{self, Failure};
use crate::identity::{self, Expected};
use crate::registry;

/// How many images are verified at once.
const IMAGE_CONCURRENCY: usize = 32;

pub(crate) async fn run(args: VerifyArgs) -> Result<()> {
    let authority = match identity::expected(&args.key, &args.identity).await? {
        Expected::Key(key) => Authority::Key(key),
        Expected::Identity(matcher) => Authority::Keyless(matcher),
    };
    let policy = Policy {
        authority,
        annotations: args.annotations.iter().cloned().collect(),
        claims: if args.check_claims {
            ClaimCheck::Enforce
        } else {
            ClaimCheck::DangerSkip
        },
    };
    let tlog = if args.insecure_ignore_tlog {
        TlogRequirement::DangerIgnoreForKeys
    } else {
        TlogRequirement::Required
    };
    // `--trusted-root` is read now, so that a bad path fails before any registry work.
    // It serves bundles and keyless `.sig` signatures alike.
    let trust = match &args.trusted_root {
        Some(path) => {
            let root = crate::blob::load_trusted_root(Some(path), false)?;
            BundleTrust::new(&root, tlog).map_err(|e| anyhow::anyhow!("{e}"))?
        }
        _ => BundleTrust::production(tlog),
    };
    let requirement = Requirement {
        policy,
        formats: if args.new_bundle_format {
            SignatureFormats::BundlesThenLegacy
        } else {
            SignatureFormats::LegacyOnly
        },
        trust: None,
    };
    let client = registry::client(&args.registry)?;
    let mut parsed = Vec::with_capacity(args.images.len());
    for image in &args.images {
        let location: ImageLocation = image.parse().with_context(|| format!("image {image}"))?;
        parsed.push((image.clone(), location));
    }
    if args.insecure_ignore_tlog {
        eprintln!(
            "WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the signature."
        );
    }

    let options = Arc::new(CheckOptions {
        trust,
        workers: args.max_workers.max(1),
    });
    let requirement = Arc::new(requirement);
    // Each image is its own task, so that signature checks (most of signet's CPU time)
    // run on every worker thread rather than inside one polling task.
    let results: Vec<Result<(String, Vec<VerifiedSignature>)>> =
        stream::iter(parsed.iter().cloned())
            .map(|(image, location)| {
                let (client, requirement, options) =
                    (client.clone(), requirement.clone(), options.clone());
                tokio::spawn(async move {
                    verify_one(&client, &image, &location, &requirement, &options).await
                })
            })
            .buffered(IMAGE_CONCURRENCY)
            .map(|joined| {
                joined.unwrap_or_else(|e| Err(anyhow::anyhow!("verification task failed: {e}")))
            })
            .collect()
            .await;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failures = Vec::new();
    for (result, (image, _)) in results.into_iter().zip(&parsed) {
        match result {
            Ok((name, verified)) => {
                print_header(&name, &requirement.policy);
                print_verified(&mut out, &verified, args.output)?;
            }
            Err(e) => failures.push((image.clone(), e)),
        }
    }
    out.flush().ok();
    match failures.len() {
        0 => Ok(()),
        1 if parsed.len() == 1 => Err(failures.remove(0).1),
        _ => {
            let code = failures
                .iter()
                .find_map(|(_, e)| e.downcast_ref::<Failure>().map(|f| f.code))
                .unwrap_or(1);
            let message = failures
                .iter()
                .map(|(img, e)| format!("{img}: {e:#}"))
                .collect::<Vec<_>>()
                .join("\n");
            Err(Failure {
                code,
                message: format!(
                    "{} of {} images failed verification:\n{message}",
                    failures.len(),
                    parsed.len()
                ),
            }
            .into())
        }
    }
}

async fn verify_one(
    client: &RegistryClient,
    image: &str,
    location: &ImageLocation,
    requirement: &Requirement,
    options: &CheckOptions,
) -> Result<(String, Vec<VerifiedSignature>)> {
    let (store, reference) = signet_oci::ImageStore::open(location, client)?;
    let (name, digest) = registry::resolve(image, location, &store, &reference).await?;
    let signatures = registry::signature_store(&store)?;
    let target = Target {
        image: &store,
        signatures: &signatures,
        name: &name,
        digest: &digest,
    };
    let verdict = signet_check::check(&target, std::slice::from_ref(requirement), options)
        .await
        .pop();
    match verdict {
        Some(Ok(verified)) => Ok((name, verified)),
        Some(Err(e)) => Err(failure(e)),
        None => Err(anyhow::anyhow!("internal error: no verdict for {name}")),
    }
}

/// A check failure as `signet verify` reports it: cosign's exit code and message.
fn failure(e: CheckError) -> anyhow::Error {
    let code = match &e {
        CheckError::Store(_) => return e.into(),
        CheckError::TagNotFound { .. } => exit::TAG_NOT_FOUND,
        CheckError::NoSignatures { .. } => exit::NO_SIGNATURES,
        CheckError::BundlesRejected { .. } | CheckError::NoMatchingSignatures { .. } => {
            exit::NO_MATCHING_SIGNATURES
        }
        CheckError::Unverified {
            error: VerifyError::NoCertificate,
            ..
        } => exit::NO_CERTIFICATE,
        _ => exit::NO_SIGNATURES,
    };
    Failure {
        code,
        message: e.to_string(),
    }
    .into()
}

fn print_header(name: &str, policy: &Policy) {
    let mut h = format!(
        "\nVerification for {name} --\nThe following checks were performed on each of these signatures:\n"
    );
    if policy.claims == ClaimCheck::Enforce {
        if !policy.annotations.is_empty() {
            h.push_str("  - The specified annotations were verified.\n");
        }
        h.push_str("  - The cosign claims were validated\n");
    }
    if matches!(policy.authority, Authority::Key(_)) {
        h.push_str("  - The signatures were verified against the specified public key\n");
    }
    eprint!("{h}");
}

fn print_verified(
    out: &mut impl Write,
    verified: &[VerifiedSignature],
    output: Output,
) -> Result<()> {
    match output {
        Output::Json => {
            let payloads: Vec<_> = verified.iter().map(|v| &v.payload).collect();
            out.write_all(b"\n")?;
            out.write_all(&gojson::to_vec(&payloads))?;
            out.write_all(b"\n")?;
        }
        Output::Text => {
            for v in verified {
                out.write_all(&v.payload.to_bytes())?;
                out.write_all(b"\n")?;
            }
        }
    }
    Ok(())
}
