//! Prometheus metrics (OpenMetrics text at `GET /metrics`).
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `signet_admission_requests_total` | `endpoint`, `verdict` | AdmissionReview requests: `allowed`, `warned`, `denied`, `skipped`, `rejected` (HTTP 4xx) |
//! | `signet_admission_request_duration_seconds` | `endpoint` | latency histogram (0.25 ms … 8 s) |
//! | `signet_admission_cache_hits_total` / `_misses_total` | | verdict cache lookups |
//! | `signet_admission_fail_open_total` | | (image, policy) pairs allowed by `failOpen` |
//! | `signet_admission_registry_errors_total` | | infrastructure failures talking to registries |
//! | `signet_admission_registry_requests_total` | | HTTP requests the registry client made |
//! | `signet_admission_policy_reloads_total` | `result` | policy directory loads: `ok`, `error` |
//! | `signet_admission_certificate_reloads_total` | `result` | certificate reloads: `ok`, `error` |
//! | `signet_admission_policies_loaded` | | policies serving now |

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    verdict: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: String,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms doubling to ~8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// Every metric of the webhook, and the registry that encodes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    cache_hits: Counter,
    cache_misses: Counter,
    fail_open: Counter,
    registry_errors: Counter,
    registry_requests: Counter,
    registry_requests_seen: AtomicU64,
    policy_reloads: Family<ResultLabels, Counter>,
    certificate_reloads: Family<ResultLabels, Counter>,
    policies_loaded: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("signet_admission");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let (cache_hits, cache_misses, fail_open) =
            (Counter::default(), Counter::default(), Counter::default());
        let (registry_errors, registry_requests) = (Counter::default(), Counter::default());
        let policy_reloads = Family::<ResultLabels, Counter>::default();
        let certificate_reloads = Family::<ResultLabels, Counter>::default();
        let policies_loaded = Gauge::default();
        registry.register(
            "requests",
            "AdmissionReview requests by endpoint and verdict",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer an AdmissionReview",
            latency.clone(),
        );
        registry.register(
            "cache_hits",
            "Verdict cache lookups that found a verified pass",
            cache_hits.clone(),
        );
        registry.register(
            "cache_misses",
            "Verdict cache lookups that had to verify",
            cache_misses.clone(),
        );
        registry.register(
            "fail_open",
            "Image and policy pairs allowed without verification because of failOpen",
            fail_open.clone(),
        );
        registry.register(
            "registry_errors",
            "Registry failures that prevented a verification (down, timeout, refused)",
            registry_errors.clone(),
        );
        registry.register(
            "registry_requests",
            "HTTP requests made to registries",
            registry_requests.clone(),
        );
        registry.register(
            "policy_reloads",
            "Loads of the policy directory by result",
            policy_reloads.clone(),
        );
        registry.register(
            "certificate_reloads",
            "Reloads of the TLS certificate by result",
            certificate_reloads.clone(),
        );
        registry.register(
            "policies_loaded",
            "ClusterImagePolicies serving now",
            policies_loaded.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            cache_hits,
            cache_misses,
            fail_open,
            registry_errors,
            registry_requests,
            registry_requests_seen: AtomicU64::new(0),
            policy_reloads,
            certificate_reloads,
            policies_loaded,
        }
    }

    /// Counts one answered request.
    pub(crate) fn request(&self, endpoint: &str, verdict: &str, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.to_owned(),
                verdict: verdict.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_owned(),
            })
            .observe(seconds);
    }

    pub(crate) fn cache_hit(&self) {
        self.cache_hits.inc();
    }

    pub(crate) fn cache_miss(&self) {
        self.cache_misses.inc();
    }

    pub(crate) fn failed_open(&self, n: u64) {
        self.fail_open.inc_by(n);
    }

    pub(crate) fn registry_error(&self) {
        self.registry_errors.inc();
    }

    /// Brings the registry request counter up to the client's own count.
    pub(crate) fn registry_requests_now(&self, total: u64) {
        let before = self
            .registry_requests_seen
            .fetch_max(total, Ordering::Relaxed);
        if total > before {
            self.registry_requests.inc_by(total - before);
        }
    }

    pub(crate) fn policy_reload(&self, ok: bool, loaded: usize) {
        self.policy_reloads
            .get_or_create(&ResultLabels {
                result: if ok { "ok" } else { "error" }.to_owned(),
            })
            .inc();
        if ok {
            self.policies_loaded
                .set(i64::try_from(loaded).unwrap_or(i64::MAX));
        }
    }

    pub(crate) fn certificate_reload(&self, ok: bool) {
        self.certificate_reloads
            .get_or_create(&ResultLabels {
                result: if ok { "ok" } else { "error" }.to_owned(),
            })
            .inc();
    }

    /// Cache hits so far.
    pub fn cache_hits(&self) -> u64 {
        self.cache_hits.get()
    }

    /// Cache misses so far.
    pub fn cache_misses(&self) -> u64 {
        self.cache_misses.get()
    }

    /// `failOpen` allowances so far.
    pub fn fail_open_count(&self) -> u64 {
        self.fail_open.get()
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_encoded_as_openmetrics() {
        let m = Metrics::new();
        m.request("validate", "denied", 0.002);
        m.cache_hit();
        m.cache_miss();
        m.cache_miss();
        m.failed_open(1);
        m.registry_requests_now(5);
        m.registry_requests_now(3);
        m.policy_reload(true, 4);
        let text = m.encode();
        assert!(
            text.contains(
                "signet_admission_requests_total{endpoint=\"validate\",verdict=\"denied\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("signet_admission_cache_misses_total 2"),
            "{text}"
        );
        assert!(
            text.contains("signet_admission_registry_requests_total 5"),
            "{text}"
        );
        assert!(
            text.contains("signet_admission_policies_loaded 4"),
            "{text}"
        );
        assert!(
            text.contains("signet_admission_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
