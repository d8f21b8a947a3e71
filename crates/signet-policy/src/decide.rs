//! The admission decision, as a pure function of the policies, the workload's images
//! and the verification outcomes the caller supplies.
//!
//! The webhook (the I/O layer) does, per request:
//! 1. [`namespace_scope`]: the webhook's own namespace is exempt, and namespaces opt in
//!    with the label `policy.sigstore.dev/include=true`;
//! 2. [`Plan::new`]: the distinct images (deduplicated on the normalised reference) and
//!    the policies matching each;
//! 3. for the mutating webhook, [`Plan::to_pin`] lists the images whose tags to resolve,
//!    and [`Plan::pin_pointers`] + [`crate::patch::pin_digests`] make the patch;
//! 4. for the validating webhook, [`Plan::verifications`] lists every (image, policy,
//!    authority) to verify; the caller verifies them (in parallel, under the deadline)
//!    and records each outcome in [`Outcomes`];
//! 5. [`decide`] gives the [`Decision`], and [`Decision::to_response`] the
//!    AdmissionReview response.
//!
//! Rules: every matching policy must pass; any one authority passes a policy; a
//! `static` authority decides without verification; an image matching no policy gets the
//! `no-match-policy` (deny by default); a `mode: warn` policy never denies, its failures
//! become warnings; an infrastructure error (registry down, timeout, cancelled, or no
//! outcome recorded at all) denies unless the policy has `failOpen`, which allows with a
//! warning and is counted; an image not pinned to a digest fails every matching policy
//! that has `verifyDigest` (the default).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use signet_formats::{Digest, FormatError, ImageRef};

use crate::glob::match_name;
use crate::patch::JsonPointer;
use crate::policy::{
    Authority, AuthorityKind, ClusterImagePolicy, PolicyMode, PolicySet, StaticAction,
};
use crate::review::{AdmissionResponse, sanitize_line};
use crate::workload::{ContainerImage, Workload, WorkloadKind};

/// The namespace label that opts a namespace in (policy-controller's).
pub const INCLUDE_LABEL: &str = "policy.sigstore.dev/include";
/// At most this many findings are listed in a denial message.
pub const MAX_DENIAL_FINDINGS: usize = 4;
const MAX_REASON_LEN: usize = 300;

/// What to do with an image that no policy matches (`no-match-policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoMatchPolicy {
    /// Deny (the default).
    #[default]
    Deny,
    /// Allow with a warning.
    Warn,
    /// Allow.
    Allow,
}

impl FromStr for NoMatchPolicy {
    type Err = UnknownNoMatchPolicy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deny" => Ok(NoMatchPolicy::Deny),
            "warn" => Ok(NoMatchPolicy::Warn),
            "allow" => Ok(NoMatchPolicy::Allow),
            other => Err(UnknownNoMatchPolicy {
                found: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for NoMatchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NoMatchPolicy::Deny => "deny",
            NoMatchPolicy::Warn => "warn",
            NoMatchPolicy::Allow => "allow",
        })
    }
}

/// A `no-match-policy` value that is not deny, warn or allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no-match-policy {found:?} is not one of deny, warn, allow")]
pub struct UnknownNoMatchPolicy {
    /// What was given.
    pub found: String,
}

/// Which namespaces are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamespaceSelection {
    /// Only namespaces labelled `policy.sigstore.dev/include=true` (the default).
    #[default]
    OptInLabel,
    /// Every namespace (except the webhook's own).
    All,
}

/// Webhook-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// `no-match-policy`.
    pub no_match: NoMatchPolicy,
    /// Which namespaces are checked.
    pub namespaces: NamespaceSelection,
    /// The webhook's own namespace, which is never checked (so that the webhook can
    /// always be repaired).
    pub webhook_namespace: Option<String>,
}

/// Whether a namespace is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Check the workload.
    Checked,
    /// Do not check it.
    Exempt(Exemption),
}

/// Why a namespace is not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exemption {
    /// It is the webhook's own namespace.
    WebhookNamespace,
    /// It does not carry `policy.sigstore.dev/include=true`.
    NotOptedIn,
}

/// Whether `namespace` is checked. `labels` are the namespace's labels; `None` means
/// they are not known (no API access, as in `signet admission check`), and the webhook
/// configuration's `namespaceSelector` is trusted to have chosen: the namespace is
/// checked.
pub fn namespace_scope(
    settings: &Settings,
    namespace: &str,
    labels: Option<&BTreeMap<String, String>>,
) -> Scope {
    if !namespace.is_empty() && settings.webhook_namespace.as_deref() == Some(namespace) {
        return Scope::Exempt(Exemption::WebhookNamespace);
    }
    match (settings.namespaces, labels) {
        (NamespaceSelection::All, _) | (NamespaceSelection::OptInLabel, None) => Scope::Checked,
        (NamespaceSelection::OptInLabel, Some(labels)) => {
            if labels.get(INCLUDE_LABEL).map(String::as_str) == Some("true") {
                Scope::Checked
            } else {
                Scope::Exempt(Exemption::NotOptedIn)
            }
        }
    }
}

/// One distinct image of a workload, and the policies that apply to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImagePlan {
    /// The identity of the image within the request: the normalised reference, or the
    /// text as written when it does not parse. Outcomes are recorded under it.
    pub key: String,
    /// The parsed reference.
    pub reference: Result<ImageRef, FormatError>,
    /// Every place the image is used (at least one).
    pub uses: Vec<ContainerImage>,
    /// The names of the matching policies, sorted.
    pub policies: Vec<String>,
}

impl ImagePlan {
    /// Whether the image is pinned to a digest.
    pub fn is_pinned(&self) -> bool {
        self.reference.as_ref().is_ok_and(|r| r.digest().is_some())
    }
}

/// One (image, policy, authority) to verify.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct VerificationRequest<'a> {
    /// The image.
    pub image: &'a ImagePlan,
    /// Its reference.
    pub reference: &'a ImageRef,
    /// The policy.
    pub policy: &'a ClusterImagePolicy,
    /// The authority's index in the policy.
    pub authority_index: usize,
    /// The authority.
    pub authority: &'a Authority,
}

/// The distinct images of a workload, each with its matching policies.
#[derive(Debug, Clone)]
pub struct Plan {
    kind: WorkloadKind,
    name: String,
    images: Vec<ImagePlan>,
}

impl Plan {
    /// Groups the workload's images (identical references are verified once) and finds
    /// the policies that apply to each.
    pub fn new(policies: &PolicySet, workload: &Workload) -> Self {
        let mut images: Vec<ImagePlan> = Vec::new();
        for use_ in &workload.images {
            let reference = use_.image.parse::<ImageRef>();
            let key = match &reference {
                Ok(r) => r.to_string(),
                Err(_) => use_.image.clone(),
            };
            if let Some(existing) = images.iter_mut().find(|i| i.key == key) {
                existing.uses.push(use_.clone());
                continue;
            }
            let matching = match &reference {
                Ok(r) => {
                    let name = match_name(r);
                    policies
                        .policies()
                        .iter()
                        .filter(|p| p.applies_to(&name, workload))
                        .map(|p| p.name.clone())
                        .collect()
                }
                Err(_) => Vec::new(),
            };
            images.push(ImagePlan {
                key,
                reference,
                uses: vec![use_.clone()],
                policies: matching,
            });
        }
        Plan {
            kind: workload.kind,
            name: workload.name.clone(),
            images,
        }
    }

    /// The distinct images, in order of first use.
    pub fn images(&self) -> &[ImagePlan] {
        &self.images
    }

    /// Every (image, policy, authority) whose outcome [`decide`] needs: static
    /// authorities need none, and neither does a policy the image already fails for
    /// want of a digest.
    pub fn verifications<'a>(&'a self, policies: &'a PolicySet) -> Vec<VerificationRequest<'a>> {
        let mut out = Vec::new();
        for image in &self.images {
            let Ok(reference) = &image.reference else {
                continue;
            };
            for policy in image.policies.iter().filter_map(|n| policies.get(n)) {
                if policy.verify_digest && reference.digest().is_none() {
                    continue;
                }
                for (authority_index, authority) in policy.authorities.iter().enumerate() {
                    if matches!(authority.kind, AuthorityKind::Static(_)) {
                        continue;
                    }
                    out.push(VerificationRequest {
                        image,
                        reference,
                        policy,
                        authority_index,
                        authority,
                    });
                }
            }
        }
        out
    }

    /// The images the mutating webhook should resolve to digests: valid tag
    /// references, new in this request, matched by at least one policy, and every
    /// matching policy has `mutateDigest` (one that opts out wins, so GitOps users see
    /// no drift).
    pub fn to_pin<'a>(&'a self, policies: &PolicySet) -> Vec<&'a ImagePlan> {
        self.images
            .iter()
            .filter(|i| i.reference.as_ref().is_ok_and(|r| r.digest().is_none()))
            .filter(|i| i.uses.iter().any(|u| u.changed))
            .filter(|i| {
                !i.policies.is_empty()
                    && i.policies
                        .iter()
                        .all(|n| policies.get(n).is_some_and(|p| p.mutate_digest))
            })
            .collect()
    }

    /// The pointers to pin, given the digests resolved per image key: every changed use
    /// of each resolved image.
    pub fn pin_pointers(
        &self,
        resolved: &BTreeMap<String, Digest>,
    ) -> BTreeMap<JsonPointer, Digest> {
        let mut out = BTreeMap::new();
        for image in &self.images {
            if let Some(digest) = resolved.get(&image.key) {
                for use_ in image.uses.iter().filter(|u| u.changed) {
                    out.insert(use_.pointer.clone(), digest.clone());
                }
            }
        }
        out
    }
}

/// What verifying one authority for one image gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorityOutcome {
    /// A signature satisfied the authority.
    Verified,
    /// Verification ran and failed (no signature, wrong key, identity mismatch…).
    /// Denies in both fail modes.
    Rejected(String),
    /// Verification could not run (registry down, timeout, cancelled). Denies unless
    /// the policy has `failOpen`.
    InfraError(String),
}

/// The outcomes the caller recorded, keyed by image key, policy name and authority
/// index.
#[derive(Debug, Clone, Default)]
pub struct Outcomes(BTreeMap<(String, String, usize), AuthorityOutcome>);

impl Outcomes {
    /// No outcome yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records the outcome of `request`.
    pub fn record(&mut self, request: &VerificationRequest<'_>, outcome: AuthorityOutcome) {
        self.insert(
            &request.image.key,
            &request.policy.name,
            request.authority_index,
            outcome,
        );
    }

    /// Records an outcome by key.
    pub fn insert(
        &mut self,
        image_key: &str,
        policy: &str,
        authority_index: usize,
        outcome: AuthorityOutcome,
    ) {
        self.0.insert(
            (image_key.to_owned(), policy.to_owned(), authority_index),
            outcome,
        );
    }

    /// The outcome recorded for a key.
    pub fn get(
        &self,
        image_key: &str,
        policy: &str,
        authority_index: usize,
    ) -> Option<&AuthorityOutcome> {
        self.0
            .get(&(image_key.to_owned(), policy.to_owned(), authority_index))
    }

    /// How many outcomes are recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Why one image fails (or is allowed only with a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageProblem {
    /// The reference does not parse.
    InvalidReference {
        /// The parser's message.
        reason: String,
    },
    /// No policy matches.
    NoMatch {
        /// The setting that applied.
        setting: NoMatchPolicy,
    },
    /// A policy requires a digest and the image has none.
    NotPinned,
    /// Every authority failed.
    Rejected {
        /// `(authority, reason)` for each authority.
        reasons: Vec<(String, String)>,
    },
    /// No authority passed and at least one could not be verified.
    Unverifiable {
        /// `(authority, reason)` for each authority.
        reasons: Vec<(String, String)>,
        /// Whether the policy's `failOpen` allowed the image anyway.
        failed_open: bool,
    },
}

/// One problem, with the image and where it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// The image as written (at its first use).
    pub image: String,
    /// Every use of the image.
    pub uses: Vec<ContainerImage>,
    /// The policy, for policy problems.
    pub policy: Option<String>,
    /// The policy's mode, for policy problems.
    pub mode: Option<PolicyMode>,
    /// What.
    pub problem: ImageProblem,
}

fn write_reasons(f: &mut fmt::Formatter<'_>, reasons: &[(String, String)]) -> fmt::Result {
    for (i, (authority, reason)) in reasons.iter().enumerate() {
        if i > 0 {
            f.write_str("; ")?;
        }
        write!(f, "authority {authority:?}: {reason}")?;
    }
    Ok(())
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(first) = self.uses.first() {
            write!(
                f,
                "{} {:?} ({})",
                first.kind.noun(),
                first.name,
                first.field_path()
            )?;
            if self.uses.len() > 1 {
                write!(f, " and {} more", self.uses.len() - 1)?;
            }
            f.write_str(": ")?;
        }
        write!(f, "image {:?}: ", self.image)?;
        if let Some(policy) = &self.policy {
            write!(f, "policy {policy:?}")?;
            if self.mode == Some(PolicyMode::Warn) {
                f.write_str(" (mode: warn)")?;
            }
            f.write_str(": ")?;
        }
        match &self.problem {
            ImageProblem::InvalidReference { reason } => write!(f, "not a valid image reference: {reason}"),
            ImageProblem::NoMatch { setting } => {
                write!(f, "no ClusterImagePolicy matches this image (no-match-policy: {setting})")
            }
            ImageProblem::NotPinned => f.write_str(
                "the image must be pinned to a digest (name:tag@sha256:…): the mutating webhook pins tags it can resolve, or write the digest in the manifest",
            ),
            ImageProblem::Rejected { reasons } => write_reasons(f, reasons),
            ImageProblem::Unverifiable { reasons, failed_open } => {
                if *failed_open {
                    f.write_str("allowed without verification (failOpen): ")?;
                } else {
                    f.write_str("could not be verified, denied (set failOpen: true in the policy to allow in this case): ")?;
                }
                write_reasons(f, reasons)
            }
        }
    }
}

/// Per-image result, for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted with nothing to report.
    Admitted,
    /// Admitted, with warnings.
    Warned,
    /// Denied.
    Denied,
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Decision {
    /// Whether the request is allowed.
    pub allowed: bool,
    /// The problems that deny it.
    pub denials: Vec<Finding>,
    /// The problems reported as warnings.
    pub warnings: Vec<Finding>,
    /// How many (image, policy) pairs were allowed only because of `failOpen`.
    pub failed_open: usize,
    /// How many images matched no policy.
    pub unmatched: usize,
    /// Each image key with its verdict.
    pub verdicts: Vec<(String, Verdict)>,
    kind: WorkloadKind,
    name: String,
}

impl Decision {
    /// The denial message: a header line, then one line per finding (at most
    /// [`MAX_DENIAL_FINDINGS`], then a count of the rest). `None` when allowed.
    pub fn message(&self) -> Option<String> {
        if self.allowed {
            return None;
        }
        let mut lines = Vec::with_capacity(MAX_DENIAL_FINDINGS + 2);
        let name = if self.name.is_empty() {
            String::new()
        } else {
            format!(" {:?}", self.name)
        };
        lines.push(format!(
            "signet denied {}{name}: {} image problem(s)",
            self.kind,
            self.denials.len()
        ));
        for finding in self.denials.iter().take(MAX_DENIAL_FINDINGS) {
            lines.push(finding.to_string());
        }
        if self.denials.len() > MAX_DENIAL_FINDINGS {
            lines.push(format!(
                "… and {} more",
                self.denials.len() - MAX_DENIAL_FINDINGS
            ));
        }
        Some(lines.join("\n"))
    }

    /// The warnings, one line each.
    pub fn warning_lines(&self) -> Vec<String> {
        self.warnings.iter().map(ToString::to_string).collect()
    }

    /// The AdmissionReview response (validating webhook: no patch).
    pub fn to_response(&self, uid: &str) -> AdmissionResponse {
        let response = match self.message() {
            Some(message) => AdmissionResponse::deny(uid, &message),
            None => AdmissionResponse::allow(uid),
        };
        response.with_warnings(self.warning_lines())
    }
}

enum PolicyResult {
    Pass,
    Fail(ImageProblem),
}

fn evaluate_policy(
    image: &ImagePlan,
    reference: &ImageRef,
    policy: &ClusterImagePolicy,
    outcomes: &Outcomes,
) -> PolicyResult {
    if policy.verify_digest && reference.digest().is_none() {
        return PolicyResult::Fail(ImageProblem::NotPinned);
    }
    let mut reasons = Vec::new();
    let mut unverifiable = false;
    for (index, authority) in policy.authorities.iter().enumerate() {
        let reason = match &authority.kind {
            AuthorityKind::Static(s) => match s.action {
                StaticAction::Pass => return PolicyResult::Pass,
                StaticAction::Fail => match &s.message {
                    Some(m) => format!("disallowed by static policy: {m}"),
                    None => "disallowed by static policy".to_owned(),
                },
            },
            _ => match outcomes.get(&image.key, &policy.name, index) {
                Some(AuthorityOutcome::Verified) => return PolicyResult::Pass,
                Some(AuthorityOutcome::Rejected(r)) => r.clone(),
                Some(AuthorityOutcome::InfraError(r)) => {
                    unverifiable = true;
                    r.clone()
                }
                None => {
                    unverifiable = true;
                    "no verification result was recorded (fail closed)".to_owned()
                }
            },
        };
        reasons.push((
            authority.name.clone(),
            sanitize_line(&reason, MAX_REASON_LEN),
        ));
    }
    if unverifiable {
        PolicyResult::Fail(ImageProblem::Unverifiable {
            reasons,
            failed_open: policy.fail_open,
        })
    } else {
        PolicyResult::Fail(ImageProblem::Rejected { reasons })
    }
}

/// Decides a request from its plan and the recorded outcomes.
pub fn decide(
    policies: &PolicySet,
    plan: &Plan,
    outcomes: &Outcomes,
    settings: &Settings,
) -> Decision {
    let mut decision = Decision {
        allowed: true,
        denials: Vec::new(),
        warnings: Vec::new(),
        failed_open: 0,
        unmatched: 0,
        verdicts: Vec::new(),
        kind: plan.kind,
        name: plan.name.clone(),
    };
    for image in &plan.images {
        let (denials_before, warnings_before) = (decision.denials.len(), decision.warnings.len());
        let written = image
            .uses
            .first()
            .map(|u| u.image.clone())
            .unwrap_or_else(|| image.key.clone());
        let finding = |policy: Option<&ClusterImagePolicy>, problem| Finding {
            image: written.clone(),
            uses: image.uses.clone(),
            policy: policy.map(|p| p.name.clone()),
            mode: policy.map(|p| p.mode),
            problem,
        };
        match &image.reference {
            Err(e) => decision.denials.push(finding(
                None,
                ImageProblem::InvalidReference {
                    reason: sanitize_line(&e.to_string(), MAX_REASON_LEN),
                },
            )),
            Ok(_) if image.policies.is_empty() => {
                decision.unmatched += 1;
                let f = finding(
                    None,
                    ImageProblem::NoMatch {
                        setting: settings.no_match,
                    },
                );
                match settings.no_match {
                    NoMatchPolicy::Deny => decision.denials.push(f),
                    NoMatchPolicy::Warn => decision.warnings.push(f),
                    NoMatchPolicy::Allow => {}
                }
            }
            Ok(reference) => {
                for name in &image.policies {
                    let Some(policy) = policies.get(name) else {
                        // The plan was made from another policy set: fail closed.
                        decision.denials.push(finding(
                            None,
                            ImageProblem::Unverifiable {
                                reasons: vec![(
                                    name.clone(),
                                    "the policy is no longer loaded".to_owned(),
                                )],
                                failed_open: false,
                            },
                        ));
                        continue;
                    };
                    let PolicyResult::Fail(problem) =
                        evaluate_policy(image, reference, policy, outcomes)
                    else {
                        continue;
                    };
                    let failed_open = matches!(
                        problem,
                        ImageProblem::Unverifiable {
                            failed_open: true,
                            ..
                        }
                    );
                    let f = finding(Some(policy), problem);
                    if policy.mode == PolicyMode::Warn {
                        decision.warnings.push(f);
                    } else if failed_open {
                        decision.failed_open += 1;
                        decision.warnings.push(f);
                    } else {
                        decision.denials.push(f);
                    }
                }
            }
        }
        let verdict = if decision.denials.len() > denials_before {
            Verdict::Denied
        } else if decision.warnings.len() > warnings_before {
            Verdict::Warned
        } else {
            Verdict::Admitted
        };
        decision.verdicts.push((image.key.clone(), verdict));
    }
    decision.allowed = decision.denials.is_empty();
    decision
}

#[cfg(test)]
mod tests;
