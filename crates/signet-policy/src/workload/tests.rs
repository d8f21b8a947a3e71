use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use serde_json::json;
use signet_formats::Digest;

use super::*;
use crate::patch::pin_digests;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/admission")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(testdata(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn outcome(body: &[u8]) -> (String, Option<Workload>) {
    let request = match parse_review(body) {
        Ok(r) => r,
        Err(e) => {
            let kind = match e {
                ReviewError::TooLarge { .. } => "too-large",
                ReviewError::MalformedJson { .. } => "malformed-json",
                ReviewError::WrongApiVersion { .. } => "wrong-api-version",
                ReviewError::WrongKind { .. } => "wrong-kind",
                ReviewError::MissingRequest => "missing-request",
                ReviewError::MissingUid => "missing-uid",
                ReviewError::UnknownOperation { .. } => "unknown-operation",
            };
            return (format!("error:{kind}"), None);
        }
    };
    match extract_workload(&request) {
        Ok(Admission::Workload(w)) => ("workload".into(), Some(w)),
        Ok(Admission::NotAWorkload { .. }) => ("not-a-workload".into(), None),
        Ok(Admission::Skip(reason)) => {
            let r = match reason {
                SkipReason::Delete => "delete",
                SkipReason::Connect => "connect",
                SkipReason::ImagesUnchanged => "images-unchanged",
                SkipReason::StatusUpdate => "status",
                SkipReason::Subresource { .. } => "subresource",
            };
            (format!("skip:{r}"), None)
        }
        Err(WorkloadError::MissingObject { .. }) => ("workload-error:missing-object".into(), None),
        Err(WorkloadError::Malformed { .. }) => ("workload-error:malformed".into(), None),
        Err(WorkloadError::KindMismatch { .. }) => ("workload-error:kind-mismatch".into(), None),
    }
}

/// Every fixture in testdata/admission gives the outcome and images expected.json says.
#[test]
fn admission_fixtures() {
    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&read("expected.json")).unwrap();
    let on_disk: Vec<String> = std::fs::read_dir(testdata(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "expected.json" && n != "README.md")
        .collect();
    assert_eq!(
        on_disk.len(),
        expected.len(),
        "every fixture is listed in expected.json"
    );
    for (name, want) in &expected {
        let (got, workload) = outcome(&read(name));
        assert_eq!(got, want["outcome"].as_str().unwrap(), "{name}");
        let Some(images) = want.get("images") else {
            continue;
        };
        let w = workload.unwrap();
        let got: Vec<serde_json::Value> = w
            .images
            .iter()
            .map(|i| json!({"pointer": i.pointer.as_str(), "container": i.name, "image": i.image, "changed": i.changed}))
            .collect();
        assert_eq!(&serde_json::Value::Array(got), images, "{name}");
    }
}

#[test]
fn workload_fields() {
    let request = parse_review(&read("deployment-create.json")).unwrap();
    assert_eq!(request.uid, "22222222-2222-4333-8444-555555555501");
    let Admission::Workload(w) = extract_workload(&request).unwrap() else {
        panic!("a Deployment is a workload")
    };
    assert_eq!(w.kind, WorkloadKind::Deployment);
    assert_eq!(
        (w.name.as_str(), w.namespace.as_str(), w.version.as_str()),
        ("web", "team-a", "v1")
    );
    assert_eq!(w.labels.get("tier").map(String::as_str), Some("prod"));
    assert_eq!(
        w.images[1].field_path(),
        "spec.template.spec.containers[0].image"
    );

    let pod = parse_review(&read("pod-create.json")).unwrap();
    let Admission::Workload(p) = extract_workload(&pod).unwrap() else {
        panic!()
    };
    assert_eq!(
        p.name, "web-7d9f-",
        "generateName when the Pod has no name yet"
    );
    assert!(!pod.dry_run);
    assert!(
        parse_review(&read("pod-create-dry-run.json"))
            .unwrap()
            .dry_run
    );
}

#[test]
fn pod_spec_pointers_per_kind() {
    let expected = [
        (WorkloadKind::Pod, "/spec"),
        (WorkloadKind::Deployment, "/spec/template/spec"),
        (WorkloadKind::ReplicaSet, "/spec/template/spec"),
        (WorkloadKind::StatefulSet, "/spec/template/spec"),
        (WorkloadKind::DaemonSet, "/spec/template/spec"),
        (WorkloadKind::Job, "/spec/template/spec"),
        (
            WorkloadKind::CronJob,
            "/spec/jobTemplate/spec/template/spec",
        ),
        (WorkloadKind::ReplicationController, "/spec/template/spec"),
    ];
    for (kind, pointer) in expected {
        assert_eq!(kind.pod_spec_pointer().as_str(), pointer);
        assert_eq!(WorkloadKind::from_resource(kind.resource()), Some(kind));
        assert_eq!(
            WorkloadKind::from_group_kind(kind.group(), kind.kind()),
            Some(kind)
        );
    }
    assert_eq!(
        WorkloadKind::from_group_kind("", "DaemonSet"),
        None,
        "DaemonSets are in apps"
    );
    assert_eq!(
        WorkloadKind::from_group_kind("extensions", "Deployment"),
        None
    );
}

/// The digest patch applies to the object and yields the expected images, for every
/// workload fixture.
#[test]
fn pin_patches_apply_to_every_workload_fixture() {
    let digest: Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        .parse()
        .unwrap();
    let expected: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&read("expected.json")).unwrap();
    let mut checked = 0;
    for (name, want) in &expected {
        if want["outcome"] != "workload" {
            continue;
        }
        let request = parse_review(&read(name)).unwrap();
        let Admission::Workload(w) = extract_workload(&request).unwrap() else {
            panic!()
        };
        let digests: BTreeMap<JsonPointer, Digest> = w
            .images
            .iter()
            .filter(|i| i.changed)
            .map(|i| (i.pointer.clone(), digest.clone()))
            .collect();
        let patch = pin_digests(&w.images, &digests).unwrap();
        let mut object = request.object.clone().unwrap();
        patch.apply(&mut object).unwrap();
        let after = images_of(w.kind, &object).unwrap();
        assert_eq!(after.len(), w.images.len(), "{name}");
        for (before, after) in w.images.iter().zip(&after) {
            let had_digest = before.image.contains('@');
            let expected = if before.changed && !had_digest {
                format!("{}@{digest}", before.image)
            } else {
                before.image.clone()
            };
            assert_eq!(after.image, expected, "{name} {}", before.pointer);
            assert!(after.image.parse::<signet_formats::ImageRef>().is_ok());
        }
        checked += 1;
    }
    assert!(checked >= 14, "{checked}");
}

#[test]
fn limits_and_malformed_bodies() {
    let big = vec![b' '; MAX_REVIEW_BYTES + 1];
    assert_eq!(
        parse_review(&big),
        Err(ReviewError::TooLarge {
            size: MAX_REVIEW_BYTES + 1,
            limit: MAX_REVIEW_BYTES
        })
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        parse_review(deep.as_bytes()),
        Err(ReviewError::MalformedJson { .. })
    ));
    let deep_object = format!(
        r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u","operation":"CREATE","object":{}1{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(matches!(
        parse_review(deep_object.as_bytes()),
        Err(ReviewError::MalformedJson { .. })
    ));
    for body in ["", "null", "[]", "{}", "\"x\"", "{\"apiVersion\":1}"] {
        assert!(parse_review(body.as_bytes()).is_err(), "{body:?}");
    }
    let empty_uid = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"","operation":"CREATE"}}"#;
    assert_eq!(parse_review(empty_uid), Err(ReviewError::MissingUid));
    let op = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"PATCH"}}"#;
    assert_eq!(
        parse_review(op),
        Err(ReviewError::UnknownOperation {
            found: "PATCH".into()
        })
    );
    let no_object = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","kind":{"group":"","version":"v1","kind":"Pod"},"object":null}}"#;
    let request = parse_review(no_object).unwrap();
    assert_eq!(
        extract_workload(&request),
        Err(WorkloadError::MissingObject {
            operation: Operation::Create
        })
    );
}

proptest! {
    /// Arbitrary bytes, and arbitrary JSON in the object, never panic.
    #[test]
    fn never_panics_on_arbitrary_input(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(request) = parse_review(&bytes) {
            let _ = extract_workload(&request);
        }
    }

    #[test]
    fn never_panics_on_arbitrary_pod_specs(
        spec in prop::collection::vec(("[a-zA-Z]{1,12}", prop_oneof![
            Just(json!(null)), Just(json!(1)), Just(json!("x")), Just(json!([])), Just(json!({})),
            Just(json!([{"name": "a", "image": "busybox"}])), Just(json!([{"image": 3}])), Just(json!([1, "x"])),
            Just(json!([{"name": "v", "image": {"reference": "busybox"}}])), Just(json!([{"image": {"reference": 1}}])),
        ]), 0..6),
        kind in prop::sample::select(WorkloadKind::ALL.to_vec()),
    ) {
        let spec: serde_json::Map<String, serde_json::Value> = spec.into_iter().collect();
        let mut object = json!({});
        let tokens = kind.pod_spec_pointer().tokens();
        let mut cur = &mut object;
        for t in &tokens {
            cur = cur.as_object_mut().unwrap().entry(t.clone()).or_insert(json!({}));
        }
        *cur = serde_json::Value::Object(spec);
        let _ = images_of(kind, &object);
    }
}
