//! Signing flows for signet. Key-based signing of images in cosign's legacy format:
//! build the simple-signing payload, sign it, check the signature with the signer's own
//! public key, and append it to the image's `sha256-<hex>.sig` manifest, skipping
//! duplicates as cosign does.
//!
//! I/O happens through `signet-oci`'s [`ImageStore`]; the signature itself comes from
//! any [`Signer`] (a file key today). Keyless signing and bundles are not here yet.

#![deny(missing_docs)]

pub mod bundle;
pub mod keyless;
pub mod referrer;

use std::collections::BTreeMap;

use base64::Engine as _;
use signet_crypto::{KeyError, Signer};
use signet_formats::cosign::{
    Attachment, ManifestFlavor, SIGNATURE_ANNOTATION, SignatureLayer, SimpleSigning,
};
use signet_formats::manifest::AnyManifest;
use signet_formats::{Digest, FormatError, MediaType};
use signet_oci::signatures::{SignatureManifest, append_signatures, read_attachment};
use signet_oci::{ImageStore, ResolvedManifest, StoreError};
use signet_verify::{Authority, ClaimCheck, Policy, Rejection, verify_signature};

/// Whether the children of an index are signed too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Recursion {
    /// Sign only the given manifest.
    #[default]
    Single,
    /// Also sign every child manifest of an index (cosign `--recursive`).
    IndexChildren,
}

/// How to sign.
#[derive(Clone, Debug, Default)]
pub struct SignOptions {
    /// `-a key=value` annotations, written into the payload's `optional` section.
    pub annotations: BTreeMap<String, String>,
    /// Media types of a new signature manifest (OCI unless `COSIGN_DOCKER_MEDIA_TYPES`).
    pub flavor: ManifestFlavor,
    /// Whether to sign index children.
    pub recursion: Recursion,
}

/// What happened to one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new signature layer was appended; the `.sig` manifest now has this digest.
    Appended {
        /// The new signature manifest digest.
        manifest: Digest,
    },
    /// An identical signature by this key was already there; nothing was written.
    AlreadySigned,
}

/// The result of signing one manifest.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The image digest that was signed.
    pub image: Digest,
    /// Where the signature lives (`reg/repo:sha256-<hex>.sig`).
    pub tag: String,
    /// What happened.
    pub outcome: Outcome,
}

/// Errors from signing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// Reading or writing the store failed; the signature tag is unchanged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signer failed.
    #[error("signing failed: {0}")]
    Signer(KeyError),
    /// The signature we just made does not verify with the signer's own key.
    #[error(
        "the new signature does not verify with the signer's public key ({0}); nothing was written"
    )]
    SelfCheck(Rejection),
    /// A bundle signature we just made does not verify with the signer's public key.
    #[error(
        "the new signature does not verify with the signer's public key ({0}); nothing was written"
    )]
    SelfCheckSignature(signet_crypto::SignatureError),
    /// The image manifest does not parse (needed for `--recursive`).
    #[error("image manifest {digest} is malformed: {error}")]
    MalformedImage {
        /// The manifest.
        digest: Digest,
        /// The parse failure.
        error: FormatError,
    },
}

/// Signs `image` (and, with [`Recursion::IndexChildren`], each child of an index),
/// writing signatures to `signatures` (the image's own store, or `COSIGN_REPOSITORY`).
pub async fn sign_image(
    image_store: &ImageStore,
    signatures: &ImageStore,
    image: &ResolvedManifest,
    signer: &dyn Signer,
    options: &SignOptions,
) -> Result<Vec<Signed>, SignError> {
    let mut digests = vec![image.digest.clone()];
    if options.recursion == Recursion::IndexChildren {
        match image.parse() {
            Ok(AnyManifest::Index(index)) => {
                digests.extend(index.manifests.into_iter().map(|m| m.digest))
            }
            Ok(AnyManifest::Image(_)) => {}
            Err(error) => {
                return Err(SignError::MalformedImage {
                    digest: image.digest.clone(),
                    error,
                });
            }
        }
    }
    let mut out = Vec::with_capacity(digests.len());
    for digest in digests {
        out.push(sign_digest(image_store, signatures, &digest, signer, options).await?);
    }
    Ok(out)
}

async fn sign_digest(
    image_store: &ImageStore,
    signatures: &ImageStore,
    digest: &Digest,
    signer: &dyn Signer,
    options: &SignOptions,
) -> Result<Signed, SignError> {
    let payload =
        SimpleSigning::with_reference(image_store.docker_reference(), digest, &options.annotations)
            .to_bytes();
    let signature = signer.sign(&payload).map_err(SignError::Signer)?;
    let layer = SignatureLayer {
        media_type: MediaType::COSIGN_SIMPLE_SIGNING,
        annotations: BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_owned(),
            base64::engine::general_purpose::STANDARD.encode(&signature),
        )]),
        payload,
    };
    let policy = Policy {
        authority: Authority::Key(signer.public_key().clone()),
        annotations: options.annotations.clone(),
        claims: ClaimCheck::Enforce,
    };
    verify_signature(&policy, digest, &layer.descriptor(), &layer.payload)
        .map_err(SignError::SelfCheck)?;

    let tag = signatures.tag_name(&Attachment::Signature.tag_for(digest));
    let existing = read_attachment(signatures, digest, Attachment::Signature).await?;
    if let Some(existing) = &existing
        && is_duplicate(existing, &layer, &policy, digest)
    {
        return Ok(Signed {
            image: digest.clone(),
            tag,
            outcome: Outcome::AlreadySigned,
        });
    }
    let manifest = append_signatures(
        signatures,
        digest,
        existing.as_ref(),
        &[layer],
        options.flavor,
    )
    .await?;
    Ok(Signed {
        image: digest.clone(),
        tag,
        outcome: Outcome::Appended { manifest },
    })
}

/// cosign's dupe detector: an existing layer with the same digest (so the same
/// payload), media type and non-signature annotations, whose own signature verifies
/// with the new signer's key.
fn is_duplicate(
    existing: &SignatureManifest,
    new: &SignatureLayer,
    policy: &Policy,
    image: &Digest,
) -> bool {
    let new_desc = new.descriptor();
    let without_sig = |a: &Option<BTreeMap<String, String>>| {
        let mut a = a.clone().unwrap_or_default();
        a.remove(SIGNATURE_ANNOTATION);
        a
    };
    existing.layers.iter().any(|old| {
        old.digest == new_desc.digest
            && old.media_type == new_desc.media_type
            && without_sig(&old.annotations) == without_sig(&new_desc.annotations)
            && verify_signature(policy, image, old, &new.payload).is_ok()
    })
}

/// Entry points for fuzzers: each must never panic on any input.
#[doc(hidden)]
pub mod fuzzing {
    /// Reads `data` as a Rekor v1 answer and as a Fulcio answer.
    pub fn fuzz_service_answers(data: &[u8]) {
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
            let _ = crate::keyless::rekor::parse_entry(&value);
            let _ = crate::keyless::fulcio::parse_chain(&value);
        }
    }
}
