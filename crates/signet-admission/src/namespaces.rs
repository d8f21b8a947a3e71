//! Namespace labels, for the opt-in label `policy.sigstore.dev/include=true`.
//!
//! In a cluster the webhook configuration's `namespaceSelector` does the selecting,
//! and the webhook trusts it (labels unknown: checked). Out of a cluster, and for
//! `signet admission check`, Namespace objects from YAML say which namespaces opted in.

use std::collections::BTreeMap;

use serde_json::Value;

/// Labels of the namespaces the webhook knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespaceLabels(BTreeMap<String, BTreeMap<String, String>>);

impl NamespaceLabels {
    /// No namespace known: every namespace is checked (the selector chose).
    pub fn unknown() -> Self {
        Self::default()
    }

    /// Adds a namespace.
    pub fn insert(&mut self, name: &str, labels: BTreeMap<String, String>) {
        self.0.insert(name.to_owned(), labels);
    }

    /// Reads every `kind: Namespace` document of `objects` (other kinds are ignored).
    pub fn from_objects<'a>(objects: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut out = Self::default();
        for object in objects {
            if object.get("apiVersion").and_then(Value::as_str) != Some("v1")
                || object.get("kind").and_then(Value::as_str) != Some("Namespace")
            {
                continue;
            }
            let Some(name) = object.pointer("/metadata/name").and_then(Value::as_str) else {
                continue;
            };
            out.insert(name, signet_policy::workload::object_labels(object));
        }
        out
    }

    /// The labels of `namespace`, if it is known.
    pub fn labels(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.0.get(namespace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_come_from_namespace_objects() {
        let docs: Vec<Value> = vec![
            serde_json::json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a","labels":{"policy.sigstore.dev/include":"true"}}}),
            serde_json::json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"b"}}),
            serde_json::json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}),
        ];
        let n = NamespaceLabels::from_objects(&docs);
        assert_eq!(
            n.labels("a")
                .and_then(|l| l.get("policy.sigstore.dev/include"))
                .map(String::as_str),
            Some("true")
        );
        assert_eq!(n.labels("b").map(BTreeMap::len), Some(0));
        assert!(n.labels("c").is_none());
    }
}
