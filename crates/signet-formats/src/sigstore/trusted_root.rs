//! `trusted_root.json` (`dev.sigstore.trustroot.v1.TrustedRoot`): the CAs, logs and
//! timestamp authorities a verifier trusts, each with a validity window.

use serde::Deserialize;

use super::bundle::{
    HASH_ALGORITHMS, HashAlgorithm, LogId, WireCertChain, WireLogId, X509Certificate,
};
use super::protojson::{WireEnum, check_url, decode_opt_bytes, encode_bytes, enum_value};
use super::time::{ValidityWindow, WireTimeRange};
use super::{Document, SigstoreFormatError};

/// The trusted root media type this module reads.
pub const TRUSTED_ROOT_MEDIA_TYPE: &str =
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

/// A parsed trusted root. Every entry parsed: a root with any malformed entry is refused
/// as a whole, never accepted with the entry skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedRoot {
    /// `tlogs`: transparency logs (Rekor).
    pub tlogs: Vec<TransparencyLogInstance>,
    /// `certificateAuthorities`: Fulcio CAs.
    pub certificate_authorities: Vec<CertificateAuthority>,
    /// `ctlogs`: certificate transparency logs.
    pub ctlogs: Vec<TransparencyLogInstance>,
    /// `timestampAuthorities`: RFC 3161 TSAs.
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

/// A transparency log (`tlogs[]`, `ctlogs[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransparencyLogInstance {
    /// `baseUrl`.
    pub base_url: String,
    /// `hashAlgorithm` of the Merkle tree.
    pub hash_algorithm: HashAlgorithm,
    /// `publicKey`, with its validity window.
    pub public_key: PublicKey,
    /// `logId`: how bundles name this log.
    pub log_id: LogId,
    /// `checkpointKeyId`: the key id used in checkpoint signatures, when it differs.
    pub checkpoint_key_id: Option<LogId>,
    /// `operator`, possibly empty.
    pub operator: String,
}

/// A log's public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    /// `rawBytes`: DER SubjectPublicKeyInfo (or PKCS#1 for `PKCS1_*`). Never empty.
    pub raw_bytes: Vec<u8>,
    /// `keyDetails`.
    pub key_details: PublicKeyDetails,
    /// `validFor`: a closed interval; required, with a start.
    pub valid_for: ValidityWindow,
}

/// `dev.sigstore.common.v1.PublicKeyDetails`, by protojson name. Numeric enum values
/// are not accepted here; every known writer uses names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PublicKeyDetails {
    /// `PUBLIC_KEY_DETAILS_UNSPECIFIED` (also what an absent field means).
    Unspecified,
    /// `PKCS1_RSA_PKCS1V5` (deprecated; the old CT log key).
    Pkcs1RsaPkcs1v5,
    /// `PKCS1_RSA_PSS` (deprecated).
    Pkcs1RsaPss,
    /// `PKIX_RSA_PKCS1V5` (deprecated).
    PkixRsaPkcs1v5,
    /// `PKIX_RSA_PSS` (deprecated).
    PkixRsaPss,
    /// `PKIX_RSA_PKCS1V15_2048_SHA256`.
    PkixRsaPkcs1v15_2048Sha256,
    /// `PKIX_RSA_PKCS1V15_3072_SHA256`.
    PkixRsaPkcs1v15_3072Sha256,
    /// `PKIX_RSA_PKCS1V15_4096_SHA256`.
    PkixRsaPkcs1v15_4096Sha256,
    /// `PKIX_RSA_PSS_2048_SHA256`.
    PkixRsaPss2048Sha256,
    /// `PKIX_RSA_PSS_3072_SHA256`.
    PkixRsaPss3072Sha256,
    /// `PKIX_RSA_PSS_4096_SHA256`.
    PkixRsaPss4096Sha256,
    /// `PKIX_ECDSA_P256_HMAC_SHA_256` (deprecated).
    PkixEcdsaP256HmacSha256,
    /// `PKIX_ECDSA_P256_SHA_256`.
    PkixEcdsaP256Sha256,
    /// `PKIX_ECDSA_P384_SHA_384`.
    PkixEcdsaP384Sha384,
    /// `PKIX_ECDSA_P521_SHA_512`.
    PkixEcdsaP521Sha512,
    /// `PKIX_ED25519`.
    PkixEd25519,
    /// `PKIX_ED25519_PH`.
    PkixEd25519Ph,
    /// `LMS_SHA256`.
    LmsSha256,
    /// `LMOTS_SHA256`.
    LmotsSha256,
    /// `ML_DSA_65`.
    MlDsa65,
    /// `ML_DSA_87`.
    MlDsa87,
}

const KEY_DETAILS: &[(&str, Option<i64>, PublicKeyDetails)] = &[
    (
        "PUBLIC_KEY_DETAILS_UNSPECIFIED",
        None,
        PublicKeyDetails::Unspecified,
    ),
    ("PKCS1_RSA_PKCS1V5", None, PublicKeyDetails::Pkcs1RsaPkcs1v5),
    ("PKCS1_RSA_PSS", None, PublicKeyDetails::Pkcs1RsaPss),
    ("PKIX_RSA_PKCS1V5", None, PublicKeyDetails::PkixRsaPkcs1v5),
    ("PKIX_RSA_PSS", None, PublicKeyDetails::PkixRsaPss),
    (
        "PKIX_RSA_PKCS1V15_2048_SHA256",
        None,
        PublicKeyDetails::PkixRsaPkcs1v15_2048Sha256,
    ),
    (
        "PKIX_RSA_PKCS1V15_3072_SHA256",
        None,
        PublicKeyDetails::PkixRsaPkcs1v15_3072Sha256,
    ),
    (
        "PKIX_RSA_PKCS1V15_4096_SHA256",
        None,
        PublicKeyDetails::PkixRsaPkcs1v15_4096Sha256,
    ),
    (
        "PKIX_RSA_PSS_2048_SHA256",
        None,
        PublicKeyDetails::PkixRsaPss2048Sha256,
    ),
    (
        "PKIX_RSA_PSS_3072_SHA256",
        None,
        PublicKeyDetails::PkixRsaPss3072Sha256,
    ),
    (
        "PKIX_RSA_PSS_4096_SHA256",
        None,
        PublicKeyDetails::PkixRsaPss4096Sha256,
    ),
    (
        "PKIX_ECDSA_P256_HMAC_SHA_256",
        None,
        PublicKeyDetails::PkixEcdsaP256HmacSha256,
    ),
    (
        "PKIX_ECDSA_P256_SHA_256",
        None,
        PublicKeyDetails::PkixEcdsaP256Sha256,
    ),
    (
        "PKIX_ECDSA_P384_SHA_384",
        None,
        PublicKeyDetails::PkixEcdsaP384Sha384,
    ),
    (
        "PKIX_ECDSA_P521_SHA_512",
        None,
        PublicKeyDetails::PkixEcdsaP521Sha512,
    ),
    ("PKIX_ED25519", None, PublicKeyDetails::PkixEd25519),
    ("PKIX_ED25519_PH", None, PublicKeyDetails::PkixEd25519Ph),
    ("LMS_SHA256", None, PublicKeyDetails::LmsSha256),
    ("LMOTS_SHA256", None, PublicKeyDetails::LmotsSha256),
    ("ML_DSA_65", None, PublicKeyDetails::MlDsa65),
    ("ML_DSA_87", None, PublicKeyDetails::MlDsa87),
];

impl PublicKeyDetails {
    /// The protojson name, e.g. `PKIX_ECDSA_P256_SHA_256`.
    pub fn as_str(self) -> &'static str {
        super::protojson::enum_name(self, KEY_DETAILS)
    }
}

/// A CA or TSA (`certificateAuthorities[]`, `timestampAuthorities[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateAuthority {
    /// `subject`.
    pub subject: DistinguishedName,
    /// `uri`.
    pub uri: String,
    /// `certChain.certificates`: issuing certificate first, root last. Never empty.
    pub cert_chain: Vec<X509Certificate>,
    /// `validFor`: a closed interval; required, with a start.
    pub valid_for: ValidityWindow,
    /// `operator`, possibly empty.
    pub operator: String,
}

/// `subject` of a CA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DistinguishedName {
    /// `organization`.
    pub organization: String,
    /// `commonName`.
    pub common_name: String,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireRoot {
    #[serde(default, rename = "mediaType", alias = "media_type")]
    media_type: Option<String>,
    #[serde(default)]
    tlogs: Option<Vec<WireLog>>,
    #[serde(
        default,
        rename = "certificateAuthorities",
        alias = "certificate_authorities"
    )]
    certificate_authorities: Option<Vec<WireCa>>,
    #[serde(default)]
    ctlogs: Option<Vec<WireLog>>,
    #[serde(
        default,
        rename = "timestampAuthorities",
        alias = "timestamp_authorities"
    )]
    timestamp_authorities: Option<Vec<WireCa>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireLog {
    #[serde(default, rename = "baseUrl", alias = "base_url")]
    base_url: Option<String>,
    #[serde(default, rename = "hashAlgorithm", alias = "hash_algorithm")]
    hash_algorithm: Option<WireEnum>,
    #[serde(default, rename = "publicKey", alias = "public_key")]
    public_key: Option<WirePublicKey>,
    #[serde(default, rename = "logId", alias = "log_id")]
    log_id: Option<WireLogId>,
    #[serde(default, rename = "checkpointKeyId", alias = "checkpoint_key_id")]
    checkpoint_key_id: Option<WireLogId>,
    #[serde(default)]
    operator: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WirePublicKey {
    #[serde(default, rename = "rawBytes", alias = "raw_bytes")]
    raw_bytes: Option<String>,
    #[serde(default, rename = "keyDetails", alias = "key_details")]
    key_details: Option<WireEnum>,
    #[serde(default, rename = "validFor", alias = "valid_for")]
    valid_for: Option<WireTimeRange>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireCa {
    #[serde(default)]
    subject: Option<WireDn>,
    #[serde(default)]
    uri: Option<String>,
    #[serde(default, rename = "certChain", alias = "cert_chain")]
    cert_chain: Option<WireCertChain>,
    #[serde(default, rename = "validFor", alias = "valid_for")]
    valid_for: Option<WireTimeRange>,
    #[serde(default)]
    operator: Option<String>,
}

#[derive(Deserialize)]
#[serde(expecting = "a JSON object")]
struct WireDn {
    #[serde(default)]
    organization: Option<String>,
    #[serde(default, rename = "commonName", alias = "common_name")]
    common_name: Option<String>,
}

/// Field paths for one list of logs or authorities.
struct Paths {
    public_key: &'static str,
    raw_bytes: &'static str,
    key_details: &'static str,
    valid_for: &'static str,
    start: &'static str,
    end: &'static str,
    hash_algorithm: &'static str,
    log_id: &'static str,
    checkpoint_key_id: &'static str,
    certificates: &'static str,
    /// `baseUrl` of a log, `uri` of an authority.
    url: &'static str,
}

macro_rules! paths {
    ($list:literal, $raw:literal, $valid:literal, $url:literal) => {
        Paths {
            public_key: concat!($list, "[].publicKey"),
            raw_bytes: concat!($list, "[]", $raw, ".rawBytes"),
            key_details: concat!($list, "[].publicKey.keyDetails"),
            valid_for: concat!($list, "[]", $valid, ".validFor"),
            start: concat!($list, "[]", $valid, ".validFor.start"),
            end: concat!($list, "[]", $valid, ".validFor.end"),
            hash_algorithm: concat!($list, "[].hashAlgorithm"),
            log_id: concat!($list, "[].logId.keyId"),
            checkpoint_key_id: concat!($list, "[].checkpointKeyId.keyId"),
            certificates: concat!($list, "[].certChain.certificates"),
            url: concat!($list, "[].", $url),
        }
    };
}

const TLOGS: Paths = paths!("tlogs", ".publicKey", ".publicKey", "baseUrl");
const CTLOGS: Paths = paths!("ctlogs", ".publicKey", ".publicKey", "baseUrl");
const CAS: Paths = paths!(
    "certificateAuthorities",
    ".certChain.certificates[]",
    "",
    "uri"
);
const TSAS: Paths = paths!(
    "timestampAuthorities",
    ".certChain.certificates[]",
    "",
    "uri"
);

fn convert_log(w: &WireLog, p: &Paths) -> Result<TransparencyLogInstance, SigstoreFormatError> {
    let key = w
        .public_key
        .as_ref()
        .ok_or(SigstoreFormatError::MissingField {
            field: p.public_key,
        })?;
    let raw_bytes = decode_opt_bytes(p.raw_bytes, key.raw_bytes.as_deref())?;
    if raw_bytes.is_empty() {
        return Err(SigstoreFormatError::MissingField { field: p.raw_bytes });
    }
    let key_details = enum_value(
        p.key_details,
        key.key_details.as_ref(),
        PublicKeyDetails::Unspecified,
        KEY_DETAILS,
    )?;
    let valid_for = ValidityWindow::from_wire(p.valid_for, p.start, p.end, key.valid_for.as_ref())?;
    let key_id = decode_opt_bytes(
        p.log_id,
        w.log_id.as_ref().and_then(|l| l.key_id.as_deref()),
    )?;
    if key_id.is_empty() {
        return Err(SigstoreFormatError::MissingField { field: p.log_id });
    }
    let checkpoint_key_id = match w
        .checkpoint_key_id
        .as_ref()
        .and_then(|l| l.key_id.as_deref())
    {
        None => None,
        Some(text) => Some(LogId {
            key_id: decode_opt_bytes(p.checkpoint_key_id, Some(text))?,
        }),
    };
    let base_url = w.base_url.clone().unwrap_or_default();
    check_url(p.url, &base_url)?;
    Ok(TransparencyLogInstance {
        base_url,
        hash_algorithm: enum_value(
            p.hash_algorithm,
            w.hash_algorithm.as_ref(),
            HashAlgorithm::Unspecified,
            HASH_ALGORITHMS,
        )?,
        public_key: PublicKey {
            raw_bytes,
            key_details,
            valid_for,
        },
        log_id: LogId { key_id },
        checkpoint_key_id,
        operator: w.operator.clone().unwrap_or_default(),
    })
}

fn convert_ca(w: &WireCa, p: &Paths) -> Result<CertificateAuthority, SigstoreFormatError> {
    let certs = w
        .cert_chain
        .as_ref()
        .and_then(|c| c.certificates.as_deref())
        .unwrap_or_default();
    if certs.is_empty() {
        return Err(SigstoreFormatError::MissingField {
            field: p.certificates,
        });
    }
    let cert_chain = certs
        .iter()
        .map(|c| {
            let raw = decode_opt_bytes(p.raw_bytes, c.raw_bytes.as_deref())?;
            if raw.is_empty() {
                return Err(SigstoreFormatError::MissingField { field: p.raw_bytes });
            }
            Ok(X509Certificate { raw_bytes: raw })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let uri = w.uri.clone().unwrap_or_default();
    check_url(p.url, &uri)?;
    Ok(CertificateAuthority {
        subject: w
            .subject
            .as_ref()
            .map(|s| DistinguishedName {
                organization: s.organization.clone().unwrap_or_default(),
                common_name: s.common_name.clone().unwrap_or_default(),
            })
            .unwrap_or_default(),
        uri,
        cert_chain,
        valid_for: ValidityWindow::from_wire(p.valid_for, p.start, p.end, w.valid_for.as_ref())?,
        operator: w.operator.clone().unwrap_or_default(),
    })
}

impl TrustedRoot {
    /// Parses `trusted_root.json`. The media type must be [`TRUSTED_ROOT_MEDIA_TYPE`];
    /// every key and certificate must decode, every validity window must have a
    /// start (conformance case `trust-root-tlog-missing-validity-start_fail`), and every
    /// `baseUrl` and `uri` must be empty or an absolute URL.
    pub fn parse(json: &[u8]) -> Result<Self, SigstoreFormatError> {
        let wire: WireRoot = serde_json::from_slice(json)
            .map_err(|e| SigstoreFormatError::json(Document::TrustedRoot, json, &e))?;
        let media_type = wire.media_type.unwrap_or_default();
        if media_type != TRUSTED_ROOT_MEDIA_TYPE {
            return Err(SigstoreFormatError::UnsupportedMediaType {
                document: Document::TrustedRoot,
                found: media_type.chars().take(200).collect(),
                expected: TRUSTED_ROOT_MEDIA_TYPE,
            });
        }
        let logs = |list: Option<Vec<WireLog>>, p: &Paths| {
            list.unwrap_or_default()
                .iter()
                .map(|l| convert_log(l, p))
                .collect::<Result<Vec<_>, _>>()
        };
        let cas = |list: Option<Vec<WireCa>>, p: &Paths| {
            list.unwrap_or_default()
                .iter()
                .map(|c| convert_ca(c, p))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(TrustedRoot {
            tlogs: logs(wire.tlogs, &TLOGS)?,
            certificate_authorities: cas(wire.certificate_authorities, &CAS)?,
            ctlogs: logs(wire.ctlogs, &CTLOGS)?,
            timestamp_authorities: cas(wire.timestamp_authorities, &TSAS)?,
        })
    }

    /// Writes the root as protojson (`trusted_root.json`, media type
    /// [`TRUSTED_ROOT_MEDIA_TYPE`]), in the shape of the public-good roots: bytes in
    /// padded standard base64, enums by name, times as RFC 3339 in UTC, and empty
    /// `operator`s, absent `checkpointKeyId`s and open `validFor.end`s left out.
    /// [`TrustedRoot::parse`] reads the output back to an equal value.
    pub fn to_json(&self) -> String {
        use serde_json::{Map, Value, json};
        fn window(w: &ValidityWindow) -> Value {
            let mut m = Map::new();
            m.insert("start".into(), Value::String(w.start().to_rfc3339()));
            if let Some(end) = w.end() {
                m.insert("end".into(), Value::String(end.to_rfc3339()));
            }
            Value::Object(m)
        }
        fn operator(m: &mut Map<String, Value>, operator: &str) {
            if !operator.is_empty() {
                m.insert("operator".into(), Value::String(operator.to_owned()));
            }
        }
        fn log(l: &TransparencyLogInstance) -> Value {
            let mut m = Map::new();
            m.insert("baseUrl".into(), Value::String(l.base_url.clone()));
            m.insert("hashAlgorithm".into(), json!(l.hash_algorithm.as_str()));
            m.insert(
                "publicKey".into(),
                json!({
                    "rawBytes": encode_bytes(&l.public_key.raw_bytes),
                    "keyDetails": l.public_key.key_details.as_str(),
                    "validFor": window(&l.public_key.valid_for),
                }),
            );
            m.insert(
                "logId".into(),
                json!({ "keyId": encode_bytes(&l.log_id.key_id) }),
            );
            if let Some(id) = &l.checkpoint_key_id {
                m.insert(
                    "checkpointKeyId".into(),
                    json!({ "keyId": encode_bytes(&id.key_id) }),
                );
            }
            operator(&mut m, &l.operator);
            Value::Object(m)
        }
        fn ca(c: &CertificateAuthority) -> Value {
            let mut m = Map::new();
            m.insert(
                "subject".into(),
                json!({
                    "organization": c.subject.organization,
                    "commonName": c.subject.common_name,
                }),
            );
            m.insert("uri".into(), Value::String(c.uri.clone()));
            let certificates: Vec<Value> = c
                .cert_chain
                .iter()
                .map(|cert| json!({ "rawBytes": encode_bytes(&cert.raw_bytes) }))
                .collect();
            m.insert("certChain".into(), json!({ "certificates": certificates }));
            m.insert("validFor".into(), window(&c.valid_for));
            operator(&mut m, &c.operator);
            Value::Object(m)
        }
        let root = json!({
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": self.tlogs.iter().map(log).collect::<Vec<_>>(),
            "certificateAuthorities": self.certificate_authorities.iter().map(ca).collect::<Vec<_>>(),
            "ctlogs": self.ctlogs.iter().map(log).collect::<Vec<_>>(),
            "timestampAuthorities": self.timestamp_authorities.iter().map(ca).collect::<Vec<_>>(),
        });
        // Serializing a `Value` cannot fail.
        serde_json::to_string_pretty(&root).unwrap_or_default()
    }

    /// The transparency log whose `logId` is `key_id`.
    pub fn tlog_by_id(&self, key_id: &[u8]) -> Option<&TransparencyLogInstance> {
        self.tlogs.iter().find(|t| t.log_id.key_id == key_id)
    }

    /// The CT log whose `logId` is `key_id`.
    pub fn ctlog_by_id(&self, key_id: &[u8]) -> Option<&TransparencyLogInstance> {
        self.ctlogs.iter().find(|t| t.log_id.key_id == key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_json_round_trips_the_public_good_roots() {
        for root in [
            super::super::trust::production_trusted_root(),
            super::super::trust::staging_trusted_root(),
        ] {
            let json = root.to_json();
            assert_eq!(TrustedRoot::parse(json.as_bytes()), Ok(root));
        }
    }

    #[test]
    fn to_json_writes_operators_and_checkpoint_key_ids_only_when_set() {
        let mut root = super::super::trust::staging_trusted_root();
        root.tlogs[0].operator = "example.org".into();
        root.tlogs[0].checkpoint_key_id = Some(LogId {
            key_id: vec![1, 2, 3],
        });
        let json = root.to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["tlogs"][0]["operator"], "example.org");
        assert_eq!(value["tlogs"][0]["checkpointKeyId"]["keyId"], "AQID");
        assert!(value["certificateAuthorities"][0].get("operator").is_none());
        assert_eq!(TrustedRoot::parse(json.as_bytes()), Ok(root));
    }
}
