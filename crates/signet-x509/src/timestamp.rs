//! RFC 3161 signed timestamps (`rfc3161Timestamps[].signedTimestamp` of a Sigstore bundle):
//! parsing a `TimeStampResp` or a bare `TimeStampToken`, and verifying it against the
//! timestamp authorities of a trusted root, as sigstore-go does.
//!
//! A `TimeStampToken` is a CMS `ContentInfo` holding a `SignedData` (RFC 5652) whose
//! encapsulated content is a DER `TSTInfo` (RFC 3161 §2.4.2). The parser walks the DER
//! byte-exactly: the signature covers the re-tagged `signedAttrs` and the
//! `message-digest` attribute covers the `TSTInfo` bytes as they appear in the token.
//!
//! [`verify_timestamp`] checks, for one of the authorities:
//! 1. the signer certificate: the embedded one matching the `SignerInfo` identifier
//!    (which must then equal the authority's leaf, if it has one), or the authority's leaf;
//! 2. the leaf has the timeStamping extended key usage in a critical extension
//!    (RFC 3161 §2.3) and is valid at `genTime`;
//! 3. the leaf chains to the authority's root through the authority's intermediates,
//!    *at `genTime`* (a chain that expired later is fine);
//! 4. the `signedAttrs` hold `content-type` = id-ct-TSTInfo and `message-digest` =
//!    hash of the `TSTInfo`, and the signature over them verifies with the leaf's key;
//! 5. the message imprint is the hash of the timestamped data (the bundle signature);
//! 6. `genTime` lies within the authority's `validFor` (both ends included).
//!
//! Not checked here: that `genTime` lies within the *signing* certificate's validity
//! (the caller's job), nonce and policy (only meaningful when requesting), the ESS
//! `signingCertificate(V2)` hash, and `accuracy`.

use std::time::Duration;

use const_oid::ObjectIdentifier;
use pki_types::CertificateDer;
use sha2::Digest as _;

use crate::chain::SIGNATURE_ALGORITHMS;
use crate::tlv::{self, Tlv};
use crate::{Certificate, TimeRange, UnixTime};

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
/// DER contents of `id-kp-timeStamping`, as webpki wants it.
const TIME_STAMPING_OID_DER: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_NULL: u8 = 0x05;
const TAG_OID: u8 = 0x06;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_CONTEXT_0_CONSTRUCTED: u8 = 0xa0;
const TAG_CONTEXT_1_CONSTRUCTED: u8 = 0xa1;
const TAG_CONTEXT_0_PRIMITIVE: u8 = 0x80;

/// A hash algorithm of a message imprint or a CMS digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlgorithm {
    /// The digest of `data` with this algorithm.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
            HashAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
            HashAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            ID_SHA256 => Some(HashAlgorithm::Sha256),
            ID_SHA384 => Some(HashAlgorithm::Sha384),
            ID_SHA512 => Some(HashAlgorithm::Sha512),
            _ => None,
        }
    }
}

/// Where in a timestamp a parse error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimestampPart {
    /// The `TimeStampResp` or its `PKIStatusInfo`.
    Response,
    /// The CMS `ContentInfo` / `SignedData`.
    SignedData,
    /// The `SignerInfo`.
    SignerInfo,
    /// The signed attributes.
    SignedAttributes,
    /// The `TSTInfo`.
    TstInfo,
    /// An embedded certificate.
    Certificate,
}

/// Why a timestamp could not be parsed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The bytes are not a well-formed `TimeStampResp` or `TimeStampToken`.
    #[error(
        "malformed RFC 3161 timestamp ({part:?}: {detail}): expected a DER TimeStampResp or TimeStampToken"
    )]
    Malformed {
        /// Which structure was wrong.
        part: TimestampPart,
        /// What was wrong with it.
        detail: String,
    },
    /// The `TimeStampResp` status is not granted (0) or grantedWithMods (1).
    #[error(
        "the timestamp response has status {status} (0 granted, 1 grantedWithMods, 2 rejection, ...): the TSA refused the request"
    )]
    NotGranted {
        /// The PKIStatus value.
        status: i64,
    },
    /// A hash or signature algorithm is not supported.
    #[error("unsupported {what} algorithm {oid}: only SHA-256, SHA-384 and SHA-512 are supported")]
    UnsupportedAlgorithm {
        /// Which algorithm field.
        what: &'static str,
        /// Its dotted OID.
        oid: String,
    },
    /// The message imprint does not match the timestamped data.
    #[error(
        "the timestamp's message imprint ({algorithm:?} {imprint}) is not the hash of the signature ({computed}): the timestamp belongs to another signature"
    )]
    ImprintMismatch {
        /// The imprint's hash algorithm.
        algorithm: HashAlgorithm,
        /// The imprint, in hex.
        imprint: String,
        /// The hash of the timestamped data, in hex.
        computed: String,
    },
    /// No timestamp authority vouches for the token's signer.
    #[error(
        "the timestamp was signed by `{signer}`, which is not trusted by any of the {authorities} timestamp authorities of the trusted root ({reasons:?}): is it from another TSA? pass the matching trusted root"
    )]
    UntrustedTsa {
        /// The signer (embedded certificate subject, or issuer and serial from the SignerInfo).
        signer: String,
        /// How many authorities were tried.
        authorities: usize,
        /// Why each authority rejected it.
        reasons: Vec<String>,
    },
    /// The TSA certificate is not usable for timestamps.
    #[error(
        "the TSA certificate `{subject}` cannot sign timestamps: {detail} (RFC 3161 §2.3 requires a critical extendedKeyUsage with only id-kp-timeStamping)"
    )]
    InvalidTsaCertificate {
        /// The TSA leaf subject.
        subject: String,
        /// What is wrong.
        detail: String,
    },
    /// The TSA leaf certificate is not valid at `genTime`.
    #[error(
        "the TSA certificate `{subject}` is valid from {not_before} to {not_after}, not at the timestamp's genTime {gen_time}: the TSA signed with an expired or not yet valid certificate"
    )]
    TsaCertificateNotValidAt {
        /// The TSA leaf subject.
        subject: String,
        /// Its notBefore.
        not_before: UnixTime,
        /// Its notAfter.
        not_after: UnixTime,
        /// The timestamp's genTime.
        gen_time: UnixTime,
    },
    /// The TSA leaf does not chain to the authority's root at `genTime`.
    #[error(
        "the TSA certificate `{subject}` does not chain to the root of timestamp authority {authority_index} at genTime: {detail}"
    )]
    ChainInvalid {
        /// The authority tried.
        authority_index: usize,
        /// The TSA leaf subject.
        subject: String,
        /// webpki's verdict.
        detail: String,
    },
    /// The signed attributes do not bind the `TSTInfo`.
    #[error("the timestamp's signed attributes are inconsistent: {detail}")]
    SignedAttributesMismatch {
        /// What does not match.
        detail: String,
    },
    /// The CMS signature does not verify with the TSA leaf's key.
    #[error(
        "the timestamp signature does not verify with the key of TSA certificate `{subject}`: {detail}"
    )]
    SignatureInvalid {
        /// The TSA leaf subject.
        subject: String,
        /// What signet-crypto reported.
        detail: String,
    },
    /// `genTime` is outside the authority's `validFor` window.
    #[error(
        "the timestamp's genTime {gen_time} is outside the validity window {valid_for} of timestamp authority {authority_index} in the trusted root"
    )]
    OutsideAuthorityValidity {
        /// The authority.
        authority_index: usize,
        /// Its window.
        valid_for: TimeRange,
        /// The timestamp's genTime.
        gen_time: UnixTime,
    },
    /// A timestamp authority was given without certificates.
    #[error("a timestamp authority has an empty certChain: the trusted root is malformed")]
    EmptyAuthorityChain,
}

/// A timestamp authority of a trusted root (`timestampAuthorities[]`).
#[derive(Debug, Clone)]
pub struct TimestampAuthority {
    /// Leaf first, root last, as in the trusted root's `certChain`.
    chain: Vec<Certificate>,
    /// When timestamps of this authority are accepted (closed interval).
    pub valid_for: TimeRange,
}

impl TimestampAuthority {
    /// An authority from its `certChain` (TSA leaf first, then intermediates, root last)
    /// and `validFor`. A chain of one certificate is a root only: the leaf must then be
    /// embedded in the timestamp.
    ///
    /// # Errors
    /// [`TimestampError::EmptyAuthorityChain`] when `chain` is empty.
    pub fn new(chain: Vec<Certificate>, valid_for: TimeRange) -> Result<Self, TimestampError> {
        if chain.is_empty() {
            return Err(TimestampError::EmptyAuthorityChain);
        }
        Ok(TimestampAuthority { chain, valid_for })
    }

    /// The TSA leaf of the chain, when the chain has more than a root.
    pub fn leaf(&self) -> Option<&Certificate> {
        (self.chain.len() >= 2).then(|| &self.chain[0])
    }

    /// The intermediates between leaf and root.
    pub fn intermediates(&self) -> &[Certificate] {
        if self.chain.len() >= 3 {
            &self.chain[1..self.chain.len() - 1]
        } else {
            &[]
        }
    }

    /// The root (trust anchor): the last certificate.
    pub fn root(&self) -> &Certificate {
        // `new` guarantees a non-empty chain.
        &self.chain[self.chain.len() - 1]
    }

    /// The whole chain, leaf first, root last.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }
}

/// How the `SignerInfo` names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SignerId {
    /// Raw DER of the issuer Name and of the serial INTEGER (whole TLVs).
    IssuerSerial { issuer: Vec<u8>, serial: Vec<u8> },
    /// The subjectKeyIdentifier octets.
    SubjectKeyId(Vec<u8>),
}

/// A parsed, unverified RFC 3161 timestamp token.
#[derive(Debug, Clone)]
pub struct SignedTimestamp {
    gen_time: UnixTime,
    imprint_algorithm: HashAlgorithm,
    imprint: Vec<u8>,
    certificates: Vec<Certificate>,
    tst_info: Vec<u8>,
    digest_algorithm: HashAlgorithm,
    signer: SignerId,
    /// The signed attributes re-tagged as a DER SET OF (what the signature covers).
    signed_attrs_set: Vec<u8>,
    content_type: ObjectIdentifier,
    message_digest: Vec<u8>,
    signature: Vec<u8>,
}

impl SignedTimestamp {
    /// `TSTInfo.genTime`, rounded down to the second.
    pub fn gen_time(&self) -> UnixTime {
        self.gen_time
    }

    /// The message imprint's hash algorithm.
    pub fn imprint_algorithm(&self) -> HashAlgorithm {
        self.imprint_algorithm
    }

    /// The message imprint's digest (`hashedMessage`).
    pub fn imprint(&self) -> &[u8] {
        &self.imprint
    }

    /// The certificates embedded in the token (possibly none).
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// The DER `TSTInfo`, as signed.
    pub fn tst_info_der(&self) -> &[u8] {
        &self.tst_info
    }

    fn signer_matches(&self, cert: &Certificate) -> bool {
        match &self.signer {
            SignerId::IssuerSerial { issuer, serial } => cert_issuer_serial(cert.der())
                .is_some_and(|(i, s)| i == issuer.as_slice() && s == serial.as_slice()),
            SignerId::SubjectKeyId(ski) => subject_key_id(cert).is_some_and(|s| &s == ski),
        }
    }

    fn signer_description(&self) -> String {
        if let Some(cert) = self.certificates.iter().find(|c| self.signer_matches(c)) {
            return cert.subject();
        }
        match &self.signer {
            SignerId::IssuerSerial { issuer, serial } => {
                let name = <x509_cert::name::Name as der::Decode>::from_der(issuer)
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| "?".into());
                format!(
                    "issuer {name}, serial {}",
                    hex(serial.get(2..).unwrap_or(&[]))
                )
            }
            SignerId::SubjectKeyId(ski) => format!("subjectKeyIdentifier {}", hex(ski)),
        }
    }
}

/// A timestamp that verified against a trusted timestamp authority.
#[derive(Debug, Clone)]
pub struct VerifiedTimestamp {
    /// `genTime`, the verified time of the timestamped signature.
    pub gen_time: UnixTime,
    /// Index into the `authorities` slice of the authority that vouches for it.
    pub authority_index: usize,
    /// The TSA certificate that signed it.
    pub tsa_certificate: Certificate,
}

fn malformed(part: TimestampPart) -> impl Fn(&str) -> TimestampError {
    move |detail| TimestampError::Malformed {
        part,
        detail: detail.to_owned(),
    }
}

fn expect<'a>(
    tlv: Option<&Tlv<'a>>,
    tag: u8,
    part: TimestampPart,
    what: &str,
) -> Result<Tlv<'a>, TimestampError> {
    match tlv {
        Some(t) if t.tag == tag => Ok(*t),
        Some(t) => Err(malformed(part)(&format!(
            "{what}: expected tag 0x{tag:02x}, found 0x{:02x}",
            t.tag
        ))),
        None => Err(malformed(part)(&format!("{what} is missing"))),
    }
}

/// Reads exactly one element from `input` (no trailing bytes).
fn single<'a>(input: &'a [u8], part: TimestampPart, what: &str) -> Result<Tlv<'a>, TimestampError> {
    match tlv::read(input) {
        Some((t, [])) => Ok(t),
        Some(_) => Err(malformed(part)(&format!("{what} has trailing bytes"))),
        None => Err(malformed(part)(&format!("{what} is not a DER element"))),
    }
}

fn elements<'a>(
    tlv: &Tlv<'a>,
    part: TimestampPart,
    what: &str,
) -> Result<Vec<Tlv<'a>>, TimestampError> {
    tlv::elements(tlv.contents)
        .ok_or_else(|| malformed(part)(&format!("the contents of {what} are not DER elements")))
}

fn oid(tlv: &Tlv<'_>, part: TimestampPart, what: &str) -> Result<ObjectIdentifier, TimestampError> {
    if tlv.tag != TAG_OID {
        return Err(malformed(part)(&format!(
            "{what} is not an OBJECT IDENTIFIER"
        )));
    }
    ObjectIdentifier::from_bytes(tlv.contents)
        .map_err(|e| malformed(part)(&format!("{what} is not a valid OID: {e}")))
}

/// Small non-negative INTEGER (PKIStatus, versions).
fn small_int(tlv: &Tlv<'_>, part: TimestampPart, what: &str) -> Result<i64, TimestampError> {
    if tlv.tag != TAG_INTEGER || tlv.contents.is_empty() || tlv.contents.len() > 4 {
        return Err(malformed(part)(&format!("{what} is not a small INTEGER")));
    }
    let first = i64::from(tlv.contents[0] as i8);
    Ok(tlv.contents[1..]
        .iter()
        .fold(first, |acc, b| (acc << 8) | i64::from(*b)))
}

/// A hash `AlgorithmIdentifier` (parameters absent or NULL).
fn hash_algorithm(
    tlv: &Tlv<'_>,
    part: TimestampPart,
    what: &'static str,
) -> Result<HashAlgorithm, TimestampError> {
    if tlv.tag != TAG_SEQUENCE {
        return Err(malformed(part)(&format!(
            "{what} is not an AlgorithmIdentifier"
        )));
    }
    let elems = elements(tlv, part, what)?;
    let id = oid(&expect(elems.first(), TAG_OID, part, what)?, part, what)?;
    match elems.get(1) {
        None => {}
        Some(p) if p.tag == TAG_NULL && p.contents.is_empty() && elems.len() == 2 => {}
        Some(_) => {
            return Err(malformed(part)(&format!(
                "{what} has parameters other than NULL"
            )));
        }
    }
    HashAlgorithm::from_oid(&id).ok_or_else(|| TimestampError::UnsupportedAlgorithm {
        what,
        oid: id.to_string(),
    })
}

/// Parses a DER `TimeStampResp` (status granted or grantedWithMods) or a bare
/// `TimeStampToken` (`ContentInfo`), as found in a bundle's `signedTimestamp`.
///
/// # Errors
/// [`TimestampError::Malformed`], [`TimestampError::NotGranted`] or
/// [`TimestampError::UnsupportedAlgorithm`].
pub fn parse_timestamp_response(der: &[u8]) -> Result<SignedTimestamp, TimestampError> {
    use TimestampPart as P;
    let outer = single(der, P::Response, "the timestamp")?;
    let outer = expect(Some(&outer), TAG_SEQUENCE, P::Response, "the timestamp")?;
    let elems = elements(&outer, P::Response, "the timestamp")?;
    let token = match elems.first() {
        // A ContentInfo starts with its contentType OID.
        Some(first) if first.tag == TAG_OID => outer,
        // A TimeStampResp starts with its PKIStatusInfo SEQUENCE.
        Some(first) if first.tag == TAG_SEQUENCE => {
            let status_info = elements(first, P::Response, "PKIStatusInfo")?;
            let status = small_int(
                &expect(status_info.first(), TAG_INTEGER, P::Response, "PKIStatus")?,
                P::Response,
                "PKIStatus",
            )?;
            if status != 0 && status != 1 {
                return Err(TimestampError::NotGranted { status });
            }
            if elems.len() > 2 {
                return Err(malformed(P::Response)("TimeStampResp has extra fields"));
            }
            expect(elems.get(1), TAG_SEQUENCE, P::Response, "timeStampToken")?
        }
        _ => {
            return Err(malformed(P::Response)(
                "neither a TimeStampResp nor a ContentInfo",
            ));
        }
    };
    parse_token(&token)
}

fn parse_token(token: &Tlv<'_>) -> Result<SignedTimestamp, TimestampError> {
    use TimestampPart as P;
    let ci = elements(token, P::SignedData, "ContentInfo")?;
    if ci.len() != 2 {
        return Err(malformed(P::SignedData)("ContentInfo must have 2 fields"));
    }
    let content_type = oid(&ci[0], P::SignedData, "ContentInfo contentType")?;
    if content_type != ID_SIGNED_DATA {
        return Err(malformed(P::SignedData)(&format!(
            "ContentInfo contentType is {content_type}, expected id-signedData"
        )));
    }
    let explicit = expect(
        ci.get(1),
        TAG_CONTEXT_0_CONSTRUCTED,
        P::SignedData,
        "content [0]",
    )?;
    let sd = single(explicit.contents, P::SignedData, "SignedData")?;
    let sd = expect(Some(&sd), TAG_SEQUENCE, P::SignedData, "SignedData")?;
    let fields = elements(&sd, P::SignedData, "SignedData")?;
    let mut it = fields.iter().peekable();
    expect(it.next(), TAG_INTEGER, P::SignedData, "SignedData version")?;
    expect(it.next(), TAG_SET, P::SignedData, "digestAlgorithms")?;
    let encap = expect(it.next(), TAG_SEQUENCE, P::SignedData, "encapContentInfo")?;
    let mut certificates = Vec::new();
    if let Some(c) = it.next_if(|t| t.tag == TAG_CONTEXT_0_CONSTRUCTED) {
        for cert in elements(c, P::Certificate, "certificates")? {
            // Other CertificateChoices (attribute certificates) are tagged; skip them.
            if cert.tag != TAG_SEQUENCE {
                continue;
            }
            let parsed = Certificate::from_der(cert.encoded)
                .map_err(|e| malformed(P::Certificate)(&format!("an embedded certificate: {e}")))?;
            certificates.push(parsed);
        }
    }
    let _crls = it.next_if(|t| t.tag == TAG_CONTEXT_1_CONSTRUCTED);
    let signer_infos = expect(it.next(), TAG_SET, P::SignedData, "signerInfos")?;
    if it.next().is_some() {
        return Err(malformed(P::SignedData)("SignedData has extra fields"));
    }

    // encapContentInfo: eContentType id-ct-TSTInfo, eContent [0] EXPLICIT OCTET STRING.
    let encap = elements(&encap, P::SignedData, "encapContentInfo")?;
    let e_type = oid(
        &expect(encap.first(), TAG_OID, P::SignedData, "eContentType")?,
        P::SignedData,
        "eContentType",
    )?;
    if e_type != ID_CT_TST_INFO {
        return Err(malformed(P::SignedData)(&format!(
            "eContentType is {e_type}, expected id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4)"
        )));
    }
    let e_content = expect(
        encap.get(1),
        TAG_CONTEXT_0_CONSTRUCTED,
        P::SignedData,
        "eContent",
    )?;
    if encap.len() != 2 {
        return Err(malformed(P::SignedData)(
            "encapContentInfo has extra fields",
        ));
    }
    let octets = single(e_content.contents, P::SignedData, "eContent")?;
    let octets = expect(Some(&octets), TAG_OCTET_STRING, P::SignedData, "eContent")?;
    let tst_info = octets.contents;
    let (gen_time, imprint_algorithm, imprint) = parse_tst_info(tst_info)?;

    // Exactly one SignerInfo.
    let signers = elements(&signer_infos, P::SignerInfo, "signerInfos")?;
    let [signer] = signers.as_slice() else {
        return Err(malformed(P::SignerInfo)(&format!(
            "expected exactly one SignerInfo, found {}",
            signers.len()
        )));
    };
    let si = expect(Some(signer), TAG_SEQUENCE, P::SignerInfo, "SignerInfo")?;
    let si = elements(&si, P::SignerInfo, "SignerInfo")?;
    let mut it = si.iter();
    expect(it.next(), TAG_INTEGER, P::SignerInfo, "SignerInfo version")?;
    let sid = it
        .next()
        .ok_or_else(|| malformed(P::SignerInfo)("sid is missing"))?;
    let signer = match sid.tag {
        TAG_SEQUENCE => {
            let parts = elements(sid, P::SignerInfo, "issuerAndSerialNumber")?;
            let issuer = expect(parts.first(), TAG_SEQUENCE, P::SignerInfo, "issuer")?;
            let serial = expect(parts.get(1), TAG_INTEGER, P::SignerInfo, "serialNumber")?;
            if parts.len() != 2 {
                return Err(malformed(P::SignerInfo)(
                    "issuerAndSerialNumber has extra fields",
                ));
            }
            SignerId::IssuerSerial {
                issuer: issuer.encoded.to_vec(),
                serial: serial.encoded.to_vec(),
            }
        }
        TAG_CONTEXT_0_PRIMITIVE => SignerId::SubjectKeyId(sid.contents.to_vec()),
        other => {
            return Err(malformed(P::SignerInfo)(&format!(
                "sid has unexpected tag 0x{other:02x}"
            )));
        }
    };
    let digest_tlv = it
        .next()
        .ok_or_else(|| malformed(P::SignerInfo)("digestAlgorithm is missing"))?;
    let digest_algorithm = hash_algorithm(digest_tlv, P::SignerInfo, "SignerInfo digest")?;
    let attrs = expect(
        it.next(),
        TAG_CONTEXT_0_CONSTRUCTED,
        P::SignedAttributes,
        "signedAttrs (RFC 3161 requires them)",
    )?;
    expect(it.next(), TAG_SEQUENCE, P::SignerInfo, "signatureAlgorithm")?;
    let signature = expect(it.next(), TAG_OCTET_STRING, P::SignerInfo, "signature")?;
    // unsignedAttrs [1] may follow; nothing else.
    if let Some(extra) = it.next()
        && (extra.tag != TAG_CONTEXT_1_CONSTRUCTED || it.next().is_some())
    {
        return Err(malformed(P::SignerInfo)("SignerInfo has extra fields"));
    }

    // The signature covers the DER of the attributes as a SET OF (tag 0x31).
    let mut signed_attrs_set = attrs.encoded.to_vec();
    signed_attrs_set[0] = TAG_SET;
    let mut content_type = None;
    let mut message_digest = None;
    for attr in elements(&attrs, P::SignedAttributes, "signedAttrs")? {
        let attr = expect(Some(&attr), TAG_SEQUENCE, P::SignedAttributes, "Attribute")?;
        let parts = elements(&attr, P::SignedAttributes, "Attribute")?;
        let id = oid(
            &expect(parts.first(), TAG_OID, P::SignedAttributes, "attrType")?,
            P::SignedAttributes,
            "attrType",
        )?;
        if id != ID_CONTENT_TYPE && id != ID_MESSAGE_DIGEST {
            continue;
        }
        let values = expect(parts.get(1), TAG_SET, P::SignedAttributes, "attrValues")?;
        let values = elements(&values, P::SignedAttributes, "attrValues")?;
        let [value] = values.as_slice() else {
            return Err(malformed(P::SignedAttributes)(
                "content-type and message-digest must have exactly one value",
            ));
        };
        let duplicate = if id == ID_CONTENT_TYPE {
            content_type
                .replace(oid(value, P::SignedAttributes, "content-type")?)
                .is_some()
        } else {
            let v = expect(
                Some(value),
                TAG_OCTET_STRING,
                P::SignedAttributes,
                "message-digest",
            )?;
            message_digest.replace(v.contents.to_vec()).is_some()
        };
        if duplicate {
            return Err(malformed(P::SignedAttributes)(&format!(
                "attribute {id} appears twice"
            )));
        }
    }
    let content_type = content_type
        .ok_or_else(|| malformed(P::SignedAttributes)("the content-type attribute is missing"))?;
    let message_digest = message_digest
        .ok_or_else(|| malformed(P::SignedAttributes)("the message-digest attribute is missing"))?;

    Ok(SignedTimestamp {
        gen_time,
        imprint_algorithm,
        imprint,
        certificates,
        tst_info: tst_info.to_vec(),
        digest_algorithm,
        signer,
        signed_attrs_set,
        content_type,
        message_digest,
        signature: signature.contents.to_vec(),
    })
}

fn parse_tst_info(der: &[u8]) -> Result<(UnixTime, HashAlgorithm, Vec<u8>), TimestampError> {
    use TimestampPart as P;
    let tst = single(der, P::TstInfo, "TSTInfo")?;
    let tst = expect(Some(&tst), TAG_SEQUENCE, P::TstInfo, "TSTInfo")?;
    let f = elements(&tst, P::TstInfo, "TSTInfo")?;
    let version = small_int(
        &expect(f.first(), TAG_INTEGER, P::TstInfo, "version")?,
        P::TstInfo,
        "version",
    )?;
    if version != 1 {
        return Err(malformed(P::TstInfo)(&format!(
            "TSTInfo version is {version}, expected 1"
        )));
    }
    oid(
        &expect(f.get(1), TAG_OID, P::TstInfo, "policy")?,
        P::TstInfo,
        "policy",
    )?;
    let mi = expect(f.get(2), TAG_SEQUENCE, P::TstInfo, "messageImprint")?;
    let mi = elements(&mi, P::TstInfo, "messageImprint")?;
    let alg = mi
        .first()
        .ok_or_else(|| malformed(P::TstInfo)("messageImprint hashAlgorithm is missing"))?;
    let algorithm = hash_algorithm(alg, P::TstInfo, "message imprint hash")?;
    let hashed = expect(mi.get(1), TAG_OCTET_STRING, P::TstInfo, "hashedMessage")?;
    if mi.len() != 2 {
        return Err(malformed(P::TstInfo)("messageImprint has extra fields"));
    }
    expect(f.get(3), TAG_INTEGER, P::TstInfo, "serialNumber")?;
    let gen_tlv = expect(f.get(4), TAG_GENERALIZED_TIME, P::TstInfo, "genTime")?;
    let gen_time = generalized_time(gen_tlv.contents)
        .ok_or_else(|| malformed(P::TstInfo)("genTime is not YYYYMMDDHHMMSS[.f]Z"))?;
    Ok((gen_time, algorithm, hashed.contents.to_vec()))
}

/// `YYYYMMDDHHMMSS[.fraction]Z` (RFC 3161 §2.4.2) to whole seconds.
fn generalized_time(s: &[u8]) -> Option<UnixTime> {
    let (body, rest) = (s.get(..14)?, s.get(14..)?);
    if !body.iter().all(u8::is_ascii_digit) {
        return None;
    }
    match rest {
        [b'Z'] => {}
        [b'.', frac @ .., b'Z']
            if !frac.is_empty()
                && frac.iter().all(u8::is_ascii_digit)
                && frac.last() != Some(&b'0') => {}
        _ => return None,
    }
    let n = |r: core::ops::Range<usize>| {
        body[r]
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
    };
    let (y, mo, d, h, mi, sec) = (n(0..4), n(4..6), n(6..8), n(8..10), n(10..12), n(12..14));
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let max_day = *month_days.get(usize::try_from(mo - 1).ok()?)?;
    if !(1..=max_day).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(UnixTime(days * 86_400 + h * 3600 + mi * 60 + sec))
}

/// Raw DER (whole TLVs) of a certificate's issuer and serial number.
fn cert_issuer_serial(cert_der: &[u8]) -> Option<(&[u8], &[u8])> {
    let tbs = tlv::tbs_certificate(cert_der)?;
    let elems = tlv::elements(tbs.contents)?;
    let skip = usize::from(elems.first()?.tag == TAG_CONTEXT_0_CONSTRUCTED);
    Some((elems.get(skip + 2)?.encoded, elems.get(skip)?.encoded))
}

fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    const ID_CE_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
    let ext = cert
        .x509()
        .tbs_certificate()
        .extensions()?
        .iter()
        .find(|e| e.extn_id == ID_CE_SUBJECT_KEY_ID)?;
    let (t, _) = tlv::read(ext.extn_value.as_bytes())?;
    (t.tag == TAG_OCTET_STRING).then(|| t.contents.to_vec())
}

/// RFC 3161 §2.3: the TSA certificate has one critical extendedKeyUsage, id-kp-timeStamping only.
fn check_tsa_eku(cert: &Certificate) -> Result<(), TimestampError> {
    let invalid = |detail: &str| TimestampError::InvalidTsaCertificate {
        subject: cert.subject(),
        detail: detail.to_owned(),
    };
    let ext = cert
        .x509()
        .tbs_certificate()
        .extensions()
        .and_then(|exts| exts.iter().find(|e| e.extn_id == ID_CE_EXT_KEY_USAGE))
        .ok_or_else(|| invalid("it has no extendedKeyUsage extension"))?;
    if !ext.critical {
        return Err(invalid("its extendedKeyUsage extension is not critical"));
    }
    let ekus = <x509_cert::ext::pkix::ExtendedKeyUsage as der::Decode>::from_der(
        ext.extn_value.as_bytes(),
    )
    .map_err(|e| invalid(&format!("its extendedKeyUsage is malformed: {e}")))?;
    if ekus.0.as_slice() != [ID_KP_TIME_STAMPING] {
        return Err(invalid(&format!(
            "its extendedKeyUsage is {:?}, expected only id-kp-timeStamping",
            ekus.0.iter().map(ToString::to_string).collect::<Vec<_>>()
        )));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies `ts` as a timestamp over `signed_data` (the bundle's signature bytes: the
/// `messageSignature.signature`, or the DSSE envelope's `signatures[0].sig`) against
/// `authorities`. See the module documentation for the checks.
///
/// The first authority that accepts the timestamp wins. When none does, the error of an
/// authority that recognised the signer (its leaf, or a chain that reached its root) is
/// reported; otherwise [`TimestampError::UntrustedTsa`].
///
/// # Errors
/// Any [`TimestampError`].
pub fn verify_timestamp(
    ts: &SignedTimestamp,
    signed_data: &[u8],
    authorities: &[TimestampAuthority],
) -> Result<VerifiedTimestamp, TimestampError> {
    let mut reasons = Vec::new();
    let mut specific: Option<TimestampError> = None;
    let embedded = ts.certificates.iter().find(|c| ts.signer_matches(c));
    if embedded.is_none() && !ts.certificates.is_empty() {
        reasons.push("none of the embedded certificates matches the SignerInfo".to_owned());
    }
    for (index, authority) in authorities.iter().enumerate() {
        let leaf = match (embedded, authority.leaf()) {
            (Some(e), Some(l)) if e != l => {
                reasons.push(format!(
                    "authority {index}: the embedded TSA certificate `{}` is not its leaf `{}`",
                    e.subject(),
                    l.subject()
                ));
                continue;
            }
            (Some(e), _) => e,
            (None, Some(l)) if ts.signer_matches(l) => l,
            (None, Some(l)) => {
                reasons.push(format!(
                    "authority {index}: the SignerInfo does not name its leaf `{}`",
                    l.subject()
                ));
                continue;
            }
            (None, None) => {
                reasons.push(format!(
                    "authority {index}: no TSA leaf in its chain nor in the timestamp"
                ));
                continue;
            }
        };
        match verify_with_authority(ts, leaf, index, authority) {
            Ok(()) => {
                check_imprint(ts, signed_data)?;
                if !authority.valid_for.contains(ts.gen_time) {
                    return Err(TimestampError::OutsideAuthorityValidity {
                        authority_index: index,
                        valid_for: authority.valid_for,
                        gen_time: ts.gen_time,
                    });
                }
                return Ok(VerifiedTimestamp {
                    gen_time: ts.gen_time,
                    authority_index: index,
                    tsa_certificate: leaf.clone(),
                });
            }
            Err(Rejection::Untrusted(reason)) => {
                reasons.push(format!("authority {index}: {reason}"))
            }
            Err(Rejection::Error(e)) => {
                reasons.push(format!("authority {index}: {e}"));
                specific.get_or_insert(e);
            }
        }
    }
    Err(specific.unwrap_or_else(|| TimestampError::UntrustedTsa {
        signer: ts.signer_description(),
        authorities: authorities.len(),
        reasons,
    }))
}

enum Rejection {
    /// The leaf does not chain to this authority at all.
    Untrusted(String),
    /// The authority is the right one, but something is wrong.
    Error(TimestampError),
}

fn verify_with_authority(
    ts: &SignedTimestamp,
    leaf: &Certificate,
    index: usize,
    authority: &TimestampAuthority,
) -> Result<(), Rejection> {
    let at = ts.gen_time;
    let chain_invalid = |detail: String| {
        Rejection::Error(TimestampError::ChainInvalid {
            authority_index: index,
            subject: leaf.subject(),
            detail,
        })
    };
    // Path building first: a leaf from another TSA is "untrusted", not "expired".
    let seconds =
        u64::try_from(at.0).map_err(|_| chain_invalid("genTime is before 1970".into()))?;
    let webpki_time = pki_types::UnixTime::since_unix_epoch(Duration::from_secs(seconds));
    let leaf_der = CertificateDer::from(leaf.der());
    let end_entity = webpki::EndEntityCert::try_from(&leaf_der)
        .map_err(|e| chain_invalid(format!("webpki cannot parse the TSA leaf: {e:?}")))?;
    let root_der = CertificateDer::from(authority.root().der());
    let anchor = webpki::anchor_from_trusted_cert(&root_der)
        .map_err(|e| chain_invalid(format!("the root is not usable: {e:?}")))?;
    let pool: Vec<CertificateDer<'_>> = authority
        .intermediates()
        .iter()
        .map(|c| CertificateDer::from(c.der()))
        .collect();
    let anchors = [anchor];
    let result = end_entity.verify_for_usage(
        SIGNATURE_ALGORITHMS,
        &anchors,
        &pool,
        webpki_time,
        webpki::KeyUsage::required(TIME_STAMPING_OID_DER),
        None,
        None,
    );
    match result {
        Ok(_) => {}
        Err(webpki::Error::UnknownIssuer) => {
            return Err(Rejection::Untrusted(format!(
                "`{}` (issuer `{}`) does not chain to its root",
                leaf.subject(),
                leaf.issuer()
            )));
        }
        Err(webpki::Error::CertExpired { .. } | webpki::Error::CertNotValidYet { .. })
            if !leaf.is_valid_at(at) =>
        {
            return Err(Rejection::Error(TimestampError::TsaCertificateNotValidAt {
                subject: leaf.subject(),
                not_before: leaf.not_before(),
                not_after: leaf.not_after(),
                gen_time: at,
            }));
        }
        Err(e) => return Err(chain_invalid(format!("{e:?}"))),
    }
    // Belt and braces: webpki checks the leaf's dates, but not the trust anchor's.
    if !leaf.is_valid_at(at) {
        return Err(Rejection::Error(TimestampError::TsaCertificateNotValidAt {
            subject: leaf.subject(),
            not_before: leaf.not_before(),
            not_after: leaf.not_after(),
            gen_time: at,
        }));
    }
    if !authority.root().is_valid_at(at) {
        return Err(chain_invalid(format!(
            "the root `{}` is valid from {} to {}, not at genTime {at}",
            authority.root().subject(),
            authority.root().not_before(),
            authority.root().not_after()
        )));
    }
    check_tsa_eku(leaf).map_err(Rejection::Error)?;
    verify_signature(ts, leaf).map_err(Rejection::Error)
}

fn verify_signature(ts: &SignedTimestamp, leaf: &Certificate) -> Result<(), TimestampError> {
    if ts.content_type != ID_CT_TST_INFO {
        return Err(TimestampError::SignedAttributesMismatch {
            detail: format!(
                "the content-type attribute is {}, expected id-ct-TSTInfo",
                ts.content_type
            ),
        });
    }
    let digest = ts.digest_algorithm.digest(&ts.tst_info);
    if digest != ts.message_digest {
        return Err(TimestampError::SignedAttributesMismatch {
            detail: format!(
                "the message-digest attribute is {}, but the {:?} of the TSTInfo is {}",
                hex(&ts.message_digest),
                ts.digest_algorithm,
                hex(&digest)
            ),
        });
    }
    let key = leaf
        .public_key()
        .map_err(|e| TimestampError::SignatureInvalid {
            subject: leaf.subject(),
            detail: e.to_string(),
        })?;
    // signet-crypto's verify hashes with SHA-256 (or SHA-384 for P-384 keys) itself.
    use signet_crypto::KeyAlgorithm as K;
    let supported = matches!(
        (key.algorithm(), ts.digest_algorithm),
        (_, HashAlgorithm::Sha256) | (K::EcdsaP384, HashAlgorithm::Sha384) | (K::Ed25519, _)
    );
    if !supported {
        return Err(TimestampError::UnsupportedAlgorithm {
            what: "CMS signature",
            oid: format!("{:?} with {:?}", key.algorithm(), ts.digest_algorithm),
        });
    }
    key.verify(&ts.signed_attrs_set, &ts.signature)
        .map_err(|e| TimestampError::SignatureInvalid {
            subject: leaf.subject(),
            detail: e.to_string(),
        })
}

fn check_imprint(ts: &SignedTimestamp, signed_data: &[u8]) -> Result<(), TimestampError> {
    let computed = ts.imprint_algorithm.digest(signed_data);
    if computed != ts.imprint {
        return Err(TimestampError::ImprintMismatch {
            algorithm: ts.imprint_algorithm,
            imprint: hex(&ts.imprint),
            computed: hex(&computed),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generalized_time_forms() {
        assert_eq!(generalized_time(b"19700101000000Z"), Some(UnixTime(0)));
        assert_eq!(
            generalized_time(b"20250612120220Z"),
            Some(UnixTime(1_749_729_740))
        );
        assert_eq!(
            generalized_time(b"20250612120220.123Z"),
            Some(UnixTime(1_749_729_740))
        );
        assert_eq!(generalized_time(b"20250612120220.120Z"), None);
        assert_eq!(generalized_time(b"20250612120220.Z"), None);
        assert_eq!(generalized_time(b"20250230120220Z"), None);
        assert_eq!(generalized_time(b"2025061212022Z"), None);
        assert_eq!(generalized_time(b"20250612120220+0100"), None);
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in [
            &[][..],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x02, 0x01, 0x02],
            &[0x04, 0x00],
        ] {
            assert!(parse_timestamp_response(bad).is_err());
        }
        assert_eq!(
            parse_timestamp_response(&[0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02]).unwrap_err(),
            TimestampError::NotGranted { status: 2 }
        );
    }
}
