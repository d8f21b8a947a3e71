//! Fetch an image's signatures — OCI 1.1 bundle referrers first, then cosign `.sig` —
//! and verify them with signet-verify; shared by `signet verify` and the webhook.
//!
//! One call, [`check`], takes an image (its store, the store holding its signatures,
//! its printed name and its digest) and any number of [`Requirement`]s (who must have
//! signed, in which signature format), and gives one verdict per requirement. The
//! registry work is shared between the requirements: the referrers are listed once,
//! each bundle is fetched once, the `.sig` manifest is read once, and its payloads are
//! fetched once (and only when some requirement is not already met by a bundle). The
//! admission webhook passes every authority of every policy matching an image in one
//! call; `signet verify` passes one.
//!
//! Registry cost per image (distribution 2.8, `.sig` by key): the referrers API and the
//! `sha256-<hex>` fallback index (1–2 requests; the client remembers a registry
//! without the API), the `.sig` manifest (1), and one blob per signature whose payload
//! is not the one signet would write for this image.
//!
//! ```no_run
//! # async fn demo(client: signet_oci::RegistryClient, key: signet_crypto::PublicKey) {
//! use signet_check::{BundleTrust, CheckOptions, Requirement, SignatureFormats, TlogRequirement};
//! use signet_formats::ImageLocation;
//!
//! let location: ImageLocation = "registry.example.com/app:1.0".parse().unwrap();
//! let (store, reference) = signet_oci::ImageStore::open(&location, &client).unwrap();
//! let (name, digest) = signet_check::resolve("registry.example.com/app:1.0", &location, &store, &reference)
//!     .await
//!     .unwrap();
//! let requirement = Requirement::key(key, SignatureFormats::BundlesThenLegacy);
//! let options = CheckOptions::new(BundleTrust::production(TlogRequirement::DangerIgnoreForKeys));
//! let target = signet_check::Target { image: &store, signatures: &store, name: &name, digest: &digest };
//! let verdicts = signet_check::check(&target, &[requirement], &options).await;
//! assert!(verdicts[0].is_ok());
//! # }
//! ```
//!
//! What it does not do: resolve Kubernetes secrets, cache verdicts, or impose a
//! deadline (callers wrap [`check`] in one); keyless `.sig` signatures (certificates on
//! legacy signatures) are rejected by signet-verify as not supported yet.

#![deny(missing_docs)]

mod bundles;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use signet_formats::cosign::{Attachment, SimpleSigning};
use signet_formats::sigstore::TrustedRoot;
use signet_formats::{Digest, ImageLocation};
use signet_oci::referrers::ReferrerError;
use signet_oci::signatures::{fetch_payloads, read_attachment};
use signet_oci::{ImageStore, RegistryError, StoreError};
use signet_verify::bundle::{BundleVerifier, TrustedRootError};
use signet_verify::{
    Authority, Candidate, ClaimCheck, Policy, VerifiedSignature, VerifyError,
    verify_image_with_trust,
};

pub use bundles::explain;

/// Where signatures are looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureFormats {
    /// Sigstore bundles stored as OCI 1.1 referrers (cosign v3), then cosign's `.sig`
    /// (what `signet verify` does).
    BundlesThenLegacy,
    /// Only bundle referrers (policy-controller `signatureFormat: bundle`).
    BundlesOnly,
    /// Only `.sig` (policy-controller `signatureFormat: legacy`, `signet verify
    /// --new-bundle-format=false`).
    LegacyOnly,
}

impl SignatureFormats {
    fn bundles(self) -> bool {
        !matches!(self, SignatureFormats::LegacyOnly)
    }

    fn legacy(self) -> bool {
        !matches!(self, SignatureFormats::BundlesOnly)
    }
}

/// Who must have signed, and where to look.
#[derive(Clone, Debug)]
pub struct Requirement {
    /// The signer, the annotations every accepted signature must carry, and whether
    /// claims are checked. Bundles are checked with the same signer (a key, or a
    /// certificate identity).
    pub policy: Policy,
    /// Which signature formats count.
    pub formats: SignatureFormats,
    /// The trust material for this requirement alone (an admission policy's
    /// `trustRootRef`), instead of [`CheckOptions::trust`].
    pub trust: Option<BundleTrust>,
}

impl Requirement {
    /// A signature by `key`, with claims checked and no required annotation.
    pub fn key(key: signet_crypto::PublicKey, formats: SignatureFormats) -> Self {
        Requirement {
            policy: Policy {
                authority: Authority::Key(key),
                annotations: BTreeMap::new(),
                claims: ClaimCheck::Enforce,
            },
            formats,
            trust: None,
        }
    }

    /// The trust material this requirement is checked against.
    fn trust<'a>(&'a self, options: &'a CheckOptions) -> &'a BundleTrust {
        self.trust.as_ref().unwrap_or(&options.trust)
    }

    fn bundle_policy(&self) -> signet_verify::bundle::Policy {
        match &self.policy.authority {
            Authority::Key(key) => signet_verify::bundle::Policy::Key(key.clone()),
            Authority::Keyless(matcher) => signet_verify::bundle::Policy::Identity(matcher.clone()),
        }
    }
}

/// Whether key-signed bundles need a verified time (a tlog entry or a timestamp).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlogRequirement {
    /// Every bundle needs a verified time (cosign's default).
    Required,
    /// Bundles checked against a key may have none (cosign `--insecure-ignore-tlog`;
    /// `.sig` signatures are never checked against a log either). Certificate
    /// (keyless) bundles always need one.
    DangerIgnoreForKeys,
}

/// The trust material bundles are verified against: a [`BundleVerifier`], built on
/// first use for the embedded public-good root (most images have no bundles, and
/// loading that root is not free). Clones share the verifier.
#[derive(Clone)]
pub struct BundleTrust(Arc<TrustInner>);

struct TrustInner {
    tlog: TlogRequirement,
    verifier: OnceLock<Result<BundleVerifier, String>>,
}

impl fmt::Debug for BundleTrust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BundleTrust")
            .field("tlog", &self.0.tlog)
            .field("built", &self.0.verifier.get().is_some())
            .finish()
    }
}

impl BundleTrust {
    /// The embedded Sigstore public-good production root, loaded on first use.
    pub fn production(tlog: TlogRequirement) -> Self {
        BundleTrust(Arc::new(TrustInner {
            tlog,
            verifier: OnceLock::new(),
        }))
    }

    /// A trusted root given by the caller (`--trusted-root`), loaded now.
    ///
    /// # Errors
    /// The [`TrustedRootError`] of a key or certificate in `root` that does not load.
    pub fn new(root: &TrustedRoot, tlog: TlogRequirement) -> Result<Self, TrustedRootError> {
        Ok(Self::with_verifier(BundleVerifier::new(root)?, tlog))
    }

    /// A verifier built by the caller (for example with a cache). `tlog` is applied to
    /// it.
    pub fn with_verifier(verifier: BundleVerifier, tlog: TlogRequirement) -> Self {
        let verifier = match tlog {
            TlogRequirement::Required => verifier,
            TlogRequirement::DangerIgnoreForKeys => verifier.allow_key_signatures_without_time(),
        };
        BundleTrust(Arc::new(TrustInner {
            tlog,
            verifier: OnceLock::from(Ok(verifier)),
        }))
    }

    /// Whether `self` and `other` are clones of one value (and share its verifier and
    /// cache).
    pub fn same_as(&self, other: &BundleTrust) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub(crate) fn verifier(&self) -> Result<&BundleVerifier, String> {
        self.0
            .verifier
            .get_or_init(|| {
                let v = BundleVerifier::production().map_err(|e| e.to_string())?;
                Ok(match self.0.tlog {
                    TlogRequirement::Required => v,
                    TlogRequirement::DangerIgnoreForKeys => v.allow_key_signatures_without_time(),
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Settings shared by every image of a run.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// What bundles are verified against.
    pub trust: BundleTrust,
    /// How many referrers or signature layers of one image are fetched at once.
    pub workers: usize,
}

impl CheckOptions {
    /// `trust`, with 10 fetches at a time (cosign's `--max-workers` default).
    pub fn new(trust: BundleTrust) -> Self {
        CheckOptions { trust, workers: 10 }
    }
}

/// The image to check.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The store holding the image (its repository names the image in the payloads
    /// signet predicts).
    pub image: &'a ImageStore,
    /// The store holding its signatures (the same, or `COSIGN_REPOSITORY`, or a
    /// policy's `source.oci`).
    pub signatures: &'a ImageStore,
    /// The image as printed (`reg/repo:tag`).
    pub name: &'a str,
    /// The image's digest.
    pub digest: &'a Digest,
}

/// Why an image did not verify for a requirement. Each message names the image and its
/// digest; [`CheckError::is_infrastructure`] tells a registry that could not be asked
/// from signatures that were asked for and did not verify.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The registry (or layout) failed.
    #[error(transparent)]
    Store(Arc<StoreError>),
    /// The tag does not exist.
    #[error("image tag not found: {image}")]
    TagNotFound {
        /// The image as given.
        image: String,
    },
    /// Neither format has any signature for the image.
    #[error("no signatures found for {name} ({digest}){}", referrers_error.as_ref().map(|e| format!("; {e}")).unwrap_or_default())]
    NoSignatures {
        /// The image as printed.
        name: String,
        /// Its digest.
        digest: Digest,
        /// Why the referrers could not be listed, if they could not.
        referrers_error: Option<Arc<ReferrerError>>,
    },
    /// There were bundles and none verified, and there is no `.sig` (or it could not be
    /// read, or it does not count for this requirement).
    #[error("no matching signatures for {name} ({digest}):\n{}{}", lines(reasons), legacy_error.as_ref().map(|e| format!("\n  .sig: {e}")).unwrap_or_default())]
    BundlesRejected {
        /// The image as printed.
        name: String,
        /// Its digest.
        digest: Digest,
        /// One reason per bundle.
        reasons: Vec<String>,
        /// Why the `.sig` manifest could not be read, if it could not.
        legacy_error: Option<Arc<StoreError>>,
    },
    /// There are signatures and none verified: one reason per bundle, then one per
    /// `.sig` layer.
    #[error(
        "no matching signatures for {name} ({digest}) in {tag}:\n{}",
        lines(reasons)
    )]
    NoMatchingSignatures {
        /// The image as printed.
        name: String,
        /// Its digest.
        digest: Digest,
        /// Where the `.sig` signatures are (`reg/repo:sha256-<hex>.sig`).
        tag: String,
        /// Why each bundle, then each signature layer, was rejected.
        reasons: Vec<String>,
    },
    /// The `.sig` manifest holds no usable signature (empty, or keyless without a
    /// certificate).
    #[error("{error} for {name} ({digest}) in {tag}")]
    Unverified {
        /// What signet-verify said.
        error: VerifyError,
        /// The image as printed.
        name: String,
        /// Its digest.
        digest: Digest,
        /// Where the `.sig` signatures are.
        tag: String,
    },
}

fn lines(reasons: &[String]) -> String {
    reasons
        .iter()
        .map(|r| format!("  {r}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether a registry error means the registry could not be asked (down, slow, refusing
/// us), as opposed to an answer about the content (which is a verification result: a
/// registry serving bytes that do not match their digest is treated as an attack).
pub fn is_infrastructure_error(error: &RegistryError) -> bool {
    !matches!(
        error,
        RegistryError::DigestMismatch { .. }
            | RegistryError::TooLarge { .. }
            | RegistryError::BlobNotFound { .. }
            | RegistryError::InvalidReference { .. }
            | RegistryError::InvalidResponse { .. }
    )
}

fn store_is_infrastructure(error: &StoreError) -> bool {
    match error {
        StoreError::Registry(e) => is_infrastructure_error(e),
        // A layout on local disk that cannot be read, or a malformed manifest: content.
        _ => false,
    }
}

impl From<StoreError> for CheckError {
    fn from(e: StoreError) -> Self {
        CheckError::Store(Arc::new(e))
    }
}

impl CheckError {
    /// The failure without the image's name and digest (which the caller already
    /// shows), on one line: what the admission webhook reports per authority.
    pub fn reason(&self) -> String {
        match self {
            CheckError::Store(e) => e.to_string(),
            CheckError::TagNotFound { .. } => "image tag not found".to_owned(),
            CheckError::NoSignatures {
                referrers_error, ..
            } => match referrers_error {
                Some(e) => format!("no signatures found; {e}"),
                None => "no signatures found".to_owned(),
            },
            CheckError::BundlesRejected {
                reasons,
                legacy_error,
                ..
            } => {
                let mut out = format!("no matching signatures: {}", reasons.join("; "));
                if let Some(e) = legacy_error {
                    out.push_str(&format!("; .sig: {e}"));
                }
                out
            }
            CheckError::NoMatchingSignatures { reasons, .. } => {
                format!("no matching signatures: {}", reasons.join("; "))
            }
            CheckError::Unverified { error, .. } => error.to_string(),
        }
    }

    /// Whether the check could not be made (registry unreachable, timing out, refusing
    /// credentials, failing with 5xx), rather than made and failed. A caller that fails
    /// open may allow on these; never on the others.
    pub fn is_infrastructure(&self) -> bool {
        self.store_error().is_some_and(store_is_infrastructure)
    }

    /// The store failure under this one, if reading the image, its referrers or its
    /// `.sig` failed (what [`CheckError::is_infrastructure`] looks at).
    pub fn store_error(&self) -> Option<&StoreError> {
        match self {
            CheckError::Store(e) => Some(e),
            CheckError::NoSignatures {
                referrers_error: Some(e),
                ..
            } => match &**e {
                ReferrerError::Store(e) => Some(e),
                _ => None,
            },
            CheckError::BundlesRejected {
                legacy_error: Some(e),
                ..
            } => Some(e),
            _ => None,
        }
    }
}

/// The name `signet verify` prints for an image (`reg/repo:tag`,
/// `index.docker.io/library/x:latest`, `oci:PATH:TAG`) and its digest: the one pinned in
/// the reference, or the tag resolved with one manifest GET.
///
/// # Errors
/// [`CheckError::TagNotFound`] when the tag does not exist (`image` is named in the
/// message as given), [`CheckError::Store`] when the store fails.
pub async fn resolve(
    image: &str,
    location: &ImageLocation,
    store: &ImageStore,
    reference: &str,
) -> Result<(String, Digest), CheckError> {
    let (name, pinned) = match location {
        ImageLocation::Registry(r) => (r.ggcr_name(), r.digest().cloned()),
        ImageLocation::Layout(l) => (location.to_string(), l.digest.clone()),
    };
    let digest = match pinned {
        Some(d) => d,
        None => {
            store
                .manifest(reference)
                .await?
                .ok_or_else(|| CheckError::TagNotFound {
                    image: image.to_owned(),
                })?
                .digest
        }
    };
    Ok((name, digest))
}

/// Checks `target` against each requirement; one verdict per requirement, in order.
/// A requirement passes when any signature in a format it accepts verifies for it:
/// every verified bundle, or else every verified `.sig` signature, is returned.
pub async fn check(
    target: &Target<'_>,
    requirements: &[Requirement],
    options: &CheckOptions,
) -> Vec<Result<Vec<VerifiedSignature>, CheckError>> {
    let want_bundles = requirements.iter().any(|r| r.formats.bundles());
    let want_legacy = requirements.iter().any(|r| r.formats.legacy());
    // Bundles first (cosign v3); the `.sig` manifest is read at the same time, since it
    // is needed whenever no bundle verifies.
    let listing = async {
        if want_bundles {
            Some(bundles::fetch(target.signatures, target.digest, options.workers).await)
        } else {
            None
        }
    };
    let legacy = async {
        if want_legacy {
            read_attachment(target.signatures, target.digest, Attachment::Signature).await
        } else {
            Ok(None)
        }
    };
    let (fetched, legacy) = futures_util::future::join(listing, legacy).await;
    let legacy = legacy.map_err(Arc::new);

    // Bundle verdicts, per requirement.
    let bundle_verdicts: Vec<bundles::Bundles> = requirements
        .iter()
        .map(|r| match (&fetched, r.formats.bundles()) {
            (Some(f), true) => bundles::verify(
                f,
                target.name,
                target.digest,
                r.trust(options),
                &r.bundle_policy(),
                &r.policy,
            ),
            _ => bundles::Bundles::None { note: None },
        })
        .collect();

    // The payloads of the `.sig` layers, fetched once for every requirement that still
    // needs them.
    let needs_payloads = requirements
        .iter()
        .zip(&bundle_verdicts)
        .any(|(r, b)| r.formats.legacy() && !matches!(b, bundles::Bundles::Verified(_)));
    let payloads = match (&legacy, needs_payloads) {
        (Ok(Some(sigs)), true) => {
            // The payloads cosign and signet write for this image, with and without the
            // required annotations: layers holding exactly these bytes need no download.
            let reference = target.image.docker_reference();
            let mut predicted = vec![
                SimpleSigning::with_reference(
                    reference.clone(),
                    target.digest,
                    &Default::default(),
                )
                .to_bytes(),
            ];
            for r in requirements {
                if !r.policy.annotations.is_empty() {
                    let p = SimpleSigning::with_reference(
                        reference.clone(),
                        target.digest,
                        &r.policy.annotations,
                    )
                    .to_bytes();
                    if !predicted.contains(&p) {
                        predicted.push(p);
                    }
                }
            }
            let payloads =
                fetch_payloads(target.signatures, &sigs.layers, options.workers, &predicted).await;
            let candidates: Vec<Candidate> = sigs
                .layers
                .iter()
                .zip(payloads)
                .map(|(layer, payload)| Candidate {
                    layer: layer.clone(),
                    payload: payload.map_err(|e| e.to_string()),
                })
                .collect();
            Some(candidates)
        }
        _ => None,
    };

    let mut out = Vec::with_capacity(requirements.len());
    for (requirement, bundles) in requirements.iter().zip(bundle_verdicts) {
        let legacy_here = if requirement.formats.legacy() {
            legacy.as_ref().map(Option::as_ref).map_err(Arc::clone)
        } else {
            Ok(None)
        };
        // Keyless `.sig` signatures are checked against the same trusted root as
        // bundles (built only when such a requirement exists).
        let trust = match requirement.policy.authority {
            Authority::Keyless(_) => requirement.trust(options).verifier().ok(),
            Authority::Key(_) => None,
        };
        out.push(verdict(
            target,
            requirement,
            bundles,
            legacy_here,
            payloads.as_deref(),
            trust,
        ));
    }
    out
}

fn verdict(
    target: &Target<'_>,
    requirement: &Requirement,
    bundles: bundles::Bundles,
    legacy: Result<Option<&signet_oci::signatures::SignatureManifest>, Arc<StoreError>>,
    candidates: Option<&[Candidate]>,
    trust: Option<&signet_verify::bundle::BundleVerifier>,
) -> Result<Vec<VerifiedSignature>, CheckError> {
    let (name, digest) = (target.name.to_owned(), target.digest.clone());
    let (bundle_rejections, bundle_note) = match bundles {
        bundles::Bundles::Verified(v) => return Ok(v),
        bundles::Bundles::Rejected(reasons) => (reasons, None),
        bundles::Bundles::None { note } => (Vec::new(), note),
    };
    let no_legacy = |legacy_error: Option<Arc<StoreError>>| -> CheckError {
        if bundle_rejections.is_empty() {
            CheckError::NoSignatures {
                name: name.clone(),
                digest: digest.clone(),
                referrers_error: bundle_note,
            }
        } else {
            CheckError::BundlesRejected {
                name: name.clone(),
                digest: digest.clone(),
                reasons: bundle_rejections.clone(),
                legacy_error,
            }
        }
    };
    let sigs = match legacy {
        Ok(Some(sigs)) => sigs,
        Ok(None) => return Err(no_legacy(None)),
        // With bundles rejected, say why they were, and why `.sig` could not be read.
        Err(e) if !bundle_rejections.is_empty() => return Err(no_legacy(Some(e))),
        Err(e) => return Err(CheckError::Store(e)),
    };
    let candidates = candidates.unwrap_or_default();
    match verify_image_with_trust(&requirement.policy, trust, &digest, candidates) {
        Ok(v) => Ok(v),
        Err(VerifyError::NoMatchingSignatures { rejections }) => {
            let reasons = bundle_rejections
                .iter()
                .cloned()
                .chain(rejections.iter().map(ToString::to_string))
                .collect();
            Err(CheckError::NoMatchingSignatures {
                name,
                digest,
                tag: sigs.tag.clone(),
                reasons,
            })
        }
        Err(error) => Err(CheckError::Unverified {
            error,
            name,
            digest,
            tag: sigs.tag.clone(),
        }),
    }
}

#[cfg(test)]
mod tests;
