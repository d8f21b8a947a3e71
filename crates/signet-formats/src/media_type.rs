//! Media types that OCI registries and cosign use.

use std::borrow::Cow;
use std::fmt;

/// A media type (`application/vnd.oci.image.manifest.v1+json`).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaType(Cow<'static, str>);

impl MediaType {
    /// A media type from any string.
    pub fn new(s: impl Into<String>) -> Self {
        MediaType(Cow::Owned(s.into()))
    }

    const fn constant(s: &'static str) -> Self {
        MediaType(Cow::Borrowed(s))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// OCI image manifest.
    pub const OCI_MANIFEST: MediaType =
        MediaType::constant("application/vnd.oci.image.manifest.v1+json");
    /// OCI image index.
    pub const OCI_INDEX: MediaType = MediaType::constant("application/vnd.oci.image.index.v1+json");
    /// OCI image config.
    pub const OCI_CONFIG: MediaType =
        MediaType::constant("application/vnd.oci.image.config.v1+json");
    /// OCI empty descriptor (`{}`).
    pub const OCI_EMPTY: MediaType = MediaType::constant("application/vnd.oci.empty.v1+json");
    /// Docker schema 2 manifest.
    pub const DOCKER_MANIFEST: MediaType =
        MediaType::constant("application/vnd.docker.distribution.manifest.v2+json");
    /// Docker manifest list.
    pub const DOCKER_MANIFEST_LIST: MediaType =
        MediaType::constant("application/vnd.docker.distribution.manifest.list.v2+json");
    /// Docker image config.
    pub const DOCKER_CONFIG: MediaType =
        MediaType::constant("application/vnd.docker.container.image.v1+json");
    /// cosign's simple-signing payload layer.
    pub const COSIGN_SIMPLE_SIGNING: MediaType =
        MediaType::constant("application/vnd.dev.cosign.simplesigning.v1+json");
    /// A DSSE envelope layer (cosign `.att`).
    pub const DSSE_ENVELOPE: MediaType =
        MediaType::constant("application/vnd.dsse.envelope.v1+json");

    /// Whether this is an index or manifest list.
    pub fn is_index(&self) -> bool {
        *self == Self::OCI_INDEX || *self == Self::DOCKER_MANIFEST_LIST
    }

    /// Whether this is an image manifest (OCI or Docker).
    pub fn is_image_manifest(&self) -> bool {
        *self == Self::OCI_MANIFEST || *self == Self::DOCKER_MANIFEST
    }
}

/// The `Accept` header a manifest request must send. Distribution 2.8 answers 404 for
/// an OCI manifest when OCI types are missing, so all four are always listed.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, \
application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.list.v2+json";

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl serde::Serialize for MediaType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for MediaType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(MediaType::new(String::deserialize(d)?))
    }
}
