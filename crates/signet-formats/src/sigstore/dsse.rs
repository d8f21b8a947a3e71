//! DSSE envelopes, their pre-authentication encoding (PAE), and in-toto statements.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::protojson::{decode_opt_bytes, encode_bytes};
use super::{Document, SigstoreFormatError};
use crate::{Digest, DigestAlgorithm};

/// The DSSE payload type of in-toto statements.
pub const DSSE_IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A DSSE envelope. The same type serves the bundle's `dsseEnvelope` and standalone
/// envelopes (cosign `.att` layers), whatever their field order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Envelope {
    /// `payload`, decoded.
    pub payload: Vec<u8>,
    /// `payloadType`, e.g. [`DSSE_IN_TOTO_PAYLOAD_TYPE`].
    pub payload_type: String,
    /// `signatures`.
    pub signatures: Vec<Signature>,
}

/// One DSSE signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Signature {
    /// `sig`, decoded. Never empty.
    pub sig: Vec<u8>,
    /// `keyid`; an empty or absent key id is `None`.
    pub keyid: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
pub(crate) struct WireEnvelope {
    #[serde(default)]
    payload: Option<String>,
    #[serde(default, rename = "payloadType", alias = "payload_type")]
    payload_type: Option<String>,
    #[serde(default)]
    signatures: Option<Vec<WireSignature>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireSignature {
    #[serde(default)]
    sig: Option<String>,
    #[serde(default)]
    keyid: Option<String>,
}

impl WireEnvelope {
    /// Converts, naming fields under `prefix` (`dsseEnvelope` in a bundle, `` alone).
    pub(crate) fn convert(&self, prefix: &'static str) -> Result<Envelope, SigstoreFormatError> {
        let bundle = !prefix.is_empty();
        let f =
            |in_bundle: &'static str, alone: &'static str| if bundle { in_bundle } else { alone };
        let payload = decode_opt_bytes(
            f("dsseEnvelope.payload", "payload"),
            self.payload.as_deref(),
        )?;
        let payload_type = self.payload_type.clone().unwrap_or_default();
        if payload_type.is_empty() {
            return Err(SigstoreFormatError::MissingField {
                field: f("dsseEnvelope.payloadType", "payloadType"),
            });
        }
        let sig_field = f("dsseEnvelope.signatures[].sig", "signatures[].sig");
        let signatures = self
            .signatures
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|s| {
                let sig = decode_opt_bytes(sig_field, s.sig.as_deref())?;
                if sig.is_empty() {
                    return Err(SigstoreFormatError::MissingField { field: sig_field });
                }
                Ok(Signature {
                    sig,
                    keyid: s.keyid.clone().filter(|k| !k.is_empty()),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Envelope {
            payload,
            payload_type,
            signatures,
        })
    }
}

impl Envelope {
    /// Parses a standalone DSSE envelope (either field order; `keyid` optional).
    pub fn parse(json: &[u8]) -> Result<Self, SigstoreFormatError> {
        let wire: WireEnvelope = serde_json::from_slice(json)
            .map_err(|e| SigstoreFormatError::json(Document::DsseEnvelope, json, &e))?;
        wire.convert("")
    }

    /// The bytes each signature signs: `pae(payload_type, payload)`.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// The payload as an in-toto statement, if the payload type says it is one.
    pub fn statement(&self) -> Result<Statement, SigstoreFormatError> {
        if self.payload_type != DSSE_IN_TOTO_PAYLOAD_TYPE {
            return Err(SigstoreFormatError::UnsupportedMediaType {
                document: Document::DsseEnvelope,
                found: self.payload_type.chars().take(200).collect(),
                expected: DSSE_IN_TOTO_PAYLOAD_TYPE,
            });
        }
        Statement::parse(&self.payload)
    }

    /// The standalone envelope JSON (the protojson form, as a Rekor `dsse` entry's
    /// `proposedContent.envelope` carries it).
    pub fn to_json(&self) -> String {
        self.to_protojson().to_string()
    }

    /// The protojson form used inside a bundle; `keyid` is always written (`""` for none).
    pub(crate) fn to_protojson(&self) -> Value {
        json!({
            "payload": encode_bytes(&self.payload),
            "payloadType": self.payload_type,
            "signatures": self.signatures.iter().map(|s| json!({
                "sig": encode_bytes(&s.sig),
                "keyid": s.keyid.as_deref().unwrap_or_default(),
            })).collect::<Vec<_>>(),
        })
    }
}

/// The predicate type of the statement `cosign sign` signs in the bundle format
/// (cosign `types.CosignSignPredicateType`).
pub const COSIGN_SIGN_PREDICATE_TYPE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The in-toto statement cosign v3 signs for an image (`cosign sign` in the bundle
/// format), byte for byte as cosign ≥ 3.0.5 writes it:
///
/// `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"<hex>"},"annotations":{…}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`
///
/// The subject has no `name`; `annotations` (the `-a key=value` pairs, sorted by key)
/// is always present, `{}` when empty.
pub fn cosign_sign_statement(image: &Digest, annotations: &BTreeMap<String, String>) -> Vec<u8> {
    let alg = match image.algorithm() {
        DigestAlgorithm::Sha256 => "sha256",
        DigestAlgorithm::Sha512 => "sha512",
    };
    // serde_json writes strings with JSON escaping and a BTreeMap in key order.
    let annotations = Value::Object(
        annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    );
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{""#);
    out.push_str(alg);
    out.push_str(r#"":""#);
    out.push_str(image.hex());
    out.push_str(r#""},"annotations":"#);
    out.push_str(&annotations.to_string());
    out.push_str(r#"}],"predicateType":""#);
    out.push_str(COSIGN_SIGN_PREDICATE_TYPE);
    out.push_str(r#"","predicate":{}}"#);
    out.into_bytes()
}

/// The DSSE v1 pre-authentication encoding:
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`, lengths in decimal bytes.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// The in-toto statement `_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatementType {
    /// `https://in-toto.io/Statement/v0.1` (cosign `attest`).
    V0_1,
    /// `https://in-toto.io/Statement/v1`.
    V1,
}

impl StatementType {
    /// The `_type` URI.
    pub fn as_str(self) -> &'static str {
        match self {
            StatementType::V0_1 => "https://in-toto.io/Statement/v0.1",
            StatementType::V1 => "https://in-toto.io/Statement/v1",
        }
    }
}

/// An in-toto statement: what the predicate is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// `_type`.
    pub statement_type: StatementType,
    /// `subject`.
    pub subjects: Vec<Subject>,
    /// `predicateType`, a URI.
    pub predicate_type: String,
    /// `predicate`, as JSON (`Null` when absent).
    pub predicate: Value,
}

/// One in-toto subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    /// `name` (cosign v3 leaves it out).
    pub name: Option<String>,
    /// `digest`: algorithm name → lowercase hex.
    pub digest: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireStatement {
    #[serde(default, rename = "_type")]
    statement_type: Option<String>,
    #[serde(default)]
    subject: Option<Vec<WireSubject>>,
    #[serde(default, rename = "predicateType")]
    predicate_type: Option<String>,
    #[serde(default)]
    predicate: Option<Value>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireSubject {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    digest: Option<BTreeMap<String, String>>,
}

impl Statement {
    /// Parses an in-toto statement (v0.1 or v1). Subject digests must be hex; they are
    /// kept lowercased.
    pub fn parse(json: &[u8]) -> Result<Self, SigstoreFormatError> {
        let wire: WireStatement = serde_json::from_slice(json)
            .map_err(|e| SigstoreFormatError::json(Document::Statement, json, &e))?;
        let found = wire.statement_type.unwrap_or_default();
        let statement_type = match found.as_str() {
            "https://in-toto.io/Statement/v0.1" => StatementType::V0_1,
            "https://in-toto.io/Statement/v1" => StatementType::V1,
            _ => {
                return Err(SigstoreFormatError::UnsupportedMediaType {
                    document: Document::Statement,
                    found: found.chars().take(200).collect(),
                    expected: "https://in-toto.io/Statement/v1 or https://in-toto.io/Statement/v0.1",
                });
            }
        };
        let subjects = wire
            .subject
            .unwrap_or_default()
            .into_iter()
            .map(|s| {
                let digest = s
                    .digest
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(alg, value)| {
                        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return Err(SigstoreFormatError::InvalidSubjectDigest {
                                algorithm: alg.chars().take(64).collect(),
                                value: value.chars().take(200).collect(),
                            });
                        }
                        Ok((alg, value.to_ascii_lowercase()))
                    })
                    .collect::<Result<BTreeMap<_, _>, _>>()?;
                Ok(Subject {
                    name: s.name,
                    digest,
                })
            })
            .collect::<Result<Vec<_>, SigstoreFormatError>>()?;
        let predicate_type = wire.predicate_type.unwrap_or_default();
        if predicate_type.is_empty() {
            return Err(SigstoreFormatError::MissingField {
                field: "predicateType",
            });
        }
        Ok(Statement {
            statement_type,
            subjects,
            predicate_type,
            predicate: wire.predicate.unwrap_or(Value::Null),
        })
    }

    /// The first subject whose digest under `digest`'s algorithm equals it.
    pub fn find_subject(&self, digest: &Digest) -> Option<&Subject> {
        let alg = match digest.algorithm() {
            DigestAlgorithm::Sha256 => "sha256",
            DigestAlgorithm::Sha512 => "sha512",
        };
        self.subjects
            .iter()
            .find(|s| s.digest.get(alg).is_some_and(|hex| hex == digest.hex()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosign_sign_statement_matches_cosign_v3_bytes() {
        let d: Digest = "sha256:7e3b1cbbd7f8c1b7b3a1c24c8a5d41b8e3e2d3e6bb6e5b1f1c8d0e2a3b4c5d6e"
            .parse()
            .unwrap();
        let empty = cosign_sign_statement(&d, &BTreeMap::new());
        assert_eq!(
            String::from_utf8(empty.clone()).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"7e3b1cbbd7f8c1b7b3a1c24c8a5d41b8e3e2d3e6bb6e5b1f1c8d0e2a3b4c5d6e"},"annotations":{}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}"#
        );
        let mut a = BTreeMap::new();
        a.insert("z".to_string(), "last".to_string());
        a.insert("env".to_string(), "q\"uote".to_string());
        let with = String::from_utf8(cosign_sign_statement(&d, &a)).unwrap();
        assert!(
            with.contains(r#""annotations":{"env":"q\"uote","z":"last"}"#),
            "{with}"
        );
        // Our own parser reads it back with the image as the subject.
        let st = Statement::parse(with.as_bytes()).unwrap();
        assert_eq!(st.predicate_type, COSIGN_SIGN_PREDICATE_TYPE);
        assert!(st.find_subject(&d).is_some());
        assert!(Statement::parse(&empty).unwrap().subjects[0].name.is_none());
    }

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol spec (secure-systems-lab/dsse, protocol.md).
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
        // Lengths are bytes, not characters.
        assert_eq!(
            pae("t", "é".as_bytes()),
            "DSSEv1 1 t 2 é".as_bytes().to_vec()
        );
    }

    #[test]
    fn envelopes_parse_in_either_field_order() {
        let old = br#"{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AQID"}]}"#;
        let new = br#"{"payload":"e30","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AQID"}]}"#;
        let a = Envelope::parse(old).unwrap();
        let b = Envelope::parse(new).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.payload, b"{}");
        assert_eq!(a.signatures[0].keyid, None);
        assert_eq!(a.signatures[0].sig, vec![1, 2, 3]);
        let keyed = Envelope::parse(
            br#"{"payload":"","payloadType":"t","signatures":[{"sig":"AQID","keyid":"k1"}]}"#,
        )
        .unwrap();
        assert_eq!(keyed.signatures[0].keyid.as_deref(), Some("k1"));
        assert!(matches!(
            Envelope::parse(br#"{"payload":"!!","payloadType":"t","signatures":[]}"#),
            Err(SigstoreFormatError::InvalidBase64 { field: "payload" })
        ));
        assert!(matches!(
            Envelope::parse(br#"{"payload":"","signatures":[]}"#),
            Err(SigstoreFormatError::MissingField {
                field: "payloadType"
            })
        ));
    }

    #[test]
    fn statements_find_subjects() {
        let d = Digest::sha256_of(b"artifact");
        let json = format!(
            r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"x","digest":{{"sha512":"ab"}}}},{{"digest":{{"sha256":"{}"}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{{}}}}"#,
            d.hex().to_ascii_uppercase()
        );
        let s = Statement::parse(json.as_bytes()).unwrap();
        assert_eq!(s.statement_type, StatementType::V1);
        let found = s.find_subject(&d).unwrap();
        assert_eq!(found.name, None);
        assert!(s.find_subject(&Digest::sha256_of(b"other")).is_none());

        let v01 =
            br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"predicateType":"p"}"#;
        assert_eq!(
            Statement::parse(v01).unwrap().statement_type,
            StatementType::V0_1
        );
        assert!(matches!(
            Statement::parse(br#"{"_type":"https://in-toto.io/Statement/v2","predicateType":"p"}"#),
            Err(SigstoreFormatError::UnsupportedMediaType {
                document: Document::Statement,
                ..
            })
        ));
        assert!(matches!(
            Statement::parse(br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"zz"}}],"predicateType":"p"}"#),
            Err(SigstoreFormatError::InvalidSubjectDigest { .. })
        ));
    }
}
