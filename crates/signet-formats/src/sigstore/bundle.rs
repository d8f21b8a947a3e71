//! The Sigstore bundle (`dev.sigstore.bundle.v1.Bundle`), versions 0.1 to 0.3.

use std::fmt;

use serde::Deserialize;
use serde_json::{Value, json};

use super::dsse::{Envelope, WireEnvelope};
use super::protojson::{
    WireEnum, WireInt, check_hash_length, decode_bytes, decode_opt_bytes, encode_bytes, enum_name,
    enum_value, non_negative,
};
use super::time::UnixTime;
use super::{Document, SigstoreFormatError};

/// A bundle format version, from its media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BundleVersion {
    /// `application/vnd.dev.sigstore.bundle+json;version=0.1`: needs an inclusion promise.
    V0_1,
    /// `application/vnd.dev.sigstore.bundle+json;version=0.2`: needs an inclusion proof
    /// with a checkpoint.
    V0_2,
    /// `application/vnd.dev.sigstore.bundle.v0.3+json` (or `…+json;version=0.3`): as
    /// v0.2, and the signer is a single `certificate`, not a chain.
    V0_3,
}

impl BundleVersion {
    /// Recognises a bundle media type; anything else is
    /// [`SigstoreFormatError::UnsupportedBundleVersion`].
    pub fn from_media_type(media_type: &str) -> Result<Self, SigstoreFormatError> {
        match media_type {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Ok(BundleVersion::V0_1),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Ok(BundleVersion::V0_2),
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
            | "application/vnd.dev.sigstore.bundle.v0.3+json" => Ok(BundleVersion::V0_3),
            other => Err(SigstoreFormatError::UnsupportedBundleVersion {
                media_type: other.chars().take(200).collect(),
            }),
        }
    }

    /// The media type written for this version (the new spelling for v0.3).
    pub fn media_type(self) -> &'static str {
        match self {
            BundleVersion::V0_1 => "application/vnd.dev.sigstore.bundle+json;version=0.1",
            BundleVersion::V0_2 => "application/vnd.dev.sigstore.bundle+json;version=0.2",
            BundleVersion::V0_3 => "application/vnd.dev.sigstore.bundle.v0.3+json",
        }
    }
}

impl fmt::Display for BundleVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BundleVersion::V0_1 => "v0.1",
            BundleVersion::V0_2 => "v0.2",
            BundleVersion::V0_3 => "v0.3",
        })
    }
}

/// A Sigstore bundle: what was signed, by whom, and the log and timestamp evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The format version from `mediaType`.
    pub version: BundleVersion,
    /// The signer and the evidence.
    pub verification_material: VerificationMaterial,
    /// The signature.
    pub content: BundleContent,
}

/// `verificationMaterial`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerificationMaterial {
    /// The oneof `content`: who signed.
    pub signer: SignerMaterial,
    /// `tlogEntries`, possibly empty.
    pub tlog_entries: Vec<TransparencyLogEntry>,
    /// `timestampVerificationData`.
    pub timestamp_verification_data: TimestampVerificationData,
}

/// Who signed: the oneof `verificationMaterial.content`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerMaterial {
    /// `certificate`: the leaf certificate (v0.3).
    Certificate(X509Certificate),
    /// `x509CertificateChain.certificates`: leaf first (v0.1, v0.2). Never empty.
    X509CertificateChain(Vec<X509Certificate>),
    /// `publicKey`: a key delivered out of band.
    PublicKey(PublicKeyIdentifier),
}

impl SignerMaterial {
    /// The signing certificate, if the signer is certificate-based: the `certificate`, or
    /// the first of the chain.
    pub fn leaf_certificate(&self) -> Option<&X509Certificate> {
        match self {
            SignerMaterial::Certificate(c) => Some(c),
            SignerMaterial::X509CertificateChain(chain) => chain.first(),
            SignerMaterial::PublicKey(_) => None,
        }
    }
}

/// A DER-encoded X.509 certificate (`rawBytes`). Not parsed here; see `signet-x509`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct X509Certificate {
    /// The DER bytes.
    pub raw_bytes: Vec<u8>,
}

/// `publicKey`: an unauthenticated hint naming the key (cosign writes
/// base64(sha256(SPKI DER))). The key itself comes out of band.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PublicKeyIdentifier {
    /// The hint, possibly empty.
    pub hint: String,
}

/// A position in a transparency log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogIndex(pub u64);

/// The number of leaves of a transparency log tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TreeSize(pub u64);

/// `logId`: the SHA-256 of the log's DER public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogId {
    /// `keyId`.
    pub key_id: Vec<u8>,
}

/// `kindVersion`: the Rekor entry type of `canonicalizedBody`, e.g. `hashedrekord` `0.0.1`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KindVersion {
    /// `kind`, e.g. `hashedrekord`, `dsse`, `intoto`.
    pub kind: String,
    /// `version`, e.g. `0.0.1`.
    pub version: String,
}

/// `inclusionPromise`: the log's signed entry timestamp (SET).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InclusionPromise {
    /// `signedEntryTimestamp`: the signature bytes.
    pub signed_entry_timestamp: Vec<u8>,
}

/// `checkpoint`: a signed note committing to the tree the proof is against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Checkpoint {
    /// `envelope`: the signed note text. Not parsed here; see `signet-tlog`.
    pub envelope: String,
}

/// `inclusionProof`: an RFC 6962 inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InclusionProof {
    /// `logIndex`: the leaf index the proof is for.
    pub log_index: LogIndex,
    /// `rootHash`: 32 bytes (SHA-256) when parsed.
    pub root_hash: Vec<u8>,
    /// `treeSize`.
    pub tree_size: TreeSize,
    /// `hashes`: the audit path, leaf to root; 32 bytes each when parsed.
    pub hashes: Vec<Vec<u8>>,
    /// `checkpoint`: required from v0.2 on; v0.1 proofs may lack it.
    pub checkpoint: Option<Checkpoint>,
}

/// `tlogEntries[]`: one transparency log entry and its proof or promise.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransparencyLogEntry {
    /// `logIndex`.
    pub log_index: LogIndex,
    /// `logId`.
    pub log_id: LogId,
    /// `kindVersion`.
    pub kind_version: KindVersion,
    /// `integratedTime`: 0 for Rekor v2 entries, which have none.
    pub integrated_time: UnixTime,
    /// `inclusionPromise`, if any.
    pub inclusion_promise: Option<InclusionPromise>,
    /// `inclusionProof`, if any (always present from v0.2 on).
    pub inclusion_proof: Option<InclusionProof>,
    /// `canonicalizedBody`: the entry body as the log stored it.
    pub canonicalized_body: Vec<u8>,
}

/// `timestampVerificationData`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TimestampVerificationData {
    /// `rfc3161Timestamps`.
    pub rfc3161_timestamps: Vec<Rfc3161Timestamp>,
}

/// `rfc3161Timestamps[]`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rfc3161Timestamp {
    /// `signedTimestamp`: a DER `TimeStampResponse`. Not parsed here.
    pub signed_timestamp: Vec<u8>,
}

/// What was signed: the oneof `content`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BundleContent {
    /// `messageSignature`: a signature over an artifact.
    MessageSignature(MessageSignature),
    /// `dsseEnvelope`: a DSSE envelope (usually an in-toto statement).
    DsseEnvelope(Envelope),
}

/// `messageSignature`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MessageSignature {
    /// `messageDigest`: identifies the artifact. Verifiers must not rely on it alone.
    pub message_digest: Option<HashOutput>,
    /// `signature`: the raw signature bytes. Never empty.
    pub signature: Vec<u8>,
}

/// `HashOutput`: an algorithm and a raw digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HashOutput {
    /// `algorithm`.
    pub algorithm: HashAlgorithm,
    /// `digest`: the raw digest bytes.
    pub digest: Vec<u8>,
}

/// `dev.sigstore.common.v1.HashAlgorithm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// `HASH_ALGORITHM_UNSPECIFIED` (also what an absent field means).
    Unspecified,
    /// `SHA2_256`.
    Sha2_256,
    /// `SHA2_384`.
    Sha2_384,
    /// `SHA2_512`.
    Sha2_512,
    /// `SHA3_256`.
    Sha3_256,
    /// `SHA3_384`.
    Sha3_384,
}

pub(crate) const HASH_ALGORITHMS: &[(&str, Option<i64>, HashAlgorithm)] = &[
    (
        "HASH_ALGORITHM_UNSPECIFIED",
        Some(0),
        HashAlgorithm::Unspecified,
    ),
    ("SHA2_256", Some(1), HashAlgorithm::Sha2_256),
    ("SHA2_384", Some(2), HashAlgorithm::Sha2_384),
    ("SHA2_512", Some(3), HashAlgorithm::Sha2_512),
    ("SHA3_256", Some(4), HashAlgorithm::Sha3_256),
    ("SHA3_384", Some(5), HashAlgorithm::Sha3_384),
];

impl HashAlgorithm {
    /// The protojson name, e.g. `SHA2_256`.
    pub fn as_str(self) -> &'static str {
        enum_name(self, HASH_ALGORITHMS)
    }
}

// ---------------------------------------------------------------------------------
// Wire types: protojson as serde sees it. Every field is optional (proto3), names are
// camelCase with the proto name as an alias, and unknown fields are ignored.

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireBundle {
    #[serde(default, rename = "mediaType", alias = "media_type")]
    media_type: Option<String>,
    #[serde(
        default,
        rename = "verificationMaterial",
        alias = "verification_material"
    )]
    verification_material: Option<WireVerificationMaterial>,
    #[serde(default, rename = "messageSignature", alias = "message_signature")]
    message_signature: Option<WireMessageSignature>,
    #[serde(default, rename = "dsseEnvelope", alias = "dsse_envelope")]
    dsse_envelope: Option<WireEnvelope>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireVerificationMaterial {
    #[serde(default)]
    certificate: Option<WireCert>,
    #[serde(
        default,
        rename = "x509CertificateChain",
        alias = "x509_certificate_chain"
    )]
    x509_certificate_chain: Option<WireCertChain>,
    #[serde(default, rename = "publicKey", alias = "public_key")]
    public_key: Option<WirePublicKeyIdentifier>,
    #[serde(default, rename = "tlogEntries", alias = "tlog_entries")]
    tlog_entries: Option<Vec<WireTlogEntry>>,
    #[serde(
        default,
        rename = "timestampVerificationData",
        alias = "timestamp_verification_data"
    )]
    timestamp_verification_data: Option<WireTimestampData>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
pub(crate) struct WireCert {
    #[serde(default, rename = "rawBytes", alias = "raw_bytes")]
    pub(crate) raw_bytes: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
pub(crate) struct WireCertChain {
    #[serde(default)]
    pub(crate) certificates: Option<Vec<WireCert>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WirePublicKeyIdentifier {
    #[serde(default)]
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
pub(crate) struct WireLogId {
    #[serde(default, rename = "keyId", alias = "key_id")]
    pub(crate) key_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireKindVersion {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WirePromise {
    #[serde(
        default,
        rename = "signedEntryTimestamp",
        alias = "signed_entry_timestamp"
    )]
    signed_entry_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireCheckpoint {
    #[serde(default)]
    envelope: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireProof {
    #[serde(default, rename = "logIndex", alias = "log_index")]
    log_index: Option<WireInt>,
    #[serde(default, rename = "rootHash", alias = "root_hash")]
    root_hash: Option<String>,
    #[serde(default, rename = "treeSize", alias = "tree_size")]
    tree_size: Option<WireInt>,
    #[serde(default)]
    hashes: Option<Vec<String>>,
    #[serde(default)]
    checkpoint: Option<WireCheckpoint>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireTlogEntry {
    #[serde(default, rename = "logIndex", alias = "log_index")]
    log_index: Option<WireInt>,
    #[serde(default, rename = "logId", alias = "log_id")]
    log_id: Option<WireLogId>,
    #[serde(default, rename = "kindVersion", alias = "kind_version")]
    kind_version: Option<WireKindVersion>,
    #[serde(default, rename = "integratedTime", alias = "integrated_time")]
    integrated_time: Option<WireInt>,
    #[serde(default, rename = "inclusionPromise", alias = "inclusion_promise")]
    inclusion_promise: Option<WirePromise>,
    #[serde(default, rename = "inclusionProof", alias = "inclusion_proof")]
    inclusion_proof: Option<WireProof>,
    #[serde(default, rename = "canonicalizedBody", alias = "canonicalized_body")]
    canonicalized_body: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireTimestampData {
    #[serde(default, rename = "rfc3161Timestamps", alias = "rfc3161_timestamps")]
    rfc3161_timestamps: Option<Vec<WireTimestamp>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireTimestamp {
    #[serde(default, rename = "signedTimestamp", alias = "signed_timestamp")]
    signed_timestamp: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireMessageSignature {
    #[serde(default, rename = "messageDigest", alias = "message_digest")]
    message_digest: Option<WireHashOutput>,
    #[serde(default)]
    signature: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireHashOutput {
    #[serde(default)]
    algorithm: Option<WireEnum>,
    #[serde(default)]
    digest: Option<String>,
}

// ---------------------------------------------------------------------------------
// Wire → domain.

const F_CERT: &str = "verificationMaterial.certificate";
const F_CHAIN: &str = "verificationMaterial.x509CertificateChain";
const F_PUBKEY: &str = "verificationMaterial.publicKey";

/// Exactly one of the `Some`s in `fields`, by name; none is `MissingField { field: missing }`.
fn one_of(
    fields: &[(&'static str, bool)],
    missing: &'static str,
) -> Result<(), SigstoreFormatError> {
    let mut set = fields.iter().filter(|(_, s)| *s).map(|(n, _)| *n);
    match (set.next(), set.next()) {
        (None, _) => Err(SigstoreFormatError::MissingField { field: missing }),
        (Some(_), None) => Ok(()),
        (Some(first), Some(second)) => {
            Err(SigstoreFormatError::ConflictingFields { first, second })
        }
    }
}

fn convert_signer(w: &WireVerificationMaterial) -> Result<SignerMaterial, SigstoreFormatError> {
    one_of(
        &[
            (F_CERT, w.certificate.is_some()),
            (F_CHAIN, w.x509_certificate_chain.is_some()),
            (F_PUBKEY, w.public_key.is_some()),
        ],
        "verificationMaterial.certificate|x509CertificateChain|publicKey",
    )?;
    if let Some(c) = &w.certificate {
        let raw = decode_opt_bytes(
            "verificationMaterial.certificate.rawBytes",
            c.raw_bytes.as_deref(),
        )?;
        if raw.is_empty() {
            return Err(SigstoreFormatError::MissingField {
                field: "verificationMaterial.certificate.rawBytes",
            });
        }
        return Ok(SignerMaterial::Certificate(X509Certificate {
            raw_bytes: raw,
        }));
    }
    if let Some(chain) = &w.x509_certificate_chain {
        let certs = chain.certificates.as_deref().unwrap_or_default();
        if certs.is_empty() {
            return Err(SigstoreFormatError::EmptyCertificateChain);
        }
        let field = "verificationMaterial.x509CertificateChain.certificates[].rawBytes";
        let certs = certs
            .iter()
            .map(|c| {
                let raw = decode_opt_bytes(field, c.raw_bytes.as_deref())?;
                if raw.is_empty() {
                    return Err(SigstoreFormatError::MissingField { field });
                }
                Ok(X509Certificate { raw_bytes: raw })
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(SignerMaterial::X509CertificateChain(certs));
    }
    let hint = w
        .public_key
        .as_ref()
        .and_then(|k| k.hint.clone())
        .unwrap_or_default();
    Ok(SignerMaterial::PublicKey(PublicKeyIdentifier { hint }))
}

fn convert_entry(w: &WireTlogEntry) -> Result<TransparencyLogEntry, SigstoreFormatError> {
    let log_index = LogIndex(non_negative(
        "verificationMaterial.tlogEntries[].logIndex",
        w.log_index.as_ref(),
    )?);
    let log_id = w.log_id.as_ref().ok_or(SigstoreFormatError::MissingField {
        field: "verificationMaterial.tlogEntries[].logId",
    })?;
    let key_id = decode_opt_bytes(
        "verificationMaterial.tlogEntries[].logId.keyId",
        log_id.key_id.as_deref(),
    )?;
    if key_id.is_empty() {
        return Err(SigstoreFormatError::MissingField {
            field: "verificationMaterial.tlogEntries[].logId.keyId",
        });
    }
    let kv = w
        .kind_version
        .as_ref()
        .ok_or(SigstoreFormatError::MissingField {
            field: "verificationMaterial.tlogEntries[].kindVersion",
        })?;
    let kind = kv.kind.clone().unwrap_or_default();
    let version = kv.version.clone().unwrap_or_default();
    if kind.is_empty() {
        return Err(SigstoreFormatError::MissingField {
            field: "verificationMaterial.tlogEntries[].kindVersion.kind",
        });
    }
    if version.is_empty() {
        return Err(SigstoreFormatError::MissingField {
            field: "verificationMaterial.tlogEntries[].kindVersion.version",
        });
    }
    let integrated = non_negative(
        "verificationMaterial.tlogEntries[].integratedTime",
        w.integrated_time.as_ref(),
    )?;
    let integrated_time =
        UnixTime(
            i64::try_from(integrated).map_err(|_| SigstoreFormatError::InvalidInteger {
                field: "verificationMaterial.tlogEntries[].integratedTime",
                value: integrated.to_string(),
            })?,
        );
    let inclusion_promise = w
        .inclusion_promise
        .as_ref()
        .map(|p| {
            Ok::<_, SigstoreFormatError>(InclusionPromise {
                signed_entry_timestamp: decode_opt_bytes(
                    "verificationMaterial.tlogEntries[].inclusionPromise.signedEntryTimestamp",
                    p.signed_entry_timestamp.as_deref(),
                )?,
            })
        })
        .transpose()?;
    let inclusion_proof = w.inclusion_proof.as_ref().map(convert_proof).transpose()?;
    let canonicalized_body = decode_opt_bytes(
        "verificationMaterial.tlogEntries[].canonicalizedBody",
        w.canonicalized_body.as_deref(),
    )?;
    if canonicalized_body.is_empty() {
        return Err(SigstoreFormatError::MissingField {
            field: "verificationMaterial.tlogEntries[].canonicalizedBody",
        });
    }
    Ok(TransparencyLogEntry {
        log_index,
        log_id: LogId { key_id },
        kind_version: KindVersion { kind, version },
        integrated_time,
        inclusion_promise,
        inclusion_proof,
        canonicalized_body,
    })
}

fn convert_proof(w: &WireProof) -> Result<InclusionProof, SigstoreFormatError> {
    const F_HASHES: &str = "verificationMaterial.tlogEntries[].inclusionProof.hashes[]";
    const F_ROOT: &str = "verificationMaterial.tlogEntries[].inclusionProof.rootHash";
    let hashes = w
        .hashes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            let hash = decode_bytes(F_HASHES, h)?;
            check_hash_length(F_HASHES, &hash)?;
            Ok(hash)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let root_hash = decode_opt_bytes(F_ROOT, w.root_hash.as_deref())?;
    if root_hash.is_empty() {
        return Err(SigstoreFormatError::MissingField { field: F_ROOT });
    }
    check_hash_length(F_ROOT, &root_hash)?;
    Ok(InclusionProof {
        log_index: LogIndex(non_negative(
            "verificationMaterial.tlogEntries[].inclusionProof.logIndex",
            w.log_index.as_ref(),
        )?),
        root_hash,
        tree_size: TreeSize(non_negative(
            "verificationMaterial.tlogEntries[].inclusionProof.treeSize",
            w.tree_size.as_ref(),
        )?),
        hashes,
        // An empty envelope carries nothing to verify: treat it as absent.
        checkpoint: w
            .checkpoint
            .as_ref()
            .and_then(|c| c.envelope.clone())
            .filter(|e| !e.is_empty())
            .map(|envelope| Checkpoint { envelope }),
    })
}

fn convert_content(w: &WireBundle) -> Result<BundleContent, SigstoreFormatError> {
    one_of(
        &[
            ("messageSignature", w.message_signature.is_some()),
            ("dsseEnvelope", w.dsse_envelope.is_some()),
        ],
        "messageSignature|dsseEnvelope",
    )?;
    if let Some(ms) = &w.message_signature {
        let message_digest = ms
            .message_digest
            .as_ref()
            .map(|d| {
                Ok::<_, SigstoreFormatError>(HashOutput {
                    algorithm: enum_value(
                        "messageSignature.messageDigest.algorithm",
                        d.algorithm.as_ref(),
                        HashAlgorithm::Unspecified,
                        HASH_ALGORITHMS,
                    )?,
                    digest: decode_opt_bytes(
                        "messageSignature.messageDigest.digest",
                        d.digest.as_deref(),
                    )?,
                })
            })
            .transpose()?;
        let signature = decode_opt_bytes("messageSignature.signature", ms.signature.as_deref())?;
        if signature.is_empty() {
            return Err(SigstoreFormatError::MissingField {
                field: "messageSignature.signature",
            });
        }
        return Ok(BundleContent::MessageSignature(MessageSignature {
            message_digest,
            signature,
        }));
    }
    match &w.dsse_envelope {
        Some(env) => {
            let env = env.convert("dsseEnvelope")?;
            if env.signatures.is_empty() {
                return Err(SigstoreFormatError::MissingField {
                    field: "dsseEnvelope.signatures",
                });
            }
            Ok(BundleContent::DsseEnvelope(env))
        }
        None => Err(SigstoreFormatError::MissingField {
            field: "messageSignature|dsseEnvelope",
        }),
    }
}

impl Bundle {
    /// Parses bundle JSON (any of v0.1, v0.2, v0.3) and checks its structure:
    ///
    /// * the media type is a known version ([`SigstoreFormatError::UnsupportedBundleVersion`]);
    /// * exactly one signer (`certificate`, `x509CertificateChain` or `publicKey`) and exactly
    ///   one content (`messageSignature` or `dsseEnvelope`); a chain is non-empty
    ///   ([`SigstoreFormatError::EmptyCertificateChain`]);
    /// * v0.1: every tlog entry has an inclusion promise;
    /// * v0.2 and later: every tlog entry has an inclusion proof with a checkpoint;
    /// * v0.3: the signer is not a certificate chain;
    /// * an inclusion proof's `rootHash` and `hashes[]` are 32-byte SHA-256 values
    ///   ([`SigstoreFormatError::InvalidHashLength`]).
    ///
    /// These are the checks sigstore-go, sigstore-python and sigstore-js make when they
    /// load a bundle. Whether there is enough evidence (a tlog entry, a signed time) is
    /// a verification policy, left to `signet-verify`.
    pub fn parse(json: &[u8]) -> Result<Self, SigstoreFormatError> {
        let wire: WireBundle = serde_json::from_slice(json)
            .map_err(|e| SigstoreFormatError::json(Document::Bundle, json, &e))?;
        let version =
            BundleVersion::from_media_type(wire.media_type.as_deref().unwrap_or_default())?;
        let vm = wire
            .verification_material
            .as_ref()
            .ok_or(SigstoreFormatError::MissingField {
                field: "verificationMaterial",
            })?;
        let signer = convert_signer(vm)?;
        let tlog_entries = vm
            .tlog_entries
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(convert_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let rfc3161_timestamps = vm
            .timestamp_verification_data
            .as_ref()
            .and_then(|t| t.rfc3161_timestamps.as_deref())
            .unwrap_or_default()
            .iter()
            .map(|t| {
                let field = "verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp";
                let bytes = decode_opt_bytes(field, t.signed_timestamp.as_deref())?;
                if bytes.is_empty() {
                    return Err(SigstoreFormatError::MissingField { field });
                }
                Ok(Rfc3161Timestamp {
                    signed_timestamp: bytes,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let content = convert_content(&wire)?;
        let bundle = Bundle {
            version,
            verification_material: VerificationMaterial {
                signer,
                tlog_entries,
                timestamp_verification_data: TimestampVerificationData { rfc3161_timestamps },
            },
            content,
        };
        bundle.check_version_rules(version)?;
        Ok(bundle)
    }

    /// Checks the structural rules of `version` (see [`Bundle::parse`]).
    fn check_version_rules(&self, version: BundleVersion) -> Result<(), SigstoreFormatError> {
        let vm = &self.verification_material;
        if version >= BundleVersion::V0_3
            && matches!(vm.signer, SignerMaterial::X509CertificateChain(_))
        {
            return Err(SigstoreFormatError::CertificateChainNotAllowed { version });
        }
        for (entry, e) in vm.tlog_entries.iter().enumerate() {
            if version == BundleVersion::V0_1 {
                if e.inclusion_promise.is_none() {
                    return Err(SigstoreFormatError::MissingInclusionPromise { version, entry });
                }
            } else {
                let proof = e
                    .inclusion_proof
                    .as_ref()
                    .ok_or(SigstoreFormatError::MissingInclusionProof { version, entry })?;
                if proof.checkpoint.is_none() {
                    return Err(SigstoreFormatError::MissingCheckpoint { version, entry });
                }
            }
        }
        Ok(())
    }

    /// Writes the bundle as v0.3 protojson: camelCase names, int64 as strings, standard
    /// padded base64, and every zero or empty scalar and list written out (sigstore-python
    /// rejects bundles that leave out `logIndex: "0"` or `hashes: []`).
    ///
    /// A bundle that cannot be a valid v0.3 bundle is refused with the error [`Bundle::parse`]
    /// would give: a certificate chain ([`SigstoreFormatError::CertificateChainNotAllowed`];
    /// keep only the leaf in [`SignerMaterial::Certificate`]), or a tlog entry without an
    /// inclusion proof and checkpoint.
    pub fn to_json_v03(&self) -> Result<String, SigstoreFormatError> {
        self.check_version_rules(BundleVersion::V0_3)?;
        let vm = &self.verification_material;
        let mut material = serde_json::Map::new();
        match &vm.signer {
            SignerMaterial::Certificate(c) => {
                material.insert(
                    "certificate".into(),
                    json!({"rawBytes": encode_bytes(&c.raw_bytes)}),
                );
            }
            SignerMaterial::PublicKey(k) => {
                material.insert("publicKey".into(), json!({"hint": k.hint}));
            }
            SignerMaterial::X509CertificateChain(_) => {
                // Refused by check_version_rules above.
                return Err(SigstoreFormatError::CertificateChainNotAllowed {
                    version: BundleVersion::V0_3,
                });
            }
        }
        material.insert(
            "tlogEntries".into(),
            Value::Array(vm.tlog_entries.iter().map(entry_json).collect()),
        );
        material.insert(
            "timestampVerificationData".into(),
            json!({"rfc3161Timestamps": vm.timestamp_verification_data.rfc3161_timestamps.iter()
                .map(|t| json!({"signedTimestamp": encode_bytes(&t.signed_timestamp)}))
                .collect::<Vec<_>>()}),
        );
        let mut top = serde_json::Map::new();
        top.insert("mediaType".into(), BundleVersion::V0_3.media_type().into());
        top.insert("verificationMaterial".into(), Value::Object(material));
        match &self.content {
            BundleContent::MessageSignature(ms) => {
                let mut m = serde_json::Map::new();
                if let Some(d) = &ms.message_digest {
                    m.insert(
                        "messageDigest".into(),
                        json!({"algorithm": d.algorithm.as_str(), "digest": encode_bytes(&d.digest)}),
                    );
                }
                m.insert("signature".into(), encode_bytes(&ms.signature).into());
                top.insert("messageSignature".into(), Value::Object(m));
            }
            BundleContent::DsseEnvelope(env) => {
                top.insert("dsseEnvelope".into(), env.to_protojson());
            }
        }
        // Writing a Value to a String cannot fail.
        Ok(Value::Object(top).to_string())
    }
}

fn entry_json(e: &TransparencyLogEntry) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("logIndex".into(), e.log_index.0.to_string().into());
    m.insert(
        "logId".into(),
        json!({"keyId": encode_bytes(&e.log_id.key_id)}),
    );
    m.insert(
        "kindVersion".into(),
        json!({"kind": e.kind_version.kind, "version": e.kind_version.version}),
    );
    m.insert(
        "integratedTime".into(),
        e.integrated_time.0.to_string().into(),
    );
    if let Some(p) = &e.inclusion_promise {
        m.insert(
            "inclusionPromise".into(),
            json!({"signedEntryTimestamp": encode_bytes(&p.signed_entry_timestamp)}),
        );
    }
    if let Some(p) = &e.inclusion_proof {
        let mut proof = serde_json::Map::new();
        proof.insert("logIndex".into(), p.log_index.0.to_string().into());
        proof.insert("rootHash".into(), encode_bytes(&p.root_hash).into());
        proof.insert("treeSize".into(), p.tree_size.0.to_string().into());
        proof.insert(
            "hashes".into(),
            p.hashes
                .iter()
                .map(|h| Value::from(encode_bytes(h)))
                .collect(),
        );
        if let Some(c) = &p.checkpoint {
            proof.insert("checkpoint".into(), json!({"envelope": c.envelope}));
        }
        m.insert("inclusionProof".into(), Value::Object(proof));
    }
    m.insert(
        "canonicalizedBody".into(),
        encode_bytes(&e.canonicalized_body).into(),
    );
    Value::Object(m)
}
