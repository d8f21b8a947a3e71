//! `signet verify-blob` on real Sigstore bundles (the vendored conformance cases):
//! keyless with exact and regexp identities, key-based, by file and by digest, the
//! embedded production root, `--staging`, and `--trusted-root`.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use support::*;

const IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn cases() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/conformance")
}

fn keyless(case: &str, extra: &[&str]) -> Run {
    let dir = cases();
    let bundle = format!("{case}/bundle.sigstore.json");
    let mut args = vec![
        "verify-blob",
        "--bundle",
        &bundle,
        "--certificate-identity",
        IDENTITY,
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    args.extend_from_slice(extra);
    signet(&dir, &args)
}

#[test]
fn keyless_bundles_verify_by_file_and_by_digest() {
    let r = keyless("happy-path-v0.3", &["a.txt"]).ok();
    assert!(r.stderr.contains("Verified OK"), "{r:?}");
    keyless("happy-path-v0.1", &["a.txt"]).ok();
    keyless("happy-path-intoto-in-dsse-v3", &["a.txt"]).ok();
    let digest = signet_formats::Digest::sha256_of(&std::fs::read(cases().join("a.txt")).unwrap());
    keyless("happy-path-v0.3", &[&digest.to_string()]).ok();
    // a Rekor v2 bundle with an RFC 3161 timestamp, against its own trusted root
    keyless(
        "rekor2-happy-path",
        &[
            "--trusted-root",
            "rekor2-happy-path/trusted_root.json",
            "a.txt",
        ],
    )
    .ok();
}

#[test]
fn identities_by_regexp_and_mismatches() {
    let dir = cases();
    signet(
        &dir,
        &[
            "verify-blob",
            "--bundle",
            "happy-path-v0.3/bundle.sigstore.json",
            "--certificate-identity-regexp",
            "^https://github.com/sigstore-conformance/",
            "--certificate-oidc-issuer-regexp",
            "githubusercontent",
            "a.txt",
        ],
    )
    .ok();
    let r = signet(
        &dir,
        &[
            "verify-blob",
            "--bundle",
            "happy-path-v0.3/bundle.sigstore.json",
            "--certificate-identity",
            "someone@example.com",
            "--certificate-oidc-issuer",
            ISSUER,
            "a.txt",
        ],
    )
    .fails(1, "bundle happy-path-v0.3/bundle.sigstore.json");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    // another artifact
    let other = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(other.path(), b"other").unwrap();
    keyless("happy-path-v0.3", &[other.path().to_str().unwrap()]).fails(1, "bundle");
    // missing issuer flag
    signet(
        &dir,
        &[
            "verify-blob",
            "--bundle",
            "happy-path-v0.3/bundle.sigstore.json",
            "--certificate-identity",
            IDENTITY,
            "a.txt",
        ],
    )
    .fails(1, "--certificate-oidc-issuer");
}

#[test]
fn staging_bundles_need_the_staging_root() {
    keyless("bundle-from-wrong-instance_fail", &["a.txt"]).fails(1, "bundle");
    keyless("bundle-from-wrong-instance_fail", &["--staging", "a.txt"]).ok();
}

#[test]
fn key_based_bundles_and_bad_input() {
    let dir = cases();
    signet(
        &dir,
        &[
            "verify-blob",
            "--bundle",
            "managed-key-happy-path/bundle.sigstore.json",
            "--key",
            "managed-key-happy-path/key.pub",
            "a.txt",
        ],
    )
    .ok();
    signet(
        &dir,
        &[
            "verify-blob",
            "--bundle",
            "managed-key-happy-path/bundle.sigstore.json",
            "--key",
            "managed-key-happy-path/key.pub",
            "--certificate-identity",
            IDENTITY,
            "a.txt",
        ],
    )
    .fails(1, "exactly one of");
    let r = keyless("bundle-malformed-json_fail", &["a.txt"])
        .fails(1, "bundle bundle-malformed-json_fail/bundle.sigstore.json");
    assert_eq!(r.stderr.trim_end().lines().count(), 1, "{r:?}");
    keyless(
        "happy-path-v0.3",
        &[
            "--trusted-root",
            "trust-root-tlog-missing-validity-start_fail/trusted_root.json",
            "a.txt",
        ],
    )
    .fails(1, "trusted root");
}
