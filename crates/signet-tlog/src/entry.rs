//! Typed Rekor entry bodies, parsed from a log entry's canonicalized body JSON.
//!
//! Supported kinds (field names from rekor `pkg/types/*/v0.0.x/*_schema.json` and
//! rekor-tiles `api/proto/rekor/v2/*.proto`):
//!
//! | kind / apiVersion | log | shape |
//! |---|---|---|
//! | `hashedrekord` 0.0.1 | v1 | `spec.data.hash{algorithm,value(hex)}`, `spec.signature{content(b64), publicKey.content(b64 PEM key or cert)}` |
//! | `hashedrekord` 0.0.2 | v2 | `spec.hashedRekordV002{data{algorithm,digest(b64)}, signature{content(b64), verifier{publicKey\|x509Certificate{rawBytes}, keyDetails}}}` |
//! | `dsse` 0.0.1 | v1 | `spec{envelopeHash, payloadHash (hex), signatures[{signature(b64), verifier(b64 PEM)}]}` |
//! | `dsse` 0.0.2 | v2 (deprecated) | `spec.dsseV002{payloadHash{algorithm,digest}, signatures[{content, verifier}]}` |
//! | `intoto` 0.0.1 | v1 | `spec{content{hash, payloadHash?}, publicKey(b64 PEM)}` |
//! | `intoto` 0.0.2 | v1 | `spec.content{envelope{payloadType, payload?, signatures[{sig, publicKey, keyid?}]}, hash, payloadHash}`; `sig` and `payload` are usually base64 **twice**; kept with one layer removed |
//!
//! These are data only: matching an entry against a bundle's signature and artifact
//! is the verifier's job.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A hash algorithm named in an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256 (`sha256`, `SHA2_256`).
    Sha256,
    /// SHA-384 (`sha384`, `SHA2_384`).
    Sha384,
    /// SHA-512 (`sha512`, `SHA2_512`).
    Sha512,
}

impl HashAlgorithm {
    fn parse(name: &str, field: &'static str) -> Result<Self, EntryError> {
        match name {
            "sha256" | "SHA2_256" => Ok(HashAlgorithm::Sha256),
            "sha384" | "SHA2_384" => Ok(HashAlgorithm::Sha384),
            "sha512" | "SHA2_512" => Ok(HashAlgorithm::Sha512),
            _ => Err(EntryError::UnsupportedHashAlgorithm {
                field,
                found: name.into(),
            }),
        }
    }

    fn len(self) -> usize {
        match self {
            HashAlgorithm::Sha256 => 32,
            HashAlgorithm::Sha384 => 48,
            HashAlgorithm::Sha512 => 64,
        }
    }
}

/// A digest with its algorithm; the length always fits the algorithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    /// The algorithm.
    pub algorithm: HashAlgorithm,
    /// The raw digest bytes.
    pub value: Vec<u8>,
}

impl Digest {
    /// The digest as a SHA-256 value, if it is one.
    pub fn sha256(&self) -> Option<[u8; 32]> {
        match self.algorithm {
            HashAlgorithm::Sha256 => self.value.as_slice().try_into().ok(),
            _ => None,
        }
    }
}

/// Why an entry body was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The body is not a JSON object.
    #[error("the entry body is not a JSON object: {detail}")]
    NotJson {
        /// What the parser reported.
        detail: String,
    },
    /// `kind`, `apiVersion` (strings) or `spec` is missing.
    #[error(
        "the entry body has no {field:?} field of the expected type: it is not a complete Rekor entry"
    )]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// A kind/version pair this crate does not know.
    #[error(
        "unsupported Rekor entry type {kind} {api_version}: supported are hashedrekord 0.0.1/0.0.2, dsse 0.0.1/0.0.2, intoto 0.0.1/0.0.2"
    )]
    UnsupportedKind {
        /// The kind.
        kind: String,
        /// The apiVersion.
        api_version: String,
    },
    /// The spec does not have the shape of its kind.
    #[error("malformed {kind} {api_version} entry: {detail}")]
    Malformed {
        /// The kind.
        kind: &'static str,
        /// The apiVersion.
        api_version: &'static str,
        /// What the parser reported.
        detail: String,
    },
    /// A field is not valid base64.
    #[error("entry field {field} is not valid base64")]
    InvalidBase64 {
        /// The field.
        field: &'static str,
    },
    /// A field is not valid hex.
    #[error("entry field {field} is not valid lowercase hex")]
    InvalidHex {
        /// The field.
        field: &'static str,
    },
    /// An unknown hash algorithm.
    #[error(
        "entry field {field} names hash algorithm {found:?}; expected sha256, sha384 or sha512"
    )]
    UnsupportedHashAlgorithm {
        /// The field.
        field: &'static str,
        /// The name found.
        found: String,
    },
    /// A digest whose length does not fit its algorithm.
    #[error("entry field {field} is {found} bytes, but {algorithm:?} digests are {expected}")]
    DigestLength {
        /// The field.
        field: &'static str,
        /// The algorithm.
        algorithm: HashAlgorithm,
        /// The right length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// A Rekor v2 verifier with neither a public key nor a certificate.
    #[error("entry field {field} has neither publicKey nor x509Certificate")]
    MissingVerifier {
        /// The field.
        field: &'static str,
    },
}

/// `hashedrekord` 0.0.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedRekordV001 {
    /// The artifact digest.
    pub data_hash: Digest,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The PEM text of the public key or certificate.
    pub verifier_pem: Vec<u8>,
}

impl HashedRekordV001 {
    /// The artifact's SHA-256, when the entry uses SHA-256.
    pub fn artifact_sha256(&self) -> Option<[u8; 32]> {
        self.data_hash.sha256()
    }
}

/// The verification material of a Rekor v2 entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V2Verifier {
    /// A DER SPKI public key.
    PublicKey {
        /// DER bytes.
        der: Vec<u8>,
        /// The `keyDetails` enum name (e.g. `PKIX_ECDSA_P256_SHA_256`).
        key_details: String,
    },
    /// A DER X.509 certificate.
    X509Certificate {
        /// DER bytes.
        der: Vec<u8>,
        /// The `keyDetails` enum name.
        key_details: String,
    },
}

/// `hashedrekord` 0.0.2 (Rekor v2; also used for DSSE, with the digest of the PAE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedRekordV002 {
    /// The signed digest.
    pub data: Digest,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The verifier.
    pub verifier: V2Verifier,
}

impl HashedRekordV002 {
    /// The signed SHA-256 digest, when SHA-256 is used.
    pub fn artifact_sha256(&self) -> Option<[u8; 32]> {
        self.data.sha256()
    }
}

/// A DSSE signature in a `dsse` 0.0.1 entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsseSignatureV001 {
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// The PEM text of the public key or certificate.
    pub verifier_pem: Vec<u8>,
}

/// `dsse` 0.0.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsseV001 {
    /// Hash of the exact envelope bytes submitted.
    pub envelope_hash: Digest,
    /// Hash of the envelope payload.
    pub payload_hash: Digest,
    /// The signatures.
    pub signatures: Vec<DsseSignatureV001>,
}

/// A signature in a `dsse` 0.0.2 entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V2Signature {
    /// The signature bytes.
    pub content: Vec<u8>,
    /// The verifier.
    pub verifier: V2Verifier,
}

/// `dsse` 0.0.2 (Rekor v2, deprecated in favour of hashedrekord 0.0.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsseV002 {
    /// Hash of the payload.
    pub payload_hash: Digest,
    /// The signatures.
    pub signatures: Vec<V2Signature>,
}

/// `intoto` 0.0.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntotoV001 {
    /// Hash of the envelope, when present.
    pub hash: Option<Digest>,
    /// Hash of the payload, when present.
    pub payload_hash: Option<Digest>,
    /// The PEM text of the public key or certificate.
    pub public_key_pem: Vec<u8>,
}

/// A signature in an `intoto` 0.0.2 envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntotoSignatureV002 {
    /// The optional key ID.
    pub keyid: Option<String>,
    /// The `sig` field with one base64 layer removed. Rekor normally stores the
    /// envelope's base64 signature text here (so this is base64 text again), but
    /// entries with a single layer exist; see [`IntotoSignatureV002::signature`].
    pub sig_field: Vec<u8>,
    /// The PEM text of the public key or certificate.
    pub public_key_pem: Vec<u8>,
}

impl IntotoSignatureV002 {
    /// The raw signature bytes: [`IntotoSignatureV002::sig_field`] decoded as base64
    /// once more, as sigstore-go does. `None` when it is not base64.
    pub fn signature(&self) -> Option<Vec<u8>> {
        STANDARD.decode(&self.sig_field).ok()
    }
}

/// `intoto` 0.0.2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntotoV002 {
    /// The envelope's payload type.
    pub payload_type: String,
    /// The `payload` field with one base64 layer removed (normally the envelope's
    /// base64 payload text), when present.
    pub payload_field: Option<Vec<u8>>,
    /// The envelope's signatures.
    pub signatures: Vec<IntotoSignatureV002>,
    /// Hash of the envelope.
    pub hash: Digest,
    /// Hash of the payload.
    pub payload_hash: Digest,
}

/// A parsed Rekor entry body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryBody {
    /// `hashedrekord` 0.0.1.
    HashedRekordV001(HashedRekordV001),
    /// `hashedrekord` 0.0.2.
    HashedRekordV002(HashedRekordV002),
    /// `dsse` 0.0.1.
    DsseV001(DsseV001),
    /// `dsse` 0.0.2.
    DsseV002(DsseV002),
    /// `intoto` 0.0.1.
    IntotoV001(IntotoV001),
    /// `intoto` 0.0.2.
    IntotoV002(IntotoV002),
}

// ---- raw serde shapes -------------------------------------------------------

#[derive(Deserialize)]
struct RawHexHash {
    algorithm: String,
    value: String,
}

#[derive(Deserialize)]
struct RawB64Hash {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRawBytes {
    raw_bytes: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawV2Verifier {
    public_key: Option<RawRawBytes>,
    x509_certificate: Option<RawRawBytes>,
    key_details: String,
}

#[derive(Deserialize)]
struct RawV2Signature {
    content: String,
    verifier: RawV2Verifier,
}

#[derive(Deserialize)]
struct HrV1Spec {
    data: HrV1Data,
    signature: HrV1Sig,
}
#[derive(Deserialize)]
struct HrV1Data {
    hash: RawHexHash,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HrV1Sig {
    content: String,
    public_key: HrV1Key,
}
#[derive(Deserialize)]
struct HrV1Key {
    content: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HrV2Spec {
    hashed_rekord_v002: HrV2Inner,
}
#[derive(Deserialize)]
struct HrV2Inner {
    data: RawB64Hash,
    signature: RawV2Signature,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV1Spec {
    envelope_hash: RawHexHash,
    payload_hash: RawHexHash,
    signatures: Vec<DsseV1Sig>,
}
#[derive(Deserialize)]
struct DsseV1Sig {
    signature: String,
    verifier: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV2Spec {
    dsse_v002: DsseV2Inner,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV2Inner {
    payload_hash: RawB64Hash,
    signatures: Vec<RawV2Signature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV1Spec {
    content: IntotoV1Content,
    public_key: String,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV1Content {
    hash: Option<RawHexHash>,
    payload_hash: Option<RawHexHash>,
}

#[derive(Deserialize)]
struct IntotoV2Spec {
    content: IntotoV2Content,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV2Content {
    envelope: IntotoV2Envelope,
    hash: RawHexHash,
    payload_hash: RawHexHash,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV2Envelope {
    payload: Option<String>,
    payload_type: String,
    signatures: Vec<IntotoV2Sig>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV2Sig {
    keyid: Option<String>,
    sig: String,
    public_key: String,
}

// ---- decoding helpers -------------------------------------------------------

fn b64(s: &str, field: &'static str) -> Result<Vec<u8>, EntryError> {
    STANDARD
        .decode(s)
        .map_err(|_| EntryError::InvalidBase64 { field })
}

fn check_len(
    algorithm: HashAlgorithm,
    value: Vec<u8>,
    field: &'static str,
) -> Result<Digest, EntryError> {
    if value.len() != algorithm.len() {
        return Err(EntryError::DigestLength {
            field,
            algorithm,
            expected: algorithm.len(),
            found: value.len(),
        });
    }
    Ok(Digest { algorithm, value })
}

fn hex_digest(h: &RawHexHash, field: &'static str) -> Result<Digest, EntryError> {
    let algorithm = HashAlgorithm::parse(&h.algorithm, field)?;
    if h.value.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(EntryError::InvalidHex { field });
    }
    let value = hex::decode(&h.value).map_err(|_| EntryError::InvalidHex { field })?;
    check_len(algorithm, value, field)
}

fn b64_digest(h: &RawB64Hash, field: &'static str) -> Result<Digest, EntryError> {
    let algorithm = HashAlgorithm::parse(&h.algorithm, field)?;
    check_len(algorithm, b64(&h.digest, field)?, field)
}

fn v2_verifier(v: &RawV2Verifier, field: &'static str) -> Result<V2Verifier, EntryError> {
    let key_details = v.key_details.clone();
    match (&v.public_key, &v.x509_certificate) {
        (Some(k), None) => Ok(V2Verifier::PublicKey {
            der: b64(&k.raw_bytes, field)?,
            key_details,
        }),
        (None, Some(c)) => Ok(V2Verifier::X509Certificate {
            der: b64(&c.raw_bytes, field)?,
            key_details,
        }),
        _ => Err(EntryError::MissingVerifier { field }),
    }
}

fn v2_signature(s: &RawV2Signature) -> Result<V2Signature, EntryError> {
    Ok(V2Signature {
        content: b64(&s.content, "signature.content")?,
        verifier: v2_verifier(&s.verifier, "signature.verifier")?,
    })
}

fn spec<T: DeserializeOwned>(
    spec: Value,
    kind: &'static str,
    api_version: &'static str,
) -> Result<T, EntryError> {
    serde_json::from_value(spec).map_err(|e| EntryError::Malformed {
        kind,
        api_version,
        detail: e.to_string(),
    })
}

impl EntryBody {
    /// Parses a canonicalized entry body (the decoded bytes of `canonicalizedBody`).
    ///
    /// # Errors
    /// Any [`EntryError`].
    pub fn parse(canonicalized_body: &[u8]) -> Result<EntryBody, EntryError> {
        let value: Value =
            serde_json::from_slice(canonicalized_body).map_err(|e| EntryError::NotJson {
                detail: e.to_string(),
            })?;
        let Value::Object(mut obj) = value else {
            return Err(EntryError::NotJson {
                detail: "top level is not an object".into(),
            });
        };
        let kind = match obj.get("kind") {
            Some(Value::String(s)) => s.clone(),
            _ => return Err(EntryError::MissingField { field: "kind" }),
        };
        let api_version = match obj.get("apiVersion") {
            Some(Value::String(s)) => s.clone(),
            _ => {
                return Err(EntryError::MissingField {
                    field: "apiVersion",
                });
            }
        };
        let raw_spec = obj
            .remove("spec")
            .ok_or(EntryError::MissingField { field: "spec" })?;
        match (kind.as_str(), api_version.as_str()) {
            ("hashedrekord", "0.0.1") => {
                let s: HrV1Spec = spec(raw_spec, "hashedrekord", "0.0.1")?;
                Ok(EntryBody::HashedRekordV001(HashedRekordV001 {
                    data_hash: hex_digest(&s.data.hash, "spec.data.hash")?,
                    signature: b64(&s.signature.content, "spec.signature.content")?,
                    verifier_pem: b64(
                        &s.signature.public_key.content,
                        "spec.signature.publicKey.content",
                    )?,
                }))
            }
            ("hashedrekord", "0.0.2") => {
                let s: HrV2Spec = spec(raw_spec, "hashedrekord", "0.0.2")?;
                let sig = v2_signature(&s.hashed_rekord_v002.signature)?;
                Ok(EntryBody::HashedRekordV002(HashedRekordV002 {
                    data: b64_digest(&s.hashed_rekord_v002.data, "spec.hashedRekordV002.data")?,
                    signature: sig.content,
                    verifier: sig.verifier,
                }))
            }
            ("dsse", "0.0.1") => {
                let s: DsseV1Spec = spec(raw_spec, "dsse", "0.0.1")?;
                Ok(EntryBody::DsseV001(DsseV001 {
                    envelope_hash: hex_digest(&s.envelope_hash, "spec.envelopeHash")?,
                    payload_hash: hex_digest(&s.payload_hash, "spec.payloadHash")?,
                    signatures: s
                        .signatures
                        .iter()
                        .map(|g| {
                            Ok(DsseSignatureV001 {
                                signature: b64(&g.signature, "spec.signatures[].signature")?,
                                verifier_pem: b64(&g.verifier, "spec.signatures[].verifier")?,
                            })
                        })
                        .collect::<Result<_, EntryError>>()?,
                }))
            }
            ("dsse", "0.0.2") => {
                let s: DsseV2Spec = spec(raw_spec, "dsse", "0.0.2")?;
                Ok(EntryBody::DsseV002(DsseV002 {
                    payload_hash: b64_digest(
                        &s.dsse_v002.payload_hash,
                        "spec.dsseV002.payloadHash",
                    )?,
                    signatures: s
                        .dsse_v002
                        .signatures
                        .iter()
                        .map(v2_signature)
                        .collect::<Result<_, _>>()?,
                }))
            }
            ("intoto", "0.0.1") => {
                let s: IntotoV1Spec = spec(raw_spec, "intoto", "0.0.1")?;
                Ok(EntryBody::IntotoV001(IntotoV001 {
                    hash: s
                        .content
                        .hash
                        .as_ref()
                        .map(|h| hex_digest(h, "spec.content.hash"))
                        .transpose()?,
                    payload_hash: s
                        .content
                        .payload_hash
                        .as_ref()
                        .map(|h| hex_digest(h, "spec.content.payloadHash"))
                        .transpose()?,
                    public_key_pem: b64(&s.public_key, "spec.publicKey")?,
                }))
            }
            ("intoto", "0.0.2") => {
                let s: IntotoV2Spec = spec(raw_spec, "intoto", "0.0.2")?;
                let env = &s.content.envelope;
                Ok(EntryBody::IntotoV002(IntotoV002 {
                    payload_type: env.payload_type.clone(),
                    payload_field: env
                        .payload
                        .as_deref()
                        .map(|p| b64(p, "spec.content.envelope.payload"))
                        .transpose()?,
                    signatures: env
                        .signatures
                        .iter()
                        .map(|g| {
                            Ok(IntotoSignatureV002 {
                                keyid: g.keyid.clone(),
                                sig_field: b64(&g.sig, "spec.content.envelope.signatures[].sig")?,
                                public_key_pem: b64(
                                    &g.public_key,
                                    "spec.content.envelope.signatures[].publicKey",
                                )?,
                            })
                        })
                        .collect::<Result<_, EntryError>>()?,
                    hash: hex_digest(&s.content.hash, "spec.content.hash")?,
                    payload_hash: hex_digest(&s.content.payload_hash, "spec.content.payloadHash")?,
                }))
            }
            _ => Err(EntryError::UnsupportedKind { kind, api_version }),
        }
    }

    /// The entry's `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            EntryBody::HashedRekordV001(_) | EntryBody::HashedRekordV002(_) => "hashedrekord",
            EntryBody::DsseV001(_) | EntryBody::DsseV002(_) => "dsse",
            EntryBody::IntotoV001(_) | EntryBody::IntotoV002(_) => "intoto",
        }
    }

    /// The entry's `apiVersion`.
    pub fn api_version(&self) -> &'static str {
        match self {
            EntryBody::HashedRekordV001(_) | EntryBody::DsseV001(_) | EntryBody::IntotoV001(_) => {
                "0.0.1"
            }
            EntryBody::HashedRekordV002(_) | EntryBody::DsseV002(_) | EntryBody::IntotoV002(_) => {
                "0.0.2"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_malformed() {
        assert!(matches!(
            EntryBody::parse(br#"{"apiVersion":"0.0.1","kind":"rekord","spec":{}}"#),
            Err(EntryError::UnsupportedKind { .. })
        ));
        assert!(matches!(
            EntryBody::parse(br#"{"apiVersion":"0.0.9","kind":"hashedrekord","spec":{}}"#),
            Err(EntryError::UnsupportedKind { .. })
        ));
        assert!(matches!(
            EntryBody::parse(br#"{"apiVersion":"0.0.1"}"#),
            Err(EntryError::MissingField { field: "kind" })
        ));
        assert!(matches!(
            EntryBody::parse(b"[]"),
            Err(EntryError::NotJson { .. })
        ));
        assert!(matches!(
            EntryBody::parse(br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{}}}"#),
            Err(EntryError::Malformed {
                kind: "hashedrekord",
                ..
            })
        ));
        let bad_hex = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"sha256","value":"abcd"}},"signature":{"content":"AA==","publicKey":{"content":"AA=="}}}}"#;
        assert!(matches!(
            EntryBody::parse(bad_hex),
            Err(EntryError::DigestLength {
                expected: 32,
                found: 2,
                ..
            })
        ));
        let bad_alg = br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"md5","value":"abcd"}},"signature":{"content":"AA==","publicKey":{"content":"AA=="}}}}"#;
        assert!(matches!(
            EntryBody::parse(bad_alg),
            Err(EntryError::UnsupportedHashAlgorithm { .. })
        ));
    }

    #[test]
    fn hashedrekord_v001_helper() {
        let body = format!(
            r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"AQI=","publicKey":{{"content":"LS0t"}}}}}}}}"#,
            "ab".repeat(32)
        );
        let EntryBody::HashedRekordV001(h) = EntryBody::parse(body.as_bytes()).expect("parses")
        else {
            panic!("wrong kind");
        };
        assert_eq!(h.artifact_sha256(), Some([0xab; 32]));
        assert_eq!(h.signature, [1, 2]);
        assert_eq!(h.verifier_pem, b"---");
    }
}
