//! Parsed X.509 certificates with the accessors Sigstore verification needs.

use core::fmt;
use std::net::IpAddr;

use const_oid::ObjectIdentifier;
use der::Decode;
use der::asn1::Utf8StringRef;
use signet_crypto::{KeyError, PublicKey};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectAltName};

use crate::UnixTime;

const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// `id-kp-codeSigning`.
pub(crate) const ID_KP_CODE_SIGNING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// The Fulcio OID arc `1.3.6.1.4.1.57264.1`.
const FULCIO_ARC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1");
/// The Fulcio OtherName SAN type (`1.3.6.1.4.1.57264.1.7`), a UTF8String username.
const FULCIO_OTHER_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");

/// Why a certificate could not be parsed or a value could not be read from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The bytes are not a DER X.509 certificate.
    #[error("malformed certificate DER ({detail}): expected one DER X.509 certificate")]
    MalformedDer {
        /// What the DER decoder reported.
        detail: String,
    },
    /// A PEM chain could not be read.
    #[error(
        "malformed PEM certificate chain ({detail}): expected `-----BEGIN CERTIFICATE-----` blocks"
    )]
    MalformedPem {
        /// What the PEM/DER decoder reported.
        detail: String,
    },
    /// A PEM chain held no certificate.
    #[error(
        "the PEM input holds no certificate: expected at least one `-----BEGIN CERTIFICATE-----` block"
    )]
    EmptyPemChain,
    /// An extension this crate reads could not be decoded.
    #[error("certificate extension {oid} is malformed: {detail}")]
    MalformedExtension {
        /// Dotted OID of the extension.
        oid: String,
        /// What was wrong with it.
        detail: String,
    },
    /// An extension appears twice (RFC 5280 §4.2 forbids it).
    #[error(
        "certificate extension {oid} appears more than once: RFC 5280 allows each extension once"
    )]
    DuplicateExtension {
        /// Dotted OID of the extension.
        oid: String,
    },
    /// The certificate's public key is of a kind signet-crypto cannot use.
    #[error("the certificate's public key cannot be used: {source}")]
    UnsupportedPublicKey {
        /// Why signet-crypto rejected it.
        #[source]
        source: KeyError,
    },
}

/// One subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum San {
    /// `rfc822Name` (an email address).
    Email(String),
    /// `uniformResourceIdentifier`.
    Uri(String),
    /// `dNSName`.
    Dns(String),
    /// `iPAddress`.
    Ip(IpAddr),
    /// The Fulcio `OtherName` (type `1.3.6.1.4.1.57264.1.7`, a UTF8String username).
    OtherName(String),
}

impl San {
    /// The SAN as the string an identity is compared with (an IP in its usual text form).
    pub fn value(&self) -> String {
        match self {
            San::Email(s) | San::Uri(s) | San::Dns(s) | San::OtherName(s) => s.clone(),
            San::Ip(ip) => ip.to_string(),
        }
    }
}

impl fmt::Display for San {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            San::Email(s) => write!(f, "email:{s}"),
            San::Uri(s) => write!(f, "uri:{s}"),
            San::Dns(s) => write!(f, "dns:{s}"),
            San::Ip(ip) => write!(f, "ip:{ip}"),
            San::OtherName(s) => write!(f, "othername:{s}"),
        }
    }
}

/// The Fulcio extensions (`1.3.6.1.4.1.57264.1.N`) of a certificate.
///
/// `1.1`–`1.6` hold the raw UTF-8 value as the extension's octets; `1.8`–`1.22`
/// hold a DER UTF8String. Absent extensions are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FulcioExtensions {
    /// The OIDC issuer: `1.8` (IssuerV2), falling back to `1.1` (legacy Issuer), as sigstore-go does.
    pub issuer: Option<String>,
    /// `1.2` GitHub workflow trigger (deprecated).
    pub github_workflow_trigger: Option<String>,
    /// `1.3` GitHub workflow SHA (deprecated).
    pub github_workflow_sha: Option<String>,
    /// `1.4` GitHub workflow name (deprecated).
    pub github_workflow_name: Option<String>,
    /// `1.5` GitHub workflow repository (deprecated).
    pub github_workflow_repository: Option<String>,
    /// `1.6` GitHub workflow ref (deprecated).
    pub github_workflow_ref: Option<String>,
    /// `1.9` BuildSignerURI.
    pub build_signer_uri: Option<String>,
    /// `1.10` BuildSignerDigest.
    pub build_signer_digest: Option<String>,
    /// `1.11` RunnerEnvironment.
    pub runner_environment: Option<String>,
    /// `1.12` SourceRepositoryURI.
    pub source_repository_uri: Option<String>,
    /// `1.13` SourceRepositoryDigest.
    pub source_repository_digest: Option<String>,
    /// `1.14` SourceRepositoryRef.
    pub source_repository_ref: Option<String>,
    /// `1.15` SourceRepositoryIdentifier.
    pub source_repository_identifier: Option<String>,
    /// `1.16` SourceRepositoryOwnerURI.
    pub source_repository_owner_uri: Option<String>,
    /// `1.17` SourceRepositoryOwnerIdentifier.
    pub source_repository_owner_identifier: Option<String>,
    /// `1.18` BuildConfigURI.
    pub build_config_uri: Option<String>,
    /// `1.19` BuildConfigDigest.
    pub build_config_digest: Option<String>,
    /// `1.20` BuildTrigger.
    pub build_trigger: Option<String>,
    /// `1.21` RunInvocationURI.
    pub run_invocation_uri: Option<String>,
    /// `1.22` SourceRepositoryVisibilityAtSigning.
    pub source_repository_visibility_at_signing: Option<String>,
}

/// A parsed X.509 certificate that keeps its original DER.
///
/// Parsing checks the DER structure and decodes the extensions this crate reads
/// (SAN, basicConstraints, extendedKeyUsage, Fulcio `1.3.6.1.4.1.57264.1.*`), so
/// the accessors cannot fail. It does not check any signature or validity: see
/// [`crate::verify_chain`].
#[derive(Clone)]
pub struct Certificate {
    der: Vec<u8>,
    inner: x509_cert::Certificate,
    sans: Vec<San>,
    fulcio: FulcioExtensions,
    is_ca: bool,
    ekus: Vec<ObjectIdentifier>,
    /// Where the raw `subjectPublicKeyInfo` sits in `der`.
    spki: core::ops::Range<usize>,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject())
            .field("issuer", &self.issuer())
            .field("not_before", &self.not_before())
            .field("not_after", &self.not_after())
            .field("sans", &self.sans)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Certificate {}

impl TryFrom<&[u8]> for Certificate {
    type Error = CertificateError;
    fn try_from(der: &[u8]) -> Result<Self, Self::Error> {
        Certificate::from_der(der)
    }
}

impl Certificate {
    /// Parses one DER certificate (no trailing bytes allowed).
    ///
    /// # Errors
    /// [`CertificateError::MalformedDer`], [`CertificateError::MalformedExtension`] or
    /// [`CertificateError::DuplicateExtension`].
    pub fn from_der(der: &[u8]) -> Result<Self, CertificateError> {
        let inner =
            x509_cert::Certificate::from_der(der).map_err(|e| CertificateError::MalformedDer {
                detail: e.to_string(),
            })?;
        Self::from_parsed(der.to_vec(), inner)
    }

    /// Parses a sequence of PEM `CERTIFICATE` blocks (a chain as Fulcio returns it).
    ///
    /// # Errors
    /// [`CertificateError::MalformedPem`], [`CertificateError::EmptyPemChain`], or any error of
    /// [`Certificate::from_der`] for one of the certificates.
    pub fn parse_pem_chain(pem: &[u8]) -> Result<Vec<Self>, CertificateError> {
        const BEGIN: &[u8] = b"-----BEGIN ";
        const END: &[u8] = b"-----END ";
        let malformed = |detail: String| CertificateError::MalformedPem { detail };
        let mut certs = Vec::new();
        let mut rest = pem;
        while let Some(start) = find(rest, BEGIN) {
            let block = &rest[start..];
            let end_marker = find(block, END)
                .ok_or_else(|| malformed("a PEM block has no `-----END` line".into()))?;
            // The END line runs to the next "-----" after "-----END <label>".
            let after_end = &block[end_marker + END.len()..];
            let close = find(after_end, b"-----")
                .ok_or_else(|| malformed("a PEM `-----END` line is not closed".into()))?;
            let block_len = end_marker + END.len() + close + 5;
            let (label, der) =
                der::pem::decode_vec(&block[..block_len]).map_err(|e| malformed(e.to_string()))?;
            if label != "CERTIFICATE" {
                return Err(malformed(format!(
                    "found a `{label}` block, expected `CERTIFICATE`"
                )));
            }
            certs.push(Self::from_der(&der)?);
            rest = &block[block_len..];
        }
        if certs.is_empty() {
            return Err(CertificateError::EmptyPemChain);
        }
        Ok(certs)
    }

    fn from_parsed(der: Vec<u8>, inner: x509_cert::Certificate) -> Result<Self, CertificateError> {
        let mut sans = None;
        let mut is_ca = None;
        let mut ekus = None;
        let mut fulcio = FulcioExtensions::default();
        let mut issuer_v1 = None;
        let mut issuer_v2 = None;
        let mut seen: Vec<&ObjectIdentifier> = Vec::new();

        for ext in inner
            .tbs_certificate()
            .extensions()
            .map(|e| e.as_slice())
            .unwrap_or(&[])
        {
            let oid = &ext.extn_id;
            if seen.contains(&oid) {
                return Err(CertificateError::DuplicateExtension {
                    oid: oid.to_string(),
                });
            }
            seen.push(oid);
            let value = ext.extn_value.as_bytes();
            let malformed = |detail: String| CertificateError::MalformedExtension {
                oid: oid.to_string(),
                detail,
            };
            if *oid == ID_CE_SUBJECT_ALT_NAME {
                let san = SubjectAltName::from_der(value).map_err(|e| malformed(e.to_string()))?;
                sans = Some(parse_sans(&san).map_err(malformed)?);
            } else if *oid == ID_CE_BASIC_CONSTRAINTS {
                let bc = BasicConstraints::from_der(value).map_err(|e| malformed(e.to_string()))?;
                is_ca = Some(bc.ca);
            } else if *oid == ID_CE_EXT_KEY_USAGE {
                let eku =
                    ExtendedKeyUsage::from_der(value).map_err(|e| malformed(e.to_string()))?;
                ekus = Some(eku.0);
            } else if oid.parent() == Some(FULCIO_ARC) {
                let Some(n) = oid.arcs().last() else { continue };
                let raw = || {
                    String::from_utf8(value.to_vec())
                        .map(Some)
                        .map_err(|_| malformed("the raw value is not UTF-8".into()))
                };
                let utf8 = || {
                    Utf8StringRef::from_der(value)
                        .map(|s| Some(s.as_str().to_owned()))
                        .map_err(|e| malformed(format!("expected a DER UTF8String: {e}")))
                };
                match n {
                    1 => issuer_v1 = raw()?,
                    2 => fulcio.github_workflow_trigger = raw()?,
                    3 => fulcio.github_workflow_sha = raw()?,
                    4 => fulcio.github_workflow_name = raw()?,
                    5 => fulcio.github_workflow_repository = raw()?,
                    6 => fulcio.github_workflow_ref = raw()?,
                    8 => issuer_v2 = utf8()?,
                    9 => fulcio.build_signer_uri = utf8()?,
                    10 => fulcio.build_signer_digest = utf8()?,
                    11 => fulcio.runner_environment = utf8()?,
                    12 => fulcio.source_repository_uri = utf8()?,
                    13 => fulcio.source_repository_digest = utf8()?,
                    14 => fulcio.source_repository_ref = utf8()?,
                    15 => fulcio.source_repository_identifier = utf8()?,
                    16 => fulcio.source_repository_owner_uri = utf8()?,
                    17 => fulcio.source_repository_owner_identifier = utf8()?,
                    18 => fulcio.build_config_uri = utf8()?,
                    19 => fulcio.build_config_digest = utf8()?,
                    20 => fulcio.build_trigger = utf8()?,
                    21 => fulcio.run_invocation_uri = utf8()?,
                    22 => fulcio.source_repository_visibility_at_signing = utf8()?,
                    _ => {}
                }
            }
        }
        fulcio.issuer = issuer_v2.or(issuer_v1);
        let spki = crate::tlv::subject_public_key_info(&der)
            .map(|t| {
                let start = t.encoded.as_ptr() as usize - der.as_ptr() as usize;
                start..start + t.encoded.len()
            })
            .ok_or_else(|| CertificateError::MalformedDer {
                detail: "cannot locate subjectPublicKeyInfo".into(),
            })?;
        Ok(Certificate {
            spki,
            der,
            inner,
            sans: sans.unwrap_or_default(),
            fulcio,
            is_ca: is_ca.unwrap_or(false),
            ekus: ekus.unwrap_or_default(),
        })
    }

    /// The certificate's DER encoding, exactly as parsed.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The DER `SubjectPublicKeyInfo`, exactly as it appears in the certificate.
    pub fn spki_der(&self) -> &[u8] {
        // The range was located inside `der` at parse time.
        self.der.get(self.spki.clone()).unwrap_or(&[])
    }

    /// The subject public key, ready to verify signatures.
    ///
    /// # Errors
    /// [`CertificateError::UnsupportedPublicKey`] when signet-crypto does not handle the key type.
    pub fn public_key(&self) -> Result<PublicKey, CertificateError> {
        PublicKey::from_spki_der(self.spki_der())
            .map_err(|source| CertificateError::UnsupportedPublicKey { source })
    }

    /// `notBefore`, in seconds since the epoch.
    pub fn not_before(&self) -> UnixTime {
        to_unix(self.inner.tbs_certificate().validity().not_before)
    }

    /// `notAfter`, in seconds since the epoch.
    pub fn not_after(&self) -> UnixTime {
        to_unix(self.inner.tbs_certificate().validity().not_after)
    }

    /// Whether `at` is within `[notBefore, notAfter]` (both inclusive, as in Go and webpki).
    pub fn is_valid_at(&self, at: UnixTime) -> bool {
        self.not_before() <= at && at <= self.not_after()
    }

    /// The subject DN in RFC 4514 form (empty for Fulcio leaves).
    pub fn subject(&self) -> String {
        self.inner.tbs_certificate().subject().to_string()
    }

    /// The issuer DN in RFC 4514 form.
    pub fn issuer(&self) -> String {
        self.inner.tbs_certificate().issuer().to_string()
    }

    /// The subject alternative names this crate understands, in certificate order.
    ///
    /// `directoryName`, `registeredID`, `ediPartyName` and `OtherName`s of a type
    /// other than Fulcio's `1.3.6.1.4.1.57264.1.7` are left out.
    pub fn subject_alternative_names(&self) -> &[San] {
        &self.sans
    }

    /// The Fulcio extensions.
    pub fn fulcio_extensions(&self) -> &FulcioExtensions {
        &self.fulcio
    }

    /// Whether basicConstraints says `cA: TRUE`.
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// Whether the extendedKeyUsage extension lists `id-kp-codeSigning`.
    pub fn has_code_signing_eku(&self) -> bool {
        self.ekus.contains(&ID_KP_CODE_SIGNING)
    }

    pub(crate) fn x509(&self) -> &x509_cert::Certificate {
        &self.inner
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn to_unix(t: x509_cert::time::Time) -> UnixTime {
    // x509-cert times start at 1970 and end at 9999, so the seconds fit in i64.
    UnixTime(i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX))
}

fn parse_sans(san: &SubjectAltName) -> Result<Vec<San>, String> {
    let mut out = Vec::new();
    for name in &san.0 {
        match name {
            GeneralName::Rfc822Name(s) => out.push(San::Email(s.to_string())),
            GeneralName::DnsName(s) => out.push(San::Dns(s.to_string())),
            GeneralName::UniformResourceIdentifier(s) => out.push(San::Uri(s.to_string())),
            GeneralName::IpAddress(octets) => {
                let b = octets.as_bytes();
                let ip = if let Ok(v4) = <[u8; 4]>::try_from(b) {
                    IpAddr::from(v4)
                } else if let Ok(v6) = <[u8; 16]>::try_from(b) {
                    IpAddr::from(v6)
                } else {
                    return Err(format!(
                        "an iPAddress SAN is 4 or 16 bytes, found {}",
                        b.len()
                    ));
                };
                out.push(San::Ip(ip));
            }
            GeneralName::OtherName(other) if other.type_id == FULCIO_OTHER_NAME => {
                let s = Utf8StringRef::try_from(&other.value)
                    .map_err(|e| format!("the Fulcio OtherName SAN is not a UTF8String: {e}"))?;
                out.push(San::OtherName(s.as_str().to_owned()));
            }
            _ => {}
        }
    }
    Ok(out)
}
