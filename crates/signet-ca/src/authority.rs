//! The certificate authority's material (root, intermediate, CT log key) and the pure
//! core of issuance: identity + public key + time → a leaf with an embedded SCT.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use const_oid::ObjectIdentifier;
use der::Encode;
use der::asn1::{Any, Ia5String, Utf8StringRef};
use signet_crypto::{KeyId, PublicKey, Signer as _};
use signet_x509::Certificate;
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};

use crate::CaError;
use crate::certificate::{
    CaProfile, EMPTY_NAME, ID_KP_CODE_SIGNING, IssuingKey, TbsFields, authority_certificate,
    authority_key_identifier, encode_tbs, encoding, extended_key_usage, extension, is_issued_by,
    key_identifier, key_usage, random_serial, subject_der, subject_key_identifier,
};
use crate::identity::{FulcioExtension, Identity, SubjectName};
use crate::sct::{CtLogSigner, poison_extension, sct_list_extension};
use crate::state::{StateDir, write_certificate, write_key};

const ID_CE_SUBJECT_ALT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
/// The Fulcio `OtherName` SAN type (a UTF8String username).
const FULCIO_OTHER_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
const FULCIO_ISSUER_V1: u32 = 1;
const FULCIO_ISSUER_V2: u32 = 8;

const ROOT_KEY: &str = "root.key";
const ROOT_CERT: &str = "root.pem";
const INTERMEDIATE_KEY: &str = "intermediate.key";
const INTERMEDIATE_CERT: &str = "intermediate.pem";
const CT_LOG_KEY: &str = "ctlog.key";
const FILES: &[&str] = &[
    ROOT_KEY,
    ROOT_CERT,
    INTERMEDIATE_KEY,
    INTERMEDIATE_CERT,
    CT_LOG_KEY,
];

/// Lifetime of the generated root and intermediate.
const AUTHORITY_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);

fn fulcio_oid(arc: u32) -> Result<ObjectIdentifier, CaError> {
    ObjectIdentifier::new(&format!("1.3.6.1.4.1.57264.1.{arc}")).map_err(|e| CaError::Encoding {
        what: "a Fulcio extension OID",
        detail: e.to_string(),
    })
}

/// A Fulcio extension: arcs 1–6 hold the raw value, 8 and up a DER UTF8String.
fn fulcio_extension(arc: u32, value: &str) -> Result<Extension, CaError> {
    let encoded = if arc <= 6 {
        value.as_bytes().to_vec()
    } else {
        Utf8StringRef::new(value)
            .and_then(|s| s.to_der())
            .map_err(encoding("a Fulcio extension"))?
    };
    extension(fulcio_oid(arc)?, false, encoded)
}

fn subject_alt_name(san: &SubjectName) -> Result<Extension, CaError> {
    let ia5 = |s: &str| Ia5String::new(s).map_err(encoding("the subject alternative name"));
    let name = match san {
        SubjectName::Email(email) => GeneralName::Rfc822Name(ia5(email)?),
        SubjectName::Uri(uri) => GeneralName::UniformResourceIdentifier(ia5(uri)?),
        SubjectName::OtherName(user) => {
            // x509-cert writes `value [0] EXPLICIT` around this UTF8String.
            let utf8 = Utf8StringRef::new(user)
                .and_then(|s| Any::encode_from(&s))
                .map_err(encoding("the subject alternative name"))?;
            GeneralName::OtherName(OtherName {
                type_id: FULCIO_OTHER_NAME,
                value: utf8,
            })
        }
    };
    let value = SubjectAltName(vec![name])
        .to_der()
        .map_err(encoding("the subject alternative name"))?;
    // Critical: the subject is empty (RFC 5280 §4.2.1.6).
    extension(ID_CE_SUBJECT_ALT_NAME, true, value)
}

/// The extensions of a Fulcio leaf, in order, without the poison or SCT list.
fn leaf_extensions(
    identity: &Identity,
    spki: &[u8],
    issuer_key_identifier: &[u8; 20],
) -> Result<Vec<Extension>, CaError> {
    let mut exts = vec![
        key_usage(false)?,
        extended_key_usage(ID_KP_CODE_SIGNING, false)?,
        subject_key_identifier(&key_identifier(spki)?)?,
        authority_key_identifier(issuer_key_identifier)?,
        subject_alt_name(&identity.san)?,
        fulcio_extension(FULCIO_ISSUER_V1, &identity.issuer)?,
    ];
    let mut metadata: Vec<&FulcioExtension> = identity
        .build_metadata
        .iter()
        .filter(|e| e.arc >= 2 && e.arc != 7 && e.arc != FULCIO_ISSUER_V2)
        .collect();
    metadata.sort_by_key(|e| e.arc);
    metadata.dedup_by_key(|e| e.arc);
    for e in metadata.iter().filter(|e| e.arc <= 6) {
        exts.push(fulcio_extension(e.arc, &e.value)?);
    }
    exts.push(fulcio_extension(FULCIO_ISSUER_V2, &identity.issuer)?);
    for e in metadata.iter().filter(|e| e.arc > 8) {
        exts.push(fulcio_extension(e.arc, &e.value)?);
    }
    Ok(exts)
}

/// Root, intermediate and CT log key, loaded or created.
pub(crate) struct Authority {
    root: Certificate,
    intermediate: Certificate,
    intermediate_subject: Vec<u8>,
    intermediate_key: IssuingKey,
    ct: CtLogSigner,
    leaf_validity: Duration,
}

impl Authority {
    /// Loads `<dir>`, creating a new root, intermediate and CT key on first start.
    pub(crate) fn open(
        dir: PathBuf,
        organization: &str,
        leaf_validity: Duration,
        now: SystemTime,
    ) -> Result<Self, CaError> {
        let state = StateDir::open_or_create(dir, FILES, |tmp| {
            let root_key = IssuingKey::generate()?;
            let intermediate_key = IssuingKey::generate()?;
            let ct_key = IssuingKey::generate()?;
            let root = authority_certificate(
                &root_key,
                &CaProfile {
                    subject: &format!("CN=signet root,O={organization}"),
                    issuer: None,
                    path_len: Some(1),
                    ca: true,
                    eku: None,
                    not_before: now,
                    lifetime: AUTHORITY_LIFETIME,
                },
            )?;
            let root_subject = subject_der(&root)?;
            let intermediate = authority_certificate(
                &intermediate_key,
                &CaProfile {
                    subject: &format!("CN=signet intermediate,O={organization}"),
                    issuer: Some((&root_subject, &root_key)),
                    path_len: Some(0),
                    ca: true,
                    eku: Some((ID_KP_CODE_SIGNING, false)),
                    not_before: now,
                    lifetime: AUTHORITY_LIFETIME,
                },
            )?;
            write_key(tmp, ROOT_KEY, root_key.private_key())?;
            write_certificate(tmp, ROOT_CERT, &root)?;
            write_key(tmp, INTERMEDIATE_KEY, intermediate_key.private_key())?;
            write_certificate(tmp, INTERMEDIATE_CERT, &intermediate)?;
            write_key(tmp, CT_LOG_KEY, ct_key.private_key())
        })?;
        let corrupt = |name: &str, detail: &str| CaError::CorruptState {
            path: state.path(name),
            what: "certificate authority file",
            detail: detail.to_owned(),
        };
        let root_key = state.read_key(ROOT_KEY)?;
        let root = state.read_certificate(ROOT_CERT)?;
        let intermediate_key = IssuingKey::new(state.read_key(INTERMEDIATE_KEY)?)?;
        let intermediate = state.read_certificate(INTERMEDIATE_CERT)?;
        let ct = CtLogSigner::new(state.read_key(CT_LOG_KEY)?)?;
        if root.public_key().ok().as_ref() != Some(root_key.public_key()) {
            return Err(corrupt(ROOT_CERT, "its key is not root.key"));
        }
        if intermediate.public_key().ok().as_ref() != Some(intermediate_key.public_key()) {
            return Err(corrupt(
                INTERMEDIATE_CERT,
                "its key is not intermediate.key",
            ));
        }
        if !is_issued_by(&intermediate, &root) {
            return Err(corrupt(INTERMEDIATE_CERT, "it is not issued by root.pem"));
        }
        Ok(Authority {
            intermediate_subject: subject_der(intermediate.der())?,
            root,
            intermediate,
            intermediate_key,
            ct,
            leaf_validity,
        })
    }

    pub(crate) fn root(&self) -> &Certificate {
        &self.root
    }

    pub(crate) fn intermediate(&self) -> &Certificate {
        &self.intermediate
    }

    pub(crate) fn ct_log_public_key(&self) -> &PublicKey {
        self.ct.public_key()
    }

    pub(crate) fn ct_log_id(&self) -> KeyId {
        self.ct.log_id()
    }

    /// The CT log key's validity start: it was created with the root.
    pub(crate) fn created(&self) -> signet_x509::UnixTime {
        self.root.not_before()
    }

    /// Issues a leaf for `identity` and `key` at `now`, with an embedded SCT: the
    /// precertificate is signed, the CT log key signs an SCT over it, and the final
    /// certificate carries the SCT list where the precertificate had the poison.
    pub(crate) fn issue(
        &self,
        identity: &Identity,
        key: &PublicKey,
        now: SystemTime,
    ) -> Result<Vec<u8>, CaError> {
        let serial = random_serial()?;
        let spki = key.spki_der();
        let mut extensions =
            leaf_extensions(identity, spki, self.intermediate_key.key_identifier())?;
        extensions.push(poison_extension()?);
        let tbs = |extensions: &[Extension]| {
            encode_tbs(&TbsFields {
                serial: &serial,
                issuer: &self.intermediate_subject,
                not_before: now,
                not_after: now + self.leaf_validity,
                subject: EMPTY_NAME,
                spki,
                extensions,
            })
        };
        let precertificate = self.intermediate_key.sign_certificate(&tbs(&extensions)?)?;
        let millis = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        let sct = self.ct.sign_precertificate(
            &precertificate,
            self.intermediate_key.spki_der(),
            millis,
        )?;
        if let Some(last) = extensions.last_mut() {
            *last = sct_list_extension(&[sct])?;
        }
        self.intermediate_key.sign_certificate(&tbs(&extensions)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use signet_crypto::{KeyAlgorithm, PrivateKey};
    use signet_x509::{
        CertificateAuthority, CtLog, IdentityMatcher, San, TimeRange, UnixTime, verify_chain,
        verify_embedded_scts,
    };

    fn authority(dir: &std::path::Path) -> Authority {
        Authority::open(
            dir.join("ca"),
            "signet test",
            Duration::from_secs(600),
            SystemTime::now() - Duration::from_secs(60),
        )
        .unwrap()
    }

    fn trust(a: &Authority) -> (Vec<CertificateAuthority>, Vec<CtLog>) {
        let window = TimeRange::starting_at(a.root.not_before());
        (
            vec![
                CertificateAuthority::new(vec![a.intermediate.clone(), a.root.clone()], window)
                    .unwrap(),
            ],
            vec![CtLog::new(a.ct_log_public_key().clone(), window)],
        )
    }

    #[test]
    fn leaf_has_fulcio_contents_and_verifies() {
        let tmp = tempfile::tempdir().unwrap();
        let a = authority(tmp.path());
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let now = SystemTime::now();
        let identity = Identity::email("alice@example.com", "https://issuer.example");
        let der = a.issue(&identity, key.public_key(), now).unwrap();
        let leaf = Certificate::from_der(&der).unwrap();

        assert_eq!(leaf.subject(), "");
        assert_eq!(
            leaf.subject_alternative_names(),
            &[San::Email("alice@example.com".into())]
        );
        assert_eq!(
            leaf.fulcio_extensions().issuer.as_deref(),
            Some("https://issuer.example")
        );
        assert!(leaf.has_code_signing_eku() && !leaf.is_ca());
        assert_eq!(leaf.not_after().0 - leaf.not_before().0, 600);
        assert_eq!(leaf.public_key().unwrap(), *key.public_key());

        let (authorities, logs) = trust(&a);
        let at = UnixTime(leaf.not_before().0 + 1);
        let chain = verify_chain(&leaf, &[], &authorities, at).unwrap();
        let scts = verify_embedded_scts(&leaf, chain.issuer(), &logs).unwrap();
        assert_eq!(scts.verified.len(), 1);
        assert_eq!(scts.verified[0].log_id, a.ct_log_id());
        IdentityMatcher::exact("alice@example.com", "https://issuer.example")
            .verify(&leaf)
            .unwrap();

        // Outside the ten minutes, the chain does not verify.
        let err =
            verify_chain(&leaf, &[], &authorities, UnixTime(leaf.not_after().0 + 1)).unwrap_err();
        assert!(
            matches!(
                err,
                signet_x509::ChainError::NotValidAt {
                    position: signet_x509::ChainPosition::Leaf,
                    ..
                }
            ),
            "{err:?}"
        );
        // Another CT key does not vouch for it.
        let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let stranger = vec![CtLog::new(
            other.public_key().clone(),
            TimeRange::starting_at(UnixTime(0)),
        )];
        let err = verify_embedded_scts(&leaf, chain.issuer(), &stranger).unwrap_err();
        assert!(
            matches!(
                err,
                signet_x509::SctError::NoVerifiedSct {
                    total: 1,
                    unknown_log: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn extensions_are_exact() {
        let tmp = tempfile::tempdir().unwrap();
        let a = authority(tmp.path());
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let identity = Identity {
            san: SubjectName::Uri(
                "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main".into(),
            ),
            issuer: "https://token.actions.githubusercontent.com".into(),
            build_metadata: vec![
                FulcioExtension {
                    arc: 12,
                    value: "https://github.com/o/r".into(),
                },
                FulcioExtension {
                    arc: 2,
                    value: "push".into(),
                },
                FulcioExtension {
                    arc: 5,
                    value: "o/r".into(),
                },
            ],
            challenges: vec![],
        };
        let der = a
            .issue(&identity, key.public_key(), SystemTime::now())
            .unwrap();
        let parsed = <x509_cert::Certificate as der::Decode>::from_der(&der).unwrap();
        let exts = parsed.tbs_certificate().extensions().unwrap();
        let oids: Vec<String> = exts.iter().map(|e| e.extn_id.to_string()).collect();
        assert_eq!(
            oids,
            [
                "2.5.29.15",
                "2.5.29.37",
                "2.5.29.14",
                "2.5.29.35",
                "2.5.29.17",
                "1.3.6.1.4.1.57264.1.1",
                "1.3.6.1.4.1.57264.1.2",
                "1.3.6.1.4.1.57264.1.5",
                "1.3.6.1.4.1.57264.1.8",
                "1.3.6.1.4.1.57264.1.12",
                "1.3.6.1.4.1.11129.2.4.2",
            ]
        );
        let critical: Vec<bool> = exts.iter().map(|e| e.critical).collect();
        assert_eq!(
            critical,
            [
                true, false, false, false, true, false, false, false, false, false, false
            ]
        );
        // Key usage is exactly digitalSignature.
        assert_eq!(exts[0].extn_value.as_bytes(), &[0x03, 0x02, 0x07, 0x80]);
        // Issuer v1 is raw, v2 is a UTF8String.
        assert_eq!(
            exts[5].extn_value.as_bytes(),
            b"https://token.actions.githubusercontent.com"
        );
        assert_eq!(exts[8].extn_value.as_bytes()[0], 0x0c);
        let leaf = Certificate::from_der(&der).unwrap();
        let f = leaf.fulcio_extensions();
        assert_eq!(f.github_workflow_trigger.as_deref(), Some("push"));
        assert_eq!(f.github_workflow_repository.as_deref(), Some("o/r"));
        assert_eq!(
            f.source_repository_uri.as_deref(),
            Some("https://github.com/o/r")
        );
        assert_eq!(
            leaf.subject_alternative_names(),
            &[San::Uri(
                "https://github.com/o/r/.github/workflows/x.yml@refs/heads/main".into()
            )]
        );
    }

    #[test]
    fn username_identity_is_an_other_name() {
        let tmp = tempfile::tempdir().unwrap();
        let a = authority(tmp.path());
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let identity = Identity {
            san: SubjectName::OtherName("alice!example.org".into()),
            issuer: "https://issuer.example".into(),
            build_metadata: vec![],
            challenges: vec![],
        };
        let der = a
            .issue(&identity, key.public_key(), SystemTime::now())
            .unwrap();
        let leaf = Certificate::from_der(&der).unwrap();
        assert_eq!(
            leaf.subject_alternative_names(),
            &[San::OtherName("alice!example.org".into())]
        );
    }

    #[test]
    fn reopening_keeps_the_authority_and_detects_tampering() {
        let tmp = tempfile::tempdir().unwrap();
        let first = authority(tmp.path());
        let again = authority(tmp.path());
        assert_eq!(first.root.der(), again.root.der());
        assert_eq!(first.ct_log_id(), again.ct_log_id());
        // Swap in a foreign intermediate key.
        let path = tmp.path().join("ca").join(INTERMEDIATE_KEY);
        std::fs::remove_file(&path).unwrap();
        write_key(
            &tmp.path().join("ca"),
            INTERMEDIATE_KEY,
            &PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap(),
        )
        .unwrap();
        let err = Authority::open(
            tmp.path().join("ca"),
            "x",
            Duration::from_secs(600),
            SystemTime::now(),
        )
        .err()
        .expect("a foreign intermediate key is refused");
        assert!(
            matches!(
                &err,
                CaError::CorruptState { path, detail, .. }
                    if *path == tmp.path().join("ca").join(INTERMEDIATE_CERT)
                        && detail == "its key is not intermediate.key"
            ),
            "{err:?}"
        );
    }
}
