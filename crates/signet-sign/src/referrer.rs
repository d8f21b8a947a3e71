//! Image signatures in cosign v3's bundle format (`cosign sign --new-bundle-format`):
//! a DSSE-signed in-toto statement about the image digest, in a v0.3 Sigstore bundle,
//! stored as an OCI 1.1 referrer of the image.
//!
//! For each image digest: the statement is [`cosign_sign_statement`] (subject = the
//! digest, `-a` annotations in the subject's `annotations`), signed with
//! [`crate::bundle::sign_dsse`] (which checks the signature with the signer's own key)
//! or, keyless, [`KeylessSigner::sign_dsse`] (which verifies the whole bundle),
//! and written as cosign's `WriteReferrer` does: the empty config blob `{}`, the bundle
//! blob, then the manifest of [`bundle_referrer_manifest`], PUT by digest through
//! [`signet_oci::referrers::push_referrer`] (referrers API, or the `sha256-<hex>`
//! fallback index on registries without it). Every signature is a new referrer: there
//! is nothing to append to, so nothing to deduplicate.

use std::collections::BTreeMap;

use signet_crypto::Signer;
use signet_formats::manifest::{AnyManifest, Descriptor, Manifest};
use signet_formats::sigstore::{
    BundleVersion, COSIGN_SIGN_PREDICATE_TYPE, DSSE_IN_TOTO_PAYLOAD_TYPE, SigstoreFormatError,
    UnixTime, cosign_sign_statement,
};
use signet_formats::{Digest, MediaType, gojson};
use signet_oci::referrers::{ReferrerError, ReferrersSource, push_referrer};
use signet_oci::{ImageStore, ResolvedManifest};

use crate::keyless::{KeylessError, KeylessSigner};
use crate::{Recursion, SignError, SignOptions};
use signet_formats::sigstore::Bundle;
use signet_verify::bundle::Artifact;

/// The empty config blob every bundle referrer points to.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// Manifest annotation: what the bundle holds (`dsse-envelope`).
pub const CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// Manifest annotation: the in-toto predicate type of the signed statement.
pub const PREDICATE_TYPE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// Manifest annotation: when the referrer was made (RFC 3339, UTC, whole seconds).
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// The media type of a v0.3 bundle: the bundle layer's media type and the referrer's
/// artifact type.
pub fn bundle_media_type() -> MediaType {
    MediaType::new(BundleVersion::V0_3.media_type())
}

/// Errors from signing an image in the bundle format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReferrerSignError {
    /// Signing, the self-check, or reading the image failed; nothing was written.
    #[error(transparent)]
    Sign(#[from] SignError),
    /// Storing the referrer failed.
    #[error(transparent)]
    Referrer(#[from] ReferrerError),
    /// The bundle could not be encoded (a bug: signet's own bundles always encode).
    #[error("encoding the bundle failed: {0}")]
    Encode(SigstoreFormatError),
    /// Keyless signing failed (token, CA, log or self-check); nothing was written.
    #[error(transparent)]
    Keyless(#[from] KeylessError),
}

/// Who signs the statement: a key, or a keyless identity.
#[derive(Clone, Copy)]
pub enum BundleSigner<'a> {
    /// A key: the bundle carries its hint and no log entry.
    Key(&'a dyn Signer),
    /// A fresh certified key per signature, logged.
    Keyless(&'a KeylessSigner<'a>),
}

impl BundleSigner<'_> {
    async fn sign_statement(
        &self,
        statement: &[u8],
        subject: &Digest,
    ) -> Result<Bundle, ReferrerSignError> {
        Ok(match self {
            BundleSigner::Key(signer) => {
                crate::bundle::sign_dsse(*signer, DSSE_IN_TOTO_PAYLOAD_TYPE, statement)?
            }
            BundleSigner::Keyless(signer) => {
                signer
                    .sign_dsse(
                        DSSE_IN_TOTO_PAYLOAD_TYPE,
                        statement,
                        Artifact::Sha256(subject.clone()),
                    )
                    .await?
            }
        })
    }
}

/// The result of signing one manifest in the bundle format.
#[derive(Clone, Debug)]
pub struct SignedReferrer {
    /// The image digest that was signed.
    pub image: Digest,
    /// The referrer manifest's digest.
    pub manifest: Digest,
    /// Where it is listed (the referrers API or the fallback tag).
    pub source: ReferrersSource,
}

/// cosign's referrer manifest for a bundle, byte for byte (`referrerManifest` in
/// cosign's `pkg/oci/remote/write.go`: go-containerregistry's `v1.Manifest` with
/// `artifactType` appended, and `artifactType` on the config descriptor too):
///
/// `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
/// "config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136f…","artifactType":"<bundle type>"},
/// "layers":[{"mediaType":"<bundle type>","size":N,"digest":"sha256:<bundle>"}],
/// "annotations":{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"<type>","org.opencontainers.image.created":"<time>"},
/// "subject":{"mediaType":"<image type>","size":N,"digest":"sha256:<image>"},
/// "artifactType":"<bundle type>"}` (one line).
pub fn bundle_referrer_manifest(
    subject: &Descriptor,
    bundle_json: &[u8],
    predicate_type: &str,
    created: UnixTime,
) -> Vec<u8> {
    let bundle_type = bundle_media_type();
    let mut config = Descriptor::of(MediaType::OCI_EMPTY, EMPTY_CONFIG);
    config.artifact_type = Some(bundle_type.clone());
    let annotations = BTreeMap::from([
        (CONTENT_ANNOTATION.to_owned(), "dsse-envelope".to_owned()),
        (
            PREDICATE_TYPE_ANNOTATION.to_owned(),
            predicate_type.to_owned(),
        ),
        (CREATED_ANNOTATION.to_owned(), created.to_rfc3339()),
    ]);
    let mut subject_only = Descriptor::of(subject.media_type.clone(), b"");
    subject_only.size = subject.size;
    subject_only.digest = subject.digest.clone();
    gojson::to_vec(&Manifest {
        schema_version: 2,
        media_type: Some(MediaType::OCI_MANIFEST),
        config,
        layers: vec![Descriptor::of(bundle_type.clone(), bundle_json)],
        annotations: Some(annotations),
        subject: Some(subject_only),
        artifact_type: Some(bundle_type),
    })
}

/// Signs `image` (and, with [`Recursion::IndexChildren`], each child of an index) in
/// the bundle format, storing each referrer in `referrers` (the image's own store, or
/// `COSIGN_REPOSITORY`). `created` is the manifests' `org.opencontainers.image.created`.
/// Annotations go into the statement's subject; `options.flavor` does not apply
/// (referrers are always OCI manifests).
pub async fn sign_image_referrers(
    referrers: &ImageStore,
    image: &ResolvedManifest,
    signer: BundleSigner<'_>,
    options: &SignOptions,
    created: UnixTime,
) -> Result<Vec<SignedReferrer>, ReferrerSignError> {
    let mut subjects = vec![image.descriptor()];
    if options.recursion == Recursion::IndexChildren {
        match image.parse() {
            Ok(AnyManifest::Index(index)) => {
                subjects.extend(index.manifests.into_iter().map(|m| {
                    let mut d = Descriptor::of(m.media_type, b"");
                    d.size = m.size;
                    d.digest = m.digest;
                    d
                }))
            }
            Ok(AnyManifest::Image(_)) => {}
            Err(error) => {
                return Err(SignError::MalformedImage {
                    digest: image.digest.clone(),
                    error,
                }
                .into());
            }
        }
    }
    let mut out = Vec::with_capacity(subjects.len());
    for subject in subjects {
        out.push(sign_subject(referrers, &subject, signer, &options.annotations, created).await?);
    }
    Ok(out)
}

async fn sign_subject(
    referrers: &ImageStore,
    subject: &Descriptor,
    signer: BundleSigner<'_>,
    annotations: &BTreeMap<String, String>,
    created: UnixTime,
) -> Result<SignedReferrer, ReferrerSignError> {
    let statement = cosign_sign_statement(&subject.digest, annotations);
    let bundle = signer.sign_statement(&statement, &subject.digest).await?;
    let bundle_json = bundle
        .to_json_v03()
        .map_err(ReferrerSignError::Encode)?
        .into_bytes();
    let manifest =
        bundle_referrer_manifest(subject, &bundle_json, COSIGN_SIGN_PREDICATE_TYPE, created);
    // Blobs first, the manifest last: a failure leaves no referrer pointing at nothing.
    referrers
        .push_blob(EMPTY_CONFIG)
        .await
        .map_err(SignError::from)?;
    referrers
        .push_blob(&bundle_json)
        .await
        .map_err(SignError::from)?;
    let pushed = push_referrer(referrers, &manifest, &subject.digest).await?;
    Ok(SignedReferrer {
        image: subject.digest.clone(),
        manifest: pushed.descriptor.digest,
        source: pushed.source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_crypto::{KeyAlgorithm, PrivateKey};
    use signet_formats::sigstore::{Bundle, BundleContent, Statement};
    use signet_oci::OciLayout;
    use signet_oci::referrers::list_referrers;
    use signet_verify::bundle::{Artifact, Policy};

    fn golden(name: &str, actual: &[u8]) {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/golden")
            .join(name);
        if std::env::var_os("SIGNET_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, actual).unwrap();
        }
        let expected = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            String::from_utf8_lossy(actual),
            String::from_utf8_lossy(&expected),
            "{name} differs from its golden file (regenerate with SIGNET_UPDATE_GOLDEN=1 and review)"
        );
    }

    #[test]
    fn referrer_manifest_matches_cosign_byte_for_byte() {
        let image = b"an image manifest";
        let subject = Descriptor::of(MediaType::OCI_MANIFEST, image);
        let bundle = br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#;
        // 2026-07-24T18:31:58Z
        let m = bundle_referrer_manifest(
            &subject,
            bundle,
            COSIGN_SIGN_PREDICATE_TYPE,
            UnixTime(1_784_917_918),
        );
        golden("bundle-referrer-manifest.json", &m);
        let text = String::from_utf8(m).unwrap();
        assert!(text.contains(r#""org.opencontainers.image.created":"2026-07-24T18:31:58Z""#));
        assert!(
            text.ends_with(r#","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#)
        );
    }

    #[test]
    fn subject_descriptor_keeps_only_type_size_and_digest() {
        let mut subject = Descriptor::of(MediaType::OCI_MANIFEST, b"x");
        subject.annotations = Some(BTreeMap::from([("a".into(), "b".into())]));
        let m = bundle_referrer_manifest(&subject, b"{}", "p", UnixTime(0));
        let text = String::from_utf8(m).unwrap();
        assert!(text.contains(&format!(
            r#""subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"{}"}}"#,
            subject.digest
        )));
    }

    #[tokio::test]
    async fn signs_into_a_layout_and_the_bundle_verifies() {
        let dir = std::env::temp_dir().join(format!(
            "signet-sign-referrer-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        let layout = OciLayout::create(&dir).unwrap();
        let store = ImageStore::Layout(layout);
        let image_bytes = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;
        store
            .put_tagged_manifest("v1", &MediaType::OCI_MANIFEST, image_bytes)
            .await
            .unwrap();
        let image = store.manifest("v1").await.unwrap().unwrap();
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let options = SignOptions {
            annotations: BTreeMap::from([("team".into(), "x".into())]),
            ..SignOptions::default()
        };
        let signed = sign_image_referrers(
            &store,
            &image,
            BundleSigner::Key(&key),
            &options,
            UnixTime(0),
        )
        .await
        .unwrap();
        assert_eq!(signed.len(), 1);
        let listed = list_referrers(
            &store,
            &image.digest,
            Some(BundleVersion::V0_3.media_type()),
        )
        .await
        .unwrap();
        assert_eq!(listed.descriptors.len(), 1);
        let manifest = store
            .manifest(&signed[0].manifest.to_string())
            .await
            .unwrap()
            .unwrap();
        let AnyManifest::Image(m) = manifest.parse().unwrap() else {
            panic!("not an image manifest")
        };
        let bundle_bytes = store.blob(&m.layers[0].digest, 1 << 20).await.unwrap();
        let bundle = Bundle::parse(&bundle_bytes).unwrap();
        crate::bundle::tests::key_only_verifier()
            .verify(
                &bundle,
                Artifact::Sha256(image.digest.clone()),
                &Policy::Key(key.public_key().clone()),
            )
            .unwrap();
        let BundleContent::DsseEnvelope(env) = &bundle.content else {
            panic!("not DSSE")
        };
        let statement = Statement::parse(&env.payload).unwrap();
        assert_eq!(statement.predicate_type, COSIGN_SIGN_PREDICATE_TYPE);
        assert!(String::from_utf8_lossy(&env.payload).contains(r#""annotations":{"team":"x"}"#));
        std::fs::remove_dir_all(&dir).ok();
    }
}
