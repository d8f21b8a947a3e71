//! Why a trusted root cannot be used, and why a bundle does not verify.

use signet_crypto::{KeyError, SignatureError};
use signet_formats::Digest;
use signet_formats::sigstore::{SigstoreFormatError, UnixTime, ValidityWindow};
use signet_tlog::checkpoint::{CheckpointError, CheckpointInclusionError};
use signet_tlog::entry::EntryError;
use signet_tlog::merkle::HashLengthError;
use signet_tlog::set::SetError;
use signet_x509::{CertificateError, ChainError, IdentityError, SctError};

/// Why a trusted root cannot be turned into a [`super::BundleVerifier`]. The verifier
/// fails closed: a root with one unusable key or certificate is rejected as a whole.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedRootError {
    /// A transparency log key does not load.
    #[error(
        "trusted root: transparency log {log_id} ({base_url}) has a key that does not load: {source}"
    )]
    TlogKey {
        /// The log ID (hex).
        log_id: String,
        /// The log's base URL.
        base_url: String,
        /// Why the key does not load.
        #[source]
        source: KeyError,
    },
    /// A CT log key does not load.
    #[error("trusted root: CT log {log_id} ({base_url}) has a key that does not load: {source}")]
    CtLogKey {
        /// The log ID (hex).
        log_id: String,
        /// The log's base URL.
        base_url: String,
        /// Why the key does not load.
        #[source]
        source: KeyError,
    },
    /// A CT log ID is not 32 bytes.
    #[error("trusted root: CT log {log_id} ({base_url}) has a log ID that is not 32 bytes")]
    CtLogId {
        /// The log ID (hex).
        log_id: String,
        /// The log's base URL.
        base_url: String,
    },
    /// A certificate of a certificate authority does not parse.
    #[error(
        "trusted root: certificate authority {uri} has a certificate that does not parse: {source}"
    )]
    CaCertificate {
        /// The authority's URI.
        uri: String,
        /// Why it does not parse.
        #[source]
        source: CertificateError,
    },
    /// A certificate authority has no certificates.
    #[error("trusted root: certificate authority {uri} has an empty certChain")]
    EmptyCaChain {
        /// The authority's URI.
        uri: String,
    },
    /// A timestamp authority's certificate does not parse.
    #[error(
        "trusted root: timestamp authority {uri} has a certificate that does not parse: {source}"
    )]
    TsaCertificate {
        /// The authority's URI.
        uri: String,
        /// Why it does not parse.
        source: signet_x509::CertificateError,
    },
    /// A timestamp authority has no certificates.
    #[error("trusted root: timestamp authority {uri} has an empty certChain")]
    EmptyTsaChain {
        /// The authority's URI.
        uri: String,
    },
}

/// The four kinds of failure that STYLE §6 keeps apart, plus "not implemented".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The input cannot be parsed.
    Malformed,
    /// Key, CA, log or time not trusted by the root (or outside its window).
    Untrusted,
    /// A signature, proof or digest does not match.
    Mismatch,
    /// The caller's policy (identity, key kind) is not met.
    PolicyNotMet,
    /// Verification would need something signet does not implement yet: failing closed.
    Unsupported,
}

/// Where in a tlog entry body a mismatch with the bundle was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyField {
    /// The entry kind does not fit the bundle content (e.g. dsse entry, messageSignature).
    Kind,
    /// The artifact (or PAE / payload) digest.
    Digest,
    /// The signature bytes.
    Signature,
    /// The public key or certificate.
    Verifier,
}

impl std::fmt::Display for BodyField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BodyField::Kind => "kind",
            BodyField::Digest => "digest",
            BodyField::Signature => "signature",
            BodyField::Verifier => "public key or certificate",
        })
    }
}

/// Why a bundle does not verify. Each message is one line; [`BundleError::kind`] says
/// which of malformed / untrusted / mismatch / policy it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    // ---- malformed -----------------------------------------------------------------
    /// The bundle has no tlog entries.
    #[error("bundle has no transparency log entries: at least one is required")]
    NoTlogEntries,
    /// The bundle has more tlog entries than the limit.
    #[error("bundle has {found} transparency log entries, more than the limit of {limit}")]
    TooManyTlogEntries {
        /// How many.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// Two tlog entries are the same (a threshold bypass attempt).
    #[error("tlog entry {entry} duplicates an earlier entry")]
    DuplicateTlogEntry {
        /// The position of the entry.
        entry: usize,
    },
    /// A tlog entry body does not parse.
    #[error("tlog entry {entry}: malformed canonicalized body: {source}")]
    MalformedTlogBody {
        /// The position of the entry.
        entry: usize,
        /// Why.
        #[source]
        source: EntryError,
    },
    /// An inclusion proof hash is not 32 bytes.
    #[error("tlog entry {entry}: malformed inclusion proof: {source}")]
    MalformedInclusionProof {
        /// The position of the entry.
        entry: usize,
        /// Why.
        #[source]
        source: HashLengthError,
    },
    /// A certificate in the bundle does not parse.
    #[error("bundle certificate does not parse: {source}")]
    MalformedCertificate {
        /// Why.
        #[source]
        source: CertificateError,
    },
    /// The DSSE payload is not an in-toto statement.
    #[error("dsse payload is not a usable in-toto statement: {source}")]
    MalformedStatement {
        /// Why.
        #[source]
        source: SigstoreFormatError,
    },
    /// The DSSE envelope does not carry exactly one signature.
    #[error("dsse envelope has {found} signatures, exactly one is supported")]
    DsseSignatureCount {
        /// How many.
        found: usize,
    },

    // ---- untrusted -----------------------------------------------------------------
    /// The entry's log is not in the trusted root.
    #[error(
        "tlog entry {entry}: log {log_id} is not in the trusted root: is the bundle from another Sigstore instance? pass the matching trusted root"
    )]
    UnknownLog {
        /// The position of the entry.
        entry: usize,
        /// The log ID (hex).
        log_id: String,
    },
    /// The checkpoint does not parse, or is not signed by the entry's log.
    #[error("tlog entry {entry}: checkpoint not verified with the log's key: {source}")]
    CheckpointUnverified {
        /// The position of the entry.
        entry: usize,
        /// Why.
        #[source]
        source: CheckpointError,
    },
    /// A Rekor v2 checkpoint's origin is not the host name of the log's baseUrl.
    #[error(
        "tlog entry {entry}: the checkpoint's origin {origin:?} is not the log's host name {expected:?} (from its baseUrl in the trusted root): the checkpoint is from another log"
    )]
    CheckpointOriginMismatch {
        /// The position of the entry.
        entry: usize,
        /// The checkpoint's origin line.
        origin: String,
        /// The host name of the log's baseUrl.
        expected: String,
    },
    /// A Rekor v2 checkpoint cannot be checked: the trusted root gives the log no
    /// baseUrl to take its origin from.
    #[error(
        "tlog entry {entry}: log {log_id} has no baseUrl in the trusted root, so its Rekor v2 checkpoint's origin cannot be checked: add the log's baseUrl to the trusted root"
    )]
    CheckpointLogWithoutHost {
        /// The position of the entry.
        entry: usize,
        /// The log ID (hex).
        log_id: String,
    },
    /// The inclusion proof does not verify against the signed checkpoint.
    #[error("tlog entry {entry}: inclusion proof does not verify: {source}")]
    InclusionProofInvalid {
        /// The position of the entry.
        entry: usize,
        /// Why.
        #[source]
        source: CheckpointInclusionError,
    },
    /// The signed entry timestamp does not verify.
    #[error(
        "tlog entry {entry}: signed entry timestamp (inclusion promise) does not verify: {source}"
    )]
    SetInvalid {
        /// The position of the entry.
        entry: usize,
        /// Why.
        #[source]
        source: SetError,
    },
    /// The integrated time is later than now.
    #[error("tlog entry {entry}: integrated time {integrated_time} is in the future (now {now})")]
    IntegratedTimeInFuture {
        /// The position of the entry.
        entry: usize,
        /// The integrated time.
        integrated_time: UnixTime,
        /// The verifier's clock.
        now: UnixTime,
    },
    /// The log key was not valid at the integrated time.
    #[error(
        "tlog entry {entry}: integrated time {integrated_time} is outside the log key's validity window {window:?} in the trusted root"
    )]
    LogKeyNotValidAt {
        /// The position of the entry.
        entry: usize,
        /// The integrated time.
        integrated_time: UnixTime,
        /// The key's window.
        window: ValidityWindow,
    },
    /// A Rekor v2 entry's log key was not valid at a timestamp's time.
    #[error(
        "tlog entry {entry}: RFC 3161 timestamp time {time} is outside the log key's validity window {window:?} in the trusted root: the log was not trusted when the bundle was signed"
    )]
    LogKeyNotValidAtTimestamp {
        /// The position of the entry.
        entry: usize,
        /// The timestamp's genTime.
        time: UnixTime,
        /// The key's window.
        window: ValidityWindow,
    },
    /// An RFC 3161 timestamp in the bundle does not verify.
    #[error("RFC 3161 timestamp {index} does not verify: {source}")]
    Timestamp {
        /// Which timestamp (0-based).
        index: usize,
        /// Why.
        source: signet_x509::timestamp::TimestampError,
    },
    /// There is no verified time to check the certificate at.
    #[error(
        "bundle has no verified time source: no tlog entry with a verified signed entry timestamp and no RFC 3161 timestamp"
    )]
    NoObservedTime,
    /// The bundle's certificate chain contains a self-signed root.
    #[error(
        "bundle certificate chain contains a self-signed root certificate ({subject}): roots come only from the trusted root"
    )]
    BundleChainContainsRoot {
        /// The root's subject.
        subject: String,
    },
    /// The certificate does not chain to a trusted CA at the observed time.
    #[error("signing certificate not trusted at {at}: {source}")]
    CertificateUntrusted {
        /// The time checked.
        at: UnixTime,
        /// Why.
        #[source]
        source: ChainError,
    },
    /// No embedded SCT verifies.
    #[error("signing certificate's embedded SCTs do not verify: {source}")]
    SctUnverified {
        /// Why.
        #[source]
        source: SctError,
    },

    // ---- cryptographic / content mismatch --------------------------------------------
    /// The tlog entry body does not describe this bundle.
    #[error("tlog entry {entry}: the logged {field} does not match the bundle: {detail}")]
    TlogBodyMismatch {
        /// The position of the entry.
        entry: usize,
        /// What differs.
        field: BodyField,
        /// Expected and found, briefly.
        detail: String,
    },
    /// The bundle's messageDigest is not the artifact's.
    #[error("bundle messageDigest {bundle} does not match the artifact digest {artifact}")]
    MessageDigestMismatch {
        /// The bundle's digest (algorithm:hex).
        bundle: String,
        /// The artifact's digest.
        artifact: Digest,
    },
    /// The signature does not verify.
    #[error("signature does not verify over the {over}: {source}")]
    SignatureMismatch {
        /// What was signed ("artifact" or "dsse PAE").
        over: &'static str,
        /// Why.
        #[source]
        source: SignatureError,
    },
    /// No in-toto subject has the artifact's digest.
    #[error("no in-toto subject has the artifact digest {artifact}: subjects are {subjects:?}")]
    SubjectNotFound {
        /// The artifact's digest.
        artifact: Digest,
        /// The statement's subjects (name=sha256).
        subjects: Vec<String>,
    },

    // ---- policy --------------------------------------------------------------------
    /// The certificate's identity does not match the policy.
    #[error("{source}")]
    IdentityMismatch {
        /// Why.
        #[source]
        source: IdentityError,
    },
    /// The bundle's signer kind does not fit the policy (key vs certificate).
    #[error("policy requires a {expected}, but the bundle is signed with a {found}")]
    SignerKindMismatch {
        /// What the policy needs.
        expected: &'static str,
        /// What the bundle has.
        found: &'static str,
    },
    /// The key given in the policy does not load as a verifier of the certificate.
    #[error("signing certificate's public key cannot be used: {source}")]
    UnusableCertificateKey {
        /// Why.
        #[source]
        source: CertificateError,
    },

    // ---- unsupported ---------------------------------------------------------------
    /// A messageSignature by an Ed25519 key cannot be checked against a digest alone:
    /// Ed25519 signs the whole message.
    #[error(
        "an Ed25519 messageSignature cannot be verified against a digest alone: pass the artifact file instead"
    )]
    PrehashUnsupported,
    /// The artifact digest is not SHA-256.
    #[error("artifact digest {found} is not sha256: only sha256 is supported")]
    UnsupportedArtifactDigest {
        /// The digest given.
        found: Digest,
    },
    /// The bundle's messageDigest uses an algorithm other than SHA-256.
    #[error("bundle messageDigest uses {algorithm}, only SHA2_256 is supported")]
    UnsupportedMessageDigest {
        /// The algorithm name.
        algorithm: &'static str,
    },
    /// The tlog entry kind is not one signet verifies.
    #[error("tlog entry {entry}: entry kind {kind} {version} is not supported")]
    UnsupportedEntryKind {
        /// The position of the entry.
        entry: usize,
        /// The kind.
        kind: String,
        /// The version.
        version: String,
    },
}

impl BundleError {
    /// Which kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        use BundleError as E;
        match self {
            E::NoTlogEntries
            | E::TooManyTlogEntries { .. }
            | E::DuplicateTlogEntry { .. }
            | E::MalformedTlogBody { .. }
            | E::MalformedInclusionProof { .. }
            | E::MalformedCertificate { .. }
            | E::MalformedStatement { .. }
            | E::DsseSignatureCount { .. }
            | E::UnusableCertificateKey { .. } => FailureKind::Malformed,
            E::UnknownLog { .. }
            | E::CheckpointUnverified { .. }
            | E::SetInvalid { .. }
            | E::IntegratedTimeInFuture { .. }
            | E::LogKeyNotValidAt { .. }
            | E::CheckpointOriginMismatch { .. }
            | E::CheckpointLogWithoutHost { .. }
            | E::LogKeyNotValidAtTimestamp { .. }
            | E::NoObservedTime
            | E::BundleChainContainsRoot { .. }
            | E::CertificateUntrusted { .. }
            | E::SctUnverified { .. } => FailureKind::Untrusted,
            E::InclusionProofInvalid { .. }
            | E::TlogBodyMismatch { .. }
            | E::MessageDigestMismatch { .. }
            | E::SignatureMismatch { .. }
            | E::SubjectNotFound { .. } => FailureKind::Mismatch,
            E::IdentityMismatch { .. } | E::SignerKindMismatch { .. } => FailureKind::PolicyNotMet,
            E::Timestamp { .. } => FailureKind::Untrusted,
            E::PrehashUnsupported
            | E::UnsupportedArtifactDigest { .. }
            | E::UnsupportedMessageDigest { .. }
            | E::UnsupportedEntryKind { .. } => FailureKind::Unsupported,
        }
    }
}
