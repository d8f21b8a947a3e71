//! OCI descriptors, image manifests and indexes (and their Docker schema 2 twins).
//! Field order follows go-containerregistry's `v1.Manifest`/`v1.Descriptor`, so that
//! [`crate::gojson::to_vec`] of these types is byte-identical to what cosign writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Digest, FormatError, MediaType};

/// A content descriptor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// The media type of the referenced content.
    #[serde(rename = "mediaType")]
    pub media_type: MediaType,
    /// The size in bytes.
    pub size: i64,
    /// The digest of the content.
    pub digest: Digest,
    /// Embedded content (base64 in JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Alternative download locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<String>>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Platform, for index entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type, for referrers.
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<MediaType>,
}

impl Descriptor {
    /// A plain descriptor of `bytes` with `media_type`.
    pub fn of(media_type: MediaType, bytes: &[u8]) -> Self {
        Descriptor {
            media_type,
            size: bytes.len() as i64,
            digest: Digest::sha256_of(bytes),
            data: None,
            urls: None,
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }
}

/// The platform an index entry is built for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture (`amd64`).
    #[serde(default)]
    pub architecture: String,
    /// Operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// OS version.
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features.
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_features: Option<Vec<String>>,
    /// CPU variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The manifest's own media type.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The config blob.
    pub config: Descriptor,
    /// The layers, in order.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The manifest this one refers to (OCI 1.1 referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// The artifact type (OCI 1.1).
    #[serde(
        rename = "artifactType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub artifact_type: Option<MediaType>,
}

/// An image index or manifest list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Always 2.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The index's own media type.
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The child manifests.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub manifests: Vec<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Descriptor>, D::Error> {
    Ok(Option::<Vec<Descriptor>>::deserialize(d)?.unwrap_or_default())
}

/// A parsed manifest of either kind.
// Parsed once per fetch and consumed at once, never stored in bulk: boxing the larger
// variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyManifest {
    /// An image manifest.
    Image(Manifest),
    /// An index.
    Index(Index),
}

/// Parses manifest bytes. `content_type` is the registry's `Content-Type`, used when the
/// body has no `mediaType` field.
pub fn parse_manifest(
    bytes: &[u8],
    content_type: Option<&MediaType>,
) -> Result<AnyManifest, FormatError> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "schemaVersion", default)]
        schema_version: Option<u32>,
        #[serde(rename = "mediaType", default)]
        media_type: Option<MediaType>,
        #[serde(default)]
        config: Option<serde::de::IgnoredAny>,
    }
    let malformed = |e: serde_json::Error| FormatError::MalformedManifest {
        reason: e.to_string(),
    };
    let probe: Probe = serde_json::from_slice(bytes).map_err(malformed)?;
    if probe.schema_version != Some(2) {
        return Err(FormatError::MalformedManifest {
            reason: format!("schemaVersion is {:?}, expected 2", probe.schema_version),
        });
    }
    let mt = probe.media_type.or_else(|| content_type.cloned());
    let is_index = match &mt {
        Some(m) if m.is_index() => true,
        Some(m) if m.is_image_manifest() => false,
        _ => probe.config.is_none(),
    };
    if is_index {
        Ok(AnyManifest::Index(
            serde_json::from_slice(bytes).map_err(malformed)?,
        ))
    } else {
        Ok(AnyManifest::Image(
            serde_json::from_slice(bytes).map_err(malformed)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_kind() {
        let idx = br#"{"schemaVersion":2,"manifests":null}"#;
        assert!(
            matches!(parse_manifest(idx, None), Ok(AnyManifest::Index(i)) if i.manifests.is_empty())
        );
        let m = br#"{"schemaVersion":2,"config":{"mediaType":"a","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
        assert!(matches!(parse_manifest(m, None), Ok(AnyManifest::Image(_))));
        assert!(matches!(
            parse_manifest(b"{}", None),
            Err(FormatError::MalformedManifest { .. })
        ));
        assert!(matches!(
            parse_manifest(b"[", None),
            Err(FormatError::MalformedManifest { .. })
        ));
        let bad_digest = br#"{"schemaVersion":2,"config":{"mediaType":"a","size":2,"digest":"sha256:zz"},"layers":[]}"#;
        assert!(matches!(
            parse_manifest(bad_digest, None),
            Err(FormatError::MalformedManifest { .. })
        ));
    }
}
