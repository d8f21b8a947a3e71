//! Images signed in cosign v3's format: Sigstore bundles stored as OCI 1.1 referrers
//! (`signet sign --new-bundle-format`, `signet verify`), on distribution 2.8 (no
//! referrers API: the `sha256-<hex>` fallback index) and on the ggcr-based registry
//! with the API (`SIGNET_TEST_REFERRERS_REGISTRY`), in an OCI layout, against
//! tampering, and with cosign 2.5 in both directions.
//!
//! What cosign 2.5 can do with these (found by running it; see each test):
//! - `cosign attest --new-bundle-format --tlog-upload=false` writes a bundle referrer
//!   (a DSSE in-toto v0.1 statement, predicate type
//!   `https://cosign.sigstore.dev/attestation/v1` for `--type custom`); signet verifies it.
//! - `cosign verify-attestation --new-bundle-format --key K --insecure-ignore-tlog
//!   --trusted-root <root> --type https://sigstore.dev/cosign/sign/v1` verifies signet's
//!   bundles. Without `--trusted-root` it needs TUF (the network); without
//!   `--insecure-ignore-tlog` it wants a tlog entry; without `--type` it wants `custom`.
//! - `cosign verify --new-bundle-format` (2.5) does not read bundle referrers for images
//!   at all ("no signatures found", even for its own attestations), and 2.5 `sign` has no
//!   `--new-bundle-format`: that arrives in 2.6.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod support;

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;
use signet_formats::manifest::{AnyManifest, Descriptor, Index, parse_manifest};
use signet_formats::{Digest, MediaType, Repository};
use signet_oci::ImageStore;
use signet_oci::referrers::{list_referrers, push_referrer};
use support::*;

const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

// ---------------------------------------------------------------------------------
// helpers

/// A registry under test.
struct Reg {
    name: &'static str,
    host: String,
    /// It has the referrers API.
    api: bool,
}

/// Both registries, or `None` (saying why) when the referrers registry is not up.
fn registries(env: &TestEnv) -> Option<Vec<Reg>> {
    let api = env.referrers_registry.clone();
    let Some(api) = api else {
        eprintln!(
            "skipping: SIGNET_TEST_REFERRERS_REGISTRY not set (run `bash scripts/test-env.sh up`)"
        );
        return None;
    };
    Some(vec![
        Reg {
            name: "distribution-2.8",
            host: env.registry.clone(),
            api: false,
        },
        Reg {
            name: "referrers-api",
            host: api,
            api: true,
        },
    ])
}

fn repo_on(reg: &Reg, name: &str) -> String {
    unique_repo_on(&reg.host, &format!("bundles-{name}"))
}

fn store(repo: &str) -> ImageStore {
    ImageStore::Registry {
        client: client(),
        repository: Repository::parse(repo).unwrap(),
    }
}

fn referrers(repo: &str, subject: &Digest) -> Vec<Descriptor> {
    rt().block_on(list_referrers(&store(repo), subject, None))
        .unwrap()
        .descriptors
}

/// The bundle referrers of `subject`: (manifest digest, manifest JSON, bundle bytes).
fn bundles(repo: &str, subject: &Digest) -> Vec<(Digest, Value, Vec<u8>)> {
    let s = store(repo);
    referrers(repo, subject)
        .into_iter()
        .filter_map(|d| {
            rt().block_on(async {
                let m = s.manifest(&d.digest.to_string()).await.unwrap().unwrap();
                let AnyManifest::Image(parsed) = m.parse().unwrap() else {
                    return None;
                };
                let layer = parsed.layers.first()?;
                if !layer
                    .media_type
                    .as_str()
                    .starts_with("application/vnd.dev.sigstore.bundle")
                {
                    return None;
                }
                let bundle = s.blob(&layer.digest, 1 << 24).await.unwrap();
                Some((d.digest, serde_json::from_slice(&m.bytes).unwrap(), bundle))
            })
        })
        .collect()
}

/// Stores a referrer of `subject` in `repo` holding `bundle` (blob and config
/// uploaded), in cosign's manifest layout.
fn push_bundle_referrer(repo: &str, subject: &Descriptor, bundle: &[u8]) -> Digest {
    put_blob(repo, b"{}");
    put_blob(repo, bundle);
    let bt = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
                   "digest": Digest::sha256_of(b"{}").to_string(), "artifactType": bt},
        "layers": [{"mediaType": bt, "size": bundle.len(),
                    "digest": Digest::sha256_of(bundle).to_string()}],
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope",
                        "dev.sigstore.bundle.predicateType": SIGN_PREDICATE},
        "subject": {"mediaType": subject.media_type.as_str(), "size": subject.size,
                    "digest": subject.digest.to_string()},
        "artifactType": bt,
    }))
    .unwrap();
    rt().block_on(push_referrer(&store(repo), &manifest, &subject.digest))
        .unwrap()
        .descriptor
        .digest
}

fn subject_of(repo: &str, digest: &Digest) -> Descriptor {
    let (bytes, mt) = manifest_bytes(repo, &digest.to_string()).unwrap();
    Descriptor::of(mt, &bytes)
}

fn verify(d: &Path, key: &Path, image: &str, extra: &[&str]) -> Run {
    let mut args = vec!["verify", "--key", key.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push(image);
    signet(d, &args)
}

fn sign_bundle(d: &Path, key: &Path, image: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "sign",
        "--key",
        key.to_str().unwrap(),
        "--new-bundle-format",
    ];
    args.extend_from_slice(extra);
    args.push(image);
    signet(d, &args)
}

fn fallback_index(repo: &str, subject: &Digest) -> Option<Index> {
    manifest_bytes(repo, &subject.tag_form()).map(|(b, mt)| {
        match parse_manifest(&b, Some(&mt)).unwrap() {
            AnyManifest::Index(i) => i,
            AnyManifest::Image(_) => panic!("the fallback tag holds an image manifest"),
        }
    })
}

// ---------------------------------------------------------------------------------
// signet both ways

/// Sign and verify on both registries: the output is cosign v3's shape, `-a` is
/// checked against the statement, the key matters, key bundles need
/// `--insecure-ignore-tlog`, and the referrer is listed by the API or the fallback tag.
#[test]
fn sign_and_verify_on_both_registries() {
    let env = require_env!();
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let (_, other_public) = keypair(d, "other");
    for reg in &regs {
        let repo = repo_on(reg, "roundtrip");
        let a = push_image(env, "a", &repo, "v1");
        let s = sign_bundle(d, &key, &format!("{repo}:v1"), &["-a", "team=x"]).ok();
        assert!(s.stderr.contains("Signed sha256:"), "{}: {s:?}", reg.name);
        let image = format!("{repo}:v1");

        let v = verify(
            d,
            &public,
            &image,
            &["--insecure-ignore-tlog", "-a", "team=x"],
        )
        .ok();
        let out: Value = serde_json::from_str(v.stdout.trim()).unwrap();
        assert_eq!(
            out,
            serde_json::json!([{
                "critical": {"identity": {"docker-reference": image},
                             "image": {"docker-manifest-digest": a.to_string()},
                             "type": SIGN_PREDICATE},
                "optional": {"team": "x"}}]),
            "{}",
            reg.name
        );
        assert!(
            v.stderr
                .contains("The signatures were verified against the specified public key")
        );
        // -o text: one payload per line.
        let t = verify(
            d,
            &public,
            &image,
            &["--insecure-ignore-tlog", "-o", "text"],
        )
        .ok();
        assert_eq!(t.stdout.lines().count(), 1);

        verify(d, &public, &image, &[]).fails(12, "pass --insecure-ignore-tlog");
        verify(
            d,
            &public,
            &image,
            &["--insecure-ignore-tlog", "-a", "team=y"],
        )
        .fails(12, "missing or incorrect annotation: team=y");
        verify(d, &other_public, &image, &["--insecure-ignore-tlog"])
            .fails(12, "signature does not verify");
        // Legacy only: there is no .sig.
        verify(
            d,
            &public,
            &image,
            &["--insecure-ignore-tlog", "--new-bundle-format=false"],
        )
        .fails(10, "no signatures found");

        let listed = referrers(&repo, &a);
        assert_eq!(listed.len(), 1, "{}", reg.name);
        assert_eq!(
            listed[0].artifact_type.as_ref().map(MediaType::as_str),
            Some("application/vnd.dev.sigstore.bundle.v0.3+json")
        );
        assert_eq!(
            fallback_index(&repo, &a).is_some(),
            !reg.api,
            "{}",
            reg.name
        );
        // The manifest is cosign's layout, with the statement's predicate type.
        let (_, manifest, bundle) = bundles(&repo, &a).remove(0);
        assert_eq!(
            manifest["annotations"]["dev.sigstore.bundle.predicateType"],
            SIGN_PREDICATE
        );
        assert_eq!(
            manifest["annotations"]["dev.sigstore.bundle.content"],
            "dsse-envelope"
        );
        assert_eq!(manifest["subject"]["digest"], a.to_string());
        let b: Value = serde_json::from_slice(&bundle).unwrap();
        assert_eq!(
            b["mediaType"],
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        );
        assert!(b["verificationMaterial"]["publicKey"]["hint"].is_string());
    }
}

/// No bundles: `.sig` is verified as before; bundles by another key do not hide a
/// good `.sig`; and a bundle-signed image verifies by digest too.
#[test]
fn legacy_signatures_still_verify_and_mix_with_bundles() {
    let env = require_env!();
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let (other, _) = keypair(d, "other");
    for reg in &regs {
        let repo = repo_on(reg, "mixed");
        let a = push_image(env, "a", &repo, "v1");
        with_key(d, "sign", &key, &[&format!("{repo}@{a}")]).ok();
        let v = verify(d, &public, &format!("{repo}:v1"), &[]).ok();
        assert!(
            v.stdout.contains("cosign container image signature"),
            "{v:?}"
        );
        // A bundle by another key: rejected, then the .sig verifies.
        sign_bundle(d, &other, &format!("{repo}@{a}"), &[]).ok();
        let v = verify(
            d,
            &public,
            &format!("{repo}@{a}"),
            &["--insecure-ignore-tlog"],
        )
        .ok();
        assert!(
            v.stdout.contains("cosign container image signature"),
            "{v:?}"
        );
        // Both rejected: every reason, bundle and .sig, is listed.
        let (_, third) = keypair(d, &format!("third-{}", reg.name));
        let f = verify(
            d,
            &third,
            &format!("{repo}@{a}"),
            &["--insecure-ignore-tlog"],
        )
        .fails(12, "no matching signatures");
        assert!(f.stderr.contains("bundle referrer sha256:"), "{f:?}");
        assert!(f.stderr.lines().count() >= 3, "{f:?}");
    }
}

/// An OCI layout: the referrer is a blob and the fallback index a tag of index.json.
#[test]
fn sign_and_verify_in_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let layout = d.join("layout");
    let digest = build_layout_image(&layout, "v1", "bundle layout test");
    let image = format!("oci:{}:v1", layout.display());
    sign_bundle(d, &key, &image, &["-a", "k=v"]).ok();
    let v = verify(d, &public, &image, &["--insecure-ignore-tlog", "-a", "k=v"]).ok();
    assert!(v.stdout.contains(SIGN_PREDICATE), "{v:?}");
    let index = std::fs::read_to_string(layout.join("index.json")).unwrap();
    assert!(
        index.contains(&format!(
            r#""org.opencontainers.image.ref.name":"{}""#,
            digest.tag_form()
        )),
        "{index}"
    );
}

/// Eight `signet sign --new-bundle-format` processes at once on distribution 2.8
/// (every one rewrites the fallback index): all eight end up listed and verify.
#[test]
fn concurrent_signers_all_land_in_the_fallback_index() {
    let env = require_env!();
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = repo_on(&regs[0], "concurrent");
    let a = push_image(env, "a", &repo, "v1");
    let image = format!("{repo}@{a}");
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (d, key, image) = (d.to_path_buf(), key.clone(), image.clone());
            std::thread::spawn(move || {
                let note = format!("n={i}");
                sign_bundle(&d, &key, &image, &["-a", &note]).ok();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let index = fallback_index(&repo, &a).expect("fallback index");
    assert_eq!(index.manifests.len(), 8, "{index:?}");
    let digests: Vec<String> = index
        .manifests
        .iter()
        .map(|m| m.digest.to_string())
        .collect();
    let mut sorted = digests.clone();
    sorted.sort();
    assert_eq!(digests, sorted, "the fallback index is sorted by digest");
    let v = verify(d, &public, &image, &["--insecure-ignore-tlog"]).ok();
    let out: Value = serde_json::from_str(v.stdout.trim()).unwrap();
    assert_eq!(out.as_array().unwrap().len(), 8);
}

// ---------------------------------------------------------------------------------
// tampering

/// A fallback index that lists another image's referrer: its subject is checked.
#[test]
fn referrer_for_another_subject_is_denied() {
    let env = require_env!();
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let repo = repo_on(&regs[0], "wrong-subject");
    let a = push_image(env, "a", &repo, "v1");
    let b = push_image(env, "b", &repo, "v2");
    sign_bundle(d, &key, &format!("{repo}@{b}"), &[]).ok();
    // Copy b's fallback index to a's tag: a now "has" b's signature.
    let (bytes, mt) = manifest_bytes(&repo, &b.tag_form()).unwrap();
    put_manifest(&repo, &a.tag_form(), &mt, &bytes);
    verify(
        d,
        &public,
        &format!("{repo}@{a}"),
        &["--insecure-ignore-tlog"],
    )
    .fails(12, &format!("its subject is {b}, not this image"));
}

/// A referrer of image a that holds the bundle signed for image b: the signed
/// statement names b, so it is denied for a, on both registries.
#[test]
fn bundle_for_another_image_is_denied() {
    let env = require_env!();
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    for reg in &regs {
        let repo = repo_on(reg, "other-image");
        let a = push_image(env, "a", &repo, "v1");
        let b = push_image(env, "b", &repo, "v2");
        sign_bundle(d, &key, &format!("{repo}@{b}"), &[]).ok();
        let (_, _, bundle_b) = bundles(&repo, &b).remove(0);
        push_bundle_referrer(&repo, &subject_of(&repo, &a), &bundle_b);
        verify(
            d,
            &public,
            &format!("{repo}@{a}"),
            &["--insecure-ignore-tlog"],
        )
        .fails(
            12,
            &format!("no in-toto subject has the artifact digest {a}"),
        );
        // b itself still verifies.
        verify(
            d,
            &public,
            &format!("{repo}@{b}"),
            &["--insecure-ignore-tlog"],
        )
        .ok();
    }
}

/// A bundle whose signed statement was altered (the annotation changed, the signature
/// kept), or whose signature was altered, is denied; so is one that is not JSON.
#[test]
fn altered_bundle_is_denied() {
    let env = require_env!();
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let b64 = base64::engine::general_purpose::STANDARD;
    for reg in &regs {
        let signed_repo = repo_on(reg, "altered-src");
        let a = push_image(env, "a", &signed_repo, "v1");
        sign_bundle(d, &key, &format!("{signed_repo}@{a}"), &["-a", "role=user"]).ok();
        let (_, _, bundle) = bundles(&signed_repo, &a).remove(0);
        let original: Value = serde_json::from_slice(&bundle).unwrap();

        // The claims changed under the signature.
        let mut claims = original.clone();
        let payload = b64
            .decode(claims["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap();
        let forged = String::from_utf8(payload)
            .unwrap()
            .replace("\"user\"", "\"admin\"");
        claims["dsseEnvelope"]["payload"] = Value::String(b64.encode(forged));
        // The signature changed.
        let mut sig = original.clone();
        let mut raw = b64
            .decode(
                sig["dsseEnvelope"]["signatures"][0]["sig"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        sig["dsseEnvelope"]["signatures"][0]["sig"] = Value::String(b64.encode(raw));

        for (what, bytes, want) in [
            (
                "claims",
                serde_json::to_vec(&claims).unwrap(),
                "signature does not verify",
            ),
            (
                "signature",
                serde_json::to_vec(&sig).unwrap(),
                "signature does not verify",
            ),
            (
                "garbage",
                b"{\"mediaType\":".to_vec(),
                "the bundle is malformed",
            ),
        ] {
            let repo = repo_on(reg, &format!("altered-{what}"));
            let a2 = push_image(env, "a", &repo, "v1");
            assert_eq!(a2, a);
            push_bundle_referrer(&repo, &subject_of(&repo, &a), &bytes);
            let f = verify(
                d,
                &public,
                &format!("{repo}@{a}"),
                &["--insecure-ignore-tlog"],
            )
            .fails(12, want);
            assert!(f.stdout.trim().is_empty(), "{}: {what}: {f:?}", reg.name);
        }
        // And -a role=admin finds nothing signed with that claim in the original.
        verify(
            d,
            &public,
            &format!("{signed_repo}@{a}"),
            &["--insecure-ignore-tlog", "-a", "role=admin"],
        )
        .fails(12, "missing or incorrect annotation");
    }
}

// ---------------------------------------------------------------------------------
// cosign 2.5

/// cosign 2.5 `attest --new-bundle-format` writes a bundle referrer (on 2.8 its
/// fallback entry's artifactType is the config type, application/vnd.oci.empty.v1+json,
/// as go-containerregistry writes it); signet verifies it, and refuses it without
/// `--insecure-ignore-tlog` since cosign wrote no tlog entry.
#[test]
fn signet_verifies_cosign_attest_bundles() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cosign(&cosign_bin, d, &["generate-key-pair"]).ok();
    std::fs::write(d.join("predicate.json"), r#"{"hello":"world"}"#).unwrap();
    for reg in &regs {
        let repo = repo_on(reg, "cosign-attest");
        let a = push_image(env, "a", &repo, "v1");
        cosign(
            &cosign_bin,
            d,
            &[
                "attest",
                "--key",
                "cosign.key",
                "--predicate",
                "predicate.json",
                "--type",
                "custom",
                "--new-bundle-format",
                "--tlog-upload=false",
                "-y",
                &format!("{repo}@{a}"),
            ],
        )
        .ok();
        let v = verify(
            d,
            &d.join("cosign.pub"),
            &format!("{repo}:v1"),
            &["--insecure-ignore-tlog"],
        )
        .ok();
        let out: Value = serde_json::from_str(v.stdout.trim()).unwrap();
        assert_eq!(
            out[0]["critical"]["type"], "https://cosign.sigstore.dev/attestation/v1",
            "{}: {v:?}",
            reg.name
        );
        assert_eq!(
            out[0]["critical"]["image"]["docker-manifest-digest"],
            a.to_string()
        );
        verify(d, &d.join("cosign.pub"), &format!("{repo}:v1"), &[])
            .fails(12, "pass --insecure-ignore-tlog");
        if !reg.api {
            let index = fallback_index(&repo, &a).unwrap();
            assert_eq!(
                index.manifests[0]
                    .artifact_type
                    .as_ref()
                    .map(MediaType::as_str),
                Some("application/vnd.oci.empty.v1+json")
            );
        }
    }
}

/// cosign 2.5 `verify-attestation --new-bundle-format` verifies signet's bundles (it
/// needs a trusted root, offline, and `--type` for the sign predicate); its `verify`
/// does not read bundle referrers yet.
#[test]
fn cosign_verifies_signet_bundles() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    // No CAs, logs or TSAs: a key bundle needs none, and cosign must not go to TUF.
    std::fs::write(
        d.join("root.json"),
        r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
    )
    .unwrap();
    let public = public.to_str().unwrap();
    for reg in &regs {
        let repo = repo_on(reg, "cosign-verifies");
        let a = push_image(env, "a", &repo, "v1");
        sign_bundle(d, &key, &format!("{repo}:v1"), &["-a", "team=x"]).ok();
        let image = format!("{repo}@{a}");
        let base = [
            "verify-attestation",
            "--new-bundle-format",
            "--key",
            public,
            "--insecure-ignore-tlog",
            "--trusted-root",
            "root.json",
        ];
        let mut args = base.to_vec();
        args.extend(["--type", SIGN_PREDICATE, &image]);
        let ok = cosign(&cosign_bin, d, &args).ok();
        let envelope: Value = serde_json::from_str(ok.stdout.lines().next().unwrap()).unwrap();
        let statement = base64::engine::general_purpose::STANDARD
            .decode(envelope["payload"].as_str().unwrap())
            .unwrap();
        assert!(
            String::from_utf8(statement)
                .unwrap()
                .contains(r#""annotations":{"team":"x"}"#),
            "{}",
            reg.name
        );
        // What 2.5 does not accept, and why.
        let mut no_type = base.to_vec();
        no_type.push(&image);
        cosign(&cosign_bin, d, &no_type).fails(
            1,
            "none of the attestations matched the predicate type: custom",
        );
        let strict = cosign(
            &cosign_bin,
            d,
            &[
                "verify-attestation",
                "--new-bundle-format",
                "--key",
                public,
                "--trusted-root",
                "root.json",
                "--type",
                SIGN_PREDICATE,
                &image,
            ],
        );
        assert_eq!(strict.code, 1, "{strict:?}");
        assert!(
            strict.stderr.contains("not enough verified log entries"),
            "{strict:?}"
        );
        cosign(
            &cosign_bin,
            d,
            &[
                "verify",
                "--new-bundle-format",
                "--key",
                public,
                "--insecure-ignore-tlog",
                "--trusted-root",
                "root.json",
                &image,
            ],
        )
        .fails(10, "no signatures found");
    }
}

/// signet and cosign writing referrers of one image on distribution 2.8 share the
/// fallback index: each keeps the other's entry, and both verify.
#[test]
fn signet_and_cosign_share_the_fallback_index() {
    let env = require_env!();
    let cosign_bin = require_cosign!(env);
    let Some(regs) = registries(env) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    cosign(&cosign_bin, d, &["generate-key-pair"]).ok();
    std::fs::write(d.join("predicate.json"), r#"{"n":1}"#).unwrap();
    let repo = repo_on(&regs[0], "shared-index");
    let a = push_image(env, "a", &repo, "v1");
    let image = format!("{repo}@{a}");
    sign_bundle(d, &key, &image, &[]).ok();
    cosign(
        &cosign_bin,
        d,
        &[
            "attest",
            "--key",
            "cosign.key",
            "--predicate",
            "predicate.json",
            "--new-bundle-format",
            "--tlog-upload=false",
            "-y",
            &image,
        ],
    )
    .ok();
    sign_bundle(d, &key, &image, &[]).ok();
    let index = fallback_index(&repo, &a).unwrap();
    assert_eq!(index.manifests.len(), 3, "{index:?}");
    let v = verify(d, &public, &image, &["--insecure-ignore-tlog"]).ok();
    assert_eq!(
        serde_json::from_str::<Value>(v.stdout.trim())
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    verify(
        d,
        &d.join("cosign.pub"),
        &image,
        &["--insecure-ignore-tlog"],
    )
    .ok();
}
