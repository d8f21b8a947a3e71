//! Where cosign keeps legacy signatures: the image `sha256-<hex>.sig` in the image's
//! repository (or `COSIGN_REPOSITORY`), one layer per signature.

use futures_util::StreamExt;
use futures_util::stream;
use signet_formats::cosign::{
    Attachment, MAX_SIGNATURE_LAYERS, ManifestFlavor, SignatureLayer, signature_image,
};
use signet_formats::manifest::{AnyManifest, Descriptor};
use signet_formats::{Digest, FormatError, MediaType};

use crate::store::{ImageStore, StoreError};

/// cosign's per-layer size limit (`COSIGN_MAX_ATTACHMENT_SIZE`, 128 MiB).
pub const MAX_SIGNATURE_LAYER_BYTES: usize = 128 * 1024 * 1024;

/// The signature manifest of one image, as read from the store.
#[derive(Clone, Debug)]
pub struct SignatureManifest {
    /// Where it lives (`reg/repo:sha256-<hex>.sig`).
    pub tag: String,
    /// The manifest digest.
    pub digest: Digest,
    /// Its media-type flavour, kept when appending.
    pub flavor: ManifestFlavor,
    /// The signature layers, in order.
    pub layers: Vec<Descriptor>,
}

/// Reads the `attachment` manifest of the image `image`. `Ok(None)` when the tag does
/// not exist (no signatures).
pub async fn read_attachment(
    store: &ImageStore,
    image: &Digest,
    attachment: Attachment,
) -> Result<Option<SignatureManifest>, StoreError> {
    let tag = attachment.tag_for(image);
    let Some(m) = store.manifest(&tag).await? else {
        return Ok(None);
    };
    let malformed = |error: FormatError| StoreError::MalformedManifest {
        location: store.name(),
        reference: tag.clone(),
        error,
    };
    let manifest = match m.parse().map_err(malformed)? {
        AnyManifest::Image(im) => im,
        AnyManifest::Index(_) => {
            return Err(malformed(FormatError::MalformedManifest {
                reason: "a signature tag must hold an image manifest, found an index".into(),
            }));
        }
    };
    if manifest.layers.len() > MAX_SIGNATURE_LAYERS {
        return Err(malformed(FormatError::MalformedManifest {
            reason: format!(
                "{} layers, over cosign's limit of {MAX_SIGNATURE_LAYERS}",
                manifest.layers.len()
            ),
        }));
    }
    let flavor = if m.media_type == MediaType::DOCKER_MANIFEST {
        ManifestFlavor::Docker
    } else {
        ManifestFlavor::Oci
    };
    Ok(Some(SignatureManifest {
        tag: store.tag_name(&tag),
        digest: m.digest,
        flavor,
        layers: manifest.layers,
    }))
}

/// Fetches every layer's payload, `workers` at a time, each bounded and digest-checked.
/// Results are in layer order.
///
/// `predicted` are payloads the caller can construct itself (the simple-signing payload
/// for this image as cosign writes it). A layer whose digest is the digest of one of
/// them *has* those bytes, since the digest commits to the content, so it is not
/// downloaded: verifying an image by tag then costs two registry requests, not three.
pub async fn fetch_payloads(
    store: &ImageStore,
    layers: &[Descriptor],
    workers: usize,
    predicted: &[Vec<u8>],
) -> Vec<Result<Vec<u8>, StoreError>> {
    let predicted: Vec<(Digest, &Vec<u8>)> = predicted
        .iter()
        .map(|p| (Digest::sha256_of(p), p))
        .collect();
    // Owned inputs: a future borrowing from the iterator trips rustc's higher-ranked
    // lifetime check when the caller needs the whole future to be Send (tokio::spawn).
    let fetches: Vec<_> = layers
        .iter()
        .map(|l| {
            let known = predicted
                .iter()
                .find(|(d, _)| *d == l.digest)
                .map(|(_, p)| (*p).clone());
            let (digest, size) = (l.digest.clone(), l.size);
            async move {
                if let Some(bytes) = known {
                    return Ok(bytes);
                }
                // A declared size over the limit is refused by the store without a download.
                let limit = if size < 0 || size as u64 > MAX_SIGNATURE_LAYER_BYTES as u64 {
                    0
                } else {
                    MAX_SIGNATURE_LAYER_BYTES
                };
                store.blob(&digest, limit).await
            }
        })
        .collect();
    stream::iter(fetches)
        .buffered(workers.max(1))
        .collect()
        .await
}

/// Appends `new_layers` to the image's signatures (starting from `existing`, or from
/// an empty signature image) and writes the result under `sha256-<hex>.sig`.
///
/// Blobs go first and the manifest last, so a failure at any step leaves the tag as it
/// was. Returns the new manifest's digest.
pub async fn append_signatures(
    store: &ImageStore,
    image: &Digest,
    existing: Option<&SignatureManifest>,
    new_layers: &[SignatureLayer],
    flavor: ManifestFlavor,
) -> Result<Digest, StoreError> {
    let mut layers: Vec<Descriptor> = existing.map(|e| e.layers.clone()).unwrap_or_default();
    let flavor = existing.map(|e| e.flavor).unwrap_or(flavor);
    for l in new_layers {
        store.push_blob(&l.payload).await?;
        layers.push(l.descriptor());
    }
    let img = signature_image(&layers, flavor);
    store.push_blob(&img.config).await?;
    store
        .put_tagged_manifest(
            &Attachment::Signature.tag_for(image),
            &img.media_type,
            &img.manifest,
        )
        .await
}
