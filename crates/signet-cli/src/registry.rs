//! Registry flags to a client, and image arguments to stores.

use anyhow::{Context, Result};
use signet_formats::{Digest, ImageLocation, Repository};
use signet_oci::{ClientConfig, HttpPolicy, ImageStore, RegistryClient, TlsVerification};

use crate::cli::RegistryArgs;
use crate::exit::Failure;

pub(crate) fn client(args: &RegistryArgs) -> Result<RegistryClient> {
    let mut config = ClientConfig {
        username: args.registry_username.clone(),
        password: args.registry_password.clone(),
        docker_config: args.docker_config.clone(),
        tls: if args.allow_insecure_registry {
            TlsVerification::Insecure
        } else {
            TlsVerification::Verify
        },
        http: if args.allow_http_registry {
            HttpPolicy::AllowHttp
        } else {
            HttpPolicy::HttpsOnly
        },
        ..ClientConfig::default()
    };
    if let Some(path) = &args.registry_cacert {
        config.extra_ca_pem.push(
            std::fs::read(path)
                .with_context(|| format!("reading --registry-cacert {}", path.display()))?,
        );
    }
    if let Some(size) = std::env::var("COSIGN_MAX_ATTACHMENT_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        config.max_blob_bytes = size;
    }
    RegistryClient::new(config).context("setting up the registry client")
}

/// Parses an image argument and opens the store that holds it.
pub(crate) fn open(
    image: &str,
    client: &RegistryClient,
) -> Result<(ImageLocation, ImageStore, String)> {
    let location: ImageLocation = image.parse()?;
    let (store, reference) = ImageStore::open(&location, client)?;
    Ok((location, store, reference))
}

/// Where signatures for images in `store` live: the same repository, or
/// `COSIGN_REPOSITORY` when it is set.
pub(crate) fn signature_store(store: &ImageStore) -> Result<ImageStore> {
    match (std::env::var("COSIGN_REPOSITORY"), store) {
        (Ok(repo), ImageStore::Registry { .. }) if !repo.is_empty() => {
            let repository =
                Repository::parse(&repo).with_context(|| format!("COSIGN_REPOSITORY={repo}"))?;
            Ok(store.with_repository(repository))
        }
        _ => Ok(store.clone()),
    }
}

/// The name cosign prints for an image (`reg/repo:tag`, `index.docker.io/library/x:latest`,
/// `oci:PATH:TAG`) and its digest: the one pinned in the reference, or the tag resolved
/// with one manifest GET (exit 11 when the tag does not exist).
pub(crate) async fn resolve(
    image: &str,
    location: &ImageLocation,
    store: &ImageStore,
    reference: &str,
) -> Result<(String, Digest)> {
    signet_check::resolve(image, location, store, reference)
        .await
        .map_err(|e| match e {
            signet_check::CheckError::TagNotFound { image } => {
                Failure::tag_not_found(&image).into()
            }
            other => anyhow::Error::from(other),
        })
}
