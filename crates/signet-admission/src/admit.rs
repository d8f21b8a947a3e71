//! The admission logic, without HTTP: AdmissionReview bytes in, an AdmissionReview
//! response out (or a [`ReviewError`] for a body without a uid to answer).
//!
//! Per request: parse and classify (signet-policy), skip what needs no check, exempt
//! namespaces, then
//! - **mutate**: resolve the tags the policies want pinned (in parallel, under the
//!   deadline, never cached: a tag is resolved when the request arrives) and answer
//!   with the JSONPatch that pins them; an image whose tag cannot be resolved is left
//!   alone with a warning, and the validating webhook then denies it;
//! - **validate**: for each distinct image, in parallel, under the deadline: resolve
//!   its tag if a policy without `verifyDigest` lets it through unpinned, look up each
//!   authority in the verdict cache, and check the rest with one `signet_check::check`
//!   call per signature repository (so 5 authorities cost one registry fetch). Work
//!   still running at the deadline counts as an infrastructure failure; then
//!   `signet_policy::decide`.
//!
//! Registry credentials: with a [`PullSecretSource`] (in a cluster), the workload's
//! image pull secrets and its ServiceAccount's are read the first time the request
//! needs the registry, and looked up before the docker config
//! ([`crate::pull_secrets`]). The registry client made for them is kept per namespace
//! and credential content ([`ClientCache`]), so its tokens serve only that namespace's
//! requests with those credentials; checks shared between concurrent requests are
//! keyed by the same. Out of a cluster only the docker config is used.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};

use serde_json::Value;
use signet_check::{BundleTrust, CheckError, CheckOptions, Requirement, SignatureFormats, Target};
use signet_formats::sigstore::TrustedRoot;
use signet_formats::{Digest, ImageRef, Repository};
use signet_oci::{AuthFailure, ImageStore, RegistryClient, RegistryError, StoreError};
use signet_policy::decide::{AuthorityOutcome, Outcomes, Plan, Scope, Settings, decide};
use signet_policy::patch::pin_digests;
use signet_policy::policy::{
    Authority, AuthorityKind, Generation, HashAlgorithm, KeySource, Matcher, PolicySet,
    SignatureFormat,
};
use signet_policy::workload::{Admission, Workload, WorkloadKind};
use signet_policy::{AdmissionResponse, ReviewError, extract_workload, parse_review};
use signet_x509::{IdentityMatcher, StringMatcher};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cache::{CacheKey, VerdictCache};
use crate::metrics::Metrics;
use crate::namespaces::NamespaceLabels;
use crate::policies::PolicyStore;
use crate::pull_secrets::{PullSecretRefs, PullSecretSource};
use crate::secrets::SecretKeys;
use crate::trust_roots::AuthorityTrust;

/// What a request came to, for metrics and `signet admission check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed with nothing to report.
    Allowed,
    /// Allowed, with warnings.
    Warned,
    /// Denied.
    Denied,
    /// Not checked (DELETE, status update, unchanged images, exempt namespace).
    Skipped,
}

impl Verdict {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Allowed => "allowed",
            Verdict::Warned => "warned",
            Verdict::Denied => "denied",
            Verdict::Skipped => "skipped",
        }
    }

    fn of(response: &AdmissionResponse) -> Self {
        match (response.allowed, response.warnings.is_empty()) {
            (false, _) => Verdict::Denied,
            (true, true) => Verdict::Allowed,
            (true, false) => Verdict::Warned,
        }
    }
}

/// Which webhook a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Validate,
    Mutate,
}

/// The admission logic, shared by every request (wrap it in an `Arc`).
#[derive(Debug)]
pub struct Admitter {
    policies: Arc<PolicyStore>,
    client: RegistryClient,
    options: CheckOptions,
    cache: VerdictCache,
    metrics: Arc<Metrics>,
    settings: Settings,
    namespaces: NamespaceLabels,
    timeout: Duration,
    in_flight: InFlight,
    secrets: Option<Arc<dyn SecretKeys>>,
    pull_secrets: Option<Arc<dyn PullSecretSource>>,
    clients: ClientCache,
    authority_trust: AuthorityTrust,
}

/// Registry clients made for pull secrets, by [`crate::pull_secrets::PullCredentials`]
/// fingerprint (namespace and credential content): reused so that their tokens are,
/// and never shared across namespaces. Entries older than [`CLIENT_TTL`] go; when
/// [`MAX_CLIENTS`] are held the oldest goes.
#[derive(Default)]
struct ClientCache(Mutex<HashMap<[u8; 32], (std::time::Instant, RegistryClient)>>);

/// See [`ClientCache`].
const CLIENT_TTL: Duration = Duration::from_secs(600);
/// See [`ClientCache`].
const MAX_CLIENTS: usize = 256;

impl std::fmt::Debug for ClientCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientCache")
    }
}

impl ClientCache {
    fn get_or_make(&self, key: [u8; 32], make: impl FnOnce() -> RegistryClient) -> RegistryClient {
        let Ok(mut map) = self.0.lock() else {
            return make();
        };
        map.retain(|_, (at, _)| at.elapsed() < CLIENT_TTL);
        if let Some((_, c)) = map.get(&key) {
            return c.clone();
        }
        if map.len() >= MAX_CLIENTS
            && let Some(oldest) = map.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        let client = make();
        map.insert(key, (std::time::Instant::now(), client.clone()));
        client
    }
}

/// The registry side of one request: what the workload names for credentials, and the
/// client for them once first needed.
struct RequestRegistry {
    /// `None`: no in-cluster source, the docker config alone.
    refs: Option<PullSecretRefs>,
    resolved: tokio::sync::OnceCell<Result<Credentials, AuthorityOutcome>>,
}

/// A client and what its credentials are.
#[derive(Clone)]
struct Credentials {
    client: RegistryClient,
    /// Empty for the shared client (docker config only); else the fingerprint.
    identity: Vec<u8>,
    /// Where credentials were looked for, for messages.
    looked_in: String,
    /// Whether the workload's pull secrets were looked for (in a cluster).
    pull_secrets: bool,
    /// The pull secrets' credentials, if any were found.
    set: Option<signet_oci::CredentialSet>,
}

type Verdicts = Arc<Vec<Result<Vec<signet_verify::VerifiedSignature>, CheckError>>>;
type Flight = Shared<BoxFuture<'static, Verdicts>>;

/// Checks under way, by what they check: a second request for the same check waits for
/// the first one's result instead of asking the registry again. An entry is removed
/// when its check completes; one whose requests all went away is dropped once it is
/// older than [`IN_FLIGHT_MAX_AGE`].
#[derive(Default)]
struct InFlight(Mutex<HashMap<CacheKey, (std::time::Instant, Flight)>>);

/// See [`InFlight`].
const IN_FLIGHT_MAX_AGE: Duration = Duration::from_secs(60);

impl std::fmt::Debug for InFlight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InFlight")
    }
}

impl InFlight {
    async fn join(
        &self,
        key: CacheKey,
        check: impl std::future::Future<Output = Verdicts> + Send + 'static,
    ) -> Verdicts {
        // The map holds nothing a panic could leave half-changed: a poisoned lock is
        // used as it is.
        let flight = {
            let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            map.retain(|_, (at, _)| at.elapsed() < IN_FLIGHT_MAX_AGE);
            map.entry(key)
                .or_insert_with(|| (std::time::Instant::now(), check.boxed().shared()))
                .1
                .clone()
        };
        let verdicts = flight.await;
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        verdicts
    }
}

/// One authority of one policy, to verify for one image.
#[derive(Clone)]
struct AuthorityJob {
    policy: String,
    index: usize,
    authority: Authority,
}

/// One distinct image and the authorities to verify for it.
struct ImageJob {
    key: String,
    reference: ImageRef,
    authorities: Vec<AuthorityJob>,
}

type JobResult = (String, Vec<(String, usize, AuthorityOutcome)>);

/// An authority not answered from the cache: its cache key and the requirements that
/// satisfy it.
type PendingAuthority = (AuthorityJob, CacheKey, Vec<Requirement>);

impl Admitter {
    /// The admission logic over `policies`, verifying with `client` and `trust`, every
    /// request bounded by `timeout`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        policies: Arc<PolicyStore>,
        client: RegistryClient,
        trust: BundleTrust,
        settings: Settings,
        namespaces: NamespaceLabels,
        timeout: Duration,
        cache: VerdictCache,
        metrics: Arc<Metrics>,
    ) -> Self {
        Admitter {
            policies,
            client,
            options: CheckOptions::new(trust),
            cache,
            metrics,
            settings,
            namespaces,
            timeout,
            in_flight: InFlight::default(),
            secrets: None,
            pull_secrets: None,
            clients: ClientCache::default(),
            authority_trust: AuthorityTrust::new(None),
        }
    }

    /// The policies.
    pub fn policies(&self) -> &Arc<PolicyStore> {
        &self.policies
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The verdict cache.
    pub fn cache(&self) -> &VerdictCache {
        &self.cache
    }

    /// Answers a validating AdmissionReview.
    ///
    /// # Errors
    /// A [`ReviewError`] when the body is not an AdmissionReview v1 request with a uid
    /// (HTTP 400: there is no uid to answer).
    pub async fn validate(
        self: &Arc<Self>,
        body: &[u8],
    ) -> Result<(AdmissionResponse, Verdict), ReviewError> {
        self.review(Endpoint::Validate, body).await
    }

    /// Answers a mutating AdmissionReview.
    ///
    /// # Errors
    /// As [`Admitter::validate`].
    pub async fn mutate(
        self: &Arc<Self>,
        body: &[u8],
    ) -> Result<(AdmissionResponse, Verdict), ReviewError> {
        self.review(Endpoint::Mutate, body).await
    }

    pub(crate) async fn review(
        self: &Arc<Self>,
        endpoint: Endpoint,
        body: &[u8],
    ) -> Result<(AdmissionResponse, Verdict), ReviewError> {
        let deadline = Instant::now() + self.timeout;
        let request = parse_review(body)?;
        let uid = request.uid.clone();
        let workload = match extract_workload(&request) {
            Ok(Admission::Workload(w)) => w,
            Ok(Admission::Skip(_)) => {
                return Ok((AdmissionResponse::allow(&uid), Verdict::Skipped));
            }
            Ok(Admission::NotAWorkload { kind }) => {
                let message = format!(
                    "signet checks the images of Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs and ReplicationControllers; {}/{} {} is none of them: remove it from the webhook configuration's rules",
                    if kind.group.is_empty() {
                        "core"
                    } else {
                        &kind.group
                    },
                    kind.version,
                    kind.kind
                );
                return Ok((AdmissionResponse::deny(&uid, &message), Verdict::Denied));
            }
            Err(e) => {
                let message = format!("signet cannot read the object: {e}");
                return Ok((AdmissionResponse::deny(&uid, &message), Verdict::Denied));
            }
            Ok(_) => {
                let message = "signet does not know this kind of admission request";
                return Ok((AdmissionResponse::deny(&uid, message), Verdict::Denied));
            }
        };
        let labels = self.namespaces.labels(&workload.namespace);
        if let Scope::Exempt(_) =
            signet_policy::decide::namespace_scope(&self.settings, &workload.namespace, labels)
        {
            return Ok((AdmissionResponse::allow(&uid), Verdict::Skipped));
        }
        let status = self.policies.status();
        let Some(policies) = status.set else {
            let message = format!(
                "signet has no valid ClusterImagePolicy loaded, so it admits nothing it checks: {}",
                status
                    .last_error
                    .as_deref()
                    .unwrap_or("the policy directory has not been read yet")
            );
            return Ok((AdmissionResponse::deny(&uid, &message), Verdict::Denied));
        };
        let registry = Arc::new(RequestRegistry {
            refs: self.pull_secrets.as_ref().map(|_| {
                let object = request.object.as_ref().unwrap_or(&Value::Null);
                PullSecretRefs::of(workload.kind, &workload.namespace, object)
            }),
            resolved: tokio::sync::OnceCell::new(),
        });
        let response = match endpoint {
            Endpoint::Mutate => {
                self.pin(&uid, &policies, &workload, &registry, deadline)
                    .await
            }
            Endpoint::Validate => {
                self.verify(&uid, &policies, &workload, &registry, deadline)
                    .await
            }
        };
        self.metrics
            .registry_requests_now(self.client.request_count());
        let verdict = Verdict::of(&response);
        Ok((response, verdict))
    }

    /// The mutating webhook: pin the tags the policies want pinned.
    async fn pin(
        self: &Arc<Self>,
        uid: &str,
        policies: &PolicySet,
        workload: &Workload,
        registry: &Arc<RequestRegistry>,
        deadline: Instant,
    ) -> AdmissionResponse {
        let plan = Plan::new(policies, workload);
        let mut tasks = JoinSet::new();
        for image in plan.to_pin(policies) {
            let Ok(reference) = &image.reference else {
                continue;
            };
            let (key, reference) = (image.key.clone(), reference.clone());
            let (this, registry) = (self.clone(), registry.clone());
            tasks.spawn(async move {
                let digest = this.resolve_tag(&reference, &registry).await;
                (key, digest)
            });
        }
        let mut resolved = BTreeMap::new();
        let mut warnings = Vec::new();
        loop {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(Ok((key, Ok(digest))))) => {
                    resolved.insert(key, digest);
                }
                Ok(Some(Ok((key, Err(outcome))))) => {
                    let reason = match outcome {
                        AuthorityOutcome::InfraError(r) | AuthorityOutcome::Rejected(r) => r,
                        AuthorityOutcome::Verified => String::new(),
                    };
                    warnings.push(format!("signet could not pin {key} to a digest: {reason}"));
                }
                Ok(Some(Err(_))) => {}
                Ok(None) => break,
                Err(_) => {
                    warnings.push(format!(
                        "signet could not resolve every tag within {:?}; unpinned images are denied by the validating webhook",
                        self.timeout
                    ));
                    break;
                }
            }
        }
        let pointers = plan.pin_pointers(&resolved);
        match pin_digests(&workload.images, &pointers) {
            Ok(patch) => AdmissionResponse::allow(uid)
                .with_patch(patch)
                .with_warnings(warnings),
            Err(e) => AdmissionResponse::allow(uid)
                .with_warnings(warnings)
                .with_warnings([format!("signet did not pin the images: {e}")]),
        }
    }

    /// A tag's digest now (one manifest GET, with the request's credentials; never
    /// cached).
    async fn resolve_tag(
        &self,
        reference: &ImageRef,
        registry: &RequestRegistry,
    ) -> Result<Digest, AuthorityOutcome> {
        if let Some(d) = reference.digest() {
            return Ok(d.clone());
        }
        let credentials = self.credentials(registry).await?;
        let store = ImageStore::Registry {
            client: credentials.client.clone(),
            repository: reference.repository().clone(),
        };
        match store.manifest(&reference.reference()).await {
            Ok(Some(m)) => Ok(m.digest),
            Ok(None) => Err(AuthorityOutcome::Rejected(format!(
                "tag {} does not exist",
                reference.ggcr_name()
            ))),
            Err(e) => Err(self.outcome_of_error(&CheckError::from(e), &credentials)),
        }
    }

    /// The request's registry client: the workload's pull secrets (read now, the first
    /// time the request needs the registry) before the docker config.
    async fn credentials(
        &self,
        registry: &RequestRegistry,
    ) -> Result<Credentials, AuthorityOutcome> {
        registry
            .resolved
            .get_or_init(|| async {
                let shared = |looked_in: String, pull_secrets: bool| Credentials {
                    client: self.client.clone(),
                    identity: Vec::new(),
                    looked_in,
                    pull_secrets,
                    set: None,
                };
                let (Some(source), Some(refs)) = (&self.pull_secrets, &registry.refs) else {
                    return Ok(shared("the docker config".to_owned(), false));
                };
                match crate::pull_secrets::resolve(source.as_ref(), refs).await {
                    Ok(found) => {
                        let mut places: Vec<&str> =
                            found.looked_at.iter().map(String::as_str).take(6).collect();
                        if found.looked_at.len() > places.len() {
                            places.push("…");
                        }
                        places.push("the docker config");
                        let looked_in = places.join(", ");
                        if found.set.is_empty() {
                            return Ok(shared(looked_in, true));
                        }
                        let set = found.set;
                        let client = self.clients.get_or_make(found.fingerprint, || {
                            self.client.with_credentials(set.clone())
                        });
                        Ok(Credentials {
                            client,
                            identity: found.fingerprint.to_vec(),
                            looked_in,
                            pull_secrets: true,
                            set: Some(set),
                        })
                    }
                    Err(e) if e.is_infrastructure() => {
                        self.metrics.registry_error();
                        Err(AuthorityOutcome::InfraError(format!(
                            "registry credentials: {e}"
                        )))
                    }
                    Err(e) => Err(AuthorityOutcome::Rejected(e.to_string())),
                }
            })
            .await
            .clone()
    }

    /// [`requirements`], with `key.secretRef` keys read from the Secret source and the
    /// authority's own trust material attached ([`AuthorityTrust`]).
    async fn requirements(
        &self,
        policies: &PolicySet,
        job: &AuthorityJob,
    ) -> Result<Vec<Requirement>, AuthorityOutcome> {
        let trust =
            self.authority_trust
                .for_authority(policies, &job.policy, job.index, &job.authority)?;
        let mut reqs = self.key_requirements(&job.authority).await?;
        for r in &mut reqs {
            r.trust.clone_from(&trust);
        }
        Ok(reqs)
    }

    /// [`requirements`], with `key.secretRef` keys read from the Secret source.
    async fn key_requirements(
        &self,
        authority: &Authority,
    ) -> Result<Vec<Requirement>, AuthorityOutcome> {
        if let AuthorityKind::Key(k) = &authority.kind
            && let KeySource::Secret(secret) = &k.key
            && let Some(source) = &self.secrets
            && k.hash_algorithm == HashAlgorithm::Sha256
        {
            let Some(namespace) = secret
                .namespace
                .as_deref()
                .or(self.settings.webhook_namespace.as_deref())
            else {
                return Err(AuthorityOutcome::Rejected(format!(
                    "key.secretRef {} names no namespace and the webhook's own is unknown: set secretRef.namespace, or POD_NAMESPACE for the webhook",
                    secret.name
                )));
            };
            return match source.public_key(namespace, &secret.name).await {
                Ok(key) => Ok(vec![Requirement::key(
                    key,
                    formats(authority.signature_format),
                )]),
                Err(e) if e.is_infrastructure() => {
                    self.metrics.registry_error();
                    Err(AuthorityOutcome::InfraError(e.to_string()))
                }
                Err(e) => Err(AuthorityOutcome::Rejected(e.to_string())),
            };
        }
        requirements(authority)
    }

    /// The trusted root that `keyless.ca-cert`, `ctlog.trustRootRef` and
    /// `rfc3161timestamp.trustRootRef` are applied over (the one the webhook verifies
    /// with; without this, the embedded public-good root).
    #[must_use]
    pub fn with_trusted_root(mut self, root: Option<TrustedRoot>) -> Self {
        self.authority_trust = AuthorityTrust::new(root);
        self
    }

    /// Reads `key.secretRef` keys from `secrets` (the Kubernetes API in a cluster).
    #[must_use]
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretKeys>) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// Reads the workload's image pull secrets and its ServiceAccount's from `source`
    /// (the Kubernetes API in a cluster) for registry credentials, before the docker
    /// config.
    #[must_use]
    pub fn with_pull_secrets(mut self, source: Arc<dyn PullSecretSource>) -> Self {
        self.pull_secrets = Some(source);
        self
    }

    fn outcome_of_error(&self, e: &CheckError, credentials: &Credentials) -> AuthorityOutcome {
        if e.is_infrastructure() {
            self.metrics.registry_error();
            let reason = match e.store_error() {
                Some(StoreError::Registry(RegistryError::Unauthorized { registry, failure })) => {
                    unauthorized_reason(registry, failure, credentials)
                }
                _ => e.reason(),
            };
            AuthorityOutcome::InfraError(reason)
        } else {
            AuthorityOutcome::Rejected(e.reason())
        }
    }

    /// The validating webhook: verify every distinct image, then decide.
    async fn verify(
        self: &Arc<Self>,
        uid: &str,
        policies: &Arc<PolicySet>,
        workload: &Workload,
        registry: &Arc<RequestRegistry>,
        deadline: Instant,
    ) -> AdmissionResponse {
        let plan = Plan::new(policies, workload);
        let requests = plan.verifications(policies);
        let mut jobs: Vec<ImageJob> = Vec::new();
        for r in &requests {
            let job = AuthorityJob {
                policy: r.policy.name.clone(),
                index: r.authority_index,
                authority: r.authority.clone(),
            };
            match jobs.iter_mut().find(|j| j.key == r.image.key) {
                Some(j) => j.authorities.push(job),
                None => jobs.push(ImageJob {
                    key: r.image.key.clone(),
                    reference: r.reference.clone(),
                    authorities: vec![job],
                }),
            }
        }
        let mut outcomes = Outcomes::new();
        let mut tasks: JoinSet<JobResult> = JoinSet::new();
        let generation = policies.generation().clone();
        for job in jobs {
            let (this, generation) = (self.clone(), generation.clone());
            let registry = registry.clone();
            let policies = policies.clone();
            tasks.spawn(async move {
                this.verify_image(job, &policies, &generation, &registry)
                    .await
            });
        }
        loop {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(Ok((key, results)))) => {
                    for (policy, index, outcome) in results {
                        outcomes.insert(&key, &policy, index, outcome);
                    }
                }
                // A task that panicked records nothing: decide() fails closed.
                Ok(Some(Err(_))) => {}
                Ok(None) => break,
                Err(_) => {
                    // The deadline: whatever is unfinished is unverifiable. The tasks
                    // are aborted when `tasks` is dropped.
                    for r in &requests {
                        if outcomes
                            .get(&r.image.key, &r.policy.name, r.authority_index)
                            .is_none()
                        {
                            outcomes.record(
                                r,
                                AuthorityOutcome::InfraError(format!(
                                    "verification did not finish within the {:?} deadline",
                                    self.timeout
                                )),
                            );
                        }
                    }
                    self.metrics.registry_error();
                    break;
                }
            }
        }
        let decision = decide(policies, &plan, &outcomes, &self.settings);
        if decision.failed_open > 0 {
            self.metrics.failed_open(decision.failed_open as u64);
        }
        decision.to_response(uid)
    }

    /// Verifies one image for each of its authorities.
    async fn verify_image(
        &self,
        job: ImageJob,
        policies: &PolicySet,
        generation: &Generation,
        registry: &RequestRegistry,
    ) -> JobResult {
        let ImageJob {
            key,
            reference,
            authorities,
        } = job;
        let all = |outcome: AuthorityOutcome| -> JobResult {
            (
                key.clone(),
                authorities
                    .iter()
                    .map(|a| (a.policy.clone(), a.index, outcome.clone()))
                    .collect(),
            )
        };
        let digest = match self.resolve_tag(&reference, registry).await {
            Ok(d) => d,
            Err(outcome) => return all(outcome),
        };
        let image_repository = reference.repository().clone();
        let name = reference.ggcr_name();
        let mut results: Vec<(String, usize, AuthorityOutcome)> = Vec::new();
        // Per signature repository: (repository, [(authority, cache key, requirements)]).
        let mut groups: Vec<(Repository, Vec<PendingAuthority>)> = Vec::new();
        for a in &authorities {
            let signatures = match &a.authority.source {
                None => image_repository.clone(),
                Some(source) => match Repository::parse(&source.oci) {
                    Ok(r) => r,
                    Err(e) => {
                        results.push((
                            a.policy.clone(),
                            a.index,
                            AuthorityOutcome::Rejected(format!(
                                "source.oci {:?} is not a repository: {e}",
                                source.oci
                            )),
                        ));
                        continue;
                    }
                },
            };
            // Keys from Secrets are resolved first: the verdict depends on their bytes.
            let reqs = match self.requirements(policies, a).await {
                Ok(reqs) => reqs,
                Err(outcome) => {
                    results.push((a.policy.clone(), a.index, outcome));
                    continue;
                }
            };
            let mut identity = authority_identity(&a.authority);
            for r in &reqs {
                if let signet_verify::Authority::Key(k) = &r.policy.authority {
                    identity.extend_from_slice(k.spki_der());
                }
            }
            let cache_key = CacheKey::new(&signatures.to_string(), &digest, generation, &identity);
            if self.cache.contains(&cache_key) {
                self.metrics.cache_hit();
                results.push((a.policy.clone(), a.index, AuthorityOutcome::Verified));
                continue;
            }
            self.metrics.cache_miss();
            match groups.iter_mut().find(|(r, _)| *r == signatures) {
                Some((_, list)) => list.push((a.clone(), cache_key, reqs)),
                None => groups.push((signatures, vec![(a.clone(), cache_key, reqs)])),
            }
        }
        if groups.is_empty() {
            return (key, results);
        }
        // Only now is the registry needed: read the workload's pull secrets.
        let credentials = match self.credentials(registry).await {
            Ok(c) => c,
            Err(outcome) => {
                for (a, _, _) in groups.into_iter().flat_map(|(_, list)| list) {
                    results.push((a.policy.clone(), a.index, outcome.clone()));
                }
                return (key, results);
            }
        };
        let image_store = ImageStore::Registry {
            client: credentials.client.clone(),
            repository: image_repository,
        };
        for (repository, list) in groups {
            // Requests verifying the same authorities for the same image at the same
            // time (a Deployment's replicas arriving together) share one check, if
            // they use the same credentials (a check made without a namespace's pull
            // secrets must not answer for a request that has them, nor the reverse).
            let mut identity: Vec<u8> = list
                .iter()
                .flat_map(|(_, key, _)| key.as_bytes().iter().copied())
                .collect();
            identity.extend_from_slice(&credentials.identity);
            let flight = CacheKey::new(&repository.to_string(), &digest, generation, &identity);
            let flat: Vec<Requirement> = list
                .iter()
                .flat_map(|(_, _, r)| r.iter().cloned())
                .collect();
            let signature_store = image_store.with_repository(repository);
            let (image, options, name, digest_owned) = (
                image_store.clone(),
                self.options.clone(),
                name.clone(),
                digest.clone(),
            );
            let verdicts = self
                .in_flight
                .join(flight, async move {
                    let target = Target {
                        image: &image,
                        signatures: &signature_store,
                        name: &name,
                        digest: &digest_owned,
                    };
                    Arc::new(signet_check::check(&target, &flat, &options).await)
                })
                .await;
            let mut verdicts = verdicts.iter().cloned();
            for (a, cache_key, reqs) in list {
                let mine: Vec<_> = verdicts.by_ref().take(reqs.len()).collect();
                let outcome = if mine.iter().any(Result::is_ok) {
                    self.cache.insert_pass(cache_key);
                    AuthorityOutcome::Verified
                } else {
                    let errors: Vec<&CheckError> =
                        mine.iter().filter_map(|r| r.as_ref().err()).collect();
                    match errors
                        .iter()
                        .find(|e| e.is_infrastructure())
                        .or(errors.first())
                    {
                        Some(e) => self.outcome_of_error(e, &credentials),
                        None => AuthorityOutcome::InfraError(
                            "no verdict was produced (fail closed)".into(),
                        ),
                    }
                };
                results.push((a.policy.clone(), a.index, outcome));
            }
        }
        (key, results)
    }

    /// Evaluates workload objects offline, as the cluster would: the mutating webhook's
    /// patch is applied, then the validating webhook decides. Objects that are not
    /// workloads (Namespaces, Services…) are skipped; Namespace objects supply labels.
    pub async fn check_objects(self: &Arc<Self>, objects: &[Value]) -> Vec<CheckedWorkload> {
        let mut out = Vec::new();
        for (n, object) in objects.iter().enumerate() {
            let api_version = object
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or("");
            let kind_name = object.get("kind").and_then(Value::as_str).unwrap_or("");
            let (group, version) = match api_version.split_once('/') {
                Some((g, v)) => (g, v),
                None => ("", api_version),
            };
            let Some(kind) = WorkloadKind::from_group_kind(group, kind_name) else {
                continue;
            };
            let metadata = object.get("metadata");
            let meta = |k: &str| {
                metadata
                    .and_then(|m| m.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let namespace = match meta("namespace") {
                ns if ns.is_empty() => "default".to_owned(),
                ns => ns,
            };
            let name = meta("name");
            let review = |object: &Value| {
                serde_json::json!({
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {
                        "uid": format!("check-{n}"),
                        "kind": {"group": group, "version": version, "kind": kind.kind()},
                        "resource": {"group": group, "version": version, "resource": kind.resource()},
                        "name": name,
                        "namespace": namespace,
                        "operation": "CREATE",
                        "object": object,
                    }
                })
                .to_string()
                .into_bytes()
            };
            let mut object = object.clone();
            let mut warnings = Vec::new();
            let mut pinned = 0;
            if let Ok((response, _)) = self.mutate(&review(&object)).await {
                warnings.extend(response.warnings.iter().cloned());
                if let Some(patch) = &response.patch
                    && patch.apply(&mut object).is_ok()
                {
                    pinned = patch.0.len();
                }
            }
            let (response, verdict) = match self.validate(&review(&object)).await {
                Ok(r) => r,
                Err(e) => (
                    AdmissionResponse::deny("check", &e.to_string()),
                    Verdict::Denied,
                ),
            };
            warnings.extend(response.warnings.iter().cloned());
            out.push(CheckedWorkload {
                kind,
                namespace,
                name,
                verdict: if verdict == Verdict::Allowed && !warnings.is_empty() {
                    Verdict::Warned
                } else {
                    verdict
                },
                message: response.message.clone(),
                warnings,
                pinned,
            });
        }
        out
    }
}

/// The decision for one workload of a manifest (`signet admission check`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CheckedWorkload {
    /// The kind.
    pub kind: WorkloadKind,
    /// The namespace (`default` when the object names none).
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// The verdict.
    pub verdict: Verdict,
    /// The denial message.
    pub message: Option<String>,
    /// Warnings from both webhooks.
    pub warnings: Vec<String>,
    /// How many images the mutating webhook pinned.
    pub pinned: usize,
}

/// The objects of a multi-document YAML manifest (`kind: List` items are expanded,
/// empty documents dropped).
///
/// # Errors
/// The YAML parser's message.
pub fn workloads_from_yaml(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for doc in docs {
        match doc {
            Value::Null => {}
            Value::Object(ref m) if m.get("kind").and_then(Value::as_str) == Some("List") => {
                if let Some(Value::Array(items)) = m.get("items") {
                    out.extend(items.iter().cloned());
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// What a verdict for `authority` depends on, besides the image: the key bytes, the
/// identities, the CA, the signature format and the source.
fn authority_identity(authority: &Authority) -> Vec<u8> {
    let mut out = Vec::new();
    match &authority.kind {
        AuthorityKind::Key(k) => {
            out.extend_from_slice(b"key\0");
            match &k.key {
                KeySource::Inline(pk) => out.extend_from_slice(pk.spki_der()),
                KeySource::Secret(s) => out.extend_from_slice(format!("secret {s:?}").as_bytes()),
                other => out.extend_from_slice(format!("{other:?}").as_bytes()),
            }
            out.extend_from_slice(format!("\0{:?}", k.hash_algorithm).as_bytes());
        }
        AuthorityKind::Keyless(k) => {
            out.extend_from_slice(format!("keyless\0{k:?}").as_bytes());
        }
        AuthorityKind::Static(s) => out.extend_from_slice(format!("static\0{s:?}").as_bytes()),
        other => out.extend_from_slice(format!("{other:?}").as_bytes()),
    }
    out.extend_from_slice(
        format!(
            "\0{:?}\0{:?}\0{:?}\0{:?}",
            authority.signature_format,
            authority.source,
            authority.ctlog,
            authority.rfc3161_timestamp
        )
        .as_bytes(),
    );
    out
}

/// What a registry's refusal means for the webhook: whose credentials it refused, or
/// where credentials were looked for and where to put them.
fn unauthorized_reason(registry: &str, failure: &AuthFailure, credentials: &Credentials) -> String {
    let source = credentials.set.as_ref().and_then(|set| {
        let repository = Repository::parse(&format!("{registry}/x")).ok()?;
        set.source_for(repository.registry()).map(str::to_owned)
    });
    match (source, failure) {
        (Some(source), _) => format!(
            "registry {registry} denied access because {failure} (credentials from {source}; looked in: {})",
            credentials.looked_in
        ),
        (None, AuthFailure::NoCredentials) if credentials.pull_secrets => format!(
            "registry {registry} denied access because {failure}; add an imagePullSecret for {registry} to the workload or its ServiceAccount (looked in: {})",
            credentials.looked_in
        ),
        (None, AuthFailure::NoCredentials) => format!(
            "registry {registry} denied access because {failure}; add an entry for {registry} to the webhook's docker config (--docker-config)"
        ),
        (None, _) => format!(
            "registry {registry} denied access because {failure} (credentials from the webhook's docker config)"
        ),
    }
}

fn formats(format: SignatureFormat) -> SignatureFormats {
    match format {
        SignatureFormat::Legacy => SignatureFormats::LegacyOnly,
        SignatureFormat::Bundle => SignatureFormats::BundlesOnly,
    }
}

/// The policy's matcher as signet-verify's: its regex was compiled when the policy
/// loaded, and is shared, not compiled again per request.
fn string_matcher(m: &Matcher) -> StringMatcher {
    match m {
        Matcher::Exact(s) => StringMatcher::Exact(s.clone()),
        Matcher::Regex(r) => StringMatcher::Regex(r.clone()),
    }
}

/// The signet-check requirements that satisfy `authority` (any one passing), or the
/// outcome when it cannot be checked here.
fn requirements(authority: &Authority) -> Result<Vec<Requirement>, AuthorityOutcome> {
    let formats = formats(authority.signature_format);
    match &authority.kind {
        AuthorityKind::Key(k) => {
            if k.hash_algorithm != HashAlgorithm::Sha256 {
                return Err(AuthorityOutcome::Rejected(format!(
                    "hashAlgorithm {:?} is not supported by signet yet; only sha256 (cosign's default) is",
                    k.hash_algorithm
                )));
            }
            match &k.key {
                KeySource::Inline(pk) => Ok(vec![Requirement::key(pk.clone(), formats)]),
                KeySource::Secret(s) => Err(AuthorityOutcome::InfraError(format!(
                    "key.secretRef {}{} needs the Kubernetes API, which this webhook does not read yet: put the public key in key.data",
                    s.namespace
                        .as_deref()
                        .map(|n| format!("{n}/"))
                        .unwrap_or_default(),
                    s.name
                ))),
                _ => Err(AuthorityOutcome::Rejected(
                    "this kind of key source is not supported by signet yet".into(),
                )),
            }
        }
        AuthorityKind::Keyless(k) => {
            // The CA (Fulcio URL, ca-cert, trustRootRef) decides the trust material,
            // which the caller attaches (crate::trust_roots).
            Ok(k.identities
                .iter()
                .map(|i| Requirement {
                    policy: signet_verify::Policy {
                        authority: signet_verify::Authority::Keyless(IdentityMatcher {
                            subject: string_matcher(&i.subject),
                            issuer: string_matcher(&i.issuer),
                        }),
                        annotations: BTreeMap::new(),
                        claims: signet_verify::ClaimCheck::Enforce,
                    },
                    formats,
                    trust: None,
                })
                .collect())
        }
        _ => Err(AuthorityOutcome::Rejected(
            "this kind of authority needs no verification, or is not supported by signet yet"
                .into(),
        )),
    }
}

#[cfg(test)]
mod tests;
