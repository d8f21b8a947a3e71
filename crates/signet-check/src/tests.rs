use std::sync::Arc;
use std::time::Duration;

use signet_formats::Digest;
use signet_oci::{RegistryError, StoreError};
use signet_verify::VerifyError;

use super::*;

fn digest() -> Digest {
    Digest::sha256_of(b"image")
}

#[test]
fn messages_are_the_ones_signet_verify_prints() {
    let d = digest();
    let none = CheckError::NoSignatures {
        name: "r.io/app:1".into(),
        digest: d.clone(),
        referrers_error: None,
    };
    assert_eq!(
        none.to_string(),
        format!("no signatures found for r.io/app:1 ({d})")
    );
    let rejected = CheckError::BundlesRejected {
        name: "r.io/app:1".into(),
        digest: d.clone(),
        reasons: vec![
            "bundle referrer x: bad".into(),
            "bundle referrer y: worse".into(),
        ],
        legacy_error: None,
    };
    assert_eq!(
        rejected.to_string(),
        format!(
            "no matching signatures for r.io/app:1 ({d}):\n  bundle referrer x: bad\n  bundle referrer y: worse"
        )
    );
    let layers = CheckError::NoMatchingSignatures {
        name: "r.io/app:1".into(),
        digest: d.clone(),
        tag: "r.io/app:sha256-x.sig".into(),
        reasons: vec!["signature layer a: no".into()],
    };
    assert_eq!(
        layers.to_string(),
        format!(
            "no matching signatures for r.io/app:1 ({d}) in r.io/app:sha256-x.sig:\n  signature layer a: no"
        )
    );
    let empty = CheckError::Unverified {
        error: VerifyError::NoSignatures,
        name: "r.io/app:1".into(),
        digest: d.clone(),
        tag: "t".into(),
    };
    assert_eq!(
        empty.to_string(),
        format!("no signatures found for r.io/app:1 ({d}) in t")
    );
}

#[test]
fn infrastructure_failures_are_told_from_verdicts() {
    let down = CheckError::from(StoreError::Registry(RegistryError::Unreachable {
        registry: "127.0.0.1:1".into(),
        reason: "connection refused".into(),
    }));
    assert!(down.is_infrastructure());
    let slow = CheckError::from(StoreError::Registry(RegistryError::Timeout {
        url: "http://r/v2/".into(),
        timeout: Duration::from_secs(1),
    }));
    assert!(slow.is_infrastructure());
    let tampered = CheckError::from(StoreError::Registry(RegistryError::DigestMismatch {
        url: "http://r/v2/".into(),
        expected: digest(),
        actual: Digest::sha256_of(b"other"),
    }));
    assert!(
        !tampered.is_infrastructure(),
        "content that lies is a verdict, not an outage"
    );
    let unsigned = CheckError::NoSignatures {
        name: "n".into(),
        digest: digest(),
        referrers_error: None,
    };
    assert!(!unsigned.is_infrastructure());
    let unsure = CheckError::BundlesRejected {
        name: "n".into(),
        digest: digest(),
        reasons: vec!["r".into()],
        legacy_error: Some(Arc::new(StoreError::Registry(RegistryError::Server {
            status: 503,
            url: "u".into(),
            message: "m".into(),
        }))),
    };
    assert!(
        unsure.is_infrastructure(),
        "the .sig could not be read: no verdict"
    );
    // The failure under each, for callers that explain it (the webhook's 401 advice).
    assert!(matches!(
        unsure.store_error(),
        Some(StoreError::Registry(RegistryError::Server {
            status: 503,
            ..
        }))
    ));
    assert!(matches!(
        tampered.store_error(),
        Some(StoreError::Registry(RegistryError::DigestMismatch { .. }))
    ));
    assert!(unsigned.store_error().is_none());
}

#[test]
fn formats_select_where_to_look() {
    assert!(SignatureFormats::BundlesThenLegacy.bundles());
    assert!(SignatureFormats::BundlesThenLegacy.legacy());
    assert!(!SignatureFormats::LegacyOnly.bundles());
    assert!(!SignatureFormats::BundlesOnly.legacy());
}
