//! X.509 certificates written field by field (RFC 5280 §4.1), signed with signet-crypto.
//!
//! The `TBSCertificate` is encoded from our own `der` structure rather than through
//! x509-cert's builder, so that every byte is ours to choose: the issuer name is the
//! issuing certificate's subject copied byte for byte, the subject public key is the
//! caller's SPKI exactly as parsed, and the extensions are in the order given (the
//! precertificate and the final certificate differ only by one extension, RFC 6962 §3.1).

use std::str::FromStr;
use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::asn1::{AnyRef, BitStringRef, OctetString, UintRef};
use der::{Decode, Encode};
use sha2::{Digest as _, Sha256};
use signet_crypto::{KeyAlgorithm, PrivateKey, PublicKey, Signer};
use spki::AlgorithmIdentifierRef;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::time::{Time, Validity};

use crate::CaError;

/// `ecdsa-with-SHA256` (RFC 5758 §3.2), the signature algorithm of every certificate
/// and CMS signature this crate makes (its keys are P-256).
pub(crate) const ECDSA_WITH_SHA256: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const ID_CE_AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
/// `id-kp-codeSigning`.
pub(crate) const ID_KP_CODE_SIGNING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// `id-kp-timeStamping`.
pub(crate) const ID_KP_TIME_STAMPING: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// The signature `AlgorithmIdentifier` of this crate's certificates (no parameters).
pub(crate) fn signature_algorithm() -> AlgorithmIdentifierRef<'static> {
    AlgorithmIdentifierRef {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    }
}

pub(crate) fn encoding(what: &'static str) -> impl Fn(der::Error) -> CaError {
    move |e| CaError::Encoding {
        what,
        detail: e.to_string(),
    }
}

/// A P-256 key that signs certificates (or timestamps), with its SPKI and key identifier.
pub(crate) struct IssuingKey {
    key: PrivateKey,
    key_identifier: [u8; 20],
}

impl IssuingKey {
    /// Wraps a P-256 key; other algorithms are refused (the signature algorithm of
    /// every certificate is `ecdsa-with-SHA256`).
    pub(crate) fn new(key: PrivateKey) -> Result<Self, CaError> {
        if key.algorithm() != KeyAlgorithm::EcdsaP256 {
            return Err(CaError::InvalidConfig {
                detail: format!(
                    "authority keys must be ECDSA P-256, found {}",
                    key.algorithm()
                ),
            });
        }
        let key_identifier = key_identifier(key.public_key().spki_der())?;
        Ok(IssuingKey {
            key,
            key_identifier,
        })
    }

    /// Generates a new P-256 key.
    pub(crate) fn generate() -> Result<Self, CaError> {
        Self::new(PrivateKey::generate(KeyAlgorithm::EcdsaP256)?)
    }

    pub(crate) fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    pub(crate) fn private_key(&self) -> &PrivateKey {
        &self.key
    }

    pub(crate) fn spki_der(&self) -> &[u8] {
        self.key.public_key().spki_der()
    }

    /// The subject key identifier of this key's certificates (and the authority key
    /// identifier of what it issues).
    pub(crate) fn key_identifier(&self) -> &[u8; 20] {
        &self.key_identifier
    }

    /// Signs `data` (ECDSA over SHA-256, DER signature).
    pub(crate) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, CaError> {
        Ok(self.key.sign(data)?)
    }

    /// Signs a DER `TBSCertificate` and returns the DER certificate.
    pub(crate) fn sign_certificate(&self, tbs: &[u8]) -> Result<Vec<u8>, CaError> {
        let signature = self.sign(tbs)?;
        assemble_certificate(tbs, &signature)
    }
}

/// RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the
/// `subjectPublicKey` BIT STRING's bytes.
pub(crate) fn key_identifier(spki_der: &[u8]) -> Result<[u8; 20], CaError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(encoding("a subject key identifier"))?;
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    let mut id = [0u8; 20];
    id.copy_from_slice(&digest[..20]);
    Ok(id)
}

/// A fresh positive 20-byte serial number (RFC 5280 §4.1.2.2 allows up to 20 octets).
pub(crate) fn random_serial() -> Result<[u8; 20], CaError> {
    let mut serial = [0u8; 20];
    getrandom::fill(&mut serial).map_err(|e| CaError::Encoding {
        what: "a serial number",
        detail: format!("the system random generator failed: {e}"),
    })?;
    // Positive, and never shortened by DER's minimal encoding.
    serial[0] = (serial[0] & 0x7f) | 0x01;
    Ok(serial)
}

/// The DER encoding of a distinguished name such as `CN=signet root,O=signet`.
pub(crate) fn name_der(rfc4514: &str) -> Result<Vec<u8>, CaError> {
    Name::from_str(rfc4514)
        .and_then(|n| n.to_der())
        .map_err(encoding("a distinguished name"))
}

/// The DER of an empty subject (`SEQUENCE {}`), as Fulcio leaves have.
pub(crate) const EMPTY_NAME: &[u8] = &[0x30, 0x00];

#[derive(der::Sequence)]
struct TbsCertificate<'a> {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    version: u8,
    serial_number: UintRef<'a>,
    signature: AlgorithmIdentifierRef<'a>,
    issuer: AnyRef<'a>,
    validity: Validity,
    subject: AnyRef<'a>,
    subject_public_key_info: AnyRef<'a>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

#[derive(der::Sequence)]
struct CertificateDer<'a> {
    tbs_certificate: AnyRef<'a>,
    signature_algorithm: AlgorithmIdentifierRef<'a>,
    signature: BitStringRef<'a>,
}

/// What goes into a `TBSCertificate`.
pub(crate) struct TbsFields<'a> {
    /// The serial number's big-endian bytes (positive).
    pub(crate) serial: &'a [u8],
    /// The issuer's DER `Name`: the issuing certificate's subject, byte for byte.
    pub(crate) issuer: &'a [u8],
    /// `notBefore`.
    pub(crate) not_before: SystemTime,
    /// `notAfter`.
    pub(crate) not_after: SystemTime,
    /// The subject's DER `Name`.
    pub(crate) subject: &'a [u8],
    /// The DER `SubjectPublicKeyInfo`.
    pub(crate) spki: &'a [u8],
    /// The extensions, in order.
    pub(crate) extensions: &'a [Extension],
}

fn x509_time(t: SystemTime) -> Result<Time, CaError> {
    // Certificates carry whole seconds.
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| CaError::Encoding {
            what: "a validity time",
            detail: "the time is before 1970".into(),
        })?
        .as_secs();
    Time::try_from(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
        .map_err(encoding("a validity time"))
}

/// Encodes a v3 `TBSCertificate` signed with `ecdsa-with-SHA256`.
pub(crate) fn encode_tbs(fields: &TbsFields<'_>) -> Result<Vec<u8>, CaError> {
    let any = |what, bytes| AnyRef::from_der(bytes).map_err(encoding(what));
    let tbs = TbsCertificate {
        version: 2,
        serial_number: UintRef::new(fields.serial).map_err(encoding("the serial number"))?,
        signature: signature_algorithm(),
        issuer: any("the issuer name", fields.issuer)?,
        validity: Validity::new(x509_time(fields.not_before)?, x509_time(fields.not_after)?),
        subject: any("the subject name", fields.subject)?,
        subject_public_key_info: any("the subject public key", fields.spki)?,
        extensions: (!fields.extensions.is_empty()).then(|| fields.extensions.to_vec()),
    };
    tbs.to_der().map_err(encoding("a TBSCertificate"))
}

/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }`.
pub(crate) fn assemble_certificate(tbs: &[u8], signature: &[u8]) -> Result<Vec<u8>, CaError> {
    CertificateDer {
        tbs_certificate: AnyRef::from_der(tbs).map_err(encoding("a certificate"))?,
        signature_algorithm: signature_algorithm(),
        signature: BitStringRef::from_bytes(signature).map_err(encoding("a certificate"))?,
    }
    .to_der()
    .map_err(encoding("a certificate"))
}

/// The DER `TBSCertificate` (header included) and the signature bytes of a DER certificate.
pub(crate) fn split_certificate(der: &[u8]) -> Result<(Vec<u8>, Vec<u8>), der::Error> {
    let cert = CertificateDer::from_der(der)?;
    let signature = cert
        .signature
        .as_bytes()
        .ok_or_else(|| der::Error::from(der::ErrorKind::Failed))?
        .to_vec();
    Ok((cert.tbs_certificate.to_der()?, signature))
}

/// An extension with a DER value.
pub(crate) fn extension(
    oid: ObjectIdentifier,
    critical: bool,
    value: Vec<u8>,
) -> Result<Extension, CaError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value).map_err(encoding("an extension"))?,
    })
}

fn encoded<T: Encode>(what: &'static str, value: &T) -> Result<Vec<u8>, CaError> {
    value.to_der().map_err(encoding(what))
}

/// `basicConstraints` (critical).
pub(crate) fn basic_constraints(ca: bool, path_len: Option<u8>) -> Result<Extension, CaError> {
    let value = BasicConstraints {
        ca,
        path_len_constraint: path_len,
    };
    extension(
        ID_CE_BASIC_CONSTRAINTS,
        true,
        encoded("basicConstraints", &value)?,
    )
}

/// `keyUsage` (critical): `digitalSignature` for leaves, `keyCertSign | cRLSign` for CAs.
pub(crate) fn key_usage(ca: bool) -> Result<Extension, CaError> {
    let usages = if ca {
        KeyUsages::KeyCertSign | KeyUsages::CRLSign
    } else {
        KeyUsages::DigitalSignature.into()
    };
    extension(
        ID_CE_KEY_USAGE,
        true,
        encoded("keyUsage", &KeyUsage(usages))?,
    )
}

/// `extKeyUsage` with one purpose.
pub(crate) fn extended_key_usage(
    purpose: ObjectIdentifier,
    critical: bool,
) -> Result<Extension, CaError> {
    extension(
        ID_CE_EXT_KEY_USAGE,
        critical,
        encoded("extKeyUsage", &ExtendedKeyUsage(vec![purpose]))?,
    )
}

/// `subjectKeyIdentifier`.
pub(crate) fn subject_key_identifier(id: &[u8; 20]) -> Result<Extension, CaError> {
    let value = SubjectKeyIdentifier(
        OctetString::new(id.to_vec()).map_err(encoding("subjectKeyIdentifier"))?,
    );
    extension(
        ID_CE_SUBJECT_KEY_IDENTIFIER,
        false,
        encoded("subjectKeyIdentifier", &value)?,
    )
}

/// `authorityKeyIdentifier` with only the key identifier.
pub(crate) fn authority_key_identifier(id: &[u8; 20]) -> Result<Extension, CaError> {
    let value = AuthorityKeyIdentifier {
        key_identifier: Some(
            OctetString::new(id.to_vec()).map_err(encoding("authorityKeyIdentifier"))?,
        ),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    extension(
        ID_CE_AUTHORITY_KEY_IDENTIFIER,
        false,
        encoded("authorityKeyIdentifier", &value)?,
    )
}

/// What a CA (or TSA) certificate is for.
pub(crate) struct CaProfile<'a> {
    /// The subject, in RFC 4514 form.
    pub(crate) subject: &'a str,
    /// The issuer's certificate subject (DER) and key; `None` for a self-signed root.
    pub(crate) issuer: Option<(&'a [u8], &'a IssuingKey)>,
    /// `pathLenConstraint` for CAs; `None` with `ca: false`.
    pub(crate) path_len: Option<u8>,
    /// Whether the subject is a CA.
    pub(crate) ca: bool,
    /// The extended key usage, and whether it is critical.
    pub(crate) eku: Option<(ObjectIdentifier, bool)>,
    /// When it starts.
    pub(crate) not_before: SystemTime,
    /// How long it lasts.
    pub(crate) lifetime: Duration,
}

/// A certificate for `subject_key` (a root when `profile.issuer` is `None`).
pub(crate) fn authority_certificate(
    subject_key: &IssuingKey,
    profile: &CaProfile<'_>,
) -> Result<Vec<u8>, CaError> {
    let subject = name_der(profile.subject)?;
    let (issuer_name, issuer_key) = match profile.issuer {
        Some((name, key)) => (name, key),
        None => (subject.as_slice(), subject_key),
    };
    let mut extensions = vec![
        key_usage(profile.ca)?,
        basic_constraints(profile.ca, profile.path_len)?,
        subject_key_identifier(subject_key.key_identifier())?,
        authority_key_identifier(issuer_key.key_identifier())?,
    ];
    if let Some((purpose, critical)) = profile.eku {
        extensions.push(extended_key_usage(purpose, critical)?);
    }
    let serial = random_serial()?;
    let tbs = encode_tbs(&TbsFields {
        serial: &serial,
        issuer: issuer_name,
        not_before: profile.not_before,
        not_after: profile.not_before + profile.lifetime,
        subject: &subject,
        spki: subject_key.spki_der(),
        extensions: &extensions,
    })?;
    issuer_key.sign_certificate(&tbs)
}

/// The DER of a DER certificate's subject `Name`, byte for byte.
pub(crate) fn subject_der(cert_der: &[u8]) -> Result<Vec<u8>, CaError> {
    let parsed =
        x509_cert::Certificate::from_der(cert_der).map_err(encoding("a certificate subject"))?;
    parsed
        .tbs_certificate()
        .subject()
        .to_der()
        .map_err(encoding("a certificate subject"))
}

/// Whether `cert` names `issuer` as its issuer and carries a signature by its key.
pub(crate) fn is_issued_by(
    cert: &signet_x509::Certificate,
    issuer: &signet_x509::Certificate,
) -> bool {
    cert.issuer() == issuer.subject()
        && split_certificate(cert.der()).is_ok_and(|(tbs, signature)| {
            issuer
                .public_key()
                .is_ok_and(|key| key.verify(&tbs, &signature).is_ok())
        })
}

/// A certificate as PEM, 64 columns and LF line ends (as Go writes it).
pub(crate) fn pem(der: &[u8]) -> String {
    signet_crypto::encode_pem("CERTIFICATE", der)
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_x509::{Certificate, UnixTime};

    #[test]
    fn root_and_intermediate_parse_and_link() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let root_key = IssuingKey::generate().unwrap();
        let root = authority_certificate(
            &root_key,
            &CaProfile {
                subject: "CN=test root,O=signet",
                issuer: None,
                path_len: Some(1),
                ca: true,
                eku: None,
                not_before: now,
                lifetime: Duration::from_secs(86_400),
            },
        )
        .unwrap();
        let root = Certificate::from_der(&root).unwrap();
        assert!(root.is_ca());
        assert_eq!(root.subject(), root.issuer());
        assert_eq!(root.not_before(), UnixTime(1_800_000_000));
        assert_eq!(root.not_after(), UnixTime(1_800_086_400));
        assert_eq!(root.public_key().unwrap(), *root_key.public_key());
        let (tbs, signature) = split_certificate(root.der()).unwrap();
        root.public_key().unwrap().verify(&tbs, &signature).unwrap();

        let subject = subject_der(root.der()).unwrap();
        let inter_key = IssuingKey::generate().unwrap();
        let inter = authority_certificate(
            &inter_key,
            &CaProfile {
                subject: "CN=test intermediate,O=signet",
                issuer: Some((&subject, &root_key)),
                path_len: Some(0),
                ca: true,
                eku: Some((ID_KP_CODE_SIGNING, false)),
                not_before: now,
                lifetime: Duration::from_secs(3600),
            },
        )
        .unwrap();
        let inter = Certificate::from_der(&inter).unwrap();
        assert_eq!(inter.issuer(), root.subject());
        assert!(inter.is_ca() && inter.has_code_signing_eku());
        assert!(is_issued_by(&inter, &root) && is_issued_by(&root, &root));
        assert!(!is_issued_by(&root, &inter));
        // Same subject, another key: the name matches, the signature does not.
        let impostor = authority_certificate(
            &IssuingKey::generate().unwrap(),
            &CaProfile {
                subject: "CN=test root,O=signet",
                issuer: None,
                path_len: Some(1),
                ca: true,
                eku: None,
                not_before: now,
                lifetime: Duration::from_secs(86_400),
            },
        )
        .unwrap();
        let impostor = Certificate::from_der(&impostor).unwrap();
        assert_eq!(impostor.subject(), root.subject());
        assert!(!is_issued_by(&inter, &impostor));
    }

    #[test]
    fn serials_are_positive_twenty_bytes() {
        for _ in 0..64 {
            let s = random_serial().unwrap();
            assert!(s[0] & 0x80 == 0 && s[0] != 0);
        }
    }
}
