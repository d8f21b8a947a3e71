//! RFC 6902 JSON Patch for digest pinning, and a small applier that tests (ours and the
//! webhook's) use to check that a patch applies to the object and yields the expected
//! images.
//!
//! Pinning keeps the user's spelling of the reference and appends the digest:
//! `nginx:1.27` → `nginx:1.27@sha256:…`, `ghcr.io/acme/app:1.2` →
//! `ghcr.io/acme/app:1.2@sha256:…`. GitOps tools then still see the tag they wrote.
//! (policy-controller writes the registry-qualified name, `index.docker.io/library/nginx…`;
//! Kyverno writes `registry/path:tag@digest`; keeping the spelling is the least drift.)
//! An image that already carries a digest is never touched.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use signet_formats::{Digest, ImageRef};

use crate::workload::ContainerImage;

/// An RFC 6901 JSON Pointer (`/spec/containers/0/image`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonPointer(String);

impl JsonPointer {
    /// The pointer to the whole document (`""`).
    pub fn root() -> Self {
        JsonPointer(String::new())
    }

    /// Parses a pointer: empty, or `/`-prefixed reference tokens.
    ///
    /// # Errors
    /// [`PatchError::InvalidPointer`] when it does not start with `/` or has a `~` not
    /// followed by `0` or `1`.
    pub fn parse(s: &str) -> Result<Self, PatchError> {
        let invalid = || PatchError::InvalidPointer {
            pointer: s.chars().take(200).collect(),
        };
        if !(s.is_empty() || s.starts_with('/')) {
            return Err(invalid());
        }
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
                return Err(invalid());
            }
        }
        Ok(JsonPointer(s.to_owned()))
    }

    /// This pointer with one more reference token, escaped (`~` → `~0`, `/` → `~1`).
    pub fn join(&self, token: &str) -> Self {
        let escaped = token.replace('~', "~0").replace('/', "~1");
        JsonPointer(format!("{}/{escaped}", self.0))
    }

    /// This pointer with an array index appended.
    pub fn join_index(&self, index: usize) -> Self {
        JsonPointer(format!("{}/{index}", self.0))
    }

    /// The pointer text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The unescaped reference tokens.
    pub fn tokens(&self) -> Vec<String> {
        if self.0.is_empty() {
            return Vec::new();
        }
        self.0[1..]
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect()
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One RFC 6902 operation (the subset a webhook and its tests need).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum PatchOperation {
    /// Add a member or insert into an array (`-` appends).
    Add {
        /// Where.
        path: JsonPointer,
        /// What.
        value: Value,
    },
    /// Remove the value at `path`.
    Remove {
        /// Where.
        path: JsonPointer,
    },
    /// Replace the (existing) value at `path`.
    Replace {
        /// Where.
        path: JsonPointer,
        /// The new value.
        value: Value,
    },
    /// Fail unless the value at `path` equals `value`.
    Test {
        /// Where.
        path: JsonPointer,
        /// The expected value.
        value: Value,
    },
}

/// A JSON Patch document: operations applied in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonPatch(pub Vec<PatchOperation>);

/// Why a patch cannot be built, parsed or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatchError {
    /// A JSON pointer is malformed.
    #[error(
        "invalid JSON pointer {pointer:?}: pointers are empty or start with '/', and '~' is followed by 0 or 1"
    )]
    InvalidPointer {
        /// The pointer.
        pointer: String,
    },
    /// A pointer names something that is not there.
    #[error(
        "JSON pointer {pointer} does not exist in the object: the patch was built for a different object"
    )]
    PathNotFound {
        /// The pointer.
        pointer: String,
    },
    /// A `test` operation failed.
    #[error("JSON patch test failed at {pointer}: the object changed since the patch was built")]
    TestFailed {
        /// The pointer.
        pointer: String,
    },
    /// The patch is not a JSON array of operations.
    #[error("malformed JSON patch: {reason}")]
    Malformed {
        /// What the parser reported.
        reason: String,
    },
    /// Pinning would produce a reference that does not parse.
    #[error("pinning {image:?} to {digest} gives an invalid reference: {reason}")]
    InvalidPinnedReference {
        /// The image as written.
        image: String,
        /// The digest.
        digest: String,
        /// What the reference parser said.
        reason: String,
    },
}

impl JsonPatch {
    /// Whether there are no operations.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The patch as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data (strings, JSON values) into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_else(|_| b"[]".to_vec())
    }

    /// The patch as the base64 string AdmissionReview's `response.patch` carries.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_json())
    }

    /// Parses JSON patch bytes.
    ///
    /// # Errors
    /// [`PatchError::Malformed`] when the bytes are not an array of known operations.
    pub fn parse(bytes: &[u8]) -> Result<Self, PatchError> {
        serde_json::from_slice(bytes).map_err(|e| PatchError::Malformed {
            reason: e.to_string(),
        })
    }

    /// Applies the patch to `target`, atomically: on error `target` is unchanged.
    ///
    /// # Errors
    /// [`PatchError::PathNotFound`] or [`PatchError::TestFailed`].
    pub fn apply(&self, target: &mut Value) -> Result<(), PatchError> {
        let mut work = target.clone();
        for op in &self.0 {
            apply_one(&mut work, op)?;
        }
        *target = work;
        Ok(())
    }
}

/// The `replace` operations that pin each image whose pointer has a resolved digest.
/// Images already pinned to a digest and images without a resolved digest are left
/// alone; the images' own spelling is kept (`repo:tag` → `repo:tag@sha256:…`).
///
/// # Errors
/// [`PatchError::InvalidPinnedReference`] if an image plus its digest does not parse (an
/// image that did not parse in the first place).
pub fn pin_digests(
    images: &[ContainerImage],
    digests: &BTreeMap<JsonPointer, Digest>,
) -> Result<JsonPatch, PatchError> {
    let mut ops = Vec::new();
    for image in images {
        let Some(digest) = digests.get(&image.pointer) else {
            continue;
        };
        let already_pinned = image
            .image
            .parse::<ImageRef>()
            .map(|r| r.digest().is_some())
            .unwrap_or(false);
        if already_pinned {
            continue;
        }
        let pinned = format!("{}@{digest}", image.image);
        if let Err(e) = pinned.parse::<ImageRef>() {
            return Err(PatchError::InvalidPinnedReference {
                image: image.image.clone(),
                digest: digest.to_string(),
                reason: e.to_string(),
            });
        }
        ops.push(PatchOperation::Replace {
            path: image.pointer.clone(),
            value: Value::String(pinned),
        });
    }
    Ok(JsonPatch(ops))
}

fn not_found(path: &JsonPointer) -> PatchError {
    PatchError::PathNotFound {
        pointer: path.to_string(),
    }
}

fn resolve_mut<'v>(
    target: &'v mut Value,
    tokens: &[String],
    path: &JsonPointer,
) -> Result<&'v mut Value, PatchError> {
    let mut cur = target;
    for token in tokens {
        cur = match cur {
            Value::Object(map) => map.get_mut(token).ok_or_else(|| not_found(path))?,
            Value::Array(items) => {
                let index = parse_index(token).ok_or_else(|| not_found(path))?;
                items.get_mut(index).ok_or_else(|| not_found(path))?
            }
            _ => return Err(not_found(path)),
        };
    }
    Ok(cur)
}

/// RFC 6901 array indexes: `0` or digits without a leading zero.
fn parse_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || (token.len() > 1 && token.starts_with('0'))
        || !token.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    token.parse().ok()
}

fn apply_one(target: &mut Value, op: &PatchOperation) -> Result<(), PatchError> {
    match op {
        PatchOperation::Test { path, value } => {
            let found = resolve_mut(target, &path.tokens(), path)?;
            if found == value {
                Ok(())
            } else {
                Err(PatchError::TestFailed {
                    pointer: path.to_string(),
                })
            }
        }
        PatchOperation::Replace { path, value } => {
            let slot = resolve_mut(target, &path.tokens(), path)?;
            *slot = value.clone();
            Ok(())
        }
        PatchOperation::Remove { path } => {
            let tokens = path.tokens();
            let (last, parent) = tokens.split_last().ok_or_else(|| not_found(path))?;
            match resolve_mut(target, parent, path)? {
                Value::Object(map) => map.remove(last).map(|_| ()).ok_or_else(|| not_found(path)),
                Value::Array(items) => {
                    let index = parse_index(last)
                        .filter(|i| *i < items.len())
                        .ok_or_else(|| not_found(path))?;
                    items.remove(index);
                    Ok(())
                }
                _ => Err(not_found(path)),
            }
        }
        PatchOperation::Add { path, value } => {
            let tokens = path.tokens();
            let Some((last, parent)) = tokens.split_last() else {
                *target = value.clone();
                return Ok(());
            };
            match resolve_mut(target, parent, path)? {
                Value::Object(map) => {
                    map.insert(last.clone(), value.clone());
                    Ok(())
                }
                Value::Array(items) => {
                    let index = if last == "-" {
                        items.len()
                    } else {
                        parse_index(last)
                            .filter(|i| *i <= items.len())
                            .ok_or_else(|| not_found(path))?
                    };
                    items.insert(index, value.clone());
                    Ok(())
                }
                _ => Err(not_found(path)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_escaping_round_trips() {
        let p = JsonPointer::root()
            .join("metadata")
            .join("annotations")
            .join("kyverno.io/verify~x");
        assert_eq!(p.as_str(), "/metadata/annotations/kyverno.io~1verify~0x");
        assert_eq!(
            p.tokens(),
            ["metadata", "annotations", "kyverno.io/verify~x"]
        );
        assert!(matches!(
            JsonPointer::parse("a/b"),
            Err(PatchError::InvalidPointer { .. })
        ));
        assert!(matches!(
            JsonPointer::parse("/a~2"),
            Err(PatchError::InvalidPointer { .. })
        ));
        assert_eq!(
            JsonPointer::parse("/a~01").map(|p| p.tokens()),
            Ok(vec!["a~1".to_owned()])
        );
    }

    #[test]
    fn applies_rfc6902_subset_atomically() {
        let mut doc = json!({"spec": {"containers": [{"image": "a"}, {"image": "b"}]}});
        let patch: JsonPatch = serde_json::from_value(json!([
            {"op": "test", "path": "/spec/containers/1/image", "value": "b"},
            {"op": "replace", "path": "/spec/containers/1/image", "value": "c"},
            {"op": "add", "path": "/spec/containers/-", "value": {"image": "d"}},
            {"op": "remove", "path": "/spec/containers/0"},
            {"op": "add", "path": "/metadata", "value": {}},
        ]))
        .unwrap();
        patch.apply(&mut doc).unwrap();
        assert_eq!(
            doc,
            json!({"metadata": {}, "spec": {"containers": [{"image": "c"}, {"image": "d"}]}})
        );

        let before = doc.clone();
        let bad: JsonPatch = serde_json::from_value(json!([
            {"op": "replace", "path": "/spec/containers/0/image", "value": "x"},
            {"op": "replace", "path": "/spec/containers/7/image", "value": "y"},
        ]))
        .unwrap();
        assert_eq!(
            bad.apply(&mut doc),
            Err(PatchError::PathNotFound {
                pointer: "/spec/containers/7/image".into()
            })
        );
        assert_eq!(doc, before, "a failed patch leaves the object as it was");
        for index in ["01", "-1", "x", ""] {
            let p = JsonPatch(vec![PatchOperation::Replace {
                path: JsonPointer(format!("/spec/containers/{index}")),
                value: json!(1),
            }]);
            assert!(
                matches!(p.apply(&mut doc), Err(PatchError::PathNotFound { .. })),
                "{index}"
            );
        }
    }

    #[test]
    fn parse_rejects_unknown_ops_and_base64_round_trips() {
        assert!(matches!(
            JsonPatch::parse(br#"[{"op":"move","from":"/a","path":"/b"}]"#),
            Err(PatchError::Malformed { .. })
        ));
        assert!(matches!(
            JsonPatch::parse(br#"{"op":"add"}"#),
            Err(PatchError::Malformed { .. })
        ));
        let p = JsonPatch(vec![PatchOperation::Replace {
            path: JsonPointer::parse("/spec/containers/0/image").unwrap(),
            value: json!("nginx:1@sha256:00"),
        }]);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(p.to_base64())
            .unwrap();
        assert_eq!(JsonPatch::parse(&bytes).unwrap(), p);
        assert_eq!(
            String::from_utf8(p.to_json()).unwrap(),
            r#"[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:1@sha256:00"}]"#
        );
    }
}
