//! One interface over the two places an image can live: a registry repository, or an
//! OCI image layout on disk. Sign and verify are written once against [`ImageStore`].

use signet_formats::manifest::{AnyManifest, Descriptor, parse_manifest};
use signet_formats::{Digest, FormatError, ImageLocation, MediaType, Repository};

use crate::layout::{LayoutError, OciLayout};
use crate::{FetchedManifest, RegistryClient, RegistryError};

/// Manifests larger than this are refused (distribution's own limit).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// Errors from an image store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The layout failed.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A manifest the store returned does not parse.
    #[error("manifest {reference} in {location}: {error}")]
    MalformedManifest {
        /// Where it was.
        location: String,
        /// Which manifest.
        reference: String,
        /// The parse failure.
        error: FormatError,
    },
}

/// A repository in a registry, or an OCI layout directory.
#[derive(Clone, Debug)]
pub enum ImageStore {
    /// A registry repository.
    Registry {
        /// The client.
        client: RegistryClient,
        /// The repository.
        repository: Repository,
    },
    /// An OCI image layout.
    Layout(OciLayout),
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RegistryClient")
    }
}

/// A manifest resolved from a tag or digest: its digest, type and bytes.
#[derive(Clone, Debug)]
pub struct ResolvedManifest {
    /// The digest of the bytes.
    pub digest: Digest,
    /// Its media type.
    pub media_type: MediaType,
    /// The manifest bytes.
    pub bytes: Vec<u8>,
}

impl ResolvedManifest {
    /// Parses the manifest.
    pub fn parse(&self) -> Result<AnyManifest, FormatError> {
        parse_manifest(&self.bytes, Some(&self.media_type))
    }

    /// A descriptor of this manifest.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::of(self.media_type.clone(), &self.bytes);
        d.digest = self.digest.clone();
        d
    }
}

impl ImageStore {
    /// The store that holds `location`, and the tag or digest to look up in it.
    pub fn open(
        location: &ImageLocation,
        client: &RegistryClient,
    ) -> Result<(ImageStore, String), StoreError> {
        Ok(match location {
            ImageLocation::Registry(r) => (
                ImageStore::Registry {
                    client: client.clone(),
                    repository: r.repository().clone(),
                },
                r.reference(),
            ),
            ImageLocation::Layout(l) => {
                let reference = match (&l.digest, &l.tag) {
                    (Some(d), _) => d.to_string(),
                    (None, Some(t)) => t.to_string(),
                    (None, None) => "latest".to_owned(),
                };
                (ImageStore::Layout(OciLayout::open(&l.path)?), reference)
            }
        })
    }

    /// The same store, but another repository of the same registry (`COSIGN_REPOSITORY`).
    pub fn with_repository(&self, repository: Repository) -> ImageStore {
        match self {
            ImageStore::Registry { client, .. } => ImageStore::Registry {
                client: client.clone(),
                repository,
            },
            ImageStore::Layout(l) => ImageStore::Layout(l.clone()),
        }
    }

    /// A human-readable name: `reg/repo` or `oci:PATH`.
    pub fn name(&self) -> String {
        match self {
            ImageStore::Registry { repository, .. } => repository.to_string(),
            ImageStore::Layout(l) => format!("oci:{}", l.root().display()),
        }
    }

    /// How a tag in this store is printed (`reg/repo:tag`, `oci:PATH:tag`).
    pub fn tag_name(&self, tag: &str) -> String {
        format!("{}:{tag}", self.name())
    }

    /// The `docker-reference` that signatures in this store name.
    pub fn docker_reference(&self) -> String {
        match self {
            ImageStore::Registry { repository, .. } => repository.ggcr_name(),
            ImageStore::Layout(l) => format!("oci:{}", l.root().display()),
        }
    }

    /// Fetches a manifest by tag or digest; `None` if there is none.
    pub async fn manifest(&self, reference: &str) -> Result<Option<ResolvedManifest>, StoreError> {
        match self {
            ImageStore::Registry { client, repository } => {
                Ok(client.get_manifest(repository, reference).await?.map(
                    |FetchedManifest {
                         bytes,
                         media_type,
                         digest,
                     }| ResolvedManifest {
                        digest,
                        media_type,
                        bytes,
                    },
                ))
            }
            ImageStore::Layout(l) => {
                let desc = match reference.parse::<Digest>() {
                    Ok(d) => match l.index()?.manifests.into_iter().find(|m| m.digest == d) {
                        Some(m) => m,
                        None if l.has_blob(&d) => {
                            Descriptor::of(MediaType::OCI_MANIFEST, b"").with_digest(d)
                        }
                        None => return Ok(None),
                    },
                    Err(_) => match l.resolve_tag(reference)? {
                        Some(d) => d,
                        None => return Ok(None),
                    },
                };
                let bytes = l.read_blob(&desc.digest, MAX_MANIFEST_BYTES)?;
                let media_type = match parse_manifest(&bytes, Some(&desc.media_type)) {
                    Ok(AnyManifest::Image(m)) => m.media_type.unwrap_or(desc.media_type),
                    Ok(AnyManifest::Index(i)) => i.media_type.unwrap_or(desc.media_type),
                    Err(error) => {
                        return Err(StoreError::MalformedManifest {
                            location: self.name(),
                            reference: reference.to_owned(),
                            error,
                        });
                    }
                };
                Ok(Some(ResolvedManifest {
                    digest: desc.digest,
                    media_type,
                    bytes,
                }))
            }
        }
    }

    /// Fetches a blob, verified against its digest and bounded by `limit`.
    pub async fn blob(&self, digest: &Digest, limit: usize) -> Result<Vec<u8>, StoreError> {
        match self {
            ImageStore::Registry { client, repository } => {
                Ok(client.get_blob(repository, digest, Some(limit)).await?)
            }
            ImageStore::Layout(l) => Ok(l.read_blob(digest, limit)?),
        }
    }

    /// Uploads a blob (a no-op when it is already there).
    pub async fn push_blob(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        match self {
            ImageStore::Registry { client, repository } => {
                let digest = Digest::sha256_of(bytes);
                client.push_blob(repository, &digest, bytes).await?;
                Ok(digest)
            }
            ImageStore::Layout(l) => Ok(l.write_blob(bytes)?),
        }
    }

    /// Stores a manifest under `tag`. This is the commit point of a write: until it
    /// succeeds, readers of the tag see what was there before.
    pub async fn put_tagged_manifest(
        &self,
        tag: &str,
        media_type: &MediaType,
        bytes: &[u8],
    ) -> Result<Digest, StoreError> {
        match self {
            ImageStore::Registry { client, repository } => Ok(client
                .put_manifest(repository, tag, media_type, bytes)
                .await?),
            ImageStore::Layout(l) => {
                let digest = l.write_blob(bytes)?;
                l.set_tag(tag, Descriptor::of(media_type.clone(), bytes))?;
                Ok(digest)
            }
        }
    }
}

trait WithDigest {
    fn with_digest(self, d: Digest) -> Self;
}

impl WithDigest for Descriptor {
    fn with_digest(mut self, d: Digest) -> Self {
        self.digest = d;
        self
    }
}
