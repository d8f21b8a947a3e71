//! Interop with the real cosign 2.5 (Debian trixie's build): each tool verifies what
//! the other signed, each signs with the other's keys, and both append to the same
//! `.sig` manifest. Byte-level agreement is checked where the bytes are deterministic.

#![allow(clippy::unwrap_used)]

mod support;

use support::*;

fn sig_manifest(repo: &str, digest: &signet_formats::Digest) -> serde_json::Value {
    let (bytes, _) =
        manifest_bytes(repo, &format!("{}.sig", digest.tag_form())).expect("a .sig manifest");
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn cosign_verifies_what_signet_signed_and_prints_the_same() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "signet");
    let repo = unique_repo(env, "c-verifies");
    let a = push_image(env, "a", &repo, "v1");
    with_key(d, "sign", &key, &["-a", "env=prod", &format!("{repo}:v1")]).ok();
    let image = format!("{repo}@{a}");
    let c = cosign(
        &cosign_bin,
        d,
        &[
            "verify",
            "--key",
            public.to_str().unwrap(),
            "--insecure-ignore-tlog",
            "-a",
            "env=prod",
            &image,
        ],
    )
    .ok();
    let s = with_key(
        d,
        "verify",
        &public,
        &["--insecure-ignore-tlog", "-a", "env=prod", &image],
    )
    .ok();
    assert_eq!(s.stdout, c.stdout, "stdout differs from cosign's");
    // cosign's header, line for line (cosign adds its tlog warning first)
    for line in c
        .stderr
        .lines()
        .filter(|l| l.starts_with("  - ") || l.starts_with("Verification for"))
    {
        assert!(
            s.stderr.contains(line),
            "signet lacks cosign's header line {line:?}: {s:?}"
        );
    }
}

#[test]
fn signet_verifies_what_cosign_signed() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cosign(&cosign_bin, d, &["generate-key-pair"]).ok();
    let repo = unique_repo(env, "s-verifies");
    let a = push_image(env, "a", &repo, "v1");
    cosign(
        &cosign_bin,
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "-y",
            "-a",
            "k=v",
            &format!("{repo}@{a}"),
        ],
    )
    .ok();
    let v = signet(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "-a",
            "k=v",
            &format!("{repo}:v1"),
        ],
    )
    .ok();
    assert!(v.stdout.contains(r#""optional":{"k":"v"}"#), "{v:?}");
    // unsigned and wrong-key verdicts agree with cosign's exit codes
    let b = push_image(env, "b", &repo, "b");
    let cs = cosign(
        &cosign_bin,
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("{repo}@{b}"),
        ],
    );
    let ss = signet(
        d,
        &["verify", "--key", "cosign.pub", &format!("{repo}@{b}")],
    );
    assert_eq!((cs.code, ss.code), (10, 10), "{cs:?}\n{ss:?}");
    let (_, other) = keypair(d, "other");
    let cs = cosign(
        &cosign_bin,
        d,
        &[
            "verify",
            "--key",
            other.to_str().unwrap(),
            "--insecure-ignore-tlog",
            &format!("{repo}@{a}"),
        ],
    );
    let ss = with_key(d, "verify", &other, &[&format!("{repo}@{a}")]);
    assert_eq!((cs.code, ss.code), (12, 12), "{cs:?}\n{ss:?}");
}

#[test]
fn keys_work_across_tools() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cosign(
        &cosign_bin,
        d,
        &["generate-key-pair", "--output-key-prefix", "made-by-cosign"],
    )
    .ok();
    let (signet_key, signet_pub) = keypair(d, "made-by-signet");
    // the public keys each tool derives are byte-identical to the .pub files
    let p = signet(d, &["public-key", "--key", "made-by-cosign.key"]).ok();
    assert_eq!(
        p.stdout,
        std::fs::read_to_string(d.join("made-by-cosign.pub")).unwrap()
    );
    let p = cosign(
        &cosign_bin,
        d,
        &["public-key", "--key", signet_key.to_str().unwrap()],
    )
    .ok();
    assert_eq!(p.stdout, std::fs::read_to_string(&signet_pub).unwrap());

    let repo = unique_repo(env, "keys");
    let a = push_image(env, "a", &repo, "v1");
    let image = format!("{repo}@{a}");
    // signet signs with cosign's key; cosign signs with signet's key
    signet(d, &["sign", "--key", "made-by-cosign.key", &image]).ok();
    cosign(
        &cosign_bin,
        d,
        &[
            "sign",
            "--key",
            signet_key.to_str().unwrap(),
            "--tlog-upload=false",
            "-y",
            &image,
        ],
    )
    .ok();
    for public in ["made-by-cosign.pub", signet_pub.to_str().unwrap()] {
        cosign(
            &cosign_bin,
            d,
            &["verify", "--key", public, "--insecure-ignore-tlog", &image],
        )
        .ok();
        signet(d, &["verify", "--key", public, &image]).ok();
    }
}

#[test]
fn both_tools_append_to_the_same_signature_manifest() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cosign(
        &cosign_bin,
        d,
        &["generate-key-pair", "--output-key-prefix", "c1"],
    )
    .ok();
    let (s1, s1_pub) = keypair(d, "s1");
    let (s2, s2_pub) = keypair(d, "s2");
    let repo = unique_repo(env, "append");
    let a = push_image(env, "a", &repo, "v1");
    let image = format!("{repo}@{a}");
    with_key(d, "sign", &s1, &[&image]).ok();
    cosign(
        &cosign_bin,
        d,
        &[
            "sign",
            "--key",
            "c1.key",
            "--tlog-upload=false",
            "-y",
            &image,
        ],
    )
    .ok();
    with_key(d, "sign", &s2, &[&image]).ok();
    let m = sig_manifest(&repo, &a);
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3, "{m}");
    // same payload bytes from both tools: the blob digests are identical
    assert!(
        layers.iter().all(|l| l["digest"] == layers[0]["digest"]),
        "{m}"
    );
    // the config is the Go shape for three layers
    assert_eq!(m["config"]["size"], 451, "{m}");
    for public in ["c1.pub", s1_pub.to_str().unwrap(), s2_pub.to_str().unwrap()] {
        cosign(
            &cosign_bin,
            d,
            &["verify", "--key", public, "--insecure-ignore-tlog", &image],
        )
        .ok();
        signet(d, &["verify", "--key", public, &image]).ok();
    }
    // re-signing with a key whose identical signature is present appends nothing, in
    // both tools (cosign's dedupe)
    signet(d, &["sign", "--key", "c1.key", &image]).ok();
    cosign(
        &cosign_bin,
        d,
        &[
            "sign",
            "--key",
            s1.to_str().unwrap(),
            "--tlog-upload=false",
            "-y",
            &image,
        ],
    )
    .ok();
    assert_eq!(
        sig_manifest(&repo, &a)["layers"].as_array().unwrap().len(),
        3
    );
}

#[test]
fn signature_manifest_is_byte_identical_to_cosigns_for_one_signature() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "k");
    let repo_c = unique_repo(env, "bytes-c");
    let a = push_image(env, "a", &repo_c, "v1");
    cosign(
        &cosign_bin,
        d,
        &[
            "sign",
            "--key",
            key.to_str().unwrap(),
            "--tlog-upload=false",
            "-y",
            &format!("{repo_c}@{a}"),
        ],
    )
    .ok();
    let (cosign_bytes, _) = manifest_bytes(&repo_c, &format!("{}.sig", a.tag_form())).unwrap();
    // signet in its own repository: same payload except the repository name
    let repo_s = unique_repo(env, "bytes-s");
    push_image(env, "a", &repo_s, "v1");
    with_key(d, "sign", &key, &[&format!("{repo_s}@{a}")]).ok();
    let (signet_bytes, _) = manifest_bytes(&repo_s, &format!("{}.sig", a.tag_form())).unwrap();
    // Only the payload digest/size and the (randomised) ECDSA signature may differ.
    let normalise = |b: &[u8]| {
        let mut v: serde_json::Value = serde_json::from_slice(b).unwrap();
        v["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] = "SIG".into();
        v["layers"][0]["digest"] = "D".into();
        v["layers"][0]["size"] = 0.into();
        v["config"]["digest"] = "C".into();
        v
    };
    assert_eq!(normalise(&signet_bytes), normalise(&cosign_bytes));
    // and the raw byte layout (field order, no whitespace) is cosign's
    let shape = |b: &[u8]| {
        let text = String::from_utf8(b.to_vec()).unwrap();
        let (head, rest) = text
            .split_once("\"dev.cosignproject.cosign/signature\":\"")
            .unwrap();
        let tail = &rest[rest.find('"').unwrap()..];
        format!("{head}SIG{tail}")
            .chars()
            .filter(|c| !c.is_ascii_alphanumeric())
            .collect::<String>()
    };
    assert_eq!(shape(&signet_bytes), shape(&cosign_bytes));
}

#[test]
fn imported_openssl_key_signs_for_cosign() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let st = std::process::Command::new("openssl")
        .args([
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ])
        .current_dir(d)
        .status()
        .unwrap();
    assert!(st.success());
    signet(d, &["import-key-pair", "--key", "ec.pem", "-o", "imported"]).ok();
    let repo = unique_repo(env, "import");
    let a = push_image(env, "a", &repo, "v1");
    signet(
        d,
        &["sign", "--key", "imported.key", &format!("{repo}@{a}")],
    )
    .ok();
    cosign(
        &cosign_bin,
        d,
        &[
            "verify",
            "--key",
            "imported.pub",
            "--insecure-ignore-tlog",
            &format!("{repo}@{a}"),
        ],
    )
    .ok();
    // cosign can read the imported key file too
    cosign(&cosign_bin, d, &["public-key", "--key", "imported.key"]).ok();
}
