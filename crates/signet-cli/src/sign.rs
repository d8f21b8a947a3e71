//! `signet sign`: with `--key`, cosign's legacy `.sig` signatures by default, or with
//! `--new-bundle-format` cosign v3's Sigstore bundles stored as OCI 1.1 referrers;
//! without a key, keyless bundles (certificate, log entry) stored as referrers.

use anyhow::{Context, Result, bail};
use signet_formats::ImageLocation;
use signet_formats::cosign::ManifestFlavor;
use signet_oci::referrers::ReferrersSource;
use signet_sign::referrer::{BundleSigner, sign_image_referrers};
use signet_sign::{Outcome, Recursion, SignOptions, sign_image};

use crate::cli::SignArgs;
use crate::exit::Failure;
use crate::{keyless, keys, registry};

pub(crate) async fn run(args: SignArgs) -> Result<()> {
    if !args.upload {
        bail!("--upload=false is not supported: signet writes the signature to the registry");
    }
    let new_bundle_format = args.new_bundle_format.unwrap_or(args.key.is_none());
    if args.key.is_none() && !new_bundle_format {
        bail!(
            "keyless signatures are written only in the bundle format: drop --new-bundle-format=false, or pass --key"
        );
    }
    let client = registry::client(&args.registry)?;
    // Parse every reference before unlocking the key, so a typo costs nothing.
    let mut targets = Vec::with_capacity(args.images.len());
    for image in &args.images {
        targets.push(registry::open(image, &client).with_context(|| format!("image {image}"))?);
    }
    // A key, or (keyless) the token, services and trust a signer borrows.
    let (key, keyless) = match &args.key {
        Some(key_ref) => (Some(keys::load_private_key(key_ref).await?), None),
        None => (None, Some(keyless::prepare(&args.keyless).await?)),
    };
    let keyless_signer = keyless.as_ref().map(keyless::Keyless::signer);
    let bundle_signer = match (&key, &keyless_signer) {
        (_, Some(signer)) => BundleSigner::Keyless(signer),
        (Some(key), None) => BundleSigner::Key(key),
        (None, None) => unreachable!("a key or a keyless signer was prepared above"),
    };
    if key.is_some() && new_bundle_format && args.tlog_upload {
        eprintln!(
            "Note: no transparency log is configured for key-based signing; the bundles have no tlog entry (verify with --key and --insecure-ignore-tlog)"
        );
    }
    let options = SignOptions {
        annotations: args.annotations.iter().cloned().collect(),
        flavor: if std::env::var("COSIGN_DOCKER_MEDIA_TYPES").is_ok_and(|v| v == "1" || v == "true")
        {
            ManifestFlavor::Docker
        } else {
            ManifestFlavor::Oci
        },
        recursion: if args.recursive {
            Recursion::IndexChildren
        } else {
            Recursion::Single
        },
    };
    for ((location, store, reference), image) in targets.iter().zip(&args.images) {
        let has_digest = match location {
            ImageLocation::Registry(r) => r.digest().is_some(),
            ImageLocation::Layout(l) => l.digest.is_some(),
        };
        let resolved = store
            .manifest(reference)
            .await?
            .ok_or_else(|| Failure::tag_not_found(image))?;
        if !has_digest {
            eprintln!(
                "WARNING: Image reference {image} uses a tag, not a digest, to identify the image to sign.\n    \
                 The tag resolved to {}; signing that digest. Pass IMAGE@{} to be sure you sign what you meant.",
                resolved.digest, resolved.digest
            );
        }
        let signatures = registry::signature_store(store)?;
        eprintln!("Pushing signature to: {}", signatures.name());
        if new_bundle_format {
            for signed in sign_image_referrers(
                &signatures,
                &resolved,
                bundle_signer,
                &options,
                keyless::now(),
            )
            .await?
            {
                let via = match &signed.source {
                    ReferrersSource::Api => "the referrers API".to_owned(),
                    ReferrersSource::FallbackTag(t) => format!("fallback tag {t}"),
                };
                eprintln!(
                    "Signed {} (bundle referrer {}@{}, listed by {via})",
                    signed.image,
                    signatures.name(),
                    signed.manifest
                );
            }
            continue;
        }
        let Some(key) = &key else {
            bail!("internal error: .sig signing without a key");
        };
        for signed in sign_image(store, &signatures, &resolved, key, &options).await? {
            match signed.outcome {
                Outcome::Appended { .. } => eprintln!("Signed {} ({})", signed.image, signed.tag),
                Outcome::AlreadySigned => {
                    eprintln!(
                        "{} is already signed with this key and payload; nothing to do",
                        signed.image
                    )
                }
            }
        }
    }
    Ok(())
}
