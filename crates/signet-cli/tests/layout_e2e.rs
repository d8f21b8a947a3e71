//! The embedded default, end to end with no registry: keys, an OCI layout image, sign,
//! verify, and tampered copies rejected with cosign's exit codes.

#![allow(clippy::unwrap_used)]

mod support;

use support::{build_layout_image, keypair, signet, with_key};

#[test]
fn sign_verify_and_tamper_in_an_oci_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "cosign");
    let key = key.to_str().unwrap();
    let public = public.to_str().unwrap();
    let digest = build_layout_image(&d.join("img"), "v1", "hello from the demo image");
    let image = format!("oci:{}:v1", d.join("img").display());

    // unsigned
    signet(d, &["verify", "--key", public, &image]).fails(10, "no signatures found");

    let s = signet(d, &["sign", "--key", key, "-a", "team=platform", &image]).ok();
    assert!(s.stderr.contains("uses a tag, not a digest"), "{s:?}");

    let v = signet(
        d,
        &["verify", "--key", public, "-a", "team=platform", &image],
    )
    .ok();
    assert!(
        v.stderr
            .contains("The signatures were verified against the specified public key"),
        "{v:?}"
    );
    assert!(
        v.stderr
            .contains("The specified annotations were verified."),
        "{v:?}"
    );
    assert!(v.stdout.starts_with("\n[{\"critical\":"), "{v:?}");
    assert!(
        v.stdout
            .contains(&format!("\"docker-manifest-digest\":\"{digest}\"")),
        "{v:?}"
    );
    assert!(
        v.stdout.contains(r#""optional":{"team":"platform"}"#),
        "{v:?}"
    );

    // by digest too
    signet(
        d,
        &[
            "verify",
            "--key",
            public,
            &format!("oci:{}@{digest}", d.join("img").display()),
        ],
    )
    .ok();

    // a required annotation the signature lacks
    signet(
        d,
        &["verify", "--key", public, "-a", "team=security", &image],
    )
    .fails(12, "annotation team: expected \"security\"");

    // wrong key
    let (_, other_pub) = keypair(d, "other");
    with_key(d, "verify", &other_pub, &[&image]).fails(12, "does not verify with the given key");

    // signing again with the same key and payload is idempotent (cosign's dedupe)
    let again = signet(d, &["sign", "--key", key, "-a", "team=platform", &image]).ok();
    assert!(again.stderr.contains("already signed"), "{again:?}");

    // tampered copy: new content under the same tag, and the old signature replayed
    // onto the new digest
    let copy = d.join("tampered");
    copy_dir(&d.join("img"), &copy);
    let evil = build_layout_image(&copy, "v1", "hello from an attacker");
    let tampered = format!("oci:{}:v1", copy.display());
    signet(d, &["verify", "--key", public, &tampered]).fails(10, "no signatures found");
    let layout = signet_oci::OciLayout::open(&copy).unwrap();
    let sig = layout
        .resolve_tag(&format!("{}.sig", digest.tag_form()))
        .unwrap()
        .unwrap();
    layout
        .set_tag(&format!("{}.sig", evil.tag_form()), sig)
        .unwrap();
    signet(d, &["verify", "--key", public, &tampered]).fails(
        12,
        &format!("payload signs {digest}, not this image {evil}"),
    );

    // a manifest altered in place on disk is caught when the tag is resolved (a
    // digest-pinned verify never reads the manifest: the signature covers the digest)
    let altered = d.join("altered");
    copy_dir(&d.join("img"), &altered);
    let blob = altered.join("blobs/sha256").join(digest.hex());
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    signet(
        d,
        &[
            "verify",
            "--key",
            public,
            &format!("oci:{}:v1", altered.display()),
        ],
    )
    .fails(1, "has been altered");
}

#[test]
fn triangulate_and_tree_on_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "k");
    let digest = build_layout_image(&d.join("img"), "latest", "x");
    let image = format!("oci:{}", d.join("img").display());
    let t = signet(d, &["triangulate", &image]).ok();
    assert_eq!(
        t.stdout.trim(),
        format!("oci:{}:{}.sig", d.join("img").display(), digest.tag_form())
    );
    let empty = signet(d, &["tree", &image]).ok();
    assert!(
        empty
            .stdout
            .contains("No Supply Chain Security Related Artifacts"),
        "{empty:?}"
    );
    with_key(d, "sign", &key, &[&image]).ok();
    let tree = signet(d, &["tree", &image]).ok();
    assert!(
        tree.stdout.contains("🔐 Signatures for an image tag"),
        "{tree:?}"
    );
    assert_eq!(tree.stdout.matches("🍒 sha256:").count(), 1, "{tree:?}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
