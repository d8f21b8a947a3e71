//! Key files, password sources, key references, credential helpers and TLS options,
//! end to end through the binary.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use support::*;

#[test]
fn key_files_have_cosign_modes_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "cosign");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&public).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let k = std::fs::read_to_string(&key).unwrap();
    assert!(
        k.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"),
        "{k}"
    );
    assert!(
        k.lines()
            .filter(|l| !l.starts_with("-----"))
            .all(|l| l.len() <= 64)
    );
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );
    for alg in ["ecdsa-p384", "ed25519"] {
        signet(
            dir.path(),
            &[
                "generate-key-pair",
                "--algorithm",
                alg,
                "--output-key-prefix",
                alg,
            ],
        )
        .ok();
    }
    // an existing key is not overwritten without -y
    signet(dir.path(), &["generate-key-pair"]).fails(1, "already exists; pass -y");
}

#[test]
fn password_from_stdin_and_key_from_env() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    build_layout_image(&d.join("img"), "latest", "x");
    let image = format!("oci:{}", d.join("img").display());
    // no COSIGN_PASSWORD and no TTY: the whole of stdin is the password, as in cosign
    let mut child = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["sign", "--key", key.to_str().unwrap(), &image])
        .current_dir(d)
        .env_remove("COSIGN_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(PASSWORD.as_bytes())
        .unwrap();
    let out: Run = child.wait_with_output().unwrap().into();
    out.ok();
    // the public key through env://
    let pem = std::fs::read_to_string(&public).unwrap();
    signet_env(
        d,
        &["verify", "--key", "env://SIGNET_TEST_PUB", &image],
        &[("SIGNET_TEST_PUB", &pem)],
    )
    .ok();
    // an empty COSIGN_PASSWORD is an empty password, not "ask"
    signet_env(
        d,
        &["generate-key-pair", "--output-key-prefix", "empty"],
        &[("COSIGN_PASSWORD", "")],
    )
    .ok();
    signet_env(
        d,
        &["public-key", "--key", "empty.key"],
        &[("COSIGN_PASSWORD", "")],
    )
    .ok();
    signet_env(
        d,
        &["public-key", "--key", "empty.key"],
        &[("COSIGN_PASSWORD", "x")],
    )
    .fails(1, "wrong password");
}

#[test]
fn public_key_from_a_url() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    build_layout_image(&d.join("img"), "latest", "x");
    let image = format!("oci:{}", d.join("img").display());
    with_key(d, "sign", &key, &[&image]).ok();
    let pem = std::fs::read(&public).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            let mut s = s;
            let mut buf = [0u8; 2048];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                pem.len()
            );
            let _ = s.write_all(&pem);
        }
    });
    signet(
        d,
        &[
            "verify",
            "--key",
            &format!("http://{addr}/cosign.pub"),
            &image,
        ],
    )
    .ok();
    // a private key is never fetched from a URL
    signet(
        d,
        &[
            "sign",
            "--key",
            &format!("http://{addr}/cosign.key"),
            &image,
        ],
    )
    .fails(1, "cannot be fetched from a URL");
}

#[test]
fn encrypted_pkcs8_import() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-aes-256-cbc",
            "-pass",
            "pass:import-me",
            "-out",
            "enc.pem",
        ])
        .current_dir(d)
        .status()
        .unwrap();
    assert!(ok.success());
    signet(d, &["import-key-pair", "--key", "enc.pem"]).fails(1, "SIGNET_IMPORT_PASSWORD");
    signet_env(
        d,
        &["import-key-pair", "--key", "enc.pem"],
        &[("SIGNET_IMPORT_PASSWORD", "wrong")],
    )
    .fails(1, "enc.pem");
    signet_env(
        d,
        &["import-key-pair", "--key", "enc.pem"],
        &[("SIGNET_IMPORT_PASSWORD", "import-me")],
    )
    .ok();
    build_layout_image(&d.join("img"), "latest", "x");
    let image = format!("oci:{}", d.join("img").display());
    signet(d, &["sign", "--key", "import-cosign.key", &image]).ok();
    signet(d, &["verify", "--key", "import-cosign.pub", &image]).ok();
}

#[test]
fn keyless_flags_on_a_key_signed_image_exit_13() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, _) = keypair(d, "k");
    build_layout_image(&d.join("img"), "latest", "x");
    let image = format!("oci:{}", d.join("img").display());
    with_key(d, "sign", &key, &[&image]).ok();
    signet(
        d,
        &[
            "verify",
            "--certificate-identity",
            "a@example.com",
            "--certificate-oidc-issuer",
            "https://issuer",
            &image,
        ],
    )
    .fails(13, "no certificate found on signature");
    signet(
        d,
        &["verify", "--certificate-identity", "a@example.com", &image],
    )
    .fails(1, "--certificate-oidc-issuer");
    signet(
        d,
        &[
            "verify",
            "--key",
            "k.pub",
            "--certificate-identity",
            "a@example.com",
            &image,
        ],
    )
    .fails(1, "exactly one of");
}

#[test]
fn credential_helper_and_insecure_tls() {
    let env = require_env!();
    if env.tls_registry.is_empty() {
        eprintln!("skipping: SIGNET_TEST_TLS_REGISTRY not set");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (key, public) = keypair(d, "k");
    let image = format!("{}/demo/other:v1", env.tls_registry);
    // a docker-credential-* helper on PATH, named by credHelpers
    let bin = d.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-signettest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread server\n[ \"$1\" = get ] || exit 1\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{}\",\"Secret\":\"{}\"}}' \"$server\"\n",
            env.tls_user, env.tls_password
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(d.join(".docker")).unwrap();
    std::fs::write(
        d.join(".docker/config.json"),
        format!(
            r#"{{"credHelpers":{{"{}":"signettest"}}}}"#,
            env.tls_registry
        ),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let ca = env.tls_ca.to_str().unwrap();
    signet_env(
        d,
        &[
            "sign",
            "--key",
            key.to_str().unwrap(),
            "--registry-cacert",
            ca,
            &image,
        ],
        &[("PATH", &path)],
    )
    .ok();
    // --allow-insecure-registry accepts the self-signed certificate without the CA
    signet_env(
        d,
        &[
            "verify",
            "--key",
            public.to_str().unwrap(),
            "--allow-insecure-registry",
            &image,
        ],
        &[("PATH", &path)],
    )
    .ok();
    // a helper that fails is an error naming it, not an anonymous request
    std::fs::write(&helper, "#!/bin/sh\necho 'helper exploded' >&2\nexit 3\n").unwrap();
    signet_env(
        d,
        &[
            "verify",
            "--key",
            public.to_str().unwrap(),
            "--registry-cacert",
            ca,
            &image,
        ],
        &[("PATH", &path)],
    )
    .fails(1, "signettest");
}
