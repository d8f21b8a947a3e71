//! Verification of cosign's legacy image signatures: a public key, the image digest and
//! the signature layers go in; a verdict with a reason for every rejected signature
//! comes out.
//!
//! This crate is pure and synchronous: it does no I/O. Fetching the layers is the
//! caller's job (`signet-oci`); so is printing.
//!
//! The order of checks follows cosign's `verifyInternal`: the signature over the
//! payload bytes first, then the claims in the payload (the manifest digest, then each
//! required annotation).
//!
//! ```
//! use std::collections::BTreeMap;
//! use signet_crypto::{KeyAlgorithm, PrivateKey, Signer};
//! use signet_formats::{Digest, Repository, MediaType, cosign::{SimpleSigning, SignatureLayer, SIGNATURE_ANNOTATION}};
//! use signet_verify::{Authority, Candidate, ClaimCheck, Policy, verify_image};
//! use base64::Engine as _;
//!
//! let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
//! let image = Digest::sha256_of(b"manifest");
//! let payload = SimpleSigning::new(&Repository::parse("r.io/app").unwrap(), &image, &BTreeMap::new()).to_bytes();
//! let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload).unwrap());
//! let layer = SignatureLayer { media_type: MediaType::COSIGN_SIMPLE_SIGNING, payload: payload.clone(),
//!     annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), sig)]) };
//! let policy = Policy { authority: Authority::Key(key.public_key().clone()), annotations: BTreeMap::new(), claims: ClaimCheck::Enforce };
//! let verified = verify_image(&policy, &image, &[Candidate { layer: layer.descriptor(), payload: Ok(payload) }]).unwrap();
//! assert_eq!(verified.len(), 1);
//! ```
//!
//! Sigstore bundles (keyless and managed-key) are verified by [`bundle`]. Not here yet:
//! RFC 3161 timestamps, and certificates on legacy image signatures.

#![deny(missing_docs)]

pub mod bundle;
pub mod legacy;

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use signet_crypto::PublicKey;
use signet_formats::cosign::{CERTIFICATE_ANNOTATION, SIGNATURE_ANNOTATION, SimpleSigning};
use signet_formats::manifest::Descriptor;
use signet_formats::{Digest, MediaType};

/// Who must have signed.
#[derive(Clone, Debug)]
pub enum Authority {
    /// A signature made with this key.
    Key(PublicKey),
    /// A keyless signature for this identity: a Fulcio certificate chaining to a
    /// trusted root, with its SCT and a log entry or timestamp ([`legacy`]). The
    /// trusted root comes with the call ([`verify_image_with_trust`]).
    Keyless(signet_x509::IdentityMatcher),
}

/// Whether the payload's claims are checked (cosign `--check-claims`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimCheck {
    /// Check the digest and annotations (the default).
    Enforce,
    /// Check only the signature. A signature for another image then passes, so this
    /// is only for debugging.
    DangerSkip,
}

/// What a signature must satisfy.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Who must have signed.
    pub authority: Authority,
    /// Annotations that must be present in the payload's `optional` section with these
    /// exact string values (cosign `-a`).
    pub annotations: BTreeMap<String, String>,
    /// Whether claims are checked.
    pub claims: ClaimCheck,
}

/// One signature layer to check: its descriptor and its payload, or why the payload
/// could not be fetched.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The layer descriptor (with its annotations).
    pub layer: Descriptor,
    /// The payload bytes, or the fetch failure.
    pub payload: Result<Vec<u8>, String>,
}

/// A signature that passed.
#[derive(Clone, Debug)]
pub struct VerifiedSignature {
    /// The layer's digest.
    pub layer_digest: Digest,
    /// The parsed payload (what cosign prints).
    pub payload: SimpleSigning,
}

/// Why one signature was rejected. Each message is one line for the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The layer is not a simple-signing payload.
    #[error("layer has media type {found}, not a cosign simple-signing payload")]
    WrongMediaType {
        /// The media type found.
        found: MediaType,
    },
    /// The payload could not be fetched, or its bytes do not match its digest.
    #[error("payload unavailable: {reason}")]
    PayloadUnavailable {
        /// What went wrong.
        reason: String,
    },
    /// There is no signature annotation.
    #[error("layer has no {SIGNATURE_ANNOTATION} annotation")]
    MissingSignature,
    /// The signature annotation is not base64.
    #[error("signature annotation is not valid base64")]
    MalformedSignature,
    /// The signature does not verify with the key over these payload bytes.
    #[error(
        "signature does not verify with the given key (signed with another key, or the payload was altered)"
    )]
    SignatureMismatch,
    /// The signature verifies, but the payload does not parse.
    #[error("signed payload is malformed: {reason}")]
    MalformedPayload {
        /// The parse failure.
        reason: String,
    },
    /// The payload signs another image: a signature replayed or copied.
    #[error(
        "payload signs {claimed}, not this image {actual} (a signature copied from another image?)"
    )]
    DigestMismatch {
        /// What the payload names.
        claimed: String,
        /// The image being verified.
        actual: Digest,
    },
    /// A required annotation is missing or different.
    #[error("annotation {key}: expected {expected:?}, payload has {found}")]
    AnnotationMismatch {
        /// The annotation key.
        key: String,
        /// The required value.
        expected: String,
        /// What the payload has (`nothing` when absent).
        found: String,
    },
    /// Keyless verification was asked for and the layer has no certificate.
    #[error("no certificate found on signature")]
    NoCertificate,
    /// The certificate annotation is not a PEM certificate.
    #[error("the {CERTIFICATE_ANNOTATION} annotation is {reason}")]
    MalformedCertificate {
        /// What is wrong.
        reason: String,
    },
    /// The Rekor bundle annotation does not parse.
    #[error("the dev.sigstore.cosign/bundle annotation is malformed: {reason}")]
    MalformedRekorBundle {
        /// What is wrong.
        reason: String,
    },
    /// The RFC 3161 timestamp annotation does not parse.
    #[error(
        "the dev.sigstore.cosign/rfc3161timestamp annotation is not {{\"SignedRFC3161Timestamp\": base64}}"
    )]
    MalformedTimestamp,
    /// A keyless signature failed verification (chain, SCT, log entry, time, identity
    /// or signature).
    #[error("{reason}")]
    Keyless {
        /// The verifier's reason.
        reason: String,
    },
}

/// A rejected signature and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRejection {
    /// The layer's digest.
    pub layer_digest: Digest,
    /// Why it was rejected.
    pub reason: Rejection,
}

impl fmt::Display for LayerRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signature layer {}: {}", self.layer_digest, self.reason)
    }
}

/// Why an image did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The image has no signatures at all.
    #[error("no signatures found")]
    NoSignatures,
    /// Keyless verification was asked for and no signature carries a certificate.
    #[error("no certificate found on signature")]
    NoCertificate,
    /// There are signatures, and none passes. One rejection per signature.
    #[error("no matching signatures:\n{}", .rejections.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n"))]
    NoMatchingSignatures {
        /// Why each was rejected, in layer order.
        rejections: Vec<LayerRejection>,
    },
}

/// Checks one signature layer against `policy` for the image `image`. Keyless
/// signatures need a trusted root: use [`verify_signature_with_trust`].
pub fn verify_signature(
    policy: &Policy,
    image: &Digest,
    layer: &Descriptor,
    payload: &[u8],
) -> Result<VerifiedSignature, Rejection> {
    verify_signature_with_trust(policy, None, image, layer, payload)
}

/// [`verify_signature`], with the trusted root keyless signatures are checked against.
pub fn verify_signature_with_trust(
    policy: &Policy,
    trust: Option<&bundle::BundleVerifier>,
    image: &Digest,
    layer: &Descriptor,
    payload: &[u8],
) -> Result<VerifiedSignature, Rejection> {
    if layer.media_type != MediaType::COSIGN_SIMPLE_SIGNING {
        return Err(Rejection::WrongMediaType {
            found: layer.media_type.clone(),
        });
    }
    let annotations = layer.annotations.as_ref();
    match &policy.authority {
        Authority::Key(key) => {
            let sig_b64 = annotations
                .and_then(|a| a.get(SIGNATURE_ANNOTATION))
                .ok_or(Rejection::MissingSignature)?;
            let sig = base64::engine::general_purpose::STANDARD
                .decode(sig_b64)
                .map_err(|_| Rejection::MalformedSignature)?;
            key.verify(payload, &sig)
                .map_err(|_| Rejection::SignatureMismatch)?;
        }
        Authority::Keyless(identity) => {
            let empty = std::collections::BTreeMap::new();
            let annotations = annotations.unwrap_or(&empty);
            match trust {
                Some(trust) => {
                    legacy::verify_layer(trust, identity, annotations, payload)?;
                }
                // Still say when there is no certificate at all.
                None => {
                    legacy::layer_bundle(annotations, payload)?;
                    return Err(Rejection::Keyless {
                        reason: "no trusted root was given to check the certificate against".into(),
                    });
                }
            }
        }
    }
    let parsed = SimpleSigning::parse(payload).map_err(|e| Rejection::MalformedPayload {
        reason: e.to_string(),
    })?;
    if policy.claims == ClaimCheck::Enforce {
        check_claims(policy, image, &parsed)?;
    }
    Ok(VerifiedSignature {
        layer_digest: layer.digest.clone(),
        payload: parsed,
    })
}

fn check_claims(policy: &Policy, image: &Digest, payload: &SimpleSigning) -> Result<(), Rejection> {
    let claimed = &payload.critical.image.docker_manifest_digest;
    if claimed.parse::<Digest>().ok().as_ref() != Some(image) {
        return Err(Rejection::DigestMismatch {
            claimed: claimed.clone(),
            actual: image.clone(),
        });
    }
    for (k, expected) in &policy.annotations {
        let found = payload.optional.as_ref().and_then(|o| o.get(k));
        if found.and_then(|v| v.as_str()) != Some(expected.as_str()) {
            return Err(Rejection::AnnotationMismatch {
                key: k.clone(),
                expected: expected.clone(),
                found: found.map_or_else(|| "nothing".to_owned(), |v| v.to_string()),
            });
        }
    }
    Ok(())
}

/// Checks every candidate; the image passes when at least one signature does.
pub fn verify_image(
    policy: &Policy,
    image: &Digest,
    candidates: &[Candidate],
) -> Result<Vec<VerifiedSignature>, VerifyError> {
    verify_image_with_trust(policy, None, image, candidates)
}

/// [`verify_image`], with the trusted root keyless (certificate) signatures are
/// checked against.
pub fn verify_image_with_trust(
    policy: &Policy,
    trust: Option<&bundle::BundleVerifier>,
    image: &Digest,
    candidates: &[Candidate],
) -> Result<Vec<VerifiedSignature>, VerifyError> {
    if candidates.is_empty() {
        return Err(VerifyError::NoSignatures);
    }
    let mut verified = Vec::new();
    let mut rejections = Vec::new();
    for c in candidates {
        let result = match &c.payload {
            Ok(p) => verify_signature_with_trust(policy, trust, image, &c.layer, p),
            Err(reason) => Err(Rejection::PayloadUnavailable {
                reason: reason.clone(),
            }),
        };
        match result {
            Ok(v) => verified.push(v),
            Err(reason) => rejections.push(LayerRejection {
                layer_digest: c.layer.digest.clone(),
                reason,
            }),
        }
    }
    if !verified.is_empty() {
        return Ok(verified);
    }
    if rejections
        .iter()
        .all(|r| r.reason == Rejection::NoCertificate)
    {
        return Err(VerifyError::NoCertificate);
    }
    Err(VerifyError::NoMatchingSignatures { rejections })
}

#[cfg(test)]
mod tests;
