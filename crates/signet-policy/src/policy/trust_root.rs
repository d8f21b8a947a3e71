//! `TrustRoot` (`policy.sigstore.dev/v1alpha1`): the keys and certificates a keyless
//! authority names with `trustRootRef`, in policy-controller's schema.
//!
//! ```yaml
//! apiVersion: policy.sigstore.dev/v1alpha1
//! kind: TrustRoot
//! metadata: {name: private-stack}
//! spec:
//!   sigstoreKeys:
//!     certificateAuthorities:
//!     - subject: {organization: example, commonName: signet}
//!       uri: https://ca.example.com
//!       certChain: LS0tLS1CRUdJTi…       # base64 of the PEM chain, issuing CA first
//!     tLogs:
//!     - baseURL: https://log.example.com
//!       hashAlgorithm: sha-256
//!       publicKey: LS0tLS1CRUdJTi…       # base64 of the PEM public key
//!     ctLogs: […]                        # as tLogs
//!     timestampAuthorities: […]          # as certificateAuthorities
//! ```
//!
//! `sigstoreKeys` becomes a [`TrustedRoot`] whose entries are valid from the Unix epoch
//! with no end (the resource carries no validity windows), and whose log IDs are the
//! SHA-256 of each key's DER SubjectPublicKeyInfo, as Rekor and CT name their logs.
//! Every key and certificate is parsed at load; a TrustRoot with one bad entry does not
//! load. The TUF forms (`remote`, `repository`) load, with a note, as
//! [`TrustRootSource::Tuf`]: signet does not fetch or unpack TUF repositories, and an
//! authority that refers to such a root is denied with that reason.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use signet_crypto::{KeyAlgorithm, PublicKey};
use signet_formats::Digest;
use signet_formats::sigstore::{
    CertificateAuthority as TrustedCa, DistinguishedName, HashAlgorithm, LogId,
    PublicKey as TrustedKey, PublicKeyDetails, TransparencyLogInstance, TrustedRoot, UnixTime,
    ValidityWindow, X509Certificate,
};

use super::validate::Ctx;
use super::{DocumentLocation, Note, Problem};

/// The kind.
pub const TRUST_ROOT_KIND: &str = "TrustRoot";

/// A loaded `TrustRoot`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustRoot {
    /// `metadata.name`: what `trustRootRef` names.
    pub name: String,
    /// What it holds.
    pub source: TrustRootSource,
    /// Where it was defined.
    pub origin: DocumentLocation,
}

/// What a `TrustRoot` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TrustRootSource {
    /// `spec.sigstoreKeys`, as a trusted root.
    SigstoreKeys(Arc<TrustedRoot>),
    /// `spec.remote` or `spec.repository`: a TUF repository, which signet does not read.
    Tuf {
        /// `remote` or `repository`.
        field: &'static str,
    },
}

impl TrustRoot {
    /// The trusted root, or why an authority cannot use this TrustRoot.
    ///
    /// # Errors
    /// A sentence naming the TrustRoot and what to do, for TUF-based roots.
    pub fn trusted_root(&self) -> Result<&Arc<TrustedRoot>, String> {
        match &self.source {
            TrustRootSource::SigstoreKeys(root) => Ok(root),
            TrustRootSource::Tuf { field } => Err(format!(
                "TrustRoot {:?} uses spec.{field} (a TUF repository), which signet does not read: give the keys in spec.sigstoreKeys",
                self.name
            )),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct TrustRootDocument {
    pub(super) metadata: super::wire::Metadata,
    spec: Spec,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    #[serde(default)]
    remote: Option<serde_json::Value>,
    #[serde(default)]
    repository: Option<serde_json::Value>,
    #[serde(default, rename = "sigstoreKeys")]
    sigstore_keys: Option<SigstoreKeys>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SigstoreKeys {
    #[serde(default, rename = "certificateAuthorities")]
    certificate_authorities: Vec<Authority>,
    #[serde(default, rename = "tLogs")]
    tlogs: Vec<Log>,
    #[serde(default, rename = "ctLogs")]
    ctlogs: Vec<Log>,
    #[serde(default, rename = "timestampAuthorities")]
    timestamp_authorities: Vec<Authority>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Authority {
    #[serde(default)]
    subject: Subject,
    #[serde(default)]
    uri: String,
    #[serde(default, rename = "certChain")]
    cert_chain: String,
}

#[derive(Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
struct Subject {
    #[serde(default)]
    organization: String,
    #[serde(default, rename = "commonName")]
    common_name: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Log {
    #[serde(default, rename = "baseURL")]
    base_url: String,
    #[serde(default, rename = "hashAlgorithm")]
    hash_algorithm: String,
    #[serde(default, rename = "publicKey")]
    public_key: String,
}

/// A `TrustRoot` document named `name` holding `root`'s CAs, logs and TSAs as
/// `spec.sigstoreKeys` (what `signet serve` writes beside its `trusted_root.json`, so a
/// cluster can trust a private stack with `kubectl apply`). Validity windows, log
/// operators and log IDs are not part of the schema and are dropped: a log whose ID is
/// not the SHA-256 of its key (Rekor v2) cannot be described by a TrustRoot.
pub fn trust_root_yaml(name: &str, root: &TrustedRoot) -> String {
    let pem_b64 = |label: &str, ders: &mut dyn Iterator<Item = &[u8]>| {
        let text: String = ders.map(|d| signet_crypto::encode_pem(label, d)).collect();
        STANDARD.encode(text)
    };
    let authorities = |list: &[TrustedCa]| -> Vec<Authority> {
        list.iter()
            .map(|ca| Authority {
                subject: Subject {
                    organization: ca.subject.organization.clone(),
                    common_name: ca.subject.common_name.clone(),
                },
                uri: ca.uri.clone(),
                cert_chain: pem_b64(
                    "CERTIFICATE",
                    &mut ca.cert_chain.iter().map(|c| c.raw_bytes.as_slice()),
                ),
            })
            .collect()
    };
    let logs = |list: &[TransparencyLogInstance]| -> Vec<Log> {
        list.iter()
            .map(|log| Log {
                base_url: log.base_url.clone(),
                hash_algorithm: "sha-256".to_owned(),
                public_key: pem_b64(
                    match log.public_key.key_details {
                        // PKCS#1 DER (the old CT log key), not a SubjectPublicKeyInfo.
                        PublicKeyDetails::Pkcs1RsaPkcs1v5 | PublicKeyDetails::Pkcs1RsaPss => {
                            "RSA PUBLIC KEY"
                        }
                        _ => "PUBLIC KEY",
                    },
                    &mut std::iter::once(log.public_key.raw_bytes.as_slice()),
                ),
            })
            .collect()
    };
    let document = serde_json::json!({
        "apiVersion": format!("{}/v1alpha1", super::POLICY_GROUP),
        "kind": TRUST_ROOT_KIND,
        "metadata": {"name": name},
        "spec": {"sigstoreKeys": SigstoreKeys {
            certificate_authorities: authorities(&root.certificate_authorities),
            tlogs: logs(&root.tlogs),
            ctlogs: logs(&root.ctlogs),
            timestamp_authorities: authorities(&root.timestamp_authorities),
        }},
    });
    // JSON is YAML; one line per field keeps it readable.
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
}

/// Validates a parsed TrustRoot document. Returns it and its canonical bytes (for the
/// policy generation), or `None` with the problems in `ctx`.
pub(super) fn validate_trust_root(
    ctx: &mut Ctx,
    doc: &TrustRootDocument,
) -> Option<(TrustRoot, Vec<u8>)> {
    let name = doc.metadata.name.clone();
    let spec = &doc.spec;
    let present: Vec<&str> = [
        ("remote", spec.remote.is_some()),
        ("repository", spec.repository.is_some()),
        ("sigstoreKeys", spec.sigstore_keys.is_some()),
    ]
    .into_iter()
    .filter_map(|(n, p)| p.then_some(n))
    .collect();
    if present.len() != 1 {
        ctx.error(
            "spec",
            Problem::ExactlyOne {
                choices: "remote, repository, sigstoreKeys",
                found: if present.is_empty() {
                    "none".to_owned()
                } else {
                    present.join(", ")
                },
            },
        );
        return None;
    }
    let source = match (&spec.sigstore_keys, present[0]) {
        (Some(keys), _) => TrustRootSource::SigstoreKeys(Arc::new(sigstore_keys(ctx, keys)?)),
        (None, "remote") => TrustRootSource::Tuf { field: "remote" },
        (None, _) => TrustRootSource::Tuf {
            field: "repository",
        },
    };
    if let TrustRootSource::Tuf { field } = source {
        ctx.note(Note::TufTrustRoot {
            name: name.clone(),
            field,
        });
    }
    let canonical = serde_json::to_vec(spec).unwrap_or_default();
    Some((
        TrustRoot {
            name,
            source,
            origin: ctx.location.clone(),
        },
        canonical,
    ))
}

fn sigstore_keys(ctx: &mut Ctx, keys: &SigstoreKeys) -> Option<TrustedRoot> {
    let field = "spec.sigstoreKeys";
    if keys.certificate_authorities.is_empty() {
        ctx.error(
            format!("{field}.certificateAuthorities"),
            Problem::Missing {
                hint: "at least one certificate authority with its certChain",
            },
        );
    }
    let errors = ctx.errors.len();
    let cas = authorities(
        ctx,
        &format!("{field}.certificateAuthorities"),
        &keys.certificate_authorities,
    );
    let tsas = authorities(
        ctx,
        &format!("{field}.timestampAuthorities"),
        &keys.timestamp_authorities,
    );
    let tlogs = logs(ctx, &format!("{field}.tLogs"), &keys.tlogs);
    let ctlogs = logs(ctx, &format!("{field}.ctLogs"), &keys.ctlogs);
    (ctx.errors.len() == errors && !keys.certificate_authorities.is_empty()).then_some(
        TrustedRoot {
            tlogs,
            certificate_authorities: cas,
            ctlogs,
            timestamp_authorities: tsas,
        },
    )
}

/// The window policy-controller's keys have: always.
fn always() -> ValidityWindow {
    ValidityWindow::new("validFor", UnixTime(0), None)
        .unwrap_or_else(|_| unreachable!("an open validity window is never inverted"))
}

/// Decodes a `[]byte` field: base64 (how Kubernetes serialises bytes) of PEM text.
fn base64_pem(ctx: &mut Ctx, field: &str, text: &str) -> Option<Vec<u8>> {
    if text.trim().is_empty() {
        ctx.error(
            field,
            Problem::Missing {
                hint: "the base64 encoding of the PEM text",
            },
        );
        return None;
    }
    let compact: String = text.split_whitespace().collect();
    match STANDARD.decode(compact) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            ctx.error(
                field,
                Problem::TrustRootEntry {
                    reason: format!("not base64 ({e}): encode the PEM text with base64"),
                },
            );
            None
        }
    }
}

fn authorities(ctx: &mut Ctx, field: &str, list: &[Authority]) -> Vec<TrustedCa> {
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let f = format!("{field}[{i}].certChain");
        let Some(pem) = base64_pem(ctx, &f, &a.cert_chain) else {
            continue;
        };
        match certificate_authority(&pem) {
            Ok(ca) => out.push(TrustedCa {
                subject: DistinguishedName {
                    organization: a.subject.organization.clone(),
                    common_name: a.subject.common_name.clone(),
                },
                uri: a.uri.clone(),
                ..ca
            }),
            Err(reason) => ctx.error(f, Problem::TrustRootEntry { reason }),
        }
    }
    out
}

/// A certificate authority of a trusted root holding the PEM chain `pem` (issuing
/// certificate first, each parsed as X.509), valid always (its certificates carry their
/// own validity), with no subject or URI: a TrustRoot's `certChain`, or a keyless
/// authority's `ca-cert.data`.
///
/// # Errors
/// What is wrong with the chain, as a sentence.
pub fn certificate_authority(pem: &[u8]) -> Result<TrustedCa, String> {
    let certs = signet_x509::Certificate::parse_pem_chain(pem).map_err(|e| e.to_string())?;
    Ok(TrustedCa {
        subject: DistinguishedName::default(),
        uri: String::new(),
        cert_chain: certs
            .into_iter()
            .map(|c| X509Certificate {
                raw_bytes: c.der().to_vec(),
            })
            .collect(),
        valid_for: always(),
        operator: String::new(),
    })
}

fn logs(ctx: &mut Ctx, field: &str, list: &[Log]) -> Vec<TransparencyLogInstance> {
    let mut out = Vec::new();
    for (i, log) in list.iter().enumerate() {
        let f = format!("{field}[{i}]");
        let hash_algorithm = match log.hash_algorithm.to_ascii_lowercase().as_str() {
            "" | "sha-256" | "sha256" | "sha2_256" => HashAlgorithm::Sha2_256,
            other => {
                ctx.error(
                    format!("{f}.hashAlgorithm"),
                    Problem::NotAllowed {
                        found: other.to_owned(),
                        expected: "sha-256",
                    },
                );
                continue;
            }
        };
        let Some(pem) = base64_pem(ctx, &format!("{f}.publicKey"), &log.public_key) else {
            continue;
        };
        let key = match PublicKey::from_pem(&pem) {
            Ok(k) => k,
            Err(e) => {
                ctx.error(format!("{f}.publicKey"), Problem::PublicKey(e));
                continue;
            }
        };
        out.push(TransparencyLogInstance {
            base_url: log.base_url.clone(),
            hash_algorithm,
            public_key: TrustedKey {
                raw_bytes: key.spki_der().to_vec(),
                key_details: key_details(&key),
                valid_for: always(),
            },
            log_id: LogId {
                key_id: Digest::sha256_of(key.spki_der()).bytes(),
            },
            checkpoint_key_id: None,
            operator: String::new(),
        });
    }
    out
}

fn key_details(key: &PublicKey) -> PublicKeyDetails {
    match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => PublicKeyDetails::PkixEcdsaP256Sha256,
        KeyAlgorithm::EcdsaP384 => PublicKeyDetails::PkixEcdsaP384Sha384,
        KeyAlgorithm::Ed25519 => PublicKeyDetails::PkixEd25519,
        KeyAlgorithm::Rsa => PublicKeyDetails::PkixRsaPkcs1v5,
    }
}

#[cfg(test)]
mod tests {
    use signet_crypto::encode_pem as pem;

    use super::*;
    use crate::policy::{LoadError, PolicySet};

    const PRODUCTION: &[u8] =
        include_bytes!("../../../signet-formats/trust/production_trusted_root.json");

    /// The production root's first CA and first Rekor key, as a TrustRoot document.
    fn production_as_trust_root() -> (TrustedRoot, String) {
        let root = TrustedRoot::parse(PRODUCTION).unwrap();
        let ca = &root.certificate_authorities[0];
        let chain: String = ca
            .cert_chain
            .iter()
            .map(|c| pem("CERTIFICATE", &c.raw_bytes))
            .collect();
        let tlog = &root.tlogs[0];
        let ctlog = &root.ctlogs[0];
        let yaml = format!(
            "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {{name: public-good, labels: {{a: b}}}}\nspec:\n  sigstoreKeys:\n    certificateAuthorities:\n    - subject: {{organization: sigstore.dev, commonName: sigstore}}\n      uri: https://fulcio.sigstore.dev\n      certChain: {}\n    tLogs:\n    - baseURL: https://rekor.sigstore.dev\n      hashAlgorithm: sha-256\n      publicKey: {}\n    ctLogs:\n    - baseURL: https://ctfe.sigstore.dev/test\n      hashAlgorithm: sha-256\n      publicKey: {}\n",
            STANDARD.encode(chain),
            STANDARD.encode(pem("PUBLIC KEY", &tlog.public_key.raw_bytes)),
            STANDARD.encode(pem("PUBLIC KEY", &ctlog.public_key.raw_bytes)),
        );
        (root, yaml)
    }

    #[test]
    fn sigstore_keys_become_a_trusted_root_with_the_logs_own_ids() {
        let (production, yaml) = production_as_trust_root();
        let set = PolicySet::from_yaml("roots.yaml", &yaml).unwrap();
        let root = set.trust_root("public-good").unwrap();
        let converted = root.trusted_root().unwrap();
        assert_eq!(
            converted.certificate_authorities[0].cert_chain,
            production.certificate_authorities[0].cert_chain
        );
        assert_eq!(
            converted.certificate_authorities[0].subject.common_name,
            "sigstore"
        );
        // The log IDs Rekor and CT put in bundles are derived, not copied.
        assert_eq!(converted.tlogs[0].log_id, production.tlogs[0].log_id);
        assert_eq!(converted.ctlogs[0].log_id, production.ctlogs[0].log_id);
        assert_eq!(
            converted.tlogs[0].public_key.key_details,
            PublicKeyDetails::PkixEcdsaP256Sha256
        );
        assert_eq!(converted.tlogs[0].public_key.valid_for, always());
        assert!(converted.timestamp_authorities.is_empty());
        assert!(set.policies().is_empty());
    }

    #[test]
    fn the_written_document_loads_back_to_the_same_keys() {
        let production = TrustedRoot::parse(PRODUCTION).unwrap();
        let yaml = trust_root_yaml("prod", &production);
        let set = PolicySet::from_yaml("written.yaml", &yaml).unwrap();
        let back = set.trust_root("prod").unwrap().trusted_root().unwrap();
        let chains = |r: &TrustedRoot| -> Vec<Vec<X509Certificate>> {
            r.certificate_authorities
                .iter()
                .chain(&r.timestamp_authorities)
                .map(|c| c.cert_chain.clone())
                .collect()
        };
        assert_eq!(chains(back), chains(&production));
        let ids = |logs: &[TransparencyLogInstance]| -> Vec<(LogId, Vec<u8>)> {
            logs.iter()
                .map(|l| (l.log_id.clone(), l.public_key.raw_bytes.clone()))
                .collect()
        };
        // Logs named by the SHA-256 of their key come back identical. The schema has no
        // log ID field, so a log named otherwise (Rekor v2's Ed25519 logs name theirs
        // from the checkpoint origin) comes back under its key's hash instead.
        let (same, other): (Vec<_>, Vec<_>) = ids(&production.tlogs)
            .into_iter()
            .zip(ids(&back.tlogs))
            .partition(|((id, key), _)| id.key_id == Digest::sha256_of(key).bytes());
        assert!(!same.is_empty() && !other.is_empty());
        for (want, got) in same {
            assert_eq!(got, want);
        }
        for ((_, key), (id, got_key)) in other {
            assert_eq!(
                (id.key_id, got_key.clone()),
                (Digest::sha256_of(&key).bytes(), key)
            );
        }
        assert_eq!(ids(&back.ctlogs), ids(&production.ctlogs));
    }

    #[test]
    fn trust_roots_change_the_generation() {
        let (_, yaml) = production_as_trust_root();
        let a = PolicySet::from_yaml("a.yaml", &yaml).unwrap();
        let b = PolicySet::from_yaml("a.yaml", &yaml.replace("public-good", "other")).unwrap();
        assert_ne!(a.generation(), b.generation());
        assert_ne!(a.generation(), PolicySet::empty().generation());
    }

    #[test]
    fn tuf_roots_load_with_a_note_and_refuse_use() {
        let yaml = "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: tuf}\nspec:\n  remote: {root: e30K, mirror: https://tuf.example}\n";
        let set = PolicySet::from_yaml("tuf.yaml", yaml).unwrap();
        assert!(set.notes().iter().any(
            |n| matches!(&n.note, Note::TufTrustRoot { name, field: "remote" } if name == "tuf")
        ));
        let err = set.trust_root("tuf").unwrap().trusted_root().unwrap_err();
        assert!(err.contains("spec.sigstoreKeys"), "{err}");
    }

    fn problems(yaml: &str) -> Vec<(String, Problem)> {
        match PolicySet::from_yaml("bad.yaml", yaml) {
            Err(LoadError::Invalid { errors }) => {
                errors.into_iter().map(|e| (e.field, e.problem)).collect()
            }
            other => panic!("expected an invalid TrustRoot, got {other:?}"),
        }
    }

    #[test]
    fn bad_trust_roots_name_the_field() {
        let (_, good) = production_as_trust_root();
        let head =
            "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: r}\n";
        let cases: Vec<(String, &str)> = vec![
            (format!("{head}spec: {{}}\n"), "spec"),
            (
                format!("{head}spec: {{remote: {{}}, sigstoreKeys: {{}}}}\n"),
                "spec",
            ),
            (
                format!("{head}spec: {{sigstoreKeys: {{}}}}\n"),
                "spec.sigstoreKeys.certificateAuthorities",
            ),
            (
                format!(
                    "{head}spec: {{sigstoreKeys: {{certificateAuthorities: [{{certChain: '!!'}}]}}}}\n"
                ),
                "spec.sigstoreKeys.certificateAuthorities[0].certChain",
            ),
            (
                format!(
                    "{head}spec: {{sigstoreKeys: {{certificateAuthorities: [{{certChain: {}}}]}}}}\n",
                    STANDARD
                        .encode("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
                ),
                "spec.sigstoreKeys.certificateAuthorities[0].certChain",
            ),
            (
                good.replace(
                    "hashAlgorithm: sha-256\n      publicKey: LS",
                    "hashAlgorithm: md5\n      publicKey: LS",
                ),
                "spec.sigstoreKeys.tLogs[0].hashAlgorithm",
            ),
            (
                good.replacen("publicKey: LS", "publicKey: bm90IGEga2V5", 1),
                "spec.sigstoreKeys.tLogs[0].publicKey",
            ),
            (
                good.replace("    tLogs:", "    tlogs:"),
                "spec.sigstoreKeys.tlogs",
            ),
            (
                good.replace(
                    "policy.sigstore.dev/v1alpha1",
                    "policy.sigstore.dev/v1beta1",
                ),
                "apiVersion",
            ),
        ];
        for (yaml, field) in cases {
            let found = problems(&yaml);
            assert!(
                found.iter().any(|(f, _)| f == field),
                "expected a problem at {field}, got {found:?}\n{yaml}"
            );
        }
        // A duplicate name is an error, not a silent replacement.
        let twice = format!("{good}---\n{good}");
        let found = problems(&twice);
        assert!(
            matches!(found[0].1, Problem::DuplicateName { .. }),
            "{found:?}"
        );
    }
}
