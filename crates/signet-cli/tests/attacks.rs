//! Each attack the threat model names, end to end against the real registry
//! (Debian's distribution 2.8), with its exact exit code and message.

#![allow(clippy::unwrap_used)]

mod support;

use signet_formats::MediaType;
use signet_formats::cosign::SimpleSigning;
use support::proxy::{self, Tamper};
use support::*;

#[test]
fn signed_image_verifies_by_tag_and_digest_with_cosign_output() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "cosign");
    let repo = unique_repo(env, "good");
    let digest = push_image(env, "a", &repo, "v1");
    let s = with_key(d, "sign", &key, &[&format!("{repo}:v1")]).ok();
    assert!(s.stderr.contains("WARNING: Image reference"), "{s:?}");
    assert!(
        s.stderr.contains(&format!("Pushing signature to: {repo}")),
        "{s:?}"
    );
    let v = with_key(d, "verify", &public, &[&format!("{repo}:v1")]).ok();
    let expected_stdout = format!(
        "\n[{{\"critical\":{{\"identity\":{{\"docker-reference\":\"{repo}\"}},\"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\"type\":\"cosign container image signature\"}},\"optional\":null}}]\n"
    );
    assert_eq!(v.stdout, expected_stdout);
    assert_eq!(
        v.stderr,
        format!(
            "\nVerification for {repo}:v1 --\nThe following checks were performed on each of these signatures:\n  - The cosign claims were validated\n  - The signatures were verified against the specified public key\n"
        )
    );
    with_key(d, "verify", &public, &[&format!("{repo}@{digest}")]).ok();
    let t = signet(
        d,
        &[
            "verify",
            "-o",
            "text",
            "--key",
            public.to_str().unwrap(),
            &format!("{repo}@{digest}"),
        ],
    )
    .ok();
    assert!(t.stdout.starts_with("{\"critical\""), "{t:?}");
}

#[test]
fn content_changed_after_signing() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = unique_repo(env, "changed");
    push_image(env, "a", &repo, "v1");
    with_key(d, "sign", &key, &[&format!("{repo}:v1")]).ok();
    // the image is rebuilt with other content and pushed over the signed tag
    let (mut bytes, mt) = manifest_bytes(&repo, "v1").unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap().replacen(
        "\"schemaVersion\":2",
        "\"schemaVersion\":2,\"annotations\":{\"x\":\"changed\"}",
        1,
    );
    bytes = text.into_bytes();
    let changed = put_manifest(&repo, "v1", &mt, &bytes);
    with_key(d, "verify", &public, &[&format!("{repo}:v1")]).fails(
        10,
        &format!("no signatures found for {repo}:v1 ({changed})"),
    );
}

#[test]
fn tag_substitution() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = unique_repo(env, "subst");
    push_image(env, "a", &repo, "latest");
    with_key(d, "sign", &key, &[&format!("{repo}:latest")]).ok();
    let b = push_image(env, "b", &repo, "latest");
    with_key(d, "verify", &public, &[&repo])
        .fails(10, &format!("no signatures found for {repo}:latest ({b})"));
}

#[test]
fn signature_replayed_onto_another_image() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = unique_repo(env, "replay");
    let a = push_image(env, "a", &repo, "a");
    let b = push_image(env, "b", &repo, "b");
    with_key(d, "sign", &key, &[&format!("{repo}@{a}")]).ok();
    let (sig, mt) = manifest_bytes(&repo, &format!("{}.sig", a.tag_form())).unwrap();
    put_manifest(&repo, &format!("{}.sig", b.tag_form()), &mt, &sig);
    with_key(d, "verify", &public, &[&format!("{repo}:b")])
        .fails(12, &format!("payload signs {a}, not this image {b}"));
}

#[test]
fn payload_rewritten_in_the_registry() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = unique_repo(env, "rewrite");
    let a = push_image(env, "a", &repo, "a");
    let b = push_image(env, "b", &repo, "b");
    with_key(d, "sign", &key, &[&format!("{repo}@{a}")]).ok();
    // An attacker with push rights writes a payload naming B and keeps A's signature.
    let (sig, mt) = manifest_bytes(&repo, &format!("{}.sig", a.tag_form())).unwrap();
    let sig_a = String::from_utf8(sig).unwrap();
    let payload_a = SimpleSigning::parse(&fetch_first_layer(&repo, &sig_a)).unwrap();
    let forged = SimpleSigning::with_reference(
        payload_a.critical.identity.docker_reference,
        &b,
        &Default::default(),
    )
    .to_bytes();
    let forged_digest = put_blob(&repo, &forged);
    let m: serde_json::Value = serde_json::from_str(&sig_a).unwrap();
    let old_layer = m["layers"][0]["digest"].as_str().unwrap();
    let old_size = m["layers"][0]["size"].to_string();
    let rewritten = sig_a
        .replace(old_layer, &forged_digest.to_string())
        .replace(
            &format!("\"size\":{old_size},\"digest\":\"{forged_digest}"),
            &format!("\"size\":{},\"digest\":\"{forged_digest}", forged.len()),
        );
    put_manifest(
        &repo,
        &format!("{}.sig", b.tag_form()),
        &mt,
        rewritten.as_bytes(),
    );
    with_key(d, "verify", &public, &[&format!("{repo}:b")])
        .fails(12, "signature does not verify with the given key");
}

fn fetch_first_layer(repo: &str, manifest: &str) -> Vec<u8> {
    let m: serde_json::Value = serde_json::from_str(manifest).unwrap();
    let digest: signet_formats::Digest =
        m["layers"][0]["digest"].as_str().unwrap().parse().unwrap();
    let repository = signet_formats::Repository::parse(repo).unwrap();
    rt().block_on(client().get_blob(&repository, &digest, None))
        .unwrap()
}

#[test]
fn manifest_altered_in_transit() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = unique_repo(env, "mitm");
    let a = push_image(env, "a", &repo, "v1");
    with_key(d, "sign", &key, &[&format!("{repo}@{a}")]).ok();
    let proxy = proxy::start(env.registry.parse().unwrap(), Tamper::ManifestByte);
    let via_proxy = repo.replacen(&env.registry, &proxy.to_string(), 1);
    // by tag: the bytes no longer match the registry's Docker-Content-Digest
    with_key(d, "verify", &public, &[&format!("{via_proxy}:v1")]).fails(1, "digest");
    // by digest: the signature manifest's bytes no longer match what was asked for
    with_key(d, "verify", &public, &[&format!("{via_proxy}@{a}")]).fails(1, "digest");
}

#[test]
fn unsigned_image() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, public) = keypair(d, "k");
    let repo = unique_repo(env, "unsigned");
    push_image(env, "b", &repo, "v1");
    with_key(d, "verify", &public, &[&format!("{repo}:v1")]).fails(10, "no signatures found");
    with_key(d, "verify", &public, &[&format!("{repo}:missing")])
        .fails(11, &format!("image tag not found: {repo}:missing"));
}

#[test]
fn wrong_key() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "k");
    let (_, other) = keypair(d, "other");
    let repo = unique_repo(env, "wrongkey");
    push_image(env, "a", &repo, "v1");
    with_key(d, "sign", &key, &[&format!("{repo}:v1")]).ok();
    let r = with_key(d, "verify", &other, &[&format!("{repo}:v1")])
        .fails(12, "signature does not verify with the given key");
    assert_eq!(
        r.stderr.matches("signature layer sha256:").count(),
        1,
        "{r:?}"
    );
}

#[test]
fn failed_sign_leaves_the_signature_tag_as_it_was() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "k");
    let repo = unique_repo(env, "atomic");
    let a = push_image(env, "a", &repo, "v1");
    with_key(d, "sign", &key, &[&format!("{repo}@{a}")]).ok();
    let sig_tag = format!("{}.sig", a.tag_form());
    let before = manifest_digest(&repo, &sig_tag).unwrap();
    let proxy = proxy::start(env.registry.parse().unwrap(), Tamper::FailManifestPut);
    let via_proxy = repo.replacen(&env.registry, &proxy.to_string(), 1);
    let r = with_key(d, "sign", &key, &["-a", "n=2", &format!("{via_proxy}@{a}")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("500"), "{r:?}");
    assert_eq!(manifest_digest(&repo, &sig_tag).unwrap(), before);
}

#[test]
fn multiple_images_verify_concurrently_and_report_each_failure() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = unique_repo(env, "multi");
    let a = push_image(env, "a", &repo, "a");
    push_image(env, "b", &repo, "b");
    with_key(d, "sign", &key, &[&format!("{repo}@{a}")]).ok();
    let ok = with_key(
        d,
        "verify",
        &public,
        &[&format!("{repo}:a"), &format!("{repo}@{a}")],
    )
    .ok();
    assert_eq!(ok.stdout.matches("\n[{").count(), 2, "{ok:?}");
    let r = with_key(
        d,
        "verify",
        &public,
        &[&format!("{repo}:a"), &format!("{repo}:b")],
    )
    .fails(10, "1 of 2 images failed verification");
    assert!(
        r.stderr.contains(&format!("{repo}:b: no signatures found")),
        "{r:?}"
    );
}

#[test]
fn recursive_signs_every_child_of_an_index() {
    let env = require_env!();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = unique_repo(env, "index");
    let index = push_image(env, "multi", &repo, "v1");
    with_key(d, "sign", &key, &["-r", &format!("{repo}@{index}")]).ok();
    let (bytes, _) = manifest_bytes(&repo, &index.to_string()).unwrap();
    let idx: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let children = idx["manifests"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    with_key(d, "verify", &public, &[&format!("{repo}@{index}")]).ok();
    for c in children {
        signet(
            d,
            &[
                "verify",
                "--key",
                public.to_str().unwrap(),
                &format!("{repo}@{}", c["digest"].as_str().unwrap()),
            ],
        )
        .ok();
    }
    let _ = MediaType::OCI_INDEX;
}

#[test]
fn tls_registry_with_basic_auth() {
    let env = require_env!();
    if env.tls_registry.is_empty() {
        eprintln!("skipping: SIGNET_TEST_TLS_REGISTRY not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let image = format!("{}/demo/app:v1", env.tls_registry);
    let ca = env.tls_ca.to_str().unwrap();
    let creds = [
        "--registry-username",
        &env.tls_user,
        "--registry-password",
        &env.tls_password,
    ];
    let mut args = vec![
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--registry-cacert",
        ca,
    ];
    args.extend(creds);
    args.push(&image);
    signet(d, &args).ok();
    // credentials from a docker config file this time
    let auth = base64_encode(&format!("{}:{}", env.tls_user, env.tls_password));
    std::fs::create_dir_all(d.join(".docker")).unwrap();
    std::fs::write(
        d.join(".docker/config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            env.tls_registry
        ),
    )
    .unwrap();
    with_key(d, "verify", &public, &["--registry-cacert", ca, &image]).ok();
    // without the CA: a TLS error that says what to do
    with_key(d, "verify", &public, &[&image]).fails(1, "--registry-cacert");
    // wrong password
    std::fs::remove_file(d.join(".docker/config.json")).unwrap();
    with_key(
        d,
        "verify",
        &public,
        &[
            "--registry-cacert",
            ca,
            "--registry-username",
            "ci",
            "--registry-password",
            "nope",
            &image,
        ],
    )
    .fails(1, "docker login");
}

fn base64_encode(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn registry_requests_per_verify_from_the_access_log() {
    let env = require_env!();
    let Some(log) = env.registry_log.clone() else {
        eprintln!("skipping: SIGNET_TEST_REGISTRY_LOG not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = unique_repo(env, "requests");
    let a = push_image(env, "a", &repo, "v1");
    with_key(d, "sign", &key, &["-a", "team=x", &format!("{repo}@{a}")]).ok();
    with_key(d, "sign", &key, &[&format!("{repo}@{a}")]).ok();
    let path = repo.split_once('/').unwrap().1.to_string();
    let count = |args: &[&str]| {
        let before = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.contains(&path))
            .count();
        signet(d, args).ok();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let lines: Vec<String> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .filter(|l| l.contains(&path))
            .map(String::from)
            .collect();
        lines[before..].to_vec()
    };
    let p = public.to_str().unwrap();
    // Every verify first looks for Sigstore bundle referrers (cosign v3): distribution
    // 2.8 has no referrers API (404), so the `sha256-<hex>` fallback index is read too
    // (404). These two run alongside the .sig read, so the log order varies.
    let referrer_lookups = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| {
                l.contains(&format!("/referrers/{a}"))
                    || l.contains(&format!("/manifests/{} ", a.tag_form()))
            })
            .count()
    };
    // by tag: the manifest and the .sig manifest; both payloads are the ones signet
    // predicts (with and without the required annotation), so no blob is downloaded
    let by_tag = count(&["verify", "--key", p, "-a", "team=x", &format!("{repo}:v1")]);
    assert_eq!(by_tag.len(), 4, "{by_tag:#?}");
    assert_eq!(referrer_lookups(&by_tag), 2, "{by_tag:#?}");
    assert_eq!(
        by_tag.iter().filter(|l| l.contains("/manifests/")).count(),
        3,
        "{by_tag:#?}"
    );
    // by digest, without -a: the .sig manifest, plus the blob of the annotated
    // signature, whose payload is not the predicted one this time
    let by_digest = count(&["verify", "--key", p, &format!("{repo}@{a}")]);
    assert_eq!(by_digest.len(), 4, "{by_digest:#?}");
    assert_eq!(referrer_lookups(&by_digest), 2, "{by_digest:#?}");
    let sig = by_digest
        .iter()
        .position(|l| l.contains(&format!("manifests/{}.sig", a.tag_form())));
    let blob = by_digest.iter().position(|l| l.contains("/blobs/sha256:"));
    assert!(
        matches!((sig, blob), (Some(s), Some(b)) if s < b),
        "{by_digest:#?}"
    );
    // by digest, with -a: only the .sig manifest (and the referrer lookups)
    let pinned = count(&["verify", "--key", p, "-a", "team=x", &format!("{repo}@{a}")]);
    assert_eq!(pinned.len(), 3, "{pinned:#?}");
    assert_eq!(referrer_lookups(&pinned), 2, "{pinned:#?}");
    // --new-bundle-format=false reads only the .sig, as before bundles existed
    let legacy = count(&[
        "verify",
        "--key",
        p,
        "--new-bundle-format=false",
        "-a",
        "team=x",
        &format!("{repo}@{a}"),
    ]);
    assert_eq!(legacy.len(), 1, "{legacy:#?}");
}
