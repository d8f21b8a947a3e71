//! The ClusterImagePolicy document exactly as written (policy-controller's JSON field
//! names), before validation. Every struct under `spec` rejects unknown fields, so a
//! typo is an error at load and never a silently ignored setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// Kubernetes treats `field: null` like an absent field; so do we for lists and maps.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PolicyDocument {
    pub(crate) metadata: Metadata,
    pub(crate) spec: Spec,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Spec {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) images: Vec<ImagePattern>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) authorities: Vec<Authority>,
    /// The CIP-level CUE/Rego policy: refused at load (not evaluated yet).
    #[serde(default)]
    pub(crate) policy: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) mode: Option<String>,
    #[serde(default, rename = "match", deserialize_with = "nullable")]
    pub(crate) match_resources: Vec<MatchResource>,
    /// signet extension (Kyverno's name): pin tags to digests in the mutating webhook.
    #[serde(default)]
    pub(crate) mutate_digest: Option<bool>,
    /// signet extension (Kyverno's name): deny images not pinned to a digest.
    #[serde(default)]
    pub(crate) verify_digest: Option<bool>,
    /// signet extension: allow (with a warning) when verification cannot be done.
    #[serde(default)]
    pub(crate) fail_open: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImagePattern {
    #[serde(default)]
    pub(crate) glob: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Authority {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) key: Option<KeyRef>,
    #[serde(default)]
    pub(crate) keyless: Option<Keyless>,
    #[serde(default, rename = "static")]
    pub(crate) static_: Option<Static>,
    #[serde(default, rename = "source", deserialize_with = "nullable")]
    pub(crate) sources: Vec<Source>,
    #[serde(default)]
    pub(crate) ctlog: Option<TLog>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) attestations: Vec<Attestation>,
    #[serde(default, rename = "rfc3161timestamp")]
    pub(crate) rfc3161_timestamp: Option<Rfc3161Timestamp>,
    #[serde(default)]
    pub(crate) signature_format: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct KeyRef {
    #[serde(default)]
    pub(crate) secret_ref: Option<SecretRef>,
    #[serde(default)]
    pub(crate) data: Option<String>,
    #[serde(default)]
    pub(crate) kms: Option<String>,
    #[serde(default)]
    pub(crate) hash_algorithm: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SecretRef {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) namespace: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Keyless {
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) identities: Vec<Identity>,
    #[serde(default, rename = "ca-cert")]
    pub(crate) ca_cert: Option<KeyRef>,
    #[serde(default)]
    pub(crate) trust_root_ref: Option<String>,
    #[serde(default, rename = "insecureIgnoreSCT")]
    pub(crate) insecure_ignore_sct: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Identity {
    #[serde(default)]
    pub(crate) issuer: Option<String>,
    #[serde(default)]
    pub(crate) subject: Option<String>,
    #[serde(default)]
    pub(crate) issuer_reg_exp: Option<String>,
    #[serde(default)]
    pub(crate) subject_reg_exp: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Static {
    #[serde(default)]
    pub(crate) action: Option<String>,
    #[serde(default)]
    pub(crate) message: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Source {
    #[serde(default)]
    pub(crate) oci: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) signature_pull_secrets: Vec<LocalObjectReference>,
    #[serde(default)]
    pub(crate) tag_prefix: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LocalObjectReference {
    #[serde(default)]
    pub(crate) name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TLog {
    #[serde(default)]
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) trust_root_ref: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Rfc3161Timestamp {
    #[serde(default)]
    pub(crate) trust_root_ref: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Attestation {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) predicate_type: Option<String>,
    /// Kept as written: attestation policies are not evaluated yet.
    #[serde(default)]
    pub(crate) policy: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MatchResource {
    #[serde(default)]
    pub(crate) group: Option<String>,
    #[serde(default)]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) resource: Option<String>,
    #[serde(default)]
    pub(crate) selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LabelSelector {
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) match_labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LabelSelectorRequirement {
    #[serde(default)]
    pub(crate) key: Option<String>,
    #[serde(default)]
    pub(crate) operator: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub(crate) values: Vec<String>,
}
