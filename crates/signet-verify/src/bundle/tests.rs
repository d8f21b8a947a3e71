//! Unit tests for bundle verification on the vendored conformance cases
//! (`testdata/conformance`); the CLI runs all of them in `signet-conformance`.

use std::path::PathBuf;

use signet_formats::Digest;
use signet_formats::sigstore::{Bundle, TrustedRoot, UnixTime};
use signet_x509::IdentityMatcher;

use super::*;

const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISS: &str = "https://token.actions.githubusercontent.com";

fn read(path: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/conformance")
        .join(path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn bundle(case: &str) -> Bundle {
    Bundle::parse(&read(&format!("{case}/bundle.sigstore.json"))).expect("bundle parses")
}

fn custom(case: &str) -> BundleVerifier {
    let root = TrustedRoot::parse(&read(&format!("{case}/trusted_root.json"))).expect("root");
    BundleVerifier::new(&root).expect("root loads")
}

fn production() -> BundleVerifier {
    BundleVerifier::production().expect("embedded root loads")
}

fn identity() -> Policy {
    Policy::Identity(IdentityMatcher::exact(ID, ISS))
}

#[test]
fn happy_path_verifies_and_reports_identity() {
    let a = read("a.txt");
    for case in ["happy-path-v0.1", "happy-path-v0.2", "happy-path-v0.3"] {
        let v = production()
            .verify(&bundle(case), Artifact::Bytes(&a), &identity())
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(
            v.signer,
            VerifiedSigner::Certificate {
                san: ID.into(),
                issuer: ISS.into()
            }
        );
        assert_eq!(v.artifact, Digest::sha256_of(&a));
        assert_eq!(v.observed_times.len(), 1);
    }
}

#[test]
fn message_signature_against_a_digest() {
    let d = Digest::sha256_of(&read("a.txt"));
    production()
        .verify(&bundle("happy-path-v0.3"), Artifact::Sha256(d), &identity())
        .expect("the signature covers the digest");
    let other = Digest::sha256_of(b"another artifact");
    let err = production()
        .verify(
            &bundle("happy-path-v0.3"),
            Artifact::Sha256(other),
            &identity(),
        )
        .expect_err("digest of another artifact");
    // caught first where sigstore-go catches it: the log entry records another digest
    assert!(
        matches!(err, BundleError::TlogBodyMismatch { entry: 0, .. }),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Mismatch);
}

#[test]
fn dsse_checks_subject_digest() {
    let b = bundle("happy-path-intoto-in-dsse-v3");
    let good = Digest::sha256_of(&read("a.txt"));
    production()
        .verify(&b, Artifact::Sha256(good), &identity())
        .expect("dsse with subject digest");
    let err = production()
        .verify(&b, Artifact::Bytes(b"other"), &identity())
        .expect_err("not a subject");
    assert!(matches!(err, BundleError::SubjectNotFound { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Mismatch);
}

#[test]
fn identity_mismatch_is_policy() {
    let err = production()
        .verify(
            &bundle("happy-path-v0.3"),
            Artifact::Bytes(&read("a.txt")),
            &Policy::Identity(IdentityMatcher::exact("someone@example.com", ISS)),
        )
        .expect_err("wrong identity");
    assert!(matches!(err, BundleError::IdentityMismatch { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::PolicyNotMet);
}

#[test]
fn rfc3161_timestamps_are_verified_and_give_the_time() {
    let a = read("a.txt");
    // Rekor v2: the timestamp is the only time source
    let v = custom("rekor2-happy-path")
        .verify(
            &bundle("rekor2-happy-path"),
            Artifact::Bytes(&a),
            &identity(),
        )
        .expect("rekor v2 verifies through its RFC 3161 timestamp");
    assert_eq!(v.observed_times.len(), 1);
    // a v1 entry and a timestamp: both must verify
    let key = PublicKey::from_pem(&read("managed-key-happy-path/key.pub")).expect("key");
    let v = production()
        .verify(
            &bundle("managed-key-happy-path"),
            Artifact::Bytes(&a),
            &Policy::Key(key),
        )
        .expect("integrated time and timestamp");
    assert_eq!(v.observed_times.len(), 2);
    // a timestamp over other bytes fails with the timestamp's own error
    let err = custom("rekor2-timestamp-payload-mismatch_fail")
        .verify(
            &bundle("rekor2-timestamp-payload-mismatch_fail"),
            Artifact::Bytes(&a),
            &identity(),
        )
        .expect_err("imprint mismatch");
    assert!(
        matches!(
            err,
            BundleError::Timestamp {
                index: 0,
                source: signet_x509::timestamp::TimestampError::ImprintMismatch { .. }
            }
        ),
        "{err}"
    );
    assert_eq!(err.kind(), FailureKind::Untrusted);
}

#[test]
fn managed_key_with_custom_root() {
    let key = PublicKey::from_pem(&read("managed-key-and-trusted-root/key.pub")).expect("key");
    let id = key.key_id();
    let v = custom("managed-key-and-trusted-root")
        .verify(
            &bundle("managed-key-and-trusted-root"),
            Artifact::Bytes(&read("a.txt")),
            &Policy::Key(key),
        )
        .expect("verifies");
    assert_eq!(v.signer, VerifiedSigner::Key(id));
    // A key policy against a certificate bundle is refused.
    let key = PublicKey::from_pem(&read("managed-key-and-trusted-root/key.pub")).expect("key");
    let err = production()
        .verify(
            &bundle("happy-path-v0.3"),
            Artifact::Bytes(&read("a.txt")),
            &Policy::Key(key),
        )
        .expect_err("kind mismatch");
    assert!(
        matches!(err, BundleError::SignerKindMismatch { .. }),
        "{err}"
    );
}

#[test]
fn tlog_failures_are_typed() {
    let a = read("a.txt");
    let err = production()
        .verify(
            &bundle("signature-mismatch_fail"),
            Artifact::Bytes(&a),
            &identity(),
        )
        .expect_err("fails");
    assert!(
        matches!(
            err,
            BundleError::TlogBodyMismatch {
                field: BodyField::Signature,
                ..
            }
        ),
        "{err}"
    );
    let err = production()
        .verify(
            &bundle("set-invalid-signature_fail"),
            Artifact::Bytes(&a),
            &identity(),
        )
        .expect_err("fails");
    assert!(matches!(err, BundleError::SetInvalid { .. }), "{err}");
    let err = production()
        .verify(
            &bundle("bundle-from-wrong-instance_fail"),
            Artifact::Bytes(&a),
            &identity(),
        )
        .expect_err("fails");
    assert!(matches!(err, BundleError::UnknownLog { .. }), "{err}");
    assert_eq!(err.kind(), FailureKind::Untrusted);
    // The same bundle, checked at a "now" before its integrated time.
    let err = production()
        .verify_at(
            &bundle("happy-path-v0.3"),
            Artifact::Bytes(&a),
            &identity(),
            UnixTime(1_000_000_000),
        )
        .expect_err("integrated time in the future");
    assert!(
        matches!(err, BundleError::IntegratedTimeInFuture { .. }),
        "{err}"
    );
}

#[test]
fn certificate_failures_are_typed() {
    let a = read("a.txt");
    let err = custom("invalid-ct-key_fail")
        .verify(
            &bundle("invalid-ct-key_fail"),
            Artifact::Bytes(&a),
            &identity(),
        )
        .expect_err("fails");
    assert!(matches!(err, BundleError::SctUnverified { .. }), "{err}");
    let err = production()
        .verify(
            &bundle("bundle-with-root-cert_fail"),
            Artifact::Bytes(&read("bundle-with-root-cert_fail/artifact")),
            &identity(),
        )
        .expect_err("fails");
    assert!(
        matches!(err, BundleError::BundleChainContainsRoot { .. }),
        "{err}"
    );
}

#[test]
fn unloadable_root_key_fails_closed() {
    let mut root = signet_formats::sigstore::trust::production_trusted_root();
    root.tlogs[0].public_key.raw_bytes = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    assert!(matches!(
        BundleVerifier::new(&root),
        Err(TrustedRootError::TlogKey { .. })
    ));
}
