//! AdmissionReview v1 requests, and the images of the workload they carry.
//!
//! [`parse_review`] turns the request body into an [`AdmissionRequest`] (size limit,
//! `apiVersion`/`kind`, a non-empty `request.uid`); [`extract_workload`] then says what
//! to do with it: skip it (DELETE, CONNECT, a status update, an UPDATE that does not
//! change any image), report a kind that is not a workload, or list every image with
//! its JSON pointer and container name.
//!
//! Workloads: Pod (also through the `pods/ephemeralcontainers` subresource, whose object
//! is the whole Pod), Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob and
//! ReplicationController. Images: `initContainers`, `containers`,
//! `ephemeralContainers`, and image volumes (`volumes[].image.reference`), which are
//! pulled like images too.
//!
//! Only the fields used are typed; the objects stay [`serde_json::Value`] so that a
//! patch can be checked against them. Nothing here panics on any input.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::patch::JsonPointer;

/// The largest request body accepted: the apiserver's own limit (3 MiB).
pub const MAX_REVIEW_BYTES: usize = 3 * 1024 * 1024;

/// `apiVersion` of the AdmissionReview objects we accept and write.
pub const ADMISSION_API_VERSION: &str = "admission.k8s.io/v1";
/// `kind` of the AdmissionReview objects.
pub const ADMISSION_KIND: &str = "AdmissionReview";

/// A request body that cannot be used; without a `request.uid` there is no response to
/// give, so the webhook answers these with HTTP 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// The body is larger than [`MAX_REVIEW_BYTES`].
    #[error(
        "the AdmissionReview is {size} bytes, above the {limit}-byte limit the apiserver itself enforces"
    )]
    TooLarge {
        /// The body size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON, or its fields have the wrong types.
    #[error("malformed AdmissionReview JSON: {reason}")]
    MalformedJson {
        /// What the JSON parser reported (with line and column).
        reason: String,
    },
    /// `apiVersion` is not `admission.k8s.io/v1`.
    #[error(
        "AdmissionReview apiVersion is {found:?}; only admission.k8s.io/v1 is supported: set admissionReviewVersions: [\"v1\"] in the webhook configuration"
    )]
    WrongApiVersion {
        /// What was sent.
        found: String,
    },
    /// `kind` is not `AdmissionReview`.
    #[error("the body's kind is {found:?}, expected AdmissionReview")]
    WrongKind {
        /// What was sent.
        found: String,
    },
    /// There is no `request`.
    #[error("the AdmissionReview has no request")]
    MissingRequest,
    /// `request.uid` is missing or empty.
    #[error("the AdmissionReview request has no uid, so no response can be matched to it")]
    MissingUid,
    /// `request.operation` is not CREATE, UPDATE, DELETE or CONNECT.
    #[error("unknown admission operation {found:?}: expected CREATE, UPDATE, DELETE or CONNECT")]
    UnknownOperation {
        /// What was sent.
        found: String,
    },
}

/// An object that cannot be read as the workload it claims to be; the request has a uid,
/// so the webhook denies it with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkloadError {
    /// A CREATE or UPDATE without `request.object`.
    #[error("the {operation} request carries no object")]
    MissingObject {
        /// The operation.
        operation: Operation,
    },
    /// A field has the wrong JSON type.
    #[error("malformed {kind} object: {pointer} should be {expected}")]
    Malformed {
        /// The workload kind.
        kind: WorkloadKind,
        /// Where.
        pointer: String,
        /// The expected JSON type.
        expected: &'static str,
    },
    /// The object's own `kind` differs from `request.kind`.
    #[error("the object's kind is {object:?} but the request says {request:?}")]
    KindMismatch {
        /// `request.kind.kind`.
        request: String,
        /// `object.kind`.
        object: String,
    },
}

/// `request.operation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// CREATE.
    Create,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// CONNECT (exec, attach, port-forward…).
    Connect,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
            Operation::Connect => "CONNECT",
        })
    }
}

/// A group/version/kind (`request.kind`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GroupVersionKind {
    /// The API group (`""` for core).
    pub group: String,
    /// The version.
    pub version: String,
    /// The kind.
    pub kind: String,
}

/// A group/version/resource (`request.resource`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct GroupVersionResource {
    /// The API group (`""` for core).
    pub group: String,
    /// The version.
    pub version: String,
    /// The plural resource name.
    pub resource: String,
}

/// The parts of an AdmissionReview v1 request the webhook uses.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AdmissionRequest {
    /// `request.uid`, echoed in the response.
    pub uid: String,
    /// `request.kind`.
    pub kind: GroupVersionKind,
    /// `request.resource`.
    pub resource: GroupVersionResource,
    /// `request.subResource` (empty for the main resource).
    pub sub_resource: String,
    /// `request.name` (empty when the object uses `generateName`).
    pub name: String,
    /// `request.namespace` (empty for cluster-scoped objects).
    pub namespace: String,
    /// `request.operation`.
    pub operation: Operation,
    /// `request.dryRun`.
    pub dry_run: bool,
    /// `request.object`.
    pub object: Option<Value>,
    /// `request.oldObject`.
    pub old_object: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewWire {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    request: Option<RequestWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestWire {
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    kind: Option<GroupVersionKind>,
    #[serde(default)]
    resource: Option<GroupVersionResource>,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    operation: Option<String>,
    #[serde(default)]
    dry_run: Option<bool>,
    #[serde(default)]
    object: Option<Value>,
    #[serde(default)]
    old_object: Option<Value>,
}

/// Parses an AdmissionReview v1 request body.
///
/// # Errors
/// A [`ReviewError`]; never panics, whatever the bytes (JSON nesting is bounded by the
/// parser's recursion limit).
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest, ReviewError> {
    if body.len() > MAX_REVIEW_BYTES {
        return Err(ReviewError::TooLarge {
            size: body.len(),
            limit: MAX_REVIEW_BYTES,
        });
    }
    let wire: ReviewWire =
        serde_json::from_slice(body).map_err(|e| ReviewError::MalformedJson {
            reason: e.to_string(),
        })?;
    let api_version = wire.api_version.unwrap_or_default();
    if api_version != ADMISSION_API_VERSION {
        return Err(ReviewError::WrongApiVersion { found: api_version });
    }
    let kind = wire.kind.unwrap_or_default();
    if kind != ADMISSION_KIND {
        return Err(ReviewError::WrongKind { found: kind });
    }
    let request = wire.request.ok_or(ReviewError::MissingRequest)?;
    let uid = request
        .uid
        .filter(|u| !u.is_empty())
        .ok_or(ReviewError::MissingUid)?;
    let operation = match request.operation.as_deref().unwrap_or_default() {
        "CREATE" => Operation::Create,
        "UPDATE" => Operation::Update,
        "DELETE" => Operation::Delete,
        "CONNECT" => Operation::Connect,
        other => {
            return Err(ReviewError::UnknownOperation {
                found: other.chars().take(100).collect(),
            });
        }
    };
    Ok(AdmissionRequest {
        uid,
        kind: request.kind.unwrap_or_default(),
        resource: request.resource.unwrap_or_default(),
        sub_resource: request.sub_resource.unwrap_or_default(),
        name: request.name.unwrap_or_default(),
        namespace: request.namespace.unwrap_or_default(),
        operation,
        dry_run: request.dry_run.unwrap_or(false),
        object: request.object.filter(|o| !o.is_null()),
        old_object: request.old_object.filter(|o| !o.is_null()),
    })
}

/// The workload kinds whose images are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WorkloadKind {
    /// core/v1 Pod.
    Pod,
    /// apps/v1 Deployment.
    Deployment,
    /// apps/v1 ReplicaSet.
    ReplicaSet,
    /// apps/v1 StatefulSet.
    StatefulSet,
    /// apps/v1 DaemonSet.
    DaemonSet,
    /// batch/v1 Job.
    Job,
    /// batch/v1 CronJob.
    CronJob,
    /// core/v1 ReplicationController.
    ReplicationController,
}

impl WorkloadKind {
    /// Every kind.
    pub const ALL: [WorkloadKind; 8] = [
        WorkloadKind::Pod,
        WorkloadKind::Deployment,
        WorkloadKind::ReplicaSet,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::ReplicationController,
    ];

    /// The `kind` name.
    pub fn kind(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "Pod",
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::ReplicaSet => "ReplicaSet",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
            WorkloadKind::Job => "Job",
            WorkloadKind::CronJob => "CronJob",
            WorkloadKind::ReplicationController => "ReplicationController",
        }
    }

    /// The API group (`""` for core).
    pub fn group(self) -> &'static str {
        match self {
            WorkloadKind::Pod | WorkloadKind::ReplicationController => "",
            WorkloadKind::Deployment
            | WorkloadKind::ReplicaSet
            | WorkloadKind::StatefulSet
            | WorkloadKind::DaemonSet => "apps",
            WorkloadKind::Job | WorkloadKind::CronJob => "batch",
        }
    }

    /// The plural resource name (`pods`, `cronjobs`), as in ClusterImagePolicy `match`.
    pub fn resource(self) -> &'static str {
        match self {
            WorkloadKind::Pod => "pods",
            WorkloadKind::Deployment => "deployments",
            WorkloadKind::ReplicaSet => "replicasets",
            WorkloadKind::StatefulSet => "statefulsets",
            WorkloadKind::DaemonSet => "daemonsets",
            WorkloadKind::Job => "jobs",
            WorkloadKind::CronJob => "cronjobs",
            WorkloadKind::ReplicationController => "replicationcontrollers",
        }
    }

    /// The kind for an API group and kind name.
    pub fn from_group_kind(group: &str, kind: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.group() == group && k.kind() == kind)
    }

    /// The kind for a plural resource name.
    pub fn from_resource(resource: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.resource() == resource)
    }

    /// Where the pod spec is: `/spec`, `/spec/template/spec` or
    /// `/spec/jobTemplate/spec/template/spec`.
    pub fn pod_spec_pointer(self) -> JsonPointer {
        let tokens: &[&str] = match self {
            WorkloadKind::Pod => &["spec"],
            WorkloadKind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            _ => &["spec", "template", "spec"],
        };
        tokens.iter().fold(JsonPointer::root(), |p, t| p.join(t))
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

/// Where in the pod spec an image is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerKind {
    /// `initContainers[i].image`.
    InitContainer,
    /// `containers[i].image`.
    Container,
    /// `ephemeralContainers[i].image`.
    EphemeralContainer,
    /// `volumes[i].image.reference` (an image volume).
    ImageVolume,
}

impl ContainerKind {
    /// The pod spec field that holds the list.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::InitContainer => "initContainers",
            ContainerKind::Container => "containers",
            ContainerKind::EphemeralContainer => "ephemeralContainers",
            ContainerKind::ImageVolume => "volumes",
        }
    }

    /// The noun used in messages.
    pub fn noun(self) -> &'static str {
        match self {
            ContainerKind::InitContainer => "init container",
            ContainerKind::Container => "container",
            ContainerKind::EphemeralContainer => "ephemeral container",
            ContainerKind::ImageVolume => "image volume",
        }
    }
}

/// One image reference in a workload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerImage {
    /// Which list it is in.
    pub kind: ContainerKind,
    /// Its index in that list.
    pub index: usize,
    /// The container's (or volume's) name; empty if the object has none.
    pub name: String,
    /// The image exactly as written.
    pub image: String,
    /// JSON pointer to the image string (`/spec/template/spec/containers/0/image`).
    pub pointer: JsonPointer,
    /// Whether the image is new: always on CREATE; on UPDATE, whether the old object had
    /// a different image (or none) at this pointer. Only new images are pinned, so
    /// that an UPDATE never restarts a running container just to add a digest.
    pub changed: bool,
}

impl ContainerImage {
    /// The field path used in messages (`spec.template.spec.containers[0].image`).
    pub fn field_path(&self) -> String {
        let tokens = self.pointer.tokens();
        let mut out = String::new();
        for t in tokens {
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                out.push_str(&format!("[{t}]"));
            } else {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&t);
            }
        }
        out
    }
}

/// A workload and its images.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Workload {
    /// The kind.
    pub kind: WorkloadKind,
    /// `request.kind.version` (`v1`; `v1beta1` for old CronJobs).
    pub version: String,
    /// `request.namespace`.
    pub namespace: String,
    /// `request.name`, else `metadata.name`, else `metadata.generateName`.
    pub name: String,
    /// The object's own labels (`metadata.labels`), which `match[].selector` selects on.
    pub labels: BTreeMap<String, String>,
    /// Every image, in pod spec order (init containers, containers, ephemeral
    /// containers, image volumes).
    pub images: Vec<ContainerImage>,
}

/// Why a request needs no check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// DELETE.
    Delete,
    /// CONNECT.
    Connect,
    /// An UPDATE whose images equal the old object's.
    ImagesUnchanged,
    /// A `status` subresource update (cannot change the spec).
    StatusUpdate,
    /// Another subresource (`scale`, …), which cannot change images.
    Subresource {
        /// The subresource name.
        name: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Delete => f.write_str("DELETE requests are not checked"),
            SkipReason::Connect => f.write_str("CONNECT requests are not checked"),
            SkipReason::ImagesUnchanged => f.write_str("the UPDATE does not change any image"),
            SkipReason::StatusUpdate => f.write_str("status updates cannot change images"),
            SkipReason::Subresource { name } => {
                write!(f, "the {name} subresource cannot change images")
            }
        }
    }
}

/// What a request is, for image admission.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Admission {
    /// Nothing to check.
    Skip(SkipReason),
    /// The kind carries no pod spec we know.
    NotAWorkload {
        /// `request.kind`.
        kind: GroupVersionKind,
    },
    /// A workload whose images must be checked.
    Workload(Workload),
}

/// Classifies a request and extracts its images.
///
/// # Errors
/// A [`WorkloadError`] when the object is missing or malformed; the caller denies.
pub fn extract_workload(request: &AdmissionRequest) -> Result<Admission, WorkloadError> {
    match request.operation {
        Operation::Delete => return Ok(Admission::Skip(SkipReason::Delete)),
        Operation::Connect => return Ok(Admission::Skip(SkipReason::Connect)),
        Operation::Create | Operation::Update => {}
    }
    let Some(kind) = WorkloadKind::from_group_kind(&request.kind.group, &request.kind.kind) else {
        return Ok(match request.sub_resource.as_str() {
            "" => Admission::NotAWorkload {
                kind: request.kind.clone(),
            },
            "status" => Admission::Skip(SkipReason::StatusUpdate),
            other => Admission::Skip(SkipReason::Subresource {
                name: other.to_owned(),
            }),
        });
    };
    match request.sub_resource.as_str() {
        "" => {}
        "ephemeralcontainers" if kind == WorkloadKind::Pod => {}
        "status" => return Ok(Admission::Skip(SkipReason::StatusUpdate)),
        other => {
            return Ok(Admission::Skip(SkipReason::Subresource {
                name: other.to_owned(),
            }));
        }
    }
    let object = request
        .object
        .as_ref()
        .ok_or(WorkloadError::MissingObject {
            operation: request.operation,
        })?;
    check_object_kind(kind, object)?;
    let mut images = images_of(kind, object)?;
    if request.operation == Operation::Update {
        // A malformed old object cannot vouch for anything: every image counts as new.
        let old = request
            .old_object
            .as_ref()
            .and_then(|o| images_of(kind, o).ok())
            .unwrap_or_default();
        let same = old.len() == images.len()
            && old
                .iter()
                .zip(&images)
                .all(|(a, b)| a.pointer == b.pointer && a.image == b.image);
        if same {
            return Ok(Admission::Skip(SkipReason::ImagesUnchanged));
        }
        for image in &mut images {
            image.changed = !old
                .iter()
                .any(|o| o.pointer == image.pointer && o.image == image.image);
        }
    }
    let metadata = object.get("metadata");
    let labels = object_labels(object);
    let meta_str = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let name = [
        request.name.as_str(),
        meta_str("name"),
        meta_str("generateName"),
    ]
    .into_iter()
    .find(|n| !n.is_empty())
    .unwrap_or_default()
    .to_owned();
    let namespace = if request.namespace.is_empty() {
        meta_str("namespace").to_owned()
    } else {
        request.namespace.clone()
    };
    Ok(Admission::Workload(Workload {
        kind,
        version: request.kind.version.clone(),
        namespace,
        name,
        labels,
        images,
    }))
}

fn check_object_kind(kind: WorkloadKind, object: &Value) -> Result<(), WorkloadError> {
    if !object.is_object() {
        return Err(WorkloadError::Malformed {
            kind,
            pointer: String::new(),
            expected: "an object",
        });
    }
    match object.get("kind").and_then(Value::as_str) {
        Some(found) if found != kind.kind() => Err(WorkloadError::KindMismatch {
            request: kind.kind().to_owned(),
            object: found.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// An object's `metadata.labels` (empty when absent; values that are not strings are
/// left out).
pub fn object_labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// Every image of `object`, a `kind`, in pod spec order; all marked `changed`.
///
/// # Errors
/// [`WorkloadError::Malformed`] when a field on the way has the wrong JSON type.
pub fn images_of(kind: WorkloadKind, object: &Value) -> Result<Vec<ContainerImage>, WorkloadError> {
    let malformed = |pointer: &JsonPointer, expected| WorkloadError::Malformed {
        kind,
        pointer: pointer.to_string(),
        expected,
    };
    let spec_pointer = kind.pod_spec_pointer();
    let mut cur = object;
    let mut at = JsonPointer::root();
    for token in spec_pointer.tokens() {
        at = at.join(&token);
        match cur.get(&token) {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(v @ Value::Object(_)) => cur = v,
            Some(_) => return Err(malformed(&at, "an object")),
        }
    }
    let mut images = Vec::new();
    for container_kind in [
        ContainerKind::InitContainer,
        ContainerKind::Container,
        ContainerKind::EphemeralContainer,
        ContainerKind::ImageVolume,
    ] {
        let list_pointer = spec_pointer.join(container_kind.field());
        let items = match cur.get(container_kind.field()) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => return Err(malformed(&list_pointer, "an array")),
        };
        for (index, item) in items.iter().enumerate() {
            let item_pointer = list_pointer.join_index(index);
            if !item.is_object() {
                return Err(malformed(&item_pointer, "an object"));
            }
            let name = match item.get("name") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(malformed(&item_pointer.join("name"), "a string")),
            };
            let (image_value, pointer) = if container_kind == ContainerKind::ImageVolume {
                let source = match item.get("image") {
                    None | Some(Value::Null) => continue,
                    Some(v @ Value::Object(_)) => v,
                    Some(_) => return Err(malformed(&item_pointer.join("image"), "an object")),
                };
                (
                    source.get("reference"),
                    item_pointer.join("image").join("reference"),
                )
            } else {
                (item.get("image"), item_pointer.join("image"))
            };
            let image = match image_value {
                // A pod template may leave the image to be filled in later; the Pod that
                // gets it is checked when it is created.
                None | Some(Value::Null) => continue,
                Some(Value::String(s)) if s.is_empty() => continue,
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(malformed(&pointer, "a string")),
            };
            images.push(ContainerImage {
                kind: container_kind,
                index,
                name,
                image,
                pointer,
                changed: true,
            });
        }
    }
    Ok(images)
}

#[cfg(test)]
mod tests;
