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

    /// Errors are printed on one line (bad input gets a one-line message).
    fn assert_one_line<T>(result: &Result<T, crate::sigstore::SigstoreFormatError>) {
        if let Err(e) = result {
            let message = e.to_string();
            assert!(
                !message.contains(['\n', '\r']),
                "multi-line error: {message:?}"
            );
        }
    }

    /// Parses `data` as a Sigstore bundle. A bundle that parses must write as v0.3
    /// (always, for a v0.3 bundle; when it has v0.3's shape, for older ones) and parse
    /// back to the same value, and write the same bytes again.
    pub fn fuzz_bundle(data: &[u8]) {
        use crate::sigstore::{Bundle, BundleVersion};
        let parsed = Bundle::parse(data);
        assert_one_line(&parsed);
        let Ok(b) = parsed else { return };
        let json = match b.to_json_v03() {
            Ok(json) => json,
            Err(e) => {
                assert_ne!(
                    b.version,
                    BundleVersion::V0_3,
                    "a parsed v0.3 bundle must write: {e}"
                );
                return;
            }
        };
        let again = Bundle::parse(json.as_bytes()).expect("a written bundle parses");
        assert_eq!(
            again,
            Bundle {
                version: BundleVersion::V0_3,
                ..b
            }
        );
        assert_eq!(again.to_json_v03().as_deref(), Ok(json.as_str()));
    }

    /// Parses `data` as a trusted root.
    pub fn fuzz_trusted_root(data: &[u8]) {
        let root = crate::sigstore::TrustedRoot::parse(data);
        assert_one_line(&root);
        if let Ok(root) = root {
            for log in root.tlogs.iter().chain(&root.ctlogs) {
                let _ = (
                    root.tlog_by_id(&log.log_id.key_id),
                    root.ctlog_by_id(&log.log_id.key_id),
                );
                let _ = (
                    log.hash_algorithm.as_str(),
                    log.public_key.key_details.as_str(),
                );
            }
        }
    }

    /// Parses `data` as a signing config.
    pub fn fuzz_signing_config(data: &[u8]) {
        assert_one_line(&crate::sigstore::SigningConfig::parse(data));
    }

    /// Parses `data` as a standalone DSSE envelope and, if it parses, its payload as an
    /// in-toto statement; and parses `data` itself as a statement.
    pub fn fuzz_dsse(data: &[u8]) {
        use crate::sigstore::{Envelope, Statement};
        let envelope = Envelope::parse(data);
        assert_one_line(&envelope);
        if let Ok(envelope) = envelope {
            let pae = envelope.pae();
            assert!(pae.starts_with(b"DSSEv1 ") && pae.ends_with(&envelope.payload));
            let statement = envelope.statement();
            assert_one_line(&statement);
            if let Ok(statement) = statement {
                let _ = statement.find_subject(&crate::Digest::sha256_of(data));
            }
        }
        assert_one_line(&Statement::parse(data));
    }
}
