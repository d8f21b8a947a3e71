//! signet's Kubernetes admission webhook: an HTTPS server that admits only workloads
//! whose images are signed as the ClusterImagePolicies demand.
//!
//! ```text
//!  apiserver ──POST /mutate──▶ parse (signet-policy) ─▶ plan ─▶ resolve tags ─▶ JSONPatch pin
//!            ──POST /validate─▶ parse ─▶ plan ─▶ per distinct image, in parallel, under the deadline:
//!                                      resolve tag (policies without verifyDigest) ─▶ verdict cache
//!                                      (digest, policy generation, authority) ─▶ signet-check (one
//!                                      registry fetch for every authority) ─▶ outcomes ─▶ decide
//! ```
//!
//! - [`Server`]: the hand-written TLS accept loop (tokio-rustls with the aws-lc-rs
//!   provider) in front of an axum router: `POST /validate`, `POST /mutate`,
//!   `GET /healthz`, `GET /readyz`, `GET /metrics`. The certificate and key files are
//!   polled and reloaded when they change; a pair that does not load is logged and the
//!   previous one keeps serving.
//! - [`Admitter`]: the admission logic without HTTP, also used by
//!   `signet admission check`.
//! - [`PolicyStore`]: the policy directory, polled and reloaded; a directory that does
//!   not load is reported and the previous good set keeps serving.
//! - [`VerdictCache`]: passes only, keyed by repository, digest, policy generation and
//!   authority (never by tag), with a TTL and a size bound.
//! - [`Metrics`]: OpenMetrics text for Prometheus.
//!
//! Failure modes: a signature that does not verify denies, whatever the policy says; a
//! registry that cannot be asked (down, slow past the deadline) denies unless the policy
//! has `failOpen: true`, which allows with a warning and counts it; a request whose
//! client goes away is dropped with its work, and nothing but verified passes is ever
//! cached.
//!
//! Trust material: keyless authorities verify against the webhook's trusted root unless
//! they name their own (`trustRootRef`, `ca-cert.data`, `ctlog.trustRootRef`,
//! `rfc3161timestamp.trustRootRef`), with TrustRoot documents loaded with the policies.
//!
//! In a cluster (the `kubernetes` feature, [`kubernetes`]), ClusterImagePolicy and
//! TrustRoot resources are watched and served with the directory's policies, `key.secretRef` keys are
//! read from Secrets in the webhook's namespace, and registry credentials come from the
//! workload's `imagePullSecrets` and its ServiceAccount's before the docker config
//! ([`pull_secrets`]). Out of a cluster, a `key.secretRef` authority is reported as an
//! infrastructure failure (no source), and registry credentials come from the docker
//! config alone.
//!
//! What it does not do yet: attestations (accepted, not checked),
//! `source.signaturePullSecrets`, `ca-cert.secretRef`, TUF-based TrustRoots.

#![deny(missing_docs)]

mod admit;
mod cache;
mod error;
mod http;
mod log;
mod metrics;
mod namespaces;
mod policies;
mod poll;
pub mod pull_secrets;
mod secrets;
mod server;
mod tls;
mod trust_roots;

#[cfg(feature = "kubernetes")]
pub mod kubernetes;

pub use admit::{Admitter, CheckedWorkload, Verdict, workloads_from_yaml};
pub use cache::{CacheKey, VerdictCache};
pub use error::Error;
pub use metrics::Metrics;
pub use namespaces::NamespaceLabels;
pub use policies::{PolicyStatus, PolicyStore};
pub use pull_secrets::PullSecretSource;
pub use secrets::{SecretError, SecretKeys, key_from_secret_data};
pub use server::{Config, Server, ServerHandle};
pub use tls::{CertificateReloader, TlsError};
