//! Pure data formats for signet: digests, image references, media types, OCI
//! manifests and indexes, Go-compatible JSON, and cosign's simple-signing payload and
//! signature image layout.
//!
//! Everything here is synchronous and does no I/O: bytes in, typed values out, and
//! typed values to the exact bytes cosign and go-containerregistry write.
//!
//! ```
//! use signet_formats::{ImageRef, Digest};
//! let r: ImageRef = "busybox:1.36".parse().unwrap();
//! assert_eq!(r.repository().to_string(), "docker.io/library/busybox");
//! assert_eq!(r.repository().ggcr_name(), "index.docker.io/library/busybox");
//! let d = Digest::sha256_of(b"");
//! assert_eq!(d.tag_form().len(), 71);
//! ```
//!
//! It does not talk to registries (see `signet-oci`) and does not check signatures
//! (see `signet-crypto` and `signet-verify`).

#![deny(missing_docs)]

pub mod cosign;
mod digest;
pub mod gojson;
pub mod manifest;
mod media_type;
mod reference;
pub mod sigstore;

pub use digest::{Digest, DigestAlgorithm};
pub use media_type::{MANIFEST_ACCEPT, MediaType};
pub use reference::{
    DOCKER_HUB, DOCKER_HUB_API_HOST, ImageLocation, ImageRef, LayoutRef, Registry, Repository, Tag,
};

/// Errors from parsing untrusted bytes or user input into formats.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A digest is not `sha256:<64 hex>` or `sha512:<128 hex>`.
    #[error("invalid digest {digest:?}: expected sha256:<64 lowercase hex digits>")]
    InvalidDigest {
        /// The text that was given.
        digest: String,
    },
    /// An image reference does not parse.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The text that was given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A manifest or index does not parse.
    #[error("malformed manifest: {reason}")]
    MalformedManifest {
        /// What the parser reported.
        reason: String,
    },
    /// A simple-signing payload does not parse.
    #[error("malformed signature payload: {reason}")]
    MalformedPayload {
        /// What the parser reported.
        reason: String,
    },
}

/// Entry points for fuzzers: each must never panic on any input.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as an image reference and as an OCI layout location.
    pub fn fuzz_reference(data: &[u8]) {
        if let Ok(s) = std::str::from_utf8(data) {
            if let Ok(r) = s.parse::<crate::ImageRef>() {
                let again: crate::ImageRef = r
                    .to_string()
                    .parse()
                    .expect("a printed reference parses again");
                assert_eq!(again, r);
            }
            let _ = s.parse::<crate::ImageLocation>();
        }
    }

    /// Parses `data` as a manifest or index.
    pub fn fuzz_manifest(data: &[u8]) {
        let _ = crate::manifest::parse_manifest(data, None);
    }

    /// Parses `data` as a simple-signing payload.
    pub fn fuzz_payload(data: &[u8]) {
        let _ = crate::cosign::SimpleSigning::parse(data);
    }

    /// Parses `data` as a Sigstore bundle; a bundle that parses must write as v0.3 and
    /// parse back to the same value (v0.3-shaped bundles only).
    pub fn fuzz_bundle(data: &[u8]) {
        use crate::sigstore::{Bundle, BundleVersion};
        if let Ok(b) = Bundle::parse(data)
            && b.version == BundleVersion::V0_3
        {
            let json = b
                .to_json_v03()
                .expect("a parsed v0.3 bundle writes as v0.3");
            let again = Bundle::parse(json.as_bytes()).expect("a written bundle parses");
            assert_eq!(again, b);
        }
    }

    /// Parses `data` as a trusted root.
    pub fn fuzz_trusted_root(data: &[u8]) {
        let _ = crate::sigstore::TrustedRoot::parse(data);
    }
}
