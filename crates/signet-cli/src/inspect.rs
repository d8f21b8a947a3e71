//! `signet triangulate` and `signet tree`: where an image's attachments live.

use anyhow::Result;
use signet_formats::Digest;
use signet_formats::cosign::Attachment;
use signet_oci::ImageStore;
use signet_oci::signatures::read_attachment;

use crate::cli::{AttachmentType, TreeArgs, TriangulateArgs};
use crate::registry;

async fn resolve(
    image: &str,
    args: &crate::cli::RegistryArgs,
) -> Result<(ImageStore, Digest, String)> {
    let client = registry::client(args)?;
    let (location, store, reference) = registry::open(image, &client)?;
    let (name, digest) = registry::resolve(image, &location, &store, &reference).await?;
    Ok((store, digest, name))
}

pub(crate) async fn triangulate(args: TriangulateArgs) -> Result<()> {
    let (store, digest, _) = resolve(&args.image, &args.registry).await?;
    let attachment = match args.kind {
        AttachmentType::Signature => Attachment::Signature,
        AttachmentType::Attestation => Attachment::Attestation,
        AttachmentType::Sbom => Attachment::Sbom,
        AttachmentType::Digest => {
            println!("{}@{digest}", store.name());
            return Ok(());
        }
    };
    let sigs = registry::signature_store(&store)?;
    println!("{}", sigs.tag_name(&attachment.tag_for(&digest)));
    Ok(())
}

pub(crate) async fn tree(args: TreeArgs) -> Result<()> {
    let (store, digest, name) = resolve(&args.image, &args.registry).await?;
    let sigs = registry::signature_store(&store)?;
    let kinds = [
        (Attachment::Attestation, "💾 Attestations for an image tag"),
        (Attachment::Signature, "🔐 Signatures for an image tag"),
        (Attachment::Sbom, "📦 SBOMs for an image tag"),
    ];
    let found = futures_util::future::try_join_all(
        kinds
            .iter()
            .map(|(a, _)| read_attachment(&sigs, &digest, *a)),
    )
    .await?;
    if found.iter().all(Option::is_none) {
        println!(
            "No Supply Chain Security Related Artifacts found for image {name},\n start creating one with simply running$ signet sign --key cosign.key {name}"
        );
        return Ok(());
    }
    println!("📦 Supply Chain Security Related artifacts for an image: {name}");
    for ((_, title), manifest) in kinds.iter().zip(found) {
        let Some(m) = manifest else { continue };
        println!("└── {title}: {}", m.tag);
        let n = m.layers.len();
        for (i, l) in m.layers.iter().enumerate() {
            println!(
                "   {} 🍒 {}",
                if i + 1 == n { "└──" } else { "├──" },
                l.digest
            );
        }
    }
    Ok(())
}
