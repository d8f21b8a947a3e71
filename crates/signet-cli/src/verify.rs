//! `signet verify`: Sigstore bundles stored as OCI 1.1 referrers first (cosign v3, see
//! [`crate::bundles`]), then cosign's legacy `.sig` signatures, with cosign's stdout,
//! stderr header and exit codes, and a reason for every rejected signature.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::StreamExt;
use futures_util::stream;
use signet_formats::cosign::{Attachment, SimpleSigning};
use signet_formats::{ImageLocation, gojson};
use signet_oci::RegistryClient;
use signet_oci::signatures::{fetch_payloads, read_attachment};
use signet_verify::{
    Authority, Candidate, ClaimCheck, Policy, VerifiedSignature, VerifyError, verify_image,
};

use crate::bundles::{self, BundleCheck, Bundles};
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
    let bundle_check = if args.new_bundle_format {
        let bundle_policy = match &policy.authority {
            Authority::Key(key) => signet_verify::bundle::Policy::Key(key.clone()),
            Authority::Keyless(matcher) => signet_verify::bundle::Policy::Identity(matcher.clone()),
        };
        Some(BundleCheck::new(
            bundle_policy,
            policy.annotations.clone(),
            policy.claims == ClaimCheck::Enforce,
            args.insecure_ignore_tlog,
            args.trusted_root.clone(),
        )?)
    } else {
        None
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

    let workers = args.max_workers.max(1);
    let policy = Arc::new(policy);
    let bundle_check = Arc::new(bundle_check);
    // Each image is its own task, so that signature checks (most of signet's CPU time)
    // run on every worker thread rather than inside one polling task.
    let results: Vec<Result<(String, Vec<VerifiedSignature>)>> =
        stream::iter(parsed.iter().cloned())
            .map(|(image, location)| {
                let (client, policy) = (client.clone(), policy.clone());
                let bundle_check = bundle_check.clone();
                tokio::spawn(async move {
                    let check = bundle_check.as_ref().as_ref();
                    verify_one(&client, &image, &location, &policy, check, workers).await
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
                print_header(&name, &policy);
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
    policy: &Policy,
    bundle_check: Option<&BundleCheck>,
    workers: usize,
) -> Result<(String, Vec<VerifiedSignature>)> {
    let (store, reference) = signet_oci::ImageStore::open(location, client)?;
    let (name, digest) = registry::resolve(image, location, &store, &reference).await?;
    let signatures = registry::signature_store(&store)?;
    // Bundles first (cosign v3); the `.sig` manifest is read at the same time, since it
    // is needed whenever no bundle verifies.
    let legacy = read_attachment(&signatures, &digest, Attachment::Signature);
    let (bundles, legacy) = match bundle_check {
        Some(check) => {
            tokio::join!(
                bundles::verify(&signatures, &name, &digest, check, workers),
                legacy
            )
        }
        None => (Bundles::None { note: None }, legacy.await),
    };
    let (bundle_rejections, bundle_note) = match bundles {
        Bundles::Verified(v) => return Ok((name, v)),
        Bundles::Rejected(reasons) => (reasons, None),
        Bundles::None { note } => (Vec::new(), note),
    };
    let no_legacy = |legacy_error: Option<String>| -> anyhow::Error {
        if bundle_rejections.is_empty() {
            let mut message = format!("no signatures found for {name} ({digest})");
            for note in bundle_note.iter().chain(legacy_error.iter()) {
                message.push_str(&format!("; {note}"));
            }
            Failure {
                code: exit::NO_SIGNATURES,
                message,
            }
            .into()
        } else {
            let mut reasons: Vec<String> =
                bundle_rejections.iter().map(|r| format!("  {r}")).collect();
            reasons.extend(legacy_error.map(|e| format!("  .sig: {e}")));
            Failure {
                code: exit::NO_MATCHING_SIGNATURES,
                message: format!(
                    "no matching signatures for {name} ({digest}):\n{}",
                    reasons.join("\n")
                ),
            }
            .into()
        }
    };
    let sigs = match legacy {
        Ok(Some(sigs)) => sigs,
        Ok(None) => return Err(no_legacy(None)),
        // With bundles rejected, say why they were, and why `.sig` could not be read.
        Err(e) if !bundle_rejections.is_empty() => return Err(no_legacy(Some(e.to_string()))),
        Err(e) => return Err(e.into()),
    };
    // The payloads cosign and signet write for this image, with and without the
    // required annotations: layers holding exactly these bytes need no download.
    let mut predicted = vec![
        SimpleSigning::with_reference(store.docker_reference(), &digest, &Default::default())
            .to_bytes(),
    ];
    if !policy.annotations.is_empty() {
        predicted.push(
            SimpleSigning::with_reference(store.docker_reference(), &digest, &policy.annotations)
                .to_bytes(),
        );
    }
    let payloads = fetch_payloads(&signatures, &sigs.layers, workers, &predicted).await;
    let candidates: Vec<Candidate> = sigs
        .layers
        .iter()
        .zip(payloads)
        .map(|(layer, payload)| Candidate {
            layer: layer.clone(),
            payload: payload.map_err(|e| e.to_string()),
        })
        .collect();
    match verify_image(policy, &digest, &candidates) {
        Ok(v) => Ok((name, v)),
        Err(VerifyError::NoMatchingSignatures { rejections }) => {
            let reasons: Vec<String> = bundle_rejections
                .iter()
                .map(|r| format!("  {r}"))
                .chain(rejections.iter().map(|r| format!("  {r}")))
                .collect();
            Err(Failure {
                code: exit::NO_MATCHING_SIGNATURES,
                message: format!(
                    "no matching signatures for {name} ({digest}) in {}:\n{}",
                    sigs.tag,
                    reasons.join("\n")
                ),
            }
            .into())
        }
        Err(e) => {
            let code = match e {
                VerifyError::NoCertificate => exit::NO_CERTIFICATE,
                _ => exit::NO_SIGNATURES,
            };
            Err(Failure {
                code,
                message: format!("{e} for {name} ({digest}) in {}", sigs.tag),
            }
            .into())
        }
    }
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
