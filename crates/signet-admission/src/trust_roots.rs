//! The trust material one authority is verified against, when it is not the webhook's
//! own (`--trusted-root`, or the embedded public-good root):
//!
//! - `keyless.trustRootRef: NAME`: the `TrustRoot` NAME (from the policy directory or
//!   the cluster), used whole: its CAs, CT logs, transparency logs and TSAs;
//! - `keyless.ca-cert.data`: these CA certificates instead of the root's CAs (the logs
//!   and TSAs stay those of the referenced TrustRoot, or of the webhook's root);
//! - `ctlog.trustRootRef`: that TrustRoot's transparency logs instead;
//! - `rfc3161timestamp.trustRootRef`: that TrustRoot's TSAs instead.
//!
//! A reference to a TrustRoot that does not exist, or that signet cannot read (TUF),
//! is a verification failure: the authority fails in both fail modes. Verifiers are
//! built once per policy generation and authority.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use signet_check::{BundleTrust, TlogRequirement};
use signet_formats::sigstore::TrustedRoot;
use signet_policy::decide::AuthorityOutcome;
use signet_policy::policy::{
    Authority, AuthorityKind, CertificateAuthority, Generation, PolicySet, certificate_authority,
};
use signet_verify::bundle::BundleVerifier;

/// Built verifiers for one generation, by (policy, authority index).
type Built = HashMap<(String, usize), Result<Option<BundleTrust>, AuthorityOutcome>>;

/// Per-authority trust material, built on demand and kept for the current generation.
pub(crate) struct AuthorityTrust {
    /// The webhook's own root; `None` until first needed means the embedded one.
    base: OnceLock<Arc<TrustedRoot>>,
    built: Mutex<(Option<Generation>, Built)>,
}

impl std::fmt::Debug for AuthorityTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthorityTrust")
    }
}

impl AuthorityTrust {
    /// Trust derived from `base`, or from the embedded public-good root when `None`.
    pub(crate) fn new(base: Option<TrustedRoot>) -> Self {
        let cell = OnceLock::new();
        if let Some(root) = base {
            let _ = cell.set(Arc::new(root));
        }
        AuthorityTrust {
            base: cell,
            built: Mutex::new((None, HashMap::new())),
        }
    }

    fn base(&self) -> &TrustedRoot {
        self.base
            .get_or_init(|| Arc::new(signet_formats::sigstore::trust::production_trusted_root()))
    }

    /// The trust for authority `index` of `policy`: `None` when the webhook's own
    /// applies.
    ///
    /// # Errors
    /// The authority's outcome when its TrustRoot is missing, unreadable or does not
    /// load.
    pub(crate) fn for_authority(
        &self,
        policies: &PolicySet,
        policy: &str,
        index: usize,
        authority: &Authority,
    ) -> Result<Option<BundleTrust>, AuthorityOutcome> {
        if !needs_own_root(authority) {
            return Ok(None);
        }
        let key = (policy.to_owned(), index);
        if let Ok(built) = self.built.lock()
            && built.0.as_ref() == Some(policies.generation())
            && let Some(found) = built.1.get(&key)
        {
            return found.clone();
        }
        let result = authority_root(authority, policies, self.base()).and_then(|root| {
            root.map(|(root, what)| {
                BundleVerifier::new(&root)
                    .map(|v| {
                        BundleTrust::with_verifier(
                            v.with_cache(),
                            TlogRequirement::DangerIgnoreForKeys,
                        )
                    })
                    .map_err(|e| AuthorityOutcome::Rejected(format!("{what} does not load: {e}")))
            })
            .transpose()
        });
        if let Ok(mut built) = self.built.lock() {
            if built.0.as_ref() != Some(policies.generation()) {
                *built = (Some(policies.generation().clone()), HashMap::new());
            }
            built.1.insert(key, result.clone());
        }
        result
    }
}

/// Whether `authority` names trust material of its own.
fn needs_own_root(authority: &Authority) -> bool {
    let keyless = match &authority.kind {
        AuthorityKind::Keyless(k) => {
            k.trust_root_ref.is_some() || !matches!(k.ca, CertificateAuthority::Fulcio { .. })
        }
        _ => false,
    };
    keyless
        || authority
            .ctlog
            .as_ref()
            .is_some_and(|c| c.trust_root_ref.is_some())
        || authority.rfc3161_timestamp.is_some()
}

/// The TrustRoot `name`'s trusted root.
fn lookup<'p>(policies: &'p PolicySet, name: &str) -> Result<&'p TrustedRoot, AuthorityOutcome> {
    let root = policies.trust_root(name).ok_or_else(|| {
        AuthorityOutcome::Rejected(format!(
            "TrustRoot {name:?} does not exist: create it (a TrustRoot resource, or a document in the policy directory; `signet serve` writes one as trust/trustroot.yaml)"
        ))
    })?;
    root.trusted_root()
        .map(|r| r.as_ref())
        .map_err(AuthorityOutcome::Rejected)
}

/// The trusted root `authority` names, built over `base` (see the module docs), with a
/// description of it for messages; `None` when it names none.
///
/// # Errors
/// The authority's outcome when a TrustRoot is missing or unreadable, or its
/// `ca-cert` does not parse.
pub(crate) fn authority_root(
    authority: &Authority,
    policies: &PolicySet,
    base: &TrustedRoot,
) -> Result<Option<(TrustedRoot, String)>, AuthorityOutcome> {
    let mut root: Option<(TrustedRoot, String)> = None;
    if let AuthorityKind::Keyless(k) = &authority.kind {
        if let Some(name) = &k.trust_root_ref {
            root = Some((
                lookup(policies, name)?.clone(),
                format!("TrustRoot {name:?}"),
            ));
        }
        match &k.ca {
            CertificateAuthority::Inline { pem } => {
                let ca = certificate_authority(pem.as_bytes()).map_err(|e| {
                    AuthorityOutcome::Rejected(format!("keyless ca-cert.data: {e}"))
                })?;
                let (r, what) =
                    root.get_or_insert_with(|| (base.clone(), "the trusted root".to_owned()));
                r.certificate_authorities = vec![ca];
                what.push_str(" with keyless ca-cert");
            }
            CertificateAuthority::Secret(s) => {
                return Err(AuthorityOutcome::Rejected(format!(
                    "keyless ca-cert.secretRef {} is not read by signet: put the PEM certificates in ca-cert.data, or in a TrustRoot named by keyless.trustRootRef",
                    s.name
                )));
            }
            _ => {}
        }
    }
    if let Some(name) = authority
        .ctlog
        .as_ref()
        .and_then(|c| c.trust_root_ref.as_ref())
    {
        let tlogs = lookup(policies, name)?.tlogs.clone();
        let (r, what) = root.get_or_insert_with(|| (base.clone(), "the trusted root".to_owned()));
        r.tlogs = tlogs;
        what.push_str(&format!(" with the logs of TrustRoot {name:?}"));
    }
    if let Some(tsa) = &authority.rfc3161_timestamp {
        let tsas = lookup(policies, &tsa.name)?.timestamp_authorities.clone();
        let (r, what) = root.get_or_insert_with(|| (base.clone(), "the trusted root".to_owned()));
        r.timestamp_authorities = tsas;
        what.push_str(&format!(" with the TSAs of TrustRoot {:?}", tsa.name));
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTION: &[u8] =
        include_bytes!("../../signet-formats/trust/production_trusted_root.json");
    const STAGING: &[u8] = include_bytes!("../../signet-formats/trust/staging_trusted_root.json");

    fn set(authorities: &str, with_roots: bool) -> PolicySet {
        let staging = TrustedRoot::parse(STAGING).unwrap();
        let mut yaml = format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: p}}\nspec:\n  images: [{{glob: \"r.example/**\"}}]\n  authorities:\n{authorities}"
        );
        if with_roots {
            yaml.push_str("---\n");
            yaml.push_str(&signet_policy::trust_root_yaml("staging", &staging));
            yaml.push_str("---\napiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: tuf}\nspec: {repository: {root: e30K, mirrorFS: AAAA}}\n");
        }
        PolicySet::from_yaml("t.yaml", &yaml).unwrap()
    }

    fn keyless(extra: &str) -> String {
        format!("  - keyless:\n      identities: [{{issuer: i, subject: s}}]\n{extra}")
    }

    fn root_of(set: &PolicySet) -> Result<Option<TrustedRoot>, AuthorityOutcome> {
        let base = TrustedRoot::parse(PRODUCTION).unwrap();
        authority_root(&set.policies()[0].authorities[0], set, &base).map(|r| r.map(|(r, _)| r))
    }

    fn rejected(r: Result<Option<TrustedRoot>, AuthorityOutcome>) -> String {
        match r {
            Err(AuthorityOutcome::Rejected(reason)) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn the_webhook_root_applies_unless_the_authority_names_its_own() {
        assert_eq!(root_of(&set(&keyless(""), true)).unwrap(), None);
        let key = "  - key: {data: \"-----BEGIN PUBLIC KEY-----\\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==\\n-----END PUBLIC KEY-----\\n\"}\n";
        assert_eq!(root_of(&set(key, true)).unwrap(), None);
    }

    #[test]
    fn trust_root_ref_uses_the_trust_root_whole() {
        let staging = TrustedRoot::parse(STAGING).unwrap();
        let root = root_of(&set(&keyless("      trustRootRef: staging\n"), true))
            .unwrap()
            .unwrap();
        let chains = |r: &TrustedRoot| -> Vec<usize> {
            r.certificate_authorities
                .iter()
                .map(|c| c.cert_chain.len())
                .collect()
        };
        assert_eq!(chains(&root), chains(&staging));
        assert_eq!(root.tlogs.len(), staging.tlogs.len());
        assert_eq!(root.ctlogs[0].log_id, staging.ctlogs[0].log_id);
    }

    #[test]
    fn ctlog_and_timestamp_refs_replace_only_their_part() {
        let production = TrustedRoot::parse(PRODUCTION).unwrap();
        let staging = TrustedRoot::parse(STAGING).unwrap();
        let root = root_of(&set(
            &keyless("    ctlog: {trustRootRef: staging}\n    rfc3161timestamp: {trustRootRef: staging}\n"),
            true,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            root.certificate_authorities,
            production.certificate_authorities
        );
        assert_eq!(root.ctlogs, production.ctlogs);
        assert_eq!(root.tlogs[0].log_id, staging.tlogs[0].log_id);
        assert_eq!(
            root.timestamp_authorities.len(),
            staging.timestamp_authorities.len()
        );
    }

    #[test]
    fn ca_cert_replaces_the_certificate_authorities() {
        let staging = TrustedRoot::parse(STAGING).unwrap();
        let pem: String = staging.certificate_authorities[0]
            .cert_chain
            .iter()
            .map(|c| signet_crypto::encode_pem("CERTIFICATE", &c.raw_bytes))
            .collect();
        let indented = pem.replace('\n', "\n          ");
        let root = root_of(&set(
            &format!(
                "  - keyless:\n      ca-cert:\n        data: |\n          {indented}\n      identities: [{{issuer: i, subject: s}}]\n"
            ),
            false,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(root.certificate_authorities.len(), 1);
        assert_eq!(
            root.certificate_authorities[0].cert_chain,
            staging.certificate_authorities[0].cert_chain
        );
        // The logs stay the webhook's.
        assert_eq!(root.tlogs, TrustedRoot::parse(PRODUCTION).unwrap().tlogs);
    }

    #[test]
    fn missing_unreadable_and_secret_sources_are_rejections() {
        let reason = rejected(root_of(&set(
            &keyless("      trustRootRef: nowhere\n"),
            true,
        )));
        assert!(
            reason.starts_with("TrustRoot \"nowhere\" does not exist"),
            "{reason}"
        );
        let reason = rejected(root_of(&set(&keyless("      trustRootRef: tuf\n"), true)));
        assert!(
            reason.starts_with("TrustRoot \"tuf\" uses spec.repository (a TUF repository)"),
            "{reason}"
        );
        let reason = rejected(root_of(&set(
            &keyless("    ctlog: {trustRootRef: nowhere}\n"),
            true,
        )));
        assert!(
            reason.starts_with("TrustRoot \"nowhere\" does not exist"),
            "{reason}"
        );
        let reason = rejected(root_of(&set(
            "  - keyless:\n      ca-cert: {secretRef: {name: ca}}\n      identities: [{issuer: i, subject: s}]\n",
            false,
        )));
        assert!(reason.contains("ca-cert.secretRef ca"), "{reason}");
        let reason = rejected(root_of(&set(
            "  - keyless:\n      ca-cert:\n        data: \"-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n\"\n      identities: [{issuer: i, subject: s}]\n",
            false,
        )));
        assert!(reason.starts_with("keyless ca-cert.data: "), "{reason}");
    }

    #[test]
    fn verifiers_are_built_once_per_generation() {
        let trust = AuthorityTrust::new(Some(TrustedRoot::parse(PRODUCTION).unwrap()));
        let policies = set(&keyless("      trustRootRef: staging\n"), true);
        let authority = &policies.policies()[0].authorities[0];
        let a = trust
            .for_authority(&policies, "p", 0, authority)
            .unwrap()
            .unwrap();
        let b = trust
            .for_authority(&policies, "p", 0, authority)
            .unwrap()
            .unwrap();
        assert!(a.same_as(&b), "the second lookup reuses the first verifier");
        let other = set(
            &keyless("      trustRootRef: staging\n    signatureFormat: bundle\n"),
            true,
        );
        let c = trust
            .for_authority(&other, "p", 0, &other.policies()[0].authorities[0])
            .unwrap()
            .unwrap();
        assert!(!a.same_as(&c), "a new generation builds again");
    }
}
