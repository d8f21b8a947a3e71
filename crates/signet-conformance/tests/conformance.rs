//! Runs the `signet-conformance` binary on the 70 vendored sigstore-conformance verify
//! cases (`testdata/conformance`), each in PATH and DIGEST mode (140 checks), with the
//! argv from `manifest.json` and that folder as the working directory.
//!
//! Every check must give the expected verdict, and every `_fail` case must fail for its
//! own reason (a substring of its one-line error), so a verifier that rejects everything
//! does not pass.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use signet_crypto::Signer as _;

/// How a bundle whose RFC 3161 timestamp does not verify is rejected.
const RFC3161_MESSAGE: &str = "RFC 3161 timestamp 0 does not verify";

/// The reason each `_fail` case must be rejected for (a substring of the error line).
const FAIL_REASONS: &[(&str, &str)] = &[
    (
        "bundle-empty-certificate-chain_fail",
        "certificate chain is empty",
    ),
    (
        "bundle-from-wrong-instance_fail",
        "is not in the trusted root",
    ),
    (
        "bundle-invalid-base64-signature_fail",
        "messageSignature.signature is not valid base64",
    ),
    ("bundle-malformed-json_fail", "malformed sigstore bundle"),
    (
        "bundle-negative-log-index_fail",
        "logIndex must not be negative",
    ),
    (
        "bundle-unknown-version_fail",
        "unsupported bundle media type",
    ),
    ("bundle-with-root-cert_fail", "self-signed root certificate"),
    (
        "checkpoint-bad-keyhint_fail",
        "no signature is from a trusted key",
    ),
    (
        "checkpoint-wrong-roothash_fail",
        "the checkpoint does not apply to this proof",
    ),
    (
        "dsse-invalid-sig_fail",
        "the logged signature does not match",
    ),
    ("dsse-mismatch-envelope_fail", "dsse payload hash"),
    (
        "dsse-mismatch-sig_fail",
        "the logged signature does not match",
    ),
    (
        "inclusion-proof-corrupted-hash_fail",
        "inclusion proof does not verify",
    ),
    (
        "incorrect-public-key_fail",
        "inclusion proof does not verify",
    ),
    (
        "integrated-time-in-future_fail",
        "signing certificate not trusted",
    ),
    (
        "intoto-expired-certificate_fail",
        "signing certificate not trusted",
    ),
    (
        "intoto-log-entry-mismatch_fail",
        "the logged signature does not match",
    ),
    (
        "intoto-missing-inclusion-proof_fail",
        "has no inclusion proof",
    ),
    (
        "intoto-set-outside-signing-cert-validity_fail",
        "signing certificate not trusted",
    ),
    // The timestamp verifies; its time is outside the signing certificate's validity.
    (
        "intoto-tsa-timestamp-outside-cert-validity_fail",
        "signing certificate not trusted at",
    ),
    (
        "invalid-checkpoint-signature_fail",
        "the note was altered or forged",
    ),
    ("invalid-ct-key_fail", "embedded SCTs do not verify"),
    ("invalid-inclusion-proof_fail", "has no checkpoint"),
    ("managed-key-no-key_fail", "policy requires a certificate"),
    ("managed-key-wrong-key_fail", "invalid key"),
    ("message-digest-mismatch_fail", "bundle messageDigest"),
    (
        "rekor2-checkpoint-missing-log-signature_fail",
        "the note has no signatures",
    ),
    (
        "rekor2-checkpoint-missing-origin_fail",
        "it needs an origin",
    ),
    (
        "rekor2-checkpoint-missing-root-hash_fail",
        "it needs an origin, a tree size and a root hash",
    ),
    (
        "rekor2-checkpoint-missing-size_fail",
        "it needs an origin, a tree size and a root hash",
    ),
    (
        "rekor2-checkpoint-no-matching-signature_fail",
        "no signature is from a trusted key",
    ),
    (
        "rekor2-dsse-invalid-sig_fail",
        "the logged signature does not match",
    ),
    ("rekor2-dsse-mismatch-envelope_fail", "dsse PAE digest"),
    (
        "rekor2-dsse-mismatch-sig_fail",
        "the logged signature does not match",
    ),
    ("rekor2-no-inclusion-proof_fail", "has no inclusion proof"),
    ("rekor2-no-timestamp_fail", "no verified time source"),
    // Caught by the RFC 3161 checks.
    (
        "rekor2-timestamp-outside-trust-root-tsa-validity_fail",
        RFC3161_MESSAGE,
    ),
    (
        "rekor2-timestamp-outside-tsa-cert-validity_fail",
        RFC3161_MESSAGE,
    ),
    ("rekor2-timestamp-payload-mismatch_fail", RFC3161_MESSAGE),
    (
        "rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail",
        RFC3161_MESSAGE,
    ),
    (
        "rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail",
        RFC3161_MESSAGE,
    ),
    // The timestamp verifies; its time is outside the signing certificate's validity.
    (
        "rekor2-timestamp-with-incorrect-time_fail",
        "signing certificate not trusted at",
    ),
    (
        "set-invalid-signature_fail",
        "signed entry timestamp (inclusion promise) does not verify",
    ),
    (
        "signature-mismatch_fail",
        "the logged signature does not match",
    ),
    (
        "trust-root-tlog-missing-validity-start_fail",
        "validFor.start",
    ),
    ("wrong-hashedrekord-artifact_fail", "artifact digest"),
    (
        "wrong-hashedrekord-cert-and-sig_fail",
        "the logged signature does not match",
    ),
    ("wrong-hashedrekord-entry_fail", "artifact digest"),
    ("wrong-material_fail", "artifact digest"),
];

fn conformance_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance")
}

#[derive(Default)]
struct Tally {
    checks: usize,
    expected_verdict: usize,
    positives_passed: usize,
}

#[test]
fn conformance_verify_cases() {
    let dir = conformance_dir();
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(dir.join("manifest.json")).expect("read manifest.json"),
    )
    .expect("manifest.json is JSON");
    let cases = manifest["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 70, "the suite has 70 offline verify cases");
    let reasons: BTreeMap<&str, &str> = FAIL_REASONS.iter().copied().collect();

    let mut tally: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut failures = Vec::new();
    for case in cases {
        let name = case["case"].as_str().expect("case name");
        let expected_pass = match case["expected"].as_str() {
            Some("pass") => true,
            Some("fail") => false,
            other => panic!("{name}: unexpected verdict {other:?}"),
        };
        for (mode, key) in [
            ("PATH", "argv_path_variant"),
            ("DIGEST", "argv_digest_variant"),
        ] {
            let argv: Vec<&str> = case[key]
                .as_array()
                .expect("argv")
                .iter()
                .map(|a| a.as_str().expect("argv string"))
                .collect();
            let out = Command::new(env!("CARGO_BIN_EXE_signet-conformance"))
                .args(&argv)
                .current_dir(&dir)
                .output()
                .expect("run signet-conformance");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let passed = out.status.success();

            let t = tally.entry(mode).or_default();
            t.checks += 1;
            if passed == expected_pass {
                t.expected_verdict += 1;
            }
            if expected_pass && passed {
                t.positives_passed += 1;
            }
            let verdict = match expected_pass {
                true if passed => Ok(()),
                true => Err(format!("expected pass, got {stderr:?}")),
                false if passed => Err("expected fail, but it passed".to_owned()),
                false => {
                    let reason = reasons.get(name).copied().unwrap_or("");
                    if reason.is_empty() {
                        Err("no expected failure reason listed for this case".to_owned())
                    } else if stderr.contains(reason) {
                        Ok(())
                    } else {
                        Err(format!("must fail with {reason:?}, got {stderr:?}"))
                    }
                }
            };
            if !passed && stderr.lines().count() != 1 {
                failures.push(format!(
                    "{mode} {name}: error must be one line, got {stderr:?}"
                ));
            }
            if let Err(e) = verdict {
                failures.push(format!("{mode} {name}: {e}"));
            }
        }
    }

    println!("mode    checks  expected-verdict  positives-passed");
    let mut total = Tally::default();
    for (mode, t) in &tally {
        println!(
            "{mode:<7} {:>6}  {:>16}  {:>16}",
            t.checks, t.expected_verdict, t.positives_passed
        );
        total.checks += t.checks;
        total.expected_verdict += t.expected_verdict;
        total.positives_passed += t.positives_passed;
    }
    println!(
        "{:<7} {:>6}  {:>16}  {:>16}",
        "total", total.checks, total.expected_verdict, total.positives_passed
    );
    assert_eq!(total.checks, 140);
    assert!(
        failures.is_empty(),
        "{} checks wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every check gives the expected verdict.
    assert_eq!(total.expected_verdict, 140);
}

#[test]
fn embedded_production_root_is_the_default() {
    // A production-root case without --trusted-root passes with the embedded root.
    let out = Command::new(env!("CARGO_BIN_EXE_signet-conformance"))
        .args([
            "verify-bundle",
            "--bundle",
            "happy-path-v0.3/bundle.sigstore.json",
            "--certificate-identity",
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "a.txt",
        ])
        .current_dir(conformance_dir())
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn conformance(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_signet-conformance"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run signet-conformance")
}

#[test]
fn keyless_sign_bundle_explains_that_it_needs_a_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("file"), b"x").expect("write");
    let out = conformance(
        dir.path(),
        &[
            "sign-bundle",
            "--identity-token",
            "t",
            "--bundle",
            "out.json",
            "file",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a Fulcio CA"));
    assert!(!dir.path().join("out.json").exists());
}

#[test]
fn key_sign_bundle_round_trips_through_verify_bundle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let key =
        signet_crypto::PrivateKey::generate(signet_crypto::KeyAlgorithm::EcdsaP256).expect("key");
    let pem = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(key.to_pkcs8_der().as_slice());
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
    };
    std::fs::write(d.join("key.pem"), pem).expect("write");
    std::fs::write(d.join("key.pub"), key.public_key().to_pem()).expect("write");
    std::fs::write(d.join("a.txt"), b"artifact").expect("write");
    let image = signet_formats::Digest::sha256_of(b"artifact");
    let statement = signet_formats::sigstore::cosign_sign_statement(&image, &Default::default());
    std::fs::write(d.join("stmt.json"), &statement).expect("write");

    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(conformance(
        d,
        &[
            "sign-bundle",
            "--key",
            "key.pem",
            "--bundle",
            "m.json",
            "a.txt",
        ],
    ));
    ok(conformance(
        d,
        &[
            "sign-bundle",
            "--in-toto",
            "--key",
            "key.pem",
            "--bundle",
            "s.json",
            "stmt.json",
        ],
    ));
    let digest = image.to_string();
    for (bundle, artifact) in [
        ("m.json", "a.txt"),
        ("m.json", digest.as_str()),
        ("s.json", "a.txt"),
    ] {
        ok(conformance(
            d,
            &[
                "verify-bundle",
                "--bundle",
                bundle,
                "--key",
                "key.pub",
                "--insecure-ignore-tlog",
                artifact,
            ],
        ));
        // Without the opt-in, a bundle with no log entry is refused.
        let out = conformance(
            d,
            &[
                "verify-bundle",
                "--bundle",
                bundle,
                "--key",
                "key.pub",
                artifact,
            ],
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("no transparency log entries"));
    }
    // --in-toto refuses a file that is not a statement, and writes nothing.
    let out = conformance(
        d,
        &[
            "sign-bundle",
            "--in-toto",
            "--key",
            "key.pem",
            "--bundle",
            "x.json",
            "a.txt",
        ],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("statement"), "{stderr}");
    assert!(!d.join("x.json").exists());
}
