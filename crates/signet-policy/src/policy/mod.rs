//! `ClusterImagePolicy` (`policy.sigstore.dev/v1beta1` and `v1alpha1`, whose JSON fields
//! are identical), validated at load, and the [`PolicySet`] the webhook evaluates.
//!
//! The accepted schema is policy-controller's, so existing policies apply unchanged:
//!
//! ```yaml
//! apiVersion: policy.sigstore.dev/v1beta1
//! kind: ClusterImagePolicy
//! metadata: {name: prod-signed}
//! spec:
//!   images: [{glob: "registry.example.com/prod/**"}]
//!   authorities:
//!   - name: release-key
//!     key: {data: "-----BEGIN PUBLIC KEY-----\n…"}      # or secretRef{name,namespace}
//!   - keyless:
//!       url: https://fulcio.sigstore.dev
//!       identities: [{issuer: https://token.actions.githubusercontent.com,
//!                     subjectRegExp: "^https://github.com/example/"}]
//!   mode: enforce            # or warn
//!   match: [{group: "", version: v1, resource: pods, selector: {matchLabels: {tier: prod}}}]
//!   # signet extensions
//!   mutateDigest: true       # pin tags to digests in the mutating webhook (default true)
//!   verifyDigest: true       # deny images not pinned to a digest (default true)
//!   failOpen: false          # allow, with a warning, when verification cannot be done
//! ```
//!
//! Validation at load (each failure names the file, the document and the field):
//! at least one image glob and one authority; exactly one of `key`, `keyless`, `static`
//! per authority; exactly one of `data`, `secretRef`, `kms` per key, and `kms` is
//! refused ("not supported"); PEM keys parse; regexes compile; keyless authorities have
//! at least one identity and every identity constrains both issuer and subject;
//! `mode`, `static.action`, `signatureFormat`, `match` resources and label selector
//! operators are known values. `spec.policy` (CUE/Rego) is refused: it is not
//! evaluated, and ignoring it would admit what the policy's author meant to deny.
//! `attestations` are accepted and kept but not evaluated yet; the loader leaves a
//! [`LoadNote`] saying so for each authority that has them.

mod load;
mod trust_root;
mod validate;
mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use regex::Regex;
use signet_crypto::{KeyError, PublicKey};
use signet_formats::{Digest, ImageRef};

use crate::glob::{GlobError, ImageGlob};
use crate::workload::{Workload, WorkloadKind};

pub use load::{LoadError, MAX_POLICY_FILE_BYTES, PolicyFile, read_dir};
pub use trust_root::{
    TRUST_ROOT_KIND, TrustRoot, TrustRootSource, certificate_authority, trust_root_yaml,
};

/// The API group of ClusterImagePolicy.
pub const POLICY_GROUP: &str = "policy.sigstore.dev";
/// The kind.
pub const POLICY_KIND: &str = "ClusterImagePolicy";
/// The Fulcio URL policy-controller defaults a keyless authority to.
pub const DEFAULT_FULCIO_URL: &str = "https://fulcio.sigstore.dev";

/// A validated ClusterImagePolicy.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClusterImagePolicy {
    /// `metadata.name`, unique in a [`PolicySet`].
    pub name: String,
    /// `spec.images[].glob`: the policy applies to an image matching any of them.
    pub images: Vec<ImageGlob>,
    /// `spec.authorities`: any one passing satisfies the policy.
    pub authorities: Vec<Authority>,
    /// `spec.mode`.
    pub mode: PolicyMode,
    /// `spec.match`: when not empty, the policy applies only to these resources.
    pub match_resources: Vec<MatchResource>,
    /// `spec.mutateDigest` (signet): pin matching tags to digests when admitting.
    pub mutate_digest: bool,
    /// `spec.verifyDigest` (signet): deny matching images not pinned to a digest.
    pub verify_digest: bool,
    /// `spec.failOpen` (signet): an infrastructure error (registry down, timeout)
    /// allows with a warning instead of denying. A failed verification always denies.
    pub fail_open: bool,
    /// Where it was loaded from.
    pub origin: DocumentLocation,
}

impl ClusterImagePolicy {
    /// Whether the policy applies to `image` in `workload`: some glob matches and, when
    /// `match` is set, some entry selects the workload's kind, version and labels.
    pub fn applies_to(&self, match_name: &str, workload: &Workload) -> bool {
        let selected = self.match_resources.is_empty()
            || self
                .match_resources
                .iter()
                .any(|m| m.selects(workload.kind, &workload.version, &workload.labels));
        selected && self.images.iter().any(|g| g.matches_name(match_name))
    }

    /// Whether the policy's globs match `image` (ignoring `match`).
    pub fn matches_image(&self, image: &ImageRef) -> bool {
        let name = crate::glob::match_name(image);
        self.images.iter().any(|g| g.matches_name(&name))
    }
}

/// `spec.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyMode {
    /// Failures deny (the default).
    Enforce,
    /// Failures allow, with warnings.
    Warn,
}

impl fmt::Display for PolicyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyMode::Enforce => "enforce",
            PolicyMode::Warn => "warn",
        })
    }
}

/// One `spec.authorities[]` entry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Authority {
    /// `name`, defaulting to `authority-<index>` as in policy-controller.
    pub name: String,
    /// What vouches for the image.
    pub kind: AuthorityKind,
    /// `signatureFormat`.
    pub signature_format: SignatureFormat,
    /// `source[0]`: where the signatures live, if not next to the image.
    pub source: Option<SignatureSource>,
    /// `ctlog`: the transparency log (Rekor) to check signatures against.
    pub ctlog: Option<TransparencyLog>,
    /// `rfc3161timestamp.trustRootRef`.
    pub rfc3161_timestamp: Option<TrustRootRef>,
    /// `attestations`: kept, **not evaluated yet**.
    pub attestations: Vec<Attestation>,
}

/// Key, keyless or static.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthorityKind {
    /// A signature by a public key.
    Key(KeyAuthority),
    /// A Fulcio certificate for an expected identity.
    Keyless(KeylessAuthority),
    /// No verification: the policy passes or fails outright.
    Static(StaticAuthority),
}

impl AuthorityKind {
    /// `key`, `keyless` or `static`.
    pub fn label(&self) -> &'static str {
        match self {
            AuthorityKind::Key(_) => "key",
            AuthorityKind::Keyless(_) => "keyless",
            AuthorityKind::Static(_) => "static",
        }
    }
}

/// `key`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeyAuthority {
    /// Where the key is.
    pub key: KeySource,
    /// `hashAlgorithm` (default SHA-256).
    pub hash_algorithm: HashAlgorithm,
}

/// `key.data` or `key.secretRef`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeySource {
    /// `data`: the PEM key, parsed at load.
    Inline(PublicKey),
    /// `secretRef`: the webhook reads the key from this Secret.
    Secret(SecretRef),
}

/// A Secret by name (policy-controller looks in its own namespace when none is given).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SecretRef {
    /// `name`.
    pub name: String,
    /// `namespace`, if given.
    pub namespace: Option<String>,
}

/// `key.hashAlgorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    /// sha224.
    Sha224,
    /// sha256 (the default).
    Sha256,
    /// sha384.
    Sha384,
    /// sha512.
    Sha512,
}

/// `keyless`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct KeylessAuthority {
    /// `url` (Fulcio) or `ca-cert`.
    pub ca: CertificateAuthority,
    /// `identities`: a certificate must match one of them. Never empty.
    pub identities: Vec<Identity>,
    /// `trustRootRef`.
    pub trust_root_ref: Option<String>,
    /// `insecureIgnoreSCT`.
    pub insecure_ignore_sct: bool,
}

/// Who issued the signing certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateAuthority {
    /// `url`: a Fulcio instance (default [`DEFAULT_FULCIO_URL`]).
    Fulcio {
        /// The URL.
        url: String,
    },
    /// `ca-cert.data`: PEM certificates.
    Inline {
        /// The PEM text.
        pem: String,
    },
    /// `ca-cert.secretRef`.
    Secret(SecretRef),
}

/// One `identities[]` entry: both issuer and subject are constrained.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// `issuer` or `issuerRegExp`.
    pub issuer: Matcher,
    /// `subject` or `subjectRegExp`.
    pub subject: Matcher,
}

/// An exact string or a regular expression.
#[derive(Clone)]
pub enum Matcher {
    /// Must equal.
    Exact(String),
    /// Must match (unanchored, as Go's `regexp.MatchString` in cosign: write `^…$`).
    Regex(Regex),
}

impl Matcher {
    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex(r) => write!(f, "regex {:?}", r.as_str()),
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Matcher::Exact(a), Matcher::Exact(b)) => a == b,
            (Matcher::Regex(a), Matcher::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}
impl Eq for Matcher {}

/// `static`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StaticAuthority {
    /// `action`.
    pub action: StaticAction,
    /// `message`, shown on failure.
    pub message: Option<String>,
}

/// `static.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticAction {
    /// Passes without verification.
    Pass,
    /// Fails ("disallowed by static policy").
    Fail,
}

/// `signatureFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureFormat {
    /// cosign's `.sig` tags (the default).
    Legacy,
    /// Sigstore bundles as OCI referrers.
    Bundle,
}

/// `source[]` (policy-controller allows one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignatureSource {
    /// `oci`: the repository holding the signatures.
    pub oci: String,
    /// `signaturePullSecrets[].name`, in the workload's namespace.
    pub signature_pull_secrets: Vec<String>,
    /// `tagPrefix`.
    pub tag_prefix: Option<String>,
}

/// `ctlog`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransparencyLog {
    /// `url`.
    pub url: Option<String>,
    /// `trustRootRef`.
    pub trust_root_ref: Option<String>,
}

/// A `trustRootRef`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrustRootRef {
    /// The TrustRoot name.
    pub name: String,
}

/// `attestations[]` (kept, not evaluated yet).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Attestation {
    /// `name`.
    pub name: String,
    /// `predicateType`.
    pub predicate_type: String,
    /// `policy`, as written.
    pub policy: Option<serde_json::Value>,
}

/// One `spec.match[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MatchResource {
    /// `resource` (with its `group`, checked at load).
    pub resource: WorkloadKind,
    /// `version`; `None` for `"*"`.
    pub version: Option<String>,
    /// `selector` over the workload's own labels.
    pub selector: Option<LabelSelector>,
}

impl MatchResource {
    /// Whether this entry selects a workload.
    pub fn selects(
        &self,
        kind: WorkloadKind,
        version: &str,
        labels: &BTreeMap<String, String>,
    ) -> bool {
        self.resource == kind
            && self.version.as_deref().is_none_or(|v| v == version)
            && self.selector.as_ref().is_none_or(|s| s.matches(labels))
    }
}

/// A Kubernetes label selector (`matchLabels` and `matchExpressions`, ANDed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LabelSelector {
    /// `matchLabels`.
    pub match_labels: BTreeMap<String, String>,
    /// `matchExpressions`.
    pub match_expressions: Vec<LabelRequirement>,
}

impl LabelSelector {
    /// Whether `labels` satisfy every requirement (an empty selector matches all).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|r| r.matches(labels))
    }
}

/// One `matchExpressions[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LabelRequirement {
    /// `key`.
    pub key: String,
    /// `operator`.
    pub operator: LabelOperator,
    /// `values` (empty for `Exists`/`DoesNotExist`).
    pub values: Vec<String>,
}

impl LabelRequirement {
    /// Whether `labels` satisfy it.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            LabelOperator::In => value.is_some_and(|v| self.values.contains(v)),
            LabelOperator::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            LabelOperator::Exists => value.is_some(),
            LabelOperator::DoesNotExist => value.is_none(),
        }
    }
}

/// A label selector operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelOperator {
    /// `In`.
    In,
    /// `NotIn`.
    NotIn,
    /// `Exists`.
    Exists,
    /// `DoesNotExist`.
    DoesNotExist,
}

/// Where a document is: the file, its number in the file (from 1, counting documents
/// that are not empty) and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DocumentLocation {
    /// The file.
    pub file: PathBuf,
    /// The document's number in the file, from 1.
    pub document: usize,
    /// The line the document starts on, from 1.
    pub line: usize,
}

impl fmt::Display for DocumentLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: document {} (line {})",
            self.file.display(),
            self.document,
            self.line
        )
    }
}

/// A document that does not load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {}{field}: {problem}", policy.as_ref().map(|p| format!("policy {p:?}: ")).unwrap_or_default())]
#[non_exhaustive]
pub struct PolicyError {
    /// Where.
    pub location: DocumentLocation,
    /// The policy's name, when it got that far.
    pub policy: Option<String>,
    /// The field (`spec.authorities[0].key.data`), or `(document)`.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

/// What is wrong with a policy document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// Not YAML.
    #[error("not valid YAML: {reason}")]
    Yaml {
        /// The parser's message.
        reason: String,
    },
    /// The document is not a mapping with `apiVersion` and `kind`.
    #[error("a Kubernetes object (a mapping with apiVersion and kind) is expected here")]
    NotAnObject,
    /// A `policy.sigstore.dev` version we do not know.
    #[error("unknown apiVersion {found:?}: use policy.sigstore.dev/v1beta1 (or v1alpha1)")]
    UnknownApiVersion {
        /// What was written.
        found: String,
    },
    /// A `List` of objects.
    #[error(
        "{kind} documents are not read: write one ClusterImagePolicy per YAML document, separated by ---"
    )]
    ListNotSupported {
        /// The kind.
        kind: String,
    },
    /// A field has the wrong type, is missing, or is unknown.
    #[error("{reason}")]
    Schema {
        /// The deserializer's message.
        reason: String,
    },
    /// A required value is missing or empty.
    #[error("is required: {hint}")]
    Missing {
        /// What to write.
        hint: &'static str,
    },
    /// A value outside the allowed set.
    #[error("{found:?} is not allowed: use {expected}")]
    NotAllowed {
        /// What was written.
        found: String,
        /// The allowed values.
        expected: &'static str,
    },
    /// Several of a set of exclusive fields.
    #[error("exactly one of {choices} is required, found {found}")]
    ExactlyOne {
        /// The choices.
        choices: &'static str,
        /// What was found (`none`, or the fields).
        found: String,
    },
    /// A field that does not go with another.
    #[error("{field} cannot be used with {with}")]
    Conflict {
        /// The field.
        field: &'static str,
        /// The field it conflicts with.
        with: &'static str,
    },
    /// An image glob that does not compile.
    #[error(transparent)]
    Glob(#[from] GlobError),
    /// A regular expression that does not compile.
    #[error("the regular expression {pattern:?} does not compile: {reason}")]
    Regex {
        /// The pattern.
        pattern: String,
        /// The compiler's message.
        reason: String,
    },
    /// `key.data` is not a public key signet can use.
    #[error("the public key does not load: {0}")]
    PublicKey(#[source] KeyError),
    /// `ca-cert.data` holds no PEM certificate.
    #[error("no PEM CERTIFICATE block found: paste the CA certificate chain in PEM")]
    CaCertificate,
    /// A TrustRoot key or certificate that does not load.
    #[error("{reason}")]
    TrustRootEntry {
        /// What is wrong.
        reason: String,
    },
    /// A KMS key (`kms:`): not supported.
    #[error(
        "KMS keys ({uri}) are not supported by signet yet: export the public key (cosign public-key --key {uri}) and put it in key.data or a Secret (key.secretRef)"
    )]
    KmsNotSupported {
        /// The KMS URI.
        uri: String,
    },
    /// The CIP-level `spec.policy` (CUE/Rego): not supported.
    #[error(
        "CUE/Rego policies (spec.policy) are not evaluated by signet yet; loading this policy without it would admit images it is meant to deny, so remove spec.policy or keep this policy out of signet's policy directory"
    )]
    PolicyNotSupported,
    /// Two policies with one name.
    #[error("a policy with this name is already defined at {first}: names must be unique")]
    DuplicateName {
        /// The first definition.
        first: DocumentLocation,
    },
    /// Two authorities with one name in a policy.
    #[error("authority name {name:?} is used twice in this policy: names must be unique")]
    DuplicateAuthority {
        /// The name.
        name: String,
    },
    /// A `match` entry whose group is not its resource's.
    #[error("{resource} are in API group {expected:?}, not {found:?}")]
    WrongGroup {
        /// The resource.
        resource: &'static str,
        /// Its group.
        expected: &'static str,
        /// What was written.
        found: String,
    },
}

/// Something worth telling the operator that does not stop the load.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadNote {
    /// Where.
    pub location: DocumentLocation,
    /// The policy, if the note is about one.
    pub policy: Option<String>,
    /// What.
    pub note: Note,
}

impl fmt::Display for LoadNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if let Some(p) = &self.policy {
            write!(f, "policy {p:?}: ")?;
        }
        write!(f, "{}", self.note)
    }
}

/// The notes the loader leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Note {
    /// A document of another kind, skipped.
    SkippedKind {
        /// Its apiVersion.
        api_version: String,
        /// Its kind.
        kind: String,
    },
    /// A TrustRoot that names a TUF repository, which is not read.
    TufTrustRoot {
        /// The TrustRoot.
        name: String,
        /// `remote` or `repository`.
        field: &'static str,
    },
    /// An authority with attestations: they are not checked yet.
    AttestationsNotChecked {
        /// The authority.
        authority: String,
    },
    /// A `**` in the registry part of a glob, confined to the registry name.
    ConfinedDoubleStar {
        /// The glob.
        glob: String,
    },
    /// A glob whose registry part ends with a wildcard after a dotted name.
    OpenEndedHost {
        /// The glob.
        glob: String,
    },
    /// A glob that names a tag, so it never matches images pinned to a digest.
    GlobNamesTag {
        /// The glob.
        glob: String,
    },
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::SkippedKind { api_version, kind } => {
                write!(
                    f,
                    "skipped a {kind} ({api_version}): not a policy.sigstore.dev ClusterImagePolicy"
                )
            }
            Note::TufTrustRoot { name, field } => write!(
                f,
                "TrustRoot {name:?} uses spec.{field} (a TUF repository), which signet does not read: authorities that refer to it are denied; give the keys in spec.sigstoreKeys"
            ),
            Note::AttestationsNotChecked { authority } => write!(
                f,
                "authority {authority:?} lists attestations, which signet does not check yet: it passes on the image signature alone"
            ),
            Note::ConfinedDoubleStar { glob } => write!(
                f,
                "in glob {glob:?}, '**' inside the registry name matches within the registry name only (host-aware matching)"
            ),
            Note::OpenEndedHost { glob } => write!(
                f,
                "glob {glob:?} ends its registry name with a wildcard, so it also matches other domains (e.g. <name>.evil.example); write the full registry host"
            ),
            Note::GlobNamesTag { glob } => write!(
                f,
                "glob {glob:?} names a tag; images pinned to a digest are matched by digest (the tag is ignored), so this glob will not match them once pinned"
            ),
        }
    }
}

/// A hash of every policy's canonical content: it changes whenever any policy changes,
/// so verdicts cached under it are never reused across policy changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Generation(Digest);

impl Generation {
    /// The digest.
    pub fn digest(&self) -> &Digest {
        &self.0
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.0.hex()[..16])
    }
}

/// Every loaded policy, sorted by name, with its generation and load notes.
#[derive(Debug, Clone)]
pub struct PolicySet {
    policies: Vec<ClusterImagePolicy>,
    trust_roots: BTreeMap<String, TrustRoot>,
    generation: Generation,
    notes: Vec<LoadNote>,
}

impl PolicySet {
    /// The policies, sorted by name.
    pub fn policies(&self) -> &[ClusterImagePolicy] {
        &self.policies
    }

    /// The policy called `name`.
    pub fn get(&self, name: &str) -> Option<&ClusterImagePolicy> {
        self.policies
            .binary_search_by(|p| p.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.policies[i])
    }

    /// The `TrustRoot` called `name` (what `trustRootRef` names).
    pub fn trust_root(&self, name: &str) -> Option<&TrustRoot> {
        self.trust_roots.get(name)
    }

    /// Every `TrustRoot`, by name.
    pub fn trust_roots(&self) -> impl Iterator<Item = &TrustRoot> {
        self.trust_roots.values()
    }

    /// The generation (see [`Generation`]).
    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// Notes left by the loader (skipped documents, fields not evaluated).
    pub fn notes(&self) -> &[LoadNote] {
        &self.notes
    }

    /// Whether there is no policy.
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The policies that apply to `image` in `workload` (glob and `match`).
    pub fn matching<'s>(
        &'s self,
        image: &ImageRef,
        workload: &Workload,
    ) -> Vec<&'s ClusterImagePolicy> {
        let name = crate::glob::match_name(image);
        self.policies
            .iter()
            .filter(|p| p.applies_to(&name, workload))
            .collect()
    }
}

#[cfg(test)]
mod tests;
