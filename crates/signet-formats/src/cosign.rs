//! cosign's legacy signature formats: the simple-signing payload, and the
//! `sha256-<hex>.sig` image whose layers are signed payloads.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::manifest::{Descriptor, Manifest};
use crate::{Digest, FormatError, MediaType, Repository, gojson};

/// The `critical.type` cosign writes.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";
/// Layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Layer annotation holding a PEM certificate (keyless).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Layer annotation holding the PEM chain.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// Layer annotation holding the Rekor bundle.
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";
/// Layer annotation holding an RFC 3161 timestamp.
pub const TIMESTAMP_ANNOTATION: &str = "dev.sigstore.cosign/rfc3161timestamp";
/// Most layers cosign accepts in one signature manifest.
pub const MAX_SIGNATURE_LAYERS: usize = 1000;

/// Which cosign attachment a tag holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attachment {
    /// `.sig`: signatures.
    Signature,
    /// `.att`: attestations.
    Attestation,
    /// `.sbom`: an SBOM.
    Sbom,
}

impl Attachment {
    /// The tag suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Attachment::Signature => "sig",
            Attachment::Attestation => "att",
            Attachment::Sbom => "sbom",
        }
    }

    /// The tag cosign uses for this attachment of the image `digest`: `sha256-<hex>.sig`.
    pub fn tag_for(self, digest: &Digest) -> String {
        format!("{}.{}", digest.tag_form(), self.suffix())
    }
}

/// The simple-signing payload: what a legacy cosign signature signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SimpleSigning {
    /// The claims a verifier checks.
    pub critical: Critical,
    /// Free-form annotations (`-a key=value`); `null` when there are none.
    pub optional: Option<BTreeMap<String, Value>>,
}

/// The `critical` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Critical {
    /// The repository the signer named.
    pub identity: Identity,
    /// The manifest digest that was signed.
    pub image: Image,
    /// `cosign container image signature`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// `<registry>/<repository>` in go-containerregistry's form.
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Image {
    /// `sha256:<hex>` as a string; parsed leniently so that a bad value is reported as a
    /// claim mismatch rather than a parse failure.
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    /// The payload cosign would sign for `digest` in `repository` with `annotations`.
    pub fn new(
        repository: &Repository,
        digest: &Digest,
        annotations: &BTreeMap<String, String>,
    ) -> Self {
        Self::with_reference(repository.ggcr_name(), digest, annotations)
    }

    /// As [`SimpleSigning::new`], with an explicit `docker-reference` (for OCI layouts).
    pub fn with_reference(
        reference: String,
        digest: &Digest,
        annotations: &BTreeMap<String, String>,
    ) -> Self {
        SimpleSigning {
            critical: Critical {
                identity: Identity {
                    docker_reference: reference,
                },
                image: Image {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: SIMPLE_SIGNING_TYPE.to_owned(),
            },
            optional: if annotations.is_empty() {
                None
            } else {
                Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                        .collect(),
                )
            },
        }
    }

    /// The exact bytes cosign writes (Go `json.Marshal`, no trailing newline).
    pub fn to_bytes(&self) -> Vec<u8> {
        gojson::to_vec(self)
    }

    /// Parses a payload as Go's `json.Unmarshal` would: field names match
    /// case-insensitively, and absent fields are empty.
    pub fn parse(bytes: &[u8]) -> Result<Self, FormatError> {
        let malformed = |reason: String| FormatError::MalformedPayload { reason };
        let v: Value = serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        let Value::Object(top) = v else {
            return Err(malformed("the payload is not a JSON object".into()));
        };
        let critical = field(&top, "critical").unwrap_or(&Value::Null);
        let critical = object_or_null(critical, "critical").map_err(malformed)?;
        let sub = |name: &str| -> Result<Option<&serde_json::Map<String, Value>>, String> {
            match critical.and_then(|c| field(c, name)) {
                Some(v) => object_or_null(v, name),
                None => Ok(None),
            }
        };
        let text =
            |obj: Option<&serde_json::Map<String, Value>>, name: &str| -> Result<String, String> {
                match obj.and_then(|o| field(o, name)) {
                    None | Some(Value::Null) => Ok(String::new()),
                    Some(Value::String(s)) => Ok(s.clone()),
                    Some(_) => Err(format!("{name} is not a string")),
                }
            };
        let identity = sub("identity").map_err(malformed)?;
        let image = sub("image").map_err(malformed)?;
        let kind = text(critical, "type").map_err(malformed)?;
        let optional = match field(&top, "optional") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            Some(_) => return Err(malformed("optional is not an object".into())),
        };
        Ok(SimpleSigning {
            critical: Critical {
                identity: Identity {
                    docker_reference: text(identity, "docker-reference").map_err(malformed)?,
                },
                image: Image {
                    docker_manifest_digest: text(image, "docker-manifest-digest")
                        .map_err(malformed)?,
                },
                kind,
            },
            optional,
        })
    }
}

/// Go's field matching: an exact name first, then the first case-insensitive match.
fn field<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn object_or_null<'a>(
    v: &'a Value,
    name: &str,
) -> Result<Option<&'a serde_json::Map<String, Value>>, String> {
    match v {
        Value::Object(m) => Ok(Some(m)),
        Value::Null => Ok(None),
        _ => Err(format!("{name} is not an object")),
    }
}

/// One signature layer: a payload and its annotations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLayer {
    /// The layer media type (simple signing for `.sig`).
    pub media_type: MediaType,
    /// The payload bytes (the layer blob).
    pub payload: Vec<u8>,
    /// The layer annotations: the signature, and certificate/bundle keys when present.
    pub annotations: BTreeMap<String, String>,
}

impl SignatureLayer {
    /// The layer's descriptor.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::of(self.media_type.clone(), &self.payload);
        d.annotations = Some(self.annotations.clone());
        d
    }
}

/// Which media types the signature image uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ManifestFlavor {
    /// OCI types (cosign's default).
    #[default]
    Oci,
    /// Docker schema 2 types (`COSIGN_DOCKER_MEDIA_TYPES=1`).
    Docker,
}

/// The config blob of a signature image with these layers (233 bytes for one).
pub fn signature_config(layers: &[Descriptor]) -> Vec<u8> {
    let mut s = String::from(r#"{"architecture":"","created":"0001-01-01T00:00:00Z","history":["#);
    for i in 0..layers.len() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(r#"{"created":"0001-01-01T00:00:00Z"}"#);
    }
    s.push_str(r#"],"os":"","rootfs":{"type":"layers","diff_ids":["#);
    for (i, l) in layers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push('"');
        s.push_str(&l.digest.to_string());
        s.push('"');
    }
    s.push_str(r#"]},"config":{}}"#);
    s.into_bytes()
}

/// A signature image ready to push: config blob, manifest bytes and its digest.
#[derive(Clone, Debug)]
pub struct SignatureImage {
    /// The config blob.
    pub config: Vec<u8>,
    /// The manifest bytes.
    pub manifest: Vec<u8>,
    /// The manifest's media type.
    pub media_type: MediaType,
}

/// Builds the `.sig` image for `layers`, byte-identical to cosign's.
pub fn signature_image(layers: &[Descriptor], flavor: ManifestFlavor) -> SignatureImage {
    let (manifest_mt, config_mt) = match flavor {
        ManifestFlavor::Oci => (MediaType::OCI_MANIFEST, MediaType::OCI_CONFIG),
        ManifestFlavor::Docker => (MediaType::DOCKER_MANIFEST, MediaType::DOCKER_CONFIG),
    };
    let config = signature_config(layers);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(manifest_mt.clone()),
        config: Descriptor::of(config_mt, &config),
        layers: layers.to_vec(),
        annotations: None,
        subject: None,
        artifact_type: None,
    };
    SignatureImage {
        manifest: gojson::to_vec(&manifest),
        config,
        media_type: manifest_mt,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ubuntu() -> Repository {
        Repository::parse("ubuntu").unwrap()
    }

    #[test]
    fn payload_matches_cosign_bytes() {
        // cosign-formats.md §2: this payload is 246 bytes with sha256 edf6e175…8b28.
        let d: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let p = SimpleSigning::new(&ubuntu(), &d, &BTreeMap::new()).to_bytes();
        assert_eq!(p.len(), 246);
        let expected = format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"index.docker.io/library/ubuntu"}},"image":{{"docker-manifest-digest":"sha256:{}"}},"type":"cosign container image signature"}},"optional":null}}"#,
            "a".repeat(64)
        );
        assert_eq!(String::from_utf8(p.clone()).unwrap(), expected);
        let sum = Digest::sha256_of(&p).to_string();
        assert!(
            sum.starts_with("sha256:edf6e175") && sum.ends_with("8b28"),
            "{sum}"
        );
        // and its one-layer config is the 233-byte shape with the documented digest
        let layer = SignatureLayer {
            media_type: MediaType::COSIGN_SIMPLE_SIGNING,
            payload: p,
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.into(), "MEUC".into())]),
        };
        let cfg = signature_config(&[layer.descriptor()]);
        assert_eq!(cfg.len(), 233);
        assert_eq!(
            Digest::sha256_of(&cfg).to_string(),
            "sha256:4c209147bc9405cdb264a077a900060e53cc85efeaa9759d98982f5ea03f98b8"
        );
        assert_eq!(
            signature_config(&[layer.descriptor(), layer.descriptor()]).len(),
            342
        );
    }

    #[test]
    fn annotations_are_sorted_and_escaped() {
        let d = Digest::sha256_of(b"x");
        let ann = BTreeMap::from([
            ("z".to_string(), "<&>".to_string()),
            ("a".to_string(), "1".to_string()),
        ]);
        let p = String::from_utf8(SimpleSigning::new(&ubuntu(), &d, &ann).to_bytes()).unwrap();
        assert!(
            p.ends_with(r#""optional":{"a":"1","z":"\u003c\u0026\u003e"}}"#),
            "{p}"
        );
    }

    #[test]
    fn parses_case_insensitively_like_go() {
        let p = br#"{"Critical":{"Identity":{"docker-reference":"r"},"Image":{"Docker-manifest-digest":"sha256:x"},"Type":"t"},"Optional":{"k":"v"}}"#;
        let s = SimpleSigning::parse(p).unwrap();
        assert_eq!(s.critical.image.docker_manifest_digest, "sha256:x");
        assert_eq!(s.critical.identity.docker_reference, "r");
        assert_eq!(s.optional.unwrap()["k"], "v");
        for bad in [
            &b"[]"[..],
            b"{",
            br#"{"critical":5}"#,
            br#"{"critical":{"image":{"docker-manifest-digest":1}}}"#,
        ] {
            assert!(matches!(
                SimpleSigning::parse(bad),
                Err(FormatError::MalformedPayload { .. })
            ));
        }
    }

    #[test]
    fn manifest_layout_matches_cosign() {
        let d = Digest::sha256_of(b"img");
        let layer = SignatureLayer {
            media_type: MediaType::COSIGN_SIMPLE_SIGNING,
            payload: SimpleSigning::new(&ubuntu(), &d, &BTreeMap::new()).to_bytes(),
            annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.into(), "MEUC".into())]),
        };
        let img = signature_image(&[layer.descriptor()], ManifestFlavor::Oci);
        let m = String::from_utf8(img.manifest).unwrap();
        let expected = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"{}"}},"layers":[{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":{},"digest":"{}","annotations":{{"dev.cosignproject.cosign/signature":"MEUC"}}}}]}}"#,
            Digest::sha256_of(&img.config),
            layer.payload.len(),
            Digest::sha256_of(&layer.payload)
        );
        assert_eq!(m, expected);
        assert_eq!(
            Attachment::Signature.tag_for(&d),
            format!("{}.sig", d.tag_form())
        );
    }
}
