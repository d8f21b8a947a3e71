//! The pure, synchronous core of signet's Kubernetes admission webhook: policies in,
//! AdmissionReview requests in, decisions and AdmissionReview responses out.
//!
//! - [`policy`]: `ClusterImagePolicy`, schema-compatible with policy-controller's
//!   `policy.sigstore.dev/v1beta1` (and `v1alpha1`), validated at load into a
//!   [`PolicySet`] whose [`Generation`] changes whenever any policy does.
//! - [`glob`]: host-aware image globs (`*` stays within a path segment, `**` crosses
//!   them, and no glob can match a registry name hidden in a path).
//! - [`workload`]: AdmissionReview v1 requests, and every image of a Pod, Deployment,
//!   ReplicaSet, StatefulSet, DaemonSet, Job, CronJob or ReplicationController, with its
//!   JSON pointer and container name.
//! - [`patch`]: the RFC 6902 patch that pins `repo:tag` to `repo:tag@sha256:…`, and an
//!   applier for tests.
//! - [`mod@decide`]: the decision from the policies and the verification outcomes the
//!   caller supplies; [`review`]: the response, and the apiserver's checks on it.
//!
//! ```
//! use signet_policy::decide::{decide, namespace_scope, Outcomes, Plan, Scope, Settings};
//! use signet_policy::workload::{extract_workload, parse_review, Admission};
//! use signet_policy::PolicySet;
//!
//! let policies = PolicySet::from_yaml("allow-base.yaml", r#"
//! apiVersion: policy.sigstore.dev/v1beta1
//! kind: ClusterImagePolicy
//! metadata: {name: allow-base}
//! spec:
//!   images: [{glob: "registry.example.com/base/**"}]
//!   authorities: [{static: {action: pass}}]
//! "#).unwrap();
//! let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
//!   "uid":"42","kind":{"group":"","version":"v1","kind":"Pod"},
//!   "resource":{"group":"","version":"v1","resource":"pods"},"namespace":"team-a","operation":"CREATE",
//!   "object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[
//!     {"name":"app","image":"registry.example.com/base/app:1.0"}]}}}}"#;
//! let request = parse_review(body).unwrap();
//! let Admission::Workload(workload) = extract_workload(&request).unwrap() else { unreachable!() };
//! let settings = Settings::default();
//! assert_eq!(namespace_scope(&settings, &workload.namespace, None), Scope::Checked);
//! let plan = Plan::new(&policies, &workload);
//! let decision = decide(&policies, &plan, &Outcomes::new(), &settings);
//! // Matching policies demand a digest by default (verifyDigest):
//! assert!(!decision.allowed);
//! assert!(decision.message().unwrap().contains("must be pinned to a digest"));
//! ```
//!
//! What it does not do: any network I/O, any async, any signature verification. The
//! webhook resolves tags, reads key Secrets, verifies signatures (in parallel, under
//! the request deadline), caches verdicts under the image digest and the policy
//! generation, and serves HTTPS; it calls into this crate for everything else. The only
//! I/O here is [`PolicySet::load_dir`] (and [`policy::read_dir`], its first half), a
//! synchronous read of the policy directory.

#![deny(missing_docs)]

pub mod decide;
pub mod glob;
pub mod patch;
pub mod policy;
pub mod review;
pub mod workload;

pub use decide::{AuthorityOutcome, Decision, Outcomes, Plan, Settings, decide};
pub use glob::{GlobError, ImageGlob};
pub use patch::{JsonPatch, JsonPointer, PatchError};
pub use policy::{
    ClusterImagePolicy, Generation, LoadError, PolicyError, PolicySet, TrustRoot, TrustRootSource,
    trust_root_yaml,
};
pub use review::{AdmissionResponse, ResponseViolation, check_response};
pub use workload::{
    Admission, AdmissionRequest, ReviewError, Workload, WorkloadError, extract_workload,
    parse_review,
};

/// Every error of this crate, for callers that want one type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Policies do not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A request body is unusable.
    #[error(transparent)]
    Review(#[from] ReviewError),
    /// A workload object is malformed.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// A patch cannot be built or applied.
    #[error(transparent)]
    Patch(#[from] PatchError),
    /// A glob does not compile.
    #[error(transparent)]
    Glob(#[from] GlobError),
}

/// Entry points for fuzzers: each must never panic on any input.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as an AdmissionReview and extracts its workload.
    pub fn fuzz_review(data: &[u8]) {
        if let Ok(request) = crate::parse_review(data) {
            let _ = crate::extract_workload(&request);
        }
    }

    /// Loads `data` as a policy file.
    pub fn fuzz_policy(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = crate::PolicySet::from_yaml("fuzz.yaml", text);
        }
    }

    /// Compiles `data` as a glob and matches it against itself as an image.
    pub fn fuzz_glob(data: &[u8]) {
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok(glob) = crate::ImageGlob::parse(text)
            && let Ok(image) = text.parse::<signet_formats::ImageRef>()
        {
            let _ = glob.matches(&image);
        }
    }
}
