//! cosign v3's image signatures: Sigstore bundles stored as OCI 1.1 referrers of the
//! image (`signet sign --new-bundle-format`, cosign v3 `sign`, cosign `attest
//! --new-bundle-format`).
//!
//! As cosign's `GetBundles`: every referrer is listed (the referrers API, else the
//! `sha256-<hex>` fallback index); those whose manifest has exactly one layer of a
//! `application/vnd.dev.sigstore.bundle…` media type are bundles, the rest is skipped.
//! Each bundle must be v0.3 or later, name this image as the manifest's `subject`,
//! hold a DSSE in-toto statement, verify with `signet_verify::bundle::BundleVerifier`
//! for the image digest (which requires an in-toto subject with that digest), and,
//! with claims checked, carry each required annotation in that subject's
//! `annotations`. Like `cosign verify`, any predicate type counts.
//!
//! [`fetch`] does the registry work once per image; [`verify`] is pure and runs once
//! per requirement. A verified bundle is returned in cosign's shape
//! (`transformOutput`): docker-reference = the image as named, docker-manifest-digest =
//! the first subject's digest, type = the predicate type, optional = the first
//! subject's annotations.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::Value;
use signet_formats::cosign::{Critical, Identity, Image, SimpleSigning};
use signet_formats::manifest::{AnyManifest, Descriptor};
use signet_formats::sigstore::{
    Bundle, BundleContent, BundleVersion, DSSE_IN_TOTO_PAYLOAD_TYPE, Envelope,
};
use signet_formats::{Digest, MediaType};
use signet_oci::ImageStore;
use signet_oci::referrers::{ReferrerError, list_referrers};
use signet_verify::bundle::{Artifact, BundleError, Policy};
use signet_verify::{ClaimCheck, VerifiedSignature};

use crate::BundleTrust;

/// Bundle layers are read up to this size.
const MAX_BUNDLE_BYTES: usize = 32 * 1024 * 1024;

/// The prefix of every Sigstore bundle media type.
const BUNDLE_MEDIA_TYPE_PREFIX: &str = "application/vnd.dev.sigstore.bundle";

/// The verifier's message, plus the flag to pass when a key-signed bundle was made
/// without a log (`signet verify-blob` and `signet verify` both take
/// `--insecure-ignore-tlog`).
pub fn explain(error: &BundleError, policy: &Policy) -> String {
    match (error, policy) {
        (BundleError::NoTlogEntries, Policy::Key(_)) => format!(
            "{error}; if it was signed with this key without a log (signet sign-blob or sign --new-bundle-format, cosign --tlog-upload=false), pass --insecure-ignore-tlog"
        ),
        _ => error.to_string(),
    }
}

/// A bundle referrer that passed every check that does not depend on who must have
/// signed.
pub(crate) struct FetchedBundle {
    referrer: Digest,
    bundle: Bundle,
    layer_digest: Digest,
}

/// The bundle referrers of one image, fetched.
pub(crate) struct Fetched {
    /// Why the referrers could not be listed.
    listing_error: Option<Arc<ReferrerError>>,
    /// Each bundle referrer, in listing order: the bundle, or why it is unusable
    /// (already prefixed `bundle referrer <digest>: `).
    bundles: Vec<Result<FetchedBundle, String>>,
}

/// The bundles of one image, for one requirement.
pub(crate) enum Bundles {
    /// No bundle referrers. `note` says why, when the referrers could not be read.
    None {
        /// The listing error, if any.
        note: Option<Arc<ReferrerError>>,
    },
    /// At least one bundle verified: every verified one, in listing order.
    Verified(Vec<VerifiedSignature>),
    /// There were bundles and none verified: one reason per bundle.
    Rejected(Vec<String>),
}

/// Lists and fetches the bundle referrers of `digest` in `store`, `workers` referrers
/// at a time.
pub(crate) async fn fetch(store: &ImageStore, digest: &Digest, workers: usize) -> Fetched {
    let listed = match list_referrers(store, digest, None).await {
        Ok(l) => l,
        Err(e) => {
            return Fetched {
                listing_error: Some(Arc::new(e)),
                bundles: Vec::new(),
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
    let bundles: Vec<Option<Result<FetchedBundle, String>>> = stream::iter(candidates)
        .map(|d| async move {
            one(store, digest, &d)
                .await
                .map(|r| r.map_err(|reason| format!("bundle referrer {}: {reason}", d.digest)))
        })
        .buffered(workers.max(1))
        .collect()
        .await;
    Fetched {
        listing_error: None,
        bundles: bundles.into_iter().flatten().collect(),
    }
}

/// One referrer: `None` if it is not a bundle.
async fn one(
    store: &ImageStore,
    digest: &Digest,
    referrer: &Descriptor,
) -> Option<Result<FetchedBundle, String>> {
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
    Some(
        fetch_bundle(store, digest, &m.subject, layer)
            .await
            .map(|bundle| FetchedBundle {
                referrer: referrer.digest.clone(),
                bundle,
                layer_digest: layer.digest.clone(),
            }),
    )
}

async fn fetch_bundle(
    store: &ImageStore,
    digest: &Digest,
    subject: &Option<Descriptor>,
    layer: &Descriptor,
) -> Result<Bundle, String> {
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
    Ok(bundle)
}

/// Verifies the fetched bundles for one requirement. `name` is the image as printed.
pub(crate) fn verify(
    fetched: &Fetched,
    name: &str,
    digest: &Digest,
    trust: &BundleTrust,
    policy: &Policy,
    signature_policy: &signet_verify::Policy,
) -> Bundles {
    if let Some(e) = &fetched.listing_error {
        return Bundles::None {
            note: Some(Arc::clone(e)),
        };
    }
    let (mut verified, mut rejected) = (Vec::new(), Vec::new());
    for fetched_bundle in &fetched.bundles {
        let result = match fetched_bundle {
            Ok(b) => check_bundle(b, name, digest, trust, policy, signature_policy)
                .map_err(|reason| format!("bundle referrer {}: {reason}", b.referrer)),
            Err(reason) => Err(reason.clone()),
        };
        match result {
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

fn check_bundle(
    fetched: &FetchedBundle,
    name: &str,
    digest: &Digest,
    trust: &BundleTrust,
    policy: &Policy,
    signature_policy: &signet_verify::Policy,
) -> Result<VerifiedSignature, String> {
    let bundle = &fetched.bundle;
    let BundleContent::DsseEnvelope(envelope) = &bundle.content else {
        // Checked when fetched.
        return Err("the bundle holds a message signature".into());
    };
    let verifier = trust.verifier()?;
    verifier
        .verify(bundle, Artifact::Sha256(digest.clone()), policy)
        .map_err(|e| explain(&e, policy))?;
    claims(
        envelope,
        name,
        digest,
        signature_policy,
        &fetched.layer_digest,
    )
}

/// The verifier has checked that an in-toto subject names the digest; cosign's claim
/// verifier checks it again, and the annotations.
fn claims(
    envelope: &Envelope,
    name: &str,
    digest: &Digest,
    signature_policy: &signet_verify::Policy,
    layer_digest: &Digest,
) -> Result<VerifiedSignature, String> {
    let statement = envelope
        .statement()
        .map_err(|e| format!("the signed statement is malformed: {e}"))?;
    if statement.find_subject(digest).is_none() {
        return Err("no matching subject digest found".into());
    }
    let subjects = subject_annotations(&envelope.payload);
    if signature_policy.claims == ClaimCheck::Enforce && !signature_policy.annotations.is_empty() {
        let matching = statement
            .subjects
            .iter()
            .position(|s| s.digest.get("sha256").is_some_and(|h| h == digest.hex()));
        let found = matching
            .and_then(|i| subjects.get(i))
            .cloned()
            .unwrap_or_default();
        for (k, v) in &signature_policy.annotations {
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
        layer_digest: layer_digest.clone(),
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
