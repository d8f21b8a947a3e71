//! Bad input gets one clear line on stderr, a non-zero exit, and no panic.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;

use support::*;

/// Asserts a one-line error containing `needle`, with exit code 1.
fn one_line_error(r: Run, needle: &str) {
    let r = r.fails(1, needle);
    // Warnings may come first; the error itself is the last line, and the only one.
    let lines: Vec<&str> = r.stderr.trim_end().lines().collect();
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("Error: ")).count(),
        1,
        "{r:?}"
    );
    assert!(
        lines.last().is_some_and(|l| l.starts_with("Error: ")),
        "expected one error line at the end: {r:?}"
    );
}

#[test]
fn malformed_references() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, public) = keypair(d, "k");
    for bad in [
        "UPPER/Case",
        "app@sha256:abc",
        "a//b",
        "host:99999999/app",
        "oci:",
        "app:bad tag",
    ] {
        one_line_error(
            with_key(d, "verify", &public, &[bad]),
            "invalid image reference",
        );
    }
}

#[test]
fn corrupt_truncated_and_wrong_keys() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let image = format!("oci:{}", d.join("img").display());
    build_layout_image(&d.join("img"), "latest", "x");

    std::fs::write(d.join("garbage.key"), b"this is not a key").unwrap();
    one_line_error(
        signet(d, &["sign", "--key", "garbage.key", &image]),
        "garbage.key",
    );

    let text = std::fs::read_to_string(&key).unwrap();
    std::fs::write(d.join("truncated.key"), &text[..text.len() / 2]).unwrap();
    one_line_error(
        signet(d, &["sign", "--key", "truncated.key", &image]),
        "truncated.key",
    );

    one_line_error(
        signet_env(
            d,
            &["sign", "--key", key.to_str().unwrap(), &image],
            &[("COSIGN_PASSWORD", "wrong")],
        ),
        "wrong password",
    );
    one_line_error(
        signet(d, &["sign", "--key", "missing.key", &image]),
        "missing.key",
    );
    one_line_error(with_key(d, "verify", &key, &[&image]), "is a private key");
    one_line_error(with_key(d, "sign", &public, &[&image]), "k.pub");
    one_line_error(
        signet(d, &["sign", "--key", "k8s://ns/secret", &image]),
        "k8s:// scheme is not supported",
    );
    one_line_error(
        signet(d, &["verify", "--key", "env://SIGNET_NO_SUCH_VAR", &image]),
        "SIGNET_NO_SUCH_VAR is not set",
    );
    // nothing was signed by any of the failures above
    with_key(d, "verify", &public, &[&image]).fails(10, "no signatures found");
}

#[test]
fn hostile_scrypt_parameters_are_refused_quickly() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "k");
    let text = std::fs::read_to_string(&key).unwrap();
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let json = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    let hostile = json.replace("\"N\":65536", "\"N\":1073741824");
    assert_ne!(hostile, json);
    let body = base64::engine::general_purpose::STANDARD.encode(hostile);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let pem = format!(
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n{}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
        lines.join("\n")
    );
    std::fs::write(d.join("hostile.key"), pem).unwrap();
    build_layout_image(&d.join("img"), "latest", "x");
    let start = std::time::Instant::now();
    one_line_error(
        signet(
            d,
            &[
                "sign",
                "--key",
                "hostile.key",
                &format!("oci:{}", d.join("img").display()),
            ],
        ),
        "unsupported scrypt parameters",
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn malformed_signature_manifest_and_payload() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let digest = build_layout_image(&d.join("img"), "latest", "x");
    let image = format!("oci:{}", d.join("img").display());
    let layout = signet_oci::OciLayout::open(d.join("img")).unwrap();
    // a .sig tag pointing at bytes that are not a manifest
    let junk = b"{\"schemaVersion\":2,\"layers\":\"nope\"}";
    layout.write_blob(junk).unwrap();
    layout
        .set_tag(
            &format!("{}.sig", digest.tag_form()),
            signet_formats::manifest::Descriptor::of(signet_formats::MediaType::OCI_MANIFEST, junk),
        )
        .unwrap();
    one_line_error(with_key(d, "verify", &public, &[&image]), "malformed");
    // signing over a malformed .sig fails without replacing it
    one_line_error(with_key(d, "sign", &key, &[&image]), "malformed");
    assert_eq!(
        layout
            .resolve_tag(&format!("{}.sig", digest.tag_form()))
            .unwrap()
            .unwrap()
            .digest,
        signet_formats::Digest::sha256_of(junk)
    );
}

/// A server that answers every request with `response`.
fn fake_registry(response: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { continue };
            let response = response.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(&response);
            });
        }
    });
    addr.to_string()
}

#[test]
fn registry_down_erroring_or_oversized() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, public) = keypair(d, "k");
    let p = public.to_str().unwrap();
    // nothing listens on this port
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    one_line_error(
        signet(d, &["verify", "--key", p, &format!("{closed}/x/y:v1")]),
        "cannot reach registry",
    );

    let e500 =
        fake_registry(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec());
    one_line_error(
        signet(d, &["verify", "--key", p, &format!("{e500}/x/y:v1")]),
        "500",
    );

    let e429 = fake_registry(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Length: 0\r\n\r\n".to_vec(),
    );
    one_line_error(
        signet(d, &["verify", "--key", p, &format!("{e429}/x/y:v1")]),
        "rate",
    );

    let mut huge = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 8388608\r\n\r\n".to_vec();
    huge.extend(std::iter::repeat_n(b' ', 8 * 1024 * 1024));
    let big = fake_registry(huge);
    one_line_error(
        signet(d, &["verify", "--key", p, &format!("{big}/x/y:v1")]),
        "limit",
    );
}

#[test]
fn a_hanging_registry_hits_the_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s); // accept and never answer
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, public) = keypair(d, "k");
    let start = std::time::Instant::now();
    one_line_error(
        signet(
            d,
            &[
                "verify",
                "--timeout",
                "2s",
                "--key",
                public.to_str().unwrap(),
                &format!("{addr}/x/y:v1"),
            ],
        ),
        "timed out",
    );
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
}
