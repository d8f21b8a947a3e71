//! Proposed entries: parse, verify and canonicalize what a client submits, as Rekor v1
//! does. Pure and synchronous.
//!
//! | kind / apiVersion | checked | stored body (RFC 8785 JSON) |
//! |---|---|---|
//! | `hashedrekord` 0.0.1 | the signature over the sha256 digest verifies with the key, or the certificate's key | `spec{data.hash{algorithm,value}, signature{content, publicKey.content}}`; the key or certificate re-encoded as Go's PEM |
//! | `dsse` 0.0.1 | every envelope signature verifies over the PAE with one of the `verifiers`, and every verifier verifies one | `spec{envelopeHash, payloadHash, signatures[{signature, verifier}]}` sorted by signature; no envelope |
//!
//! Source of the rules: rekor `pkg/types/hashedrekord/v0.0.1/entry.go` and
//! `pkg/types/dsse/v0.0.1/entry.go` (`Unmarshal`, `Canonicalize`, `IndexKeys`), and
//! `types.CanonicalizeEntry`, which passes every body through RFC 8785.
//!
//! Search keys follow Rekor's `IndexKeys` (lowercased): `sha256:<hex>` of the
//! artifact (hashedrekord), of the payload, the envelope and each in-toto subject
//! (dsse); the hex SHA-256 of each key's or certificate chain's canonical PEM; and
//! each certificate's email and URI SANs.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use signet_crypto::{KeyError, PublicKey, SignatureError};
use signet_tlog::merkle::{Hash, leaf_hash};
use signet_x509::{Certificate, CertificateError, San};

/// The most signatures a DSSE envelope may carry (each costs verifications).
pub const MAX_DSSE_SIGNATURES: usize = 16;
/// The most verifiers a DSSE entry may name.
pub const MAX_DSSE_VERIFIERS: usize = 16;
/// The most certificates in one verifier's PEM chain.
const MAX_CHAIN_LEN: usize = 10;

/// The kind of an accepted entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryKind {
    /// `hashedrekord` 0.0.1.
    HashedRekordV001,
    /// `dsse` 0.0.1.
    DsseV001,
}

/// An entry that passed validation, in the form the log stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CanonicalEntry {
    /// The kind.
    pub kind: EntryKind,
    /// The canonicalized body (RFC 8785 JSON): the leaf's data.
    pub body: Vec<u8>,
    /// `SHA-256(0x00 || body)`: the leaf hash, whose hex is the entry UUID.
    pub leaf_hash: Hash,
    /// Search-index keys (see the module docs), deduplicated and sorted.
    pub search_keys: Vec<String>,
}

/// Which verifier material a rejection is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifierRef {
    /// `spec.signature.publicKey.content` of a hashedrekord.
    HashedRekordKey,
    /// `spec.proposedContent.verifiers[i]` of a dsse entry.
    DsseVerifier(usize),
}

impl core::fmt::Display for VerifierRef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            VerifierRef::HashedRekordKey => f.write_str("spec.signature.publicKey.content"),
            VerifierRef::DsseVerifier(i) => write!(f, "spec.proposedContent.verifiers[{i}]"),
        }
    }
}

/// Why a proposed entry was rejected. Every variant is the client's fault (HTTP 400).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryRejection {
    /// The request body is not a JSON object of the expected shape.
    #[error("the proposed entry is not valid JSON of the expected shape: {detail}")]
    MalformedJson {
        /// What the parser reported.
        detail: String,
    },
    /// A kind or version this log does not accept.
    #[error(
        "unsupported entry type {kind:?} {api_version:?}: this log accepts hashedrekord 0.0.1 and dsse 0.0.1"
    )]
    UnsupportedKind {
        /// The `kind`.
        kind: String,
        /// The `apiVersion`.
        api_version: String,
    },
    /// A required field is missing or empty.
    #[error("the proposed entry has no {field}")]
    MissingField {
        /// The JSON path of the field.
        field: &'static str,
    },
    /// A field is not valid standard base64.
    #[error("{field} is not valid standard base64")]
    InvalidBase64 {
        /// The JSON path of the field.
        field: &'static str,
    },
    /// The digest algorithm is not sha256.
    #[error(
        "spec.data.hash.algorithm is {found:?}: this log verifies sha256 digests only (sign the SHA-256 of the artifact)"
    )]
    UnsupportedHashAlgorithm {
        /// What was given.
        found: String,
    },
    /// The digest is not 64 hex digits.
    #[error("spec.data.hash.value must be 64 hex digits (a SHA-256), found {found:?}")]
    InvalidDigest {
        /// What was given (truncated).
        found: String,
    },
    /// A verifier is not a PEM public key or certificate chain this log can read.
    #[error(
        "{verifier} is not a PEM `PUBLIC KEY` or `CERTIFICATE` chain this log can use: {detail}"
    )]
    MalformedVerifier {
        /// Which verifier.
        verifier: VerifierRef,
        /// Why it was refused.
        detail: String,
    },
    /// The hashedrekord signature does not verify over the digest.
    #[error(
        "the signature does not verify over the sha256 digest with the given key or certificate"
    )]
    SignatureInvalid {
        /// Why the signature was rejected.
        #[source]
        source: SignatureError,
    },
    /// The DSSE envelope cannot be parsed.
    #[error("spec.proposedContent.envelope is not a DSSE envelope: {detail}")]
    MalformedEnvelope {
        /// What is wrong with it.
        detail: String,
    },
    /// Too many DSSE signatures or verifiers.
    #[error("the dsse entry has {found} {what}, more than the limit of {limit}")]
    TooMany {
        /// `signatures` or `verifiers`.
        what: &'static str,
        /// How many there were.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// A DSSE signature verifies with none of the verifiers.
    #[error(
        "DSSE signature {index} verifies with none of the verifiers: every signature must have a key that verifies it"
    )]
    UnverifiedSignature {
        /// Index in the envelope's `signatures`.
        index: usize,
    },
    /// A DSSE verifier verifies none of the signatures.
    #[error("{verifier} verifies none of the envelope's signatures")]
    UnusedVerifier {
        /// Which verifier.
        verifier: VerifierRef,
    },
    /// The canonical form cannot be built (an integer beyond 2^53 in the payload).
    #[error("the entry cannot be canonicalized: {detail}")]
    NotCanonicalizable {
        /// What the canonicalizer reported.
        detail: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawProposed {
    kind: Option<String>,
    api_version: Option<String>,
    spec: Option<Value>,
}

#[derive(Deserialize)]
struct HrSpec {
    data: Option<HrData>,
    signature: Option<HrSignature>,
}
#[derive(Deserialize)]
struct HrData {
    hash: Option<HrHash>,
}
#[derive(Deserialize)]
struct HrHash {
    algorithm: Option<String>,
    value: Option<String>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HrSignature {
    content: Option<String>,
    public_key: Option<HrKey>,
}
#[derive(Deserialize)]
struct HrKey {
    content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseSpec {
    proposed_content: Option<DsseProposed>,
}
#[derive(Deserialize)]
struct DsseProposed {
    envelope: Option<String>,
    verifiers: Option<Vec<Option<String>>>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload_type: Option<String>,
    payload: Option<String>,
    signatures: Option<Vec<RawEnvelopeSig>>,
}
#[derive(Deserialize)]
struct RawEnvelopeSig {
    sig: Option<String>,
}

fn malformed(e: &serde_json::Error) -> EntryRejection {
    EntryRejection::MalformedJson {
        detail: e.to_string(),
    }
}

fn required<T>(v: Option<T>, field: &'static str) -> Result<T, EntryRejection> {
    v.ok_or(EntryRejection::MissingField { field })
}

fn non_empty(v: Option<String>, field: &'static str) -> Result<String, EntryRejection> {
    v.filter(|s| !s.is_empty())
        .ok_or(EntryRejection::MissingField { field })
}

fn b64(s: &str, field: &'static str) -> Result<Vec<u8>, EntryRejection> {
    STANDARD
        .decode(s)
        .map_err(|_| EntryRejection::InvalidBase64 { field })
}

/// A verifier's key and its canonical PEM (Rekor's `CanonicalValue`).
struct Verifier {
    key: PublicKey,
    canonical_pem: String,
    /// Email and URI SANs of the leaf certificate, lowercased.
    subjects: Vec<String>,
}

/// The label of the first PEM block in `pem`, if any.
fn first_pem_label(pem: &[u8]) -> Option<&str> {
    let text = core::str::from_utf8(pem).ok()?;
    let start = text.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &text[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

fn parse_verifier(pem: &[u8], which: VerifierRef) -> Result<Verifier, EntryRejection> {
    let bad = |detail: String| EntryRejection::MalformedVerifier {
        verifier: which,
        detail,
    };
    match first_pem_label(pem) {
        Some("PUBLIC KEY") => {
            let key = PublicKey::from_pem(pem).map_err(|e: KeyError| bad(e.to_string()))?;
            Ok(Verifier {
                canonical_pem: key.to_pem(),
                key,
                subjects: Vec::new(),
            })
        }
        Some("CERTIFICATE") => {
            let certs = Certificate::parse_pem_chain(pem)
                .map_err(|e: CertificateError| bad(e.to_string()))?;
            if certs.len() > MAX_CHAIN_LEN {
                return Err(bad(format!(
                    "{} certificates, more than the limit of {MAX_CHAIN_LEN}",
                    certs.len()
                )));
            }
            let leaf = certs
                .first()
                .ok_or_else(|| bad("no certificate in the PEM".into()))?;
            let key = leaf.public_key().map_err(|e| bad(e.to_string()))?;
            let canonical_pem = certs
                .iter()
                .map(|c| signet_crypto::encode_pem("CERTIFICATE", c.der()))
                .collect();
            let subjects = leaf
                .subject_alternative_names()
                .iter()
                .filter_map(|san| match san {
                    San::Email(s) | San::Uri(s) => Some(s.to_lowercase()),
                    _ => None,
                })
                .collect();
            Ok(Verifier {
                key,
                canonical_pem,
                subjects,
            })
        }
        Some(other) => Err(bad(format!("PEM type {other:?} is not supported"))),
        None => Err(bad("no PEM block".into())),
    }
}

fn key_search_key(v: &Verifier) -> String {
    hex::encode(Sha256::digest(v.canonical_pem.as_bytes()))
}

/// The search key of a PEM public key or certificate chain: the hex SHA-256 of its
/// canonical PEM (Rekor's `index/retrieve` by `publicKey`).
///
/// # Errors
/// [`EntryRejection::MalformedVerifier`] when it is neither.
pub(crate) fn verifier_search_key(pem: &[u8]) -> Result<String, EntryRejection> {
    parse_verifier(pem, VerifierRef::HashedRekordKey).map(|v| key_search_key(&v))
}

fn canonical(value: &Value) -> Result<Vec<u8>, EntryRejection> {
    signet_tlog::jcs::canonicalize(value)
        .map(String::into_bytes)
        .map_err(|e| EntryRejection::NotCanonicalizable {
            detail: e.to_string(),
        })
}

fn finish(kind: EntryKind, body: Vec<u8>, mut search_keys: Vec<String>) -> CanonicalEntry {
    search_keys.sort();
    search_keys.dedup();
    CanonicalEntry {
        kind,
        leaf_hash: leaf_hash(&body),
        body,
        search_keys,
    }
}

/// Parses, verifies and canonicalizes a proposed entry (the body of
/// `POST /api/v1/log/entries`).
///
/// # Errors
/// Any [`EntryRejection`]: the request is the client's fault.
pub fn canonicalize_proposed_entry(request: &[u8]) -> Result<CanonicalEntry, EntryRejection> {
    let raw: RawProposed = serde_json::from_slice(request).map_err(|e| malformed(&e))?;
    let kind = non_empty(raw.kind, "kind")?;
    let api_version = non_empty(raw.api_version, "apiVersion")?;
    let spec = required(raw.spec, "spec")?;
    match (kind.as_str(), api_version.as_str()) {
        ("hashedrekord", "0.0.1") => hashed_rekord(spec),
        ("dsse", "0.0.1") => dsse(spec),
        _ => Err(EntryRejection::UnsupportedKind { kind, api_version }),
    }
}

fn hashed_rekord(spec: Value) -> Result<CanonicalEntry, EntryRejection> {
    let spec: HrSpec = serde_json::from_value(spec).map_err(|e| malformed(&e))?;
    let data = required(spec.data, "spec.data")?;
    let hash = required(data.hash, "spec.data.hash")?;
    let algorithm = non_empty(hash.algorithm, "spec.data.hash.algorithm")?;
    if algorithm != "sha256" {
        return Err(EntryRejection::UnsupportedHashAlgorithm { found: algorithm });
    }
    let value = non_empty(hash.value, "spec.data.hash.value")?;
    let digest: [u8; 32] = hex::decode(&value)
        .ok()
        .and_then(|d| d.try_into().ok())
        .ok_or_else(|| EntryRejection::InvalidDigest {
            found: value.chars().take(80).collect(),
        })?;
    let signature = required(spec.signature, "spec.signature")?;
    let sig = b64(
        &non_empty(signature.content, "spec.signature.content")?,
        "spec.signature.content",
    )?;
    let key_pem = b64(
        &non_empty(
            required(signature.public_key, "spec.signature.publicKey")?.content,
            "spec.signature.publicKey.content",
        )?,
        "spec.signature.publicKey.content",
    )?;
    let verifier = parse_verifier(&key_pem, VerifierRef::HashedRekordKey)?;
    verifier
        .key
        .verify_prehashed_sha256(&digest, &sig)
        .map_err(|source| EntryRejection::SignatureInvalid { source })?;

    let hex_digest = hex::encode(digest);
    let body = canonical(&json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": hex_digest}},
            "signature": {
                "content": STANDARD.encode(&sig),
                "publicKey": {"content": STANDARD.encode(verifier.canonical_pem.as_bytes())},
            },
        },
    }))?;
    let mut keys = vec![format!("sha256:{hex_digest}"), key_search_key(&verifier)];
    keys.extend(verifier.subjects);
    Ok(finish(EntryKind::HashedRekordV001, body, keys))
}

/// DSSE signatures are base64; securesystemslib accepts the standard and URL alphabets.
fn decode_sig(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

fn dsse(spec: Value) -> Result<CanonicalEntry, EntryRejection> {
    let spec: DsseSpec = serde_json::from_value(spec).map_err(|e| malformed(&e))?;
    let proposed = required(spec.proposed_content, "spec.proposedContent")?;
    let envelope_text = non_empty(proposed.envelope, "spec.proposedContent.envelope")?;
    let verifier_texts = required(proposed.verifiers, "spec.proposedContent.verifiers")?;
    if verifier_texts.is_empty() {
        return Err(EntryRejection::MissingField {
            field: "spec.proposedContent.verifiers",
        });
    }
    if verifier_texts.len() > MAX_DSSE_VERIFIERS {
        return Err(EntryRejection::TooMany {
            what: "verifiers",
            found: verifier_texts.len(),
            limit: MAX_DSSE_VERIFIERS,
        });
    }
    let bad_env = |detail: String| EntryRejection::MalformedEnvelope { detail };
    let env: RawEnvelope =
        serde_json::from_str(&envelope_text).map_err(|e| bad_env(e.to_string()))?;
    let payload_type = env
        .payload_type
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad_env("payloadType is missing".into()))?;
    let payload = STANDARD
        .decode(env.payload.unwrap_or_default())
        .map_err(|_| bad_env("payload is not standard base64".into()))?;
    let sigs = env.signatures.unwrap_or_default();
    if sigs.is_empty() {
        return Err(bad_env("it has no signatures".into()));
    }
    if sigs.len() > MAX_DSSE_SIGNATURES {
        return Err(EntryRejection::TooMany {
            what: "signatures",
            found: sigs.len(),
            limit: MAX_DSSE_SIGNATURES,
        });
    }
    let sigs: Vec<(String, Vec<u8>)> = sigs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let text = s
                .sig
                .filter(|t| !t.is_empty())
                .ok_or_else(|| bad_env(format!("signatures[{i}].sig is missing")))?;
            let raw = decode_sig(&text)
                .ok_or_else(|| bad_env(format!("signatures[{i}].sig is not base64")))?;
            Ok((text, raw))
        })
        .collect::<Result<_, EntryRejection>>()?;

    let verifiers = verifier_texts
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let which = VerifierRef::DsseVerifier(i);
            let text = v.as_deref().filter(|t| !t.is_empty()).ok_or(
                EntryRejection::MalformedVerifier {
                    verifier: which,
                    detail: "it is null or empty".into(),
                },
            )?;
            let pem = b64(text, "spec.proposedContent.verifiers[]")?;
            parse_verifier(&pem, which)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let pae = signet_formats::sigstore::pae(&payload_type, &payload);
    // signature text -> the first verifier that verifies it (Rekor keys the map by the
    // signature text, so identical signatures collapse).
    let mut signed_by: BTreeMap<&str, usize> = BTreeMap::new();
    let mut used = vec![false; verifiers.len()];
    for (index, (text, raw)) in sigs.iter().enumerate() {
        let mut found = false;
        for (vi, v) in verifiers.iter().enumerate() {
            if v.key.verify(&pae, raw).is_ok() {
                used[vi] = true;
                if !found {
                    signed_by.entry(text.as_str()).or_insert(vi);
                    found = true;
                }
            }
        }
        if !found {
            return Err(EntryRejection::UnverifiedSignature { index });
        }
    }
    if let Some(unused) = used.iter().position(|u| !u) {
        return Err(EntryRejection::UnusedVerifier {
            verifier: VerifierRef::DsseVerifier(unused),
        });
    }

    let payload_hash = hex::encode(Sha256::digest(&payload));
    let envelope_hash = hex::encode(Sha256::digest(envelope_text.as_bytes()));
    let signatures: Vec<Value> = signed_by
        .iter()
        .map(|(sig, &vi)| {
            json!({
                "signature": sig,
                "verifier": STANDARD.encode(verifiers[vi].canonical_pem.as_bytes()),
            })
        })
        .collect();
    let body = canonical(&json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": envelope_hash},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
            "signatures": signatures,
        },
    }))?;

    let mut keys = vec![
        format!("sha256:{payload_hash}"),
        format!("sha256:{envelope_hash}"),
    ];
    for &vi in signed_by.values() {
        keys.push(key_search_key(&verifiers[vi]));
        keys.extend(verifiers[vi].subjects.iter().cloned());
    }
    if payload_type == signet_formats::sigstore::DSSE_IN_TOTO_PAYLOAD_TYPE
        && let Ok(statement) = signet_formats::sigstore::Statement::parse(&payload)
    {
        for subject in &statement.subjects {
            for (alg, value) in &subject.digest {
                if alg == "sha256" {
                    keys.push(format!("sha256:{}", value.to_lowercase()));
                }
            }
        }
    }
    Ok(finish(EntryKind::DsseV001, body, keys))
}

#[cfg(test)]
mod tests;
