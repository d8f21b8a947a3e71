//! Sigstore formats: the bundle (v0.1, v0.2, v0.3), the trusted root, the signing
//! config, DSSE envelopes and in-toto statements, and the embedded public-good roots.
//!
//! These are hand-written types for the protobuf-JSON ("protojson") encoding of the
//! `dev.sigstore.*` messages in sigstore/protobuf-specs. No protobuf code is generated.
//!
//! Reading follows protojson, as sigstore-go, sigstore-python and sigstore-js do:
//!
//! * field names may be lowerCamelCase (`logIndex`) or the proto name (`log_index`);
//! * int64 values may be JSON strings or numbers; negative indexes, sizes and times
//!   are rejected;
//! * bytes may be standard or URL-safe base64, padded or not; they are decoded when
//!   parsing, so bad base64 is a parse error that names the field;
//! * omitted zero or empty values take their proto3 default, and unknown fields are
//!   ignored.
//!
//! On top of protojson, the per-version structural rules of the bundle are checked
//! when parsing (see [`Bundle::parse`]), and every entry of a trusted root must parse
//! (a root is never accepted with an entry skipped).
//!
//! ```
//! use signet_formats::sigstore::{Bundle, BundleVersion, trust};
//! let root = trust::production_trusted_root();
//! assert!(!root.tlogs.is_empty());
//! let err = Bundle::parse(br#"{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=9"}"#);
//! assert!(err.is_err());
//! assert_eq!(BundleVersion::V0_3.media_type(), "application/vnd.dev.sigstore.bundle.v0.3+json");
//! ```
//!
//! What this module does not do: check signatures, certificates, proofs, checkpoints
//! or timestamps (see `signet-verify`, `signet-x509` and `signet-tlog`), or fetch
//! anything over the network.

mod bundle;
mod dsse;
mod protojson;
mod signing_config;
mod time;
pub mod trust;
mod trusted_root;

use std::fmt;

pub use bundle::{
    Bundle, BundleContent, BundleVersion, Checkpoint, HashAlgorithm, HashOutput, InclusionPromise,
    InclusionProof, KindVersion, LogId, LogIndex, MessageSignature, PublicKeyIdentifier,
    Rfc3161Timestamp, SignerMaterial, TimestampVerificationData, TransparencyLogEntry, TreeSize,
    VerificationMaterial, X509Certificate,
};
pub use dsse::{
    COSIGN_SIGN_PREDICATE_TYPE, DSSE_IN_TOTO_PAYLOAD_TYPE, Envelope, Signature, Statement,
    StatementType, Subject, cosign_sign_statement, pae,
};
pub use signing_config::{
    SIGNING_CONFIG_V02_MEDIA_TYPE, Service, ServiceConfiguration, ServiceSelector, SigningConfig,
};
pub use time::{UnixTime, ValidityWindow};
pub use trusted_root::{
    CertificateAuthority, DistinguishedName, PublicKey, PublicKeyDetails, TRUSTED_ROOT_MEDIA_TYPE,
    TransparencyLogInstance, TrustedRoot,
};

/// Which Sigstore document a [`SigstoreFormatError::InvalidJson`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Document {
    /// A Sigstore bundle (`*.sigstore.json`).
    Bundle,
    /// A `trusted_root.json`.
    TrustedRoot,
    /// A `signing_config.json`.
    SigningConfig,
    /// A DSSE envelope.
    DsseEnvelope,
    /// An in-toto statement (a DSSE payload).
    Statement,
}

impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Document::Bundle => "sigstore bundle",
            Document::TrustedRoot => "trusted root",
            Document::SigningConfig => "signing config",
            Document::DsseEnvelope => "dsse envelope",
            Document::Statement => "in-toto statement",
        })
    }
}

impl Document {
    /// The field that declares the document's type.
    fn type_field(self) -> &'static str {
        match self {
            Document::Bundle | Document::TrustedRoot | Document::SigningConfig => "mediaType",
            Document::DsseEnvelope => "payloadType",
            Document::Statement => "_type",
        }
    }
}

/// `"field X: "` before a JSON error found inside field X, nothing at the top level.
fn at_field(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("field {field}: ")
    }
}

/// Why a Sigstore document does not parse, or cannot be written in the form asked for.
///
/// Field names are protojson paths such as `verificationMaterial.tlogEntries[].logIndex`
/// (`tlogEntries[0]` where the position is known). Every message is one line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigstoreFormatError {
    /// The bytes are not JSON, or a field has the wrong JSON type, or a field appears
    /// twice (for example under both its camelCase and its snake_case name).
    #[error("malformed {document}: {}{reason}", at_field(.field))]
    InvalidJson {
        /// The document being parsed.
        document: Document,
        /// The protojson path of the value the parser stopped in, such as
        /// `verificationMaterial.tlogEntries[0].logIndex`; empty at the top level.
        field: String,
        /// What the JSON parser reported.
        reason: String,
    },
    /// The bundle media type is not one of the known bundle versions.
    #[error(
        "unsupported bundle media type {media_type:?} in field mediaType: expected application/vnd.dev.sigstore.bundle.v0.3+json \
         or application/vnd.dev.sigstore.bundle+json;version=0.1|0.2|0.3"
    )]
    UnsupportedBundleVersion {
        /// The media type the bundle declares (empty when absent).
        media_type: String,
    },
    /// A trusted root, signing config or statement declares a media type or type URI
    /// that is not supported.
    #[error(
        "unsupported {document} type {found:?} in field {}: expected {expected}",
        .document.type_field()
    )]
    UnsupportedMediaType {
        /// The document being parsed.
        document: Document,
        /// What it declares (empty when absent).
        found: String,
        /// What is supported.
        expected: &'static str,
    },
    /// A required field is absent or empty.
    #[error("missing required field {field}")]
    MissingField {
        /// The protojson path of the field.
        field: &'static str,
    },
    /// Two members of a oneof are set, e.g. both `messageSignature` and `dsseEnvelope`.
    #[error("fields {first} and {second} are mutually exclusive: set exactly one")]
    ConflictingFields {
        /// One of the fields that is set.
        first: &'static str,
        /// The other.
        second: &'static str,
    },
    /// A bytes field is not base64 (standard or URL-safe, padded or not).
    #[error("field {field} is not valid base64")]
    InvalidBase64 {
        /// The protojson path of the field.
        field: &'static str,
    },
    /// An integer field is neither a JSON integer nor a string holding one in range.
    #[error("field {field} is not a valid integer: {value:?}")]
    InvalidInteger {
        /// The protojson path of the field.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// An index, size or time is negative.
    #[error("field {field} must not be negative, found {value}")]
    NegativeValue {
        /// The protojson path of the field.
        field: &'static str,
        /// The value as given.
        value: i64,
    },
    /// A timestamp is not RFC 3339 (`2024-01-02T03:04:05Z`, optional fraction and offset).
    #[error("field {field} is not an RFC 3339 time: {value:?}")]
    InvalidTime {
        /// The protojson path of the field.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// A validity window ends before it starts.
    #[error("validity window {field} ends ({end}) before it starts ({start})")]
    InvertedValidityWindow {
        /// The protojson path of the window.
        field: &'static str,
        /// Its start.
        start: UnixTime,
        /// Its end.
        end: UnixTime,
    },
    /// An enum field has a value this version of signet does not know.
    #[error("field {field} has unknown value {value:?}")]
    UnknownEnumValue {
        /// The protojson path of the field.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// The bundle's `x509CertificateChain` has no certificates.
    #[error(
        "bundle certificate chain is empty: verificationMaterial.x509CertificateChain.certificates must hold at least the signing certificate"
    )]
    EmptyCertificateChain,
    /// A v0.3 bundle carries `x509CertificateChain`; from v0.3 on only the leaf
    /// `certificate` is allowed.
    #[error(
        "{version} bundle carries an x509CertificateChain: from v0.3 on the bundle must hold only the leaf in verificationMaterial.certificate"
    )]
    CertificateChainNotAllowed {
        /// The bundle version.
        version: BundleVersion,
    },
    /// A v0.1 bundle's tlog entry has no inclusion promise (signed entry timestamp).
    #[error(
        "tlog entry {entry} of a {version} bundle has no inclusion promise: v0.1 bundles require \
         verificationMaterial.tlogEntries[{entry}].inclusionPromise (re-create the bundle, or write it as v0.3 with an inclusion proof)"
    )]
    MissingInclusionPromise {
        /// The bundle version.
        version: BundleVersion,
        /// The position of the entry in `tlogEntries`.
        entry: usize,
    },
    /// A v0.2+ bundle's tlog entry has no inclusion proof.
    #[error(
        "tlog entry {entry} of a {version} bundle has no inclusion proof: bundles v0.2 and later require \
         verificationMaterial.tlogEntries[{entry}].inclusionProof (fetch it from the log and re-create the bundle)"
    )]
    MissingInclusionProof {
        /// The bundle version.
        version: BundleVersion,
        /// The position of the entry in `tlogEntries`.
        entry: usize,
    },
    /// A v0.2+ bundle's inclusion proof has no checkpoint.
    #[error(
        "inclusion proof of tlog entry {entry} of a {version} bundle has no checkpoint: bundles v0.2 and later require \
         verificationMaterial.tlogEntries[{entry}].inclusionProof.checkpoint.envelope (fetch the proof from the log again)"
    )]
    MissingCheckpoint {
        /// The bundle version.
        version: BundleVersion,
        /// The position of the entry in `tlogEntries`.
        entry: usize,
    },
    /// A digest in an in-toto subject is not hex.
    #[error("in-toto statement field subject[].digest[{algorithm:?}] is not hex: {value:?}")]
    InvalidSubjectDigest {
        /// The digest algorithm name.
        algorithm: String,
        /// The value as given.
        value: String,
    },
    /// A Merkle tree hash (`rootHash`, `hashes[]`) is not the 32 bytes of a SHA-256
    /// value, the only tree hash Rekor logs use.
    #[error(
        "field {field} holds {found} bytes, not the 32 of a SHA-256 Merkle hash: the inclusion proof is corrupt; fetch it from the log again"
    )]
    InvalidHashLength {
        /// The protojson path of the field.
        field: &'static str,
        /// The length that was found.
        found: usize,
    },
    /// A service URL (`baseUrl`, `uri`, `url`) is not an absolute URL.
    #[error(
        "field {field} is not an absolute URL: {value:?}: write it as scheme://host[/path], e.g. https://rekor.sigstore.dev"
    )]
    InvalidUrl {
        /// The protojson path of the field.
        field: &'static str,
        /// The value as given (at most 200 characters).
        value: String,
    },
}

impl SigstoreFormatError {
    /// A serde error while reading `input`, naming the field it happened in.
    pub(crate) fn json(document: Document, input: &[u8], err: &serde_json::Error) -> Self {
        SigstoreFormatError::InvalidJson {
            document,
            field: protojson::error_path(input, err),
            reason: err.to_string(),
        }
    }
}
