//! RFC 3161 with our own `der` structures: reading a `TimeStampReq` (DER, or the JSON
//! form of sigstore's timestamp-authority) and writing a `TimeStampResp` whose token is
//! a CMS `SignedData` (RFC 5652) over a DER `TSTInfo`.
//!
//! The token is what `signet_x509::timestamp` and `openssl ts -verify` read: signed
//! attributes `content-type` (id-ct-TSTInfo), `message-digest` (SHA-256 of the
//! `TSTInfo`) and `signingCertificateV2` (RFC 5035, the TSA certificate's SHA-256 and
//! issuer/serial), sorted as DER requires for a SET OF and signed as that SET; the
//! signer is named by issuer and serial number, and the TSA certificate is embedded
//! when the request asks for it (`certReq`).

use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, GeneralizedTime, IntRef, OctetString, Uint, UintRef};
use der::{Decode, Encode, Tag, TagNumber};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use spki::AlgorithmIdentifierRef;
use x509_cert::ext::Extension;

use crate::certificate::{IssuingKey, encoding, signature_algorithm};
use crate::{CaError, TimestampRequestError};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

/// Sigstore's timestamp policy, `1.3.6.1.4.1.57264.2`, used when a request names none.
pub const DEFAULT_POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");

/// The digest algorithms a message imprint may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImprintAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl ImprintAlgorithm {
    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            ID_SHA256 => Some(Self::Sha256),
            ID_SHA384 => Some(Self::Sha384),
            ID_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Some(Self::Sha256),
            "sha384" => Some(Self::Sha384),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha256 => ID_SHA256,
            Self::Sha384 => ID_SHA384,
            Self::Sha512 => ID_SHA512,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// A checked timestamp request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TimestampRequest {
    /// The imprint's `AlgorithmIdentifier`, DER, echoed byte for byte in the `TSTInfo`.
    algorithm_der: Vec<u8>,
    /// The digest to timestamp.
    imprint: Vec<u8>,
    /// The nonce as a DER INTEGER, echoed byte for byte.
    nonce: Option<Vec<u8>>,
    /// Whether the TSA certificate must be embedded.
    pub(crate) cert_req: bool,
    /// The requested policy.
    policy: Option<ObjectIdentifier>,
}

fn malformed(detail: impl Into<String>) -> TimestampRequestError {
    TimestampRequestError::Malformed {
        detail: detail.into(),
    }
}

fn checked_imprint(
    algorithm: ImprintAlgorithm,
    imprint: &[u8],
) -> Result<(), TimestampRequestError> {
    if imprint.len() != algorithm.len() {
        return Err(TimestampRequestError::ImprintLength {
            algorithm: algorithm.name(),
            expected: algorithm.len(),
            found: imprint.len(),
        });
    }
    Ok(())
}

#[derive(der::Sequence)]
struct MessageImprint<'a> {
    hash_algorithm: AlgorithmIdentifierRef<'a>,
    hashed_message: OctetString,
}

/// `TimeStampReq` (RFC 3161 §2.4.1).
#[derive(der::Sequence)]
struct TimeStampReq<'a> {
    version: IntRef<'a>,
    message_imprint: MessageImprint<'a>,
    #[asn1(optional = "true")]
    req_policy: Option<ObjectIdentifier>,
    #[asn1(optional = "true")]
    nonce: Option<IntRef<'a>>,
    #[asn1(default = "Default::default")]
    cert_req: bool,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

/// Reads a DER `TimeStampReq` (`application/timestamp-query`).
pub(crate) fn parse_der_request(der: &[u8]) -> Result<TimestampRequest, TimestampRequestError> {
    let req = TimeStampReq::from_der(der)
        .map_err(|e| malformed(format!("not a DER TimeStampReq: {e}")))?;
    if req.version.as_bytes() != [1] {
        let version = req
            .version
            .as_bytes()
            .iter()
            .take(8)
            .fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
        return Err(TimestampRequestError::UnsupportedVersion { version });
    }
    if req.extensions.is_some_and(|e| !e.is_empty()) {
        return Err(TimestampRequestError::UnsupportedExtensions);
    }
    let alg = &req.message_imprint.hash_algorithm;
    let algorithm = ImprintAlgorithm::from_oid(&alg.oid).ok_or_else(|| {
        TimestampRequestError::UnsupportedHash {
            algorithm: alg.oid.to_string(),
        }
    })?;
    if alg.parameters.is_some_and(|p| !p.is_null()) {
        return Err(malformed(
            "the hash algorithm has parameters other than NULL",
        ));
    }
    let imprint = req.message_imprint.hashed_message.as_bytes().to_vec();
    checked_imprint(algorithm, &imprint)?;
    let nonce = match req.nonce {
        None => None,
        Some(n) if n.as_bytes().len() > 64 => {
            return Err(malformed("the nonce is longer than 64 bytes"));
        }
        Some(n) => Some(n.to_der().map_err(|e| malformed(e.to_string()))?),
    };
    Ok(TimestampRequest {
        algorithm_der: alg.to_der().map_err(|e| malformed(e.to_string()))?,
        imprint,
        nonce,
        cert_req: req.cert_req,
        policy: req.req_policy,
    })
}

/// The JSON request of sigstore's timestamp-authority (what sigstore-js sends).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JsonRequest {
    artifact_hash: Option<String>,
    #[serde(default)]
    hash_algorithm: Option<String>,
    #[serde(default)]
    certificates: Option<bool>,
    #[serde(default)]
    nonce: Option<Value>,
    #[serde(default, rename = "tsaPolicyOID")]
    tsa_policy_oid: Option<String>,
}

/// Reads the JSON form: `{"artifactHash": "<base64 digest>", "hashAlgorithm": "sha256",
/// "certificates": true, "nonce": 123, "tsaPolicyOID": "1.2.3"}`.
pub(crate) fn parse_json_request(json: &[u8]) -> Result<TimestampRequest, TimestampRequestError> {
    let req: JsonRequest = serde_json::from_slice(json)
        .map_err(|e| malformed(format!("expected a JSON timestamp request: {e}")))?;
    let name = req.hash_algorithm.as_deref().unwrap_or("sha256");
    let algorithm = ImprintAlgorithm::from_name(name).ok_or_else(|| {
        TimestampRequestError::UnsupportedHash {
            algorithm: name.chars().take(32).collect(),
        }
    })?;
    let hash = req
        .artifact_hash
        .ok_or_else(|| malformed("\"artifactHash\" is missing"))?;
    let imprint = crate::request::decode_base64("artifactHash", &hash)
        .map_err(|e| malformed(e.to_string()))?;
    checked_imprint(algorithm, &imprint)?;
    let nonce = match req.nonce {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| malformed("\"nonce\" must be a non-negative integer below 2^64"))?,
        ),
        Some(Value::String(s)) => Some(
            s.parse::<u64>()
                .map_err(|_| malformed("\"nonce\" must be a non-negative integer below 2^64"))?,
        ),
        Some(_) => return Err(malformed("\"nonce\" must be an integer")),
    }
    .map(|n| {
        Uint::new(&n.to_be_bytes())
            .and_then(|u| u.to_der())
            .map_err(|e| malformed(e.to_string()))
    })
    .transpose()?;
    let policy = req
        .tsa_policy_oid
        .filter(|p| !p.is_empty())
        .map(|p| {
            ObjectIdentifier::new(&p).map_err(|_| malformed("\"tsaPolicyOID\" is not a dotted OID"))
        })
        .transpose()?;
    let algorithm_der = AlgorithmIdentifierRef {
        oid: algorithm.oid(),
        parameters: Some(AnyRef::NULL),
    }
    .to_der()
    .map_err(|e| malformed(e.to_string()))?;
    Ok(TimestampRequest {
        algorithm_der,
        imprint,
        nonce,
        cert_req: req.certificates.unwrap_or(false),
        policy,
    })
}

/// The TSA's signing key and certificate, as the response needs them.
pub(crate) struct TimestampSigner {
    pub(crate) key: IssuingKey,
    /// The TSA leaf certificate (DER).
    pub(crate) certificate: Vec<u8>,
    /// The leaf's issuer `Name` (DER) and serial `INTEGER` (DER), naming the signer.
    pub(crate) issuer_der: Vec<u8>,
    pub(crate) serial_der: Vec<u8>,
    /// The policy used when the request names none.
    pub(crate) policy: ObjectIdentifier,
}

fn tlv(tag: Tag, contents: &[u8]) -> Result<Vec<u8>, CaError> {
    AnyRef::new(tag, contents)
        .and_then(|a| a.to_der())
        .map_err(encoding("a timestamp"))
}

fn context(number: u32, contents: &[u8]) -> Result<Vec<u8>, CaError> {
    tlv(
        Tag::ContextSpecific {
            constructed: true,
            number: TagNumber(number),
        },
        contents,
    )
}

fn der<T: Encode>(value: &T) -> Result<Vec<u8>, CaError> {
    value.to_der().map_err(encoding("a timestamp"))
}

fn attribute(oid: ObjectIdentifier, value: &[u8]) -> Result<Vec<u8>, CaError> {
    let contents = [der(&oid)?, tlv(Tag::Set, value)?].concat();
    tlv(Tag::Sequence, &contents)
}

fn sha256_algorithm() -> AlgorithmIdentifierRef<'static> {
    AlgorithmIdentifierRef {
        oid: ID_SHA256,
        parameters: None,
    }
}

impl TimestampSigner {
    /// The DER `TSTInfo` for `request` at `now` with `serial`.
    fn tst_info(
        &self,
        request: &TimestampRequest,
        now: SystemTime,
        serial: &[u8],
    ) -> Result<Vec<u8>, CaError> {
        let secs = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| CaError::Encoding {
                what: "a timestamp",
                detail: "the clock is before 1970".into(),
            })?
            .as_secs();
        let gen_time = GeneralizedTime::from_unix_duration(Duration::from_secs(secs))
            .map_err(encoding("a timestamp"))?;
        let imprint = [
            request.algorithm_der.clone(),
            der(&OctetString::new(request.imprint.clone()).map_err(encoding("a timestamp"))?)?,
        ]
        .concat();
        let mut fields = [
            der(&1u8)?,
            der(&request.policy.unwrap_or(self.policy))?,
            tlv(Tag::Sequence, &imprint)?,
            der(&UintRef::new(serial).map_err(encoding("a timestamp"))?)?,
            der(&gen_time)?,
            // accuracy: one second (genTime is truncated to the second).
            tlv(Tag::Sequence, &der(&1u8)?)?,
        ]
        .concat();
        if let Some(nonce) = &request.nonce {
            fields.extend_from_slice(nonce);
        }
        tlv(Tag::Sequence, &fields)
    }

    /// A granted `TimeStampResp` for `request` at `now` with `serial`.
    pub(crate) fn respond(
        &self,
        request: &TimestampRequest,
        now: SystemTime,
        serial: &[u8],
    ) -> Result<Vec<u8>, CaError> {
        let tst_info = self.tst_info(request, now, serial)?;

        // Signed attributes, sorted (DER SET OF).
        let ess_cert_id = tlv(
            Tag::Sequence,
            &[
                der(
                    &OctetString::new(Sha256::digest(&self.certificate).to_vec())
                        .map_err(encoding("a timestamp"))?,
                )?,
                tlv(
                    Tag::Sequence,
                    &[
                        // GeneralNames { directoryName [4] EXPLICIT Name }
                        tlv(Tag::Sequence, &context(4, &self.issuer_der)?)?,
                        self.serial_der.clone(),
                    ]
                    .concat(),
                )?,
            ]
            .concat(),
        )?;
        let signing_certificate = tlv(Tag::Sequence, &tlv(Tag::Sequence, &ess_cert_id)?)?;
        let mut attributes = [
            attribute(ID_CONTENT_TYPE, &der(&ID_CT_TST_INFO)?)?,
            attribute(
                ID_MESSAGE_DIGEST,
                &der(&OctetString::new(Sha256::digest(&tst_info).to_vec())
                    .map_err(encoding("a timestamp"))?)?,
            )?,
            attribute(ID_SIGNING_CERTIFICATE_V2, &signing_certificate)?,
        ];
        attributes.sort();
        let attributes = attributes.concat();
        let signature = self.key.sign(&tlv(Tag::Set, &attributes)?)?;

        let signer_info = tlv(
            Tag::Sequence,
            &[
                der(&1u8)?,
                tlv(
                    Tag::Sequence,
                    &[self.issuer_der.clone(), self.serial_der.clone()].concat(),
                )?,
                der(&sha256_algorithm())?,
                context(0, &attributes)?,
                der(&signature_algorithm())?,
                der(&OctetString::new(signature).map_err(encoding("a timestamp"))?)?,
            ]
            .concat(),
        )?;
        let encapsulated = tlv(
            Tag::Sequence,
            &[
                der(&ID_CT_TST_INFO)?,
                context(
                    0,
                    &der(&OctetString::new(tst_info).map_err(encoding("a timestamp"))?)?,
                )?,
            ]
            .concat(),
        )?;
        let mut signed_data = [
            der(&3u8)?,
            tlv(Tag::Set, &der(&sha256_algorithm())?)?,
            encapsulated,
        ]
        .concat();
        if request.cert_req {
            signed_data.extend(context(0, &self.certificate)?);
        }
        signed_data.extend(tlv(Tag::Set, &signer_info)?);
        let content_info = tlv(
            Tag::Sequence,
            &[
                der(&ID_SIGNED_DATA)?,
                context(0, &tlv(Tag::Sequence, &signed_data)?)?,
            ]
            .concat(),
        )?;
        let status = tlv(Tag::Sequence, &der(&0u8)?)?;
        tlv(Tag::Sequence, &[status, content_info].concat())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der_request(nonce: Option<&[u8]>, cert_req: bool) -> Vec<u8> {
        let req = TimeStampReq {
            version: IntRef::new(&[1]).unwrap(),
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierRef {
                    oid: ID_SHA256,
                    parameters: Some(AnyRef::NULL),
                },
                hashed_message: OctetString::new([9u8; 32].to_vec()).unwrap(),
            },
            req_policy: None,
            nonce: nonce.map(|n| IntRef::new(n).unwrap()),
            cert_req,
            extensions: None,
        };
        req.to_der().unwrap()
    }

    #[test]
    fn der_requests_parse() {
        let req = parse_der_request(&der_request(Some(&[0x01, 0x02]), true)).unwrap();
        assert!(req.cert_req);
        assert_eq!(req.imprint, [9u8; 32]);
        assert_eq!(req.nonce.as_deref(), Some(&[0x02, 0x02, 0x01, 0x02][..]));
        let req = parse_der_request(&der_request(None, false)).unwrap();
        assert!(!req.cert_req && req.nonce.is_none());
        assert!(matches!(
            parse_der_request(b"\x30\x00"),
            Err(TimestampRequestError::Malformed { detail })
                if detail.starts_with("not a DER TimeStampReq: ")
        ));
    }

    #[test]
    fn json_requests_parse_and_check_lengths() {
        let req = parse_json_request(
            br#"{"artifactHash":"CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=","hashAlgorithm":"sha256","certificates":true,"nonce":258}"#,
        )
        .unwrap();
        assert!(req.cert_req);
        assert_eq!(req.nonce.as_deref(), Some(&[0x02, 0x02, 0x01, 0x02][..]));
        assert_eq!(
            parse_json_request(br#"{"artifactHash":"AAAA","hashAlgorithm":"sha256"}"#),
            Err(TimestampRequestError::ImprintLength {
                algorithm: "sha256",
                expected: 32,
                found: 3
            })
        );
        assert_eq!(
            parse_json_request(br#"{"artifactHash":"AAAA","hashAlgorithm":"sha1"}"#),
            Err(TimestampRequestError::UnsupportedHash {
                algorithm: "sha1".into()
            })
        );
        assert_eq!(
            parse_json_request(br#"{"hashAlgorithm":"sha256"}"#),
            Err(malformed(r#""artifactHash" is missing"#))
        );
        assert_eq!(
            parse_json_request(
                br#"{"artifactHash":"CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=","nonce":-1}"#
            ),
            Err(malformed(
                r#""nonce" must be a non-negative integer below 2^64"#
            ))
        );
    }
}
