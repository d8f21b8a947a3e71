//! `signet sign-blob`: key-based v0.3 bundles, checked by signet and by the real cosign
//! 2.5 (`verify-blob --new-bundle-format`), and cosign's key-based bundles checked by
//! signet. Tampering, wrong keys and missing flags each fail with their own message.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::*;

/// The embedded production root: cosign 2.5 needs some `--trusted-root` to verify a
/// bundle offline, even for a key with no log entry.
fn trusted_root() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../signet-formats/trust/production_trusted_root.json")
        .to_str()
        .unwrap()
        .to_string()
}

fn verify_blob(d: &Path, public: &Path, bundle: &str, artifact: &str) -> Run {
    with_key(
        d,
        "verify-blob",
        public,
        &["--bundle", bundle, "--insecure-ignore-tlog", artifact],
    )
}

#[test]
fn signet_bundles_verify_in_signet_and_name_what_is_wrong_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    std::fs::write(d.join("a.txt"), b"hello\n").unwrap();
    let r = with_key(d, "sign-blob", &key, &["--bundle", "a.json", "a.txt"]).ok();
    assert!(r.stderr.contains("Wrote bundle to file a.json"), "{r:?}");
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("a.json")).unwrap()).unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    // Zero and empty values are written out (sigstore-python needs them).
    assert_eq!(
        bundle["verificationMaterial"]["tlogEntries"],
        serde_json::json!([])
    );
    assert_eq!(
        bundle["verificationMaterial"]["publicKey"]["hint"]
            .as_str()
            .unwrap()
            .len(),
        44
    );

    verify_blob(d, &public, "a.json", "a.txt").ok();
    let sha = signet_formats::Digest::sha256_of(b"hello\n").to_string();
    verify_blob(d, &public, "a.json", &sha).ok();

    // Without --insecure-ignore-tlog the missing log entry is named, with the fix.
    with_key(d, "verify-blob", &public, &["--bundle", "a.json", "a.txt"])
        .fails(1, "pass --insecure-ignore-tlog");
    // Another file.
    std::fs::write(d.join("b.txt"), b"hellO\n").unwrap();
    verify_blob(d, &public, "a.json", "b.txt").fails(1, "does not match the artifact digest");
    // Another key.
    let (_, other) = keypair(d, "other");
    verify_blob(d, &other, "a.json", "a.txt").fails(1, "signature does not verify");
    // A flipped signature byte.
    let mut tampered = bundle.clone();
    let sig = tampered["messageSignature"]["signature"]
        .as_str()
        .unwrap()
        .to_string();
    let mut raw = base64_decode(&sig);
    let last = raw.len() - 1;
    raw[last] ^= 1;
    tampered["messageSignature"]["signature"] = base64_encode(&raw).into();
    std::fs::write(d.join("t.json"), tampered.to_string()).unwrap();
    verify_blob(d, &public, "t.json", "a.txt").fails(1, "signature does not verify");
    // A key-based bundle is not accepted for an identity.
    signet(
        d,
        &[
            "verify-blob",
            "--bundle",
            "a.json",
            "--certificate-identity",
            "a@example.com",
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
            "a.txt",
        ],
    )
    .fails(1, "signed with a public key");
}

#[test]
fn sign_blob_bad_input_fails_cleanly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "k");
    std::fs::write(d.join("a.txt"), b"x").unwrap();
    // Wrong password.
    let mut args = vec!["sign-blob", "--key", key.to_str().unwrap()];
    args.extend_from_slice(&["--bundle", "out.json", "a.txt"]);
    signet_env(d, &args, &[("COSIGN_PASSWORD", "wrong")]).fails(1, "password");
    assert!(!d.join("out.json").exists());
    // Corrupt key.
    std::fs::write(d.join("bad.key"), b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n").unwrap();
    with_key(
        d,
        "sign-blob",
        &d.join("bad.key"),
        &["--bundle", "out.json", "a.txt"],
    )
    .fails(1, "bad.key");
    assert!(!d.join("out.json").exists());
    // Missing artifact, and a directory.
    with_key(
        d,
        "sign-blob",
        &key,
        &["--bundle", "out.json", "missing.txt"],
    )
    .fails(1, "missing.txt");
    with_key(d, "sign-blob", &key, &["--bundle", "out.json", "."]).fails(1, "not a regular file");
    assert!(!d.join("out.json").exists());
    // An unwritable bundle path leaves no temporary file behind.
    with_key(
        d,
        "sign-blob",
        &key,
        &["--bundle", "no/such/dir/out.json", "a.txt"],
    )
    .fails(1, "no/such/dir");
    // A corrupt bundle for verify-blob names the field.
    std::fs::write(d.join("c.json"), br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{"hint":""}},"messageSignature":{"signature":"%%%"}}"#).unwrap();
    verify_blob(d, &d.join("k.pub"), "c.json", "a.txt").fails(1, "messageSignature.signature");
}

#[test]
fn cosign_verifies_signet_bundles_and_signet_verifies_cosigns() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let public_s = public.to_str().unwrap();
    std::fs::write(d.join("a.txt"), b"interop\n").unwrap();
    let root = trusted_root();

    // signet signs, cosign verifies.
    with_key(d, "sign-blob", &key, &["--bundle", "s.json", "a.txt"]).ok();
    let cosign_verify = |bundle: &str, file: &str| {
        cosign(
            &cosign_bin,
            d,
            &[
                "verify-blob",
                "--new-bundle-format",
                "--key",
                public_s,
                "--bundle",
                bundle,
                "--insecure-ignore-tlog",
                "--trusted-root",
                &root,
                file,
            ],
        )
    };
    let c = cosign_verify("s.json", "a.txt");
    assert_eq!(c.code, 0, "cosign rejected signet's bundle: {c:?}");
    assert!(c.stderr.contains("Verified OK"), "{c:?}");
    // cosign also refuses it for another file (the check can fail).
    std::fs::write(d.join("b.txt"), b"interop?\n").unwrap();
    let c = cosign_verify("s.json", "b.txt");
    assert_ne!(
        c.code, 0,
        "cosign accepted a bundle for another file: {c:?}"
    );

    // cosign signs, signet verifies; both write the same key hint.
    let c = cosign(
        &cosign_bin,
        d,
        &[
            "sign-blob",
            "--new-bundle-format",
            "--key",
            key.to_str().unwrap(),
            "--bundle",
            "c.json",
            "--tlog-upload=false",
            "-y",
            "a.txt",
        ],
    );
    assert_eq!(c.code, 0, "cosign sign-blob failed: {c:?}");
    verify_blob(d, &public, "c.json", "a.txt").ok();
    verify_blob(d, &public, "c.json", "b.txt").fails(1, "does not match the artifact digest");
    let hint = |f: &str| {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(f)).unwrap()).unwrap();
        v["verificationMaterial"]["publicKey"]["hint"].clone()
    };
    assert_eq!(hint("s.json"), hint("c.json"));
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
