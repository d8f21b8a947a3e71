//! `signet verify` for cosign v3's image signatures: Sigstore bundles stored as OCI 1.1
//! referrers of the image (`signet sign --new-bundle-format`, cosign v3 `sign`, cosign
//! `attest --new-bundle-format`).
//!
//! As cosign's `GetBundles`: every referrer is listed (the referrers API, else the
//! `sha256-<hex>` fallback index); those whose manifest has exactly one layer of a
//! `application/vnd.dev.sigstore.bundle…` media type are bundles, the rest is skipped.
//! Each bundle must be v0.3 or later, name this image as the manifest's `subject`,
//! hold a DSSE in-toto statement, verify with `signet_verify::bundle::BundleVerifier`
//! for the image digest (which requires an in-toto subject with that digest), and,
//! with `--check-claims`, carry each `-a key=value` in that subject's `annotations`.
//! Like `cosign verify`, any predicate type counts.
//!
//! A verified bundle is printed in cosign's shape (`transformOutput`): docker-reference
//! = the image as named, docker-manifest-digest = the first subject's digest, type =
//! the predicate type, optional = the first subject's annotations.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Result;
use futures_util::StreamExt;
use futures_util::stream;
use serde_json::Value;
use signet_formats::cosign::{Critical, Identity, Image, SimpleSigning};
use signet_formats::manifest::{AnyManifest, Descriptor};
use signet_formats::sigstore::{Bundle, BundleContent, BundleVersion, DSSE_IN_TOTO_PAYLOAD_TYPE};
use signet_formats::{Digest, MediaType};
use signet_oci::ImageStore;
use signet_oci::referrers::list_referrers;
use signet_verify::VerifiedSignature;
use signet_verify::bundle::{Artifact, BundleVerifier, Policy};

/// Bundle layers are read up to this size.
const MAX_BUNDLE_BYTES: usize = 32 * 1024 * 1024;

/// The prefix of every Sigstore bundle media type.
const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// What a bundle must satisfy, shared by every image of one `verify`.
pub(crate) struct BundleCheck {
    policy: Policy,
    annotations: BTreeMap<String, String>,
    check_claims: bool,
    insecure_ignore_tlog: bool,
    trusted_root: Option<PathBuf>,
    /// Built on first use: most images have no bundles, and loading the embedded
    /// public-good root is not free.
    verifier: OnceLock<Result<BundleVerifier, String>>,
}

impl BundleCheck {
    /// Reads `--trusted-root` now, so that a bad path fails before any registry work.
    pub(crate) fn new(
        policy: Policy,
        annotations: BTreeMap<String, String>,
        check_claims: bool,
        insecure_ignore_tlog: bool,
        trusted_root: Option<PathBuf>,
    ) -> Result<Self> {
        let check = BundleCheck {
            policy,
            annotations,
            check_claims,
            insecure_ignore_tlog,
            trusted_root,
            verifier: OnceLock::new(),
        };
        if check.trusted_root.is_some() {
            check.verifier().map_err(anyhow::Error::msg)?;
        }
        Ok(check)
    }

    fn verifier(&self) -> Result<&BundleVerifier, String> {
        self.verifier
            .get_or_init(|| {
                let root = crate::blob::load_trusted_root(self.trusted_root.as_deref(), false)
                    .map_err(|e| format!("{e:#}"))?;
                let mut v = BundleVerifier::new(&root).map_err(|e| e.to_string())?;
                if self.insecure_ignore_tlog {
                    v = v.allow_key_signatures_without_time();
                }
                Ok(v)
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The bundles of one image.
pub(crate) enum Bundles {
    /// No bundle referrers. `note` says why, when the referrers could not be read.
    None {
        /// The listing error, if any.
        note: Option<String>,
    },
    /// At least one bundle verified: every verified one, in listing order.
    Verified(Vec<VerifiedSignature>),
    /// There were bundles and none verified: one reason per bundle.
    Rejected(Vec<String>),
}

/// Lists, fetches and verifies the bundle referrers of `digest` in `store`, `workers`
/// referrers at a time. `name` is the image as printed (`reg/repo:tag`).
pub(crate) async fn verify(
    store: &ImageStore,
    name: &str,
    digest: &Digest,
    check: &BundleCheck,
    workers: usize,
) -> Bundles {
    let listed = match list_referrers(store, digest, None).await {
        Ok(l) => l,
        Err(e) => {
            return Bundles::None {
                note: Some(e.to_string()),
            };
        }
    };
    // Skip what declares itself something else (SBOMs, oras attachments): only bundle
    // types, the empty config type (go-containerregistry writes config.mediaType into
    // fallback entries) and no type at all can be bundles. A wrong label only hides a
    // bundle; it can never make one verify.
    let candidates: Vec<Descriptor> = listed
        .descriptors
        .into_iter()
        .filter(|d| {
            d.artifact_type.as_ref().is_none_or(|t| {
                t.as_str().starts_with(BUNDLE_MEDIA_TYPE_PREFIX) || *t == MediaType::OCI_EMPTY
            })
        })
        .collect();
    let results: Vec<Option<Result<VerifiedSignature, String>>> = stream::iter(candidates)
        .map(|d| async move {
            one(store, name, digest, check, &d)
                .await
                .map(|r| r.map_err(|reason| format!("bundle referrer {}: {reason}", d.digest)))
        })
        .buffered(workers.max(1))
        .collect()
        .await;
    let (mut verified, mut rejected) = (Vec::new(), Vec::new());
    for r in results.into_iter().flatten() {
        match r {
            Ok(v) => verified.push(v),
            Err(e) => rejected.push(e),
        }
    }
    match (verified.is_empty(), rejected.is_empty()) {
        (false, _) => Bundles::Verified(verified),
        (true, false) => Bundles::Rejected(rejected),
        (true, true) => Bundles::None { note: None },
    }
}

/// One referrer: `None` if it is not a bundle, else its verdict.
async fn one(
    store: &ImageStore,
    name: &str,
    digest: &Digest,
    check: &BundleCheck,
    referrer: &Descriptor,
) -> Option<Result<VerifiedSignature, String>> {
    let manifest = match store.manifest(&referrer.digest.to_string()).await {
        Ok(Some(m)) => m,
        Ok(None) => return Some(Err("listed, but the manifest is not in the registry".into())),
        Err(e) => return Some(Err(e.to_string())),
    };
    let Ok(AnyManifest::Image(m)) = manifest.parse() else {
        return None;
    };
    let [layer] = m.layers.as_slice() else {
        return None;
    };
    if !layer
        .media_type
        .as_str()
        .starts_with(BUNDLE_MEDIA_TYPE_PREFIX)
    {
        return None;
    }
    Some(check_bundle(store, name, digest, check, &m.subject, layer).await)
}

async fn check_bundle(
    store: &ImageStore,
    name: &str,
    digest: &Digest,
    check: &BundleCheck,
    subject: &Option<Descriptor>,
    layer: &Descriptor,
) -> Result<VerifiedSignature, String> {
    match subject {
        Some(s) if s.digest == *digest => {}
        Some(s) => {
            return Err(format!(
                "its subject is {}, not this image; it was listed for the wrong image",
                s.digest
            ));
        }
        None => return Err("it has no subject, so it is not about this image".into()),
    }
    let bytes = store
        .blob(&layer.digest, MAX_BUNDLE_BYTES)
        .await
        .map_err(|e| e.to_string())?;
    let bundle = Bundle::parse(&bytes).map_err(|e| format!("the bundle is malformed: {e}"))?;
    if bundle.version < BundleVersion::V0_3 {
        return Err(format!(
            "bundle version too old ({}; v0.3 or later is required)",
            bundle.version
        ));
    }
    let BundleContent::DsseEnvelope(envelope) = &bundle.content else {
        return Err(
            "the bundle holds a message signature, not a signed in-toto statement about the image"
                .into(),
        );
    };
    if envelope.payload_type != DSSE_IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "the DSSE payload type is {:?}, not {DSSE_IN_TOTO_PAYLOAD_TYPE}",
            envelope.payload_type
        ));
    }
    let verifier = check.verifier()?;
    verifier
        .verify(&bundle, Artifact::Sha256(digest.clone()), &check.policy)
        .map_err(|e| crate::blob::explain(&e, &check.policy))?;
    // The verifier has checked that an in-toto subject names the digest; cosign's claim
    // verifier checks it again, and the annotations.
    let statement = envelope
        .statement()
        .map_err(|e| format!("the signed statement is malformed: {e}"))?;
    if statement.find_subject(digest).is_none() {
        return Err("no matching subject digest found".into());
    }
    let subjects = subject_annotations(&envelope.payload);
    if check.check_claims && !check.annotations.is_empty() {
        let matching = statement
            .subjects
            .iter()
            .position(|s| s.digest.get("sha256").is_some_and(|h| h == digest.hex()));
        let found = matching
            .and_then(|i| subjects.get(i))
            .cloned()
            .unwrap_or_default();
        for (k, v) in &check.annotations {
            if found.get(k) != Some(&Value::String(v.clone())) {
                return Err(format!(
                    "missing or incorrect annotation: {k}={v} is not in the statement's subject annotations"
                ));
            }
        }
    }
    let first = statement.subjects.first();
    let first_digest = first
        .and_then(|s| {
            s.digest
                .get("sha256")
                .map(|h| format!("sha256:{h}"))
                .or_else(|| s.digest.iter().next().map(|(a, h)| format!("{a}:{h}")))
        })
        .unwrap_or_default();
    Ok(VerifiedSignature {
        layer_digest: layer.digest.clone(),
        payload: SimpleSigning {
            critical: Critical {
                identity: Identity {
                    docker_reference: name.to_owned(),
                },
                image: Image {
                    docker_manifest_digest: first_digest,
                },
                kind: statement.predicate_type,
            },
            optional: Some(subjects.into_iter().next().unwrap_or_default()),
        },
    })
}

/// Each subject's `annotations` object (empty when absent), in subject order. The
/// statement has been parsed already; anything unexpected here reads as no annotations.
fn subject_annotations(statement: &[u8]) -> Vec<BTreeMap<String, Value>> {
    let Ok(Value::Object(st)) = serde_json::from_slice::<Value>(statement) else {
        return Vec::new();
    };
    let Some(Value::Array(subjects)) = st.get("subject") else {
        return Vec::new();
    };
    subjects
        .iter()
        .map(|s| match s.get("annotations") {
            Some(Value::Object(a)) => a.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            _ => BTreeMap::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_annotations_are_read_per_subject() {
        let st = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"aa"},"annotations":{"a":"b","n":1}},{"digest":{"sha256":"bb"}}],"predicateType":"p","predicate":{}}"#;
        let a = subject_annotations(st);
        assert_eq!(a.len(), 2);
        assert_eq!(a[0]["a"], Value::String("b".into()));
        assert_eq!(a[0]["n"], Value::from(1));
        assert!(a[1].is_empty());
        assert!(subject_annotations(b"[").is_empty());
        assert!(subject_annotations(br#"{"subject":{}}"#).is_empty());
    }
}
