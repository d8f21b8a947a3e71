//! cosign 2.5 as an oracle: `cosign sign-blob` gets its certificate from this CA through
//! Fulcio's legacy v1 API and checks the embedded SCT with the stack's CT key; `cosign
//! verify-blob` checks the chain to this CA's root, the identity and the issuer.
//! Skipped when cosign is not installed (`bash scripts/test-env.sh tools` installs it;
//! the path comes from `SIGNET_TEST_COSIGN`, or from `$SIGNET_TEST_DIR/env.sh`).

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosign_signs_with_a_certificate_from_this_ca_and_verifies_it() {
    let Some(cosign) = support::test_tool("SIGNET_TEST_COSIGN") else {
        eprintln!("skipping: cosign not installed (run `bash scripts/test-env.sh tools`)");
        return;
    };
    let stack = support::start().await;
    let dir = stack.dir.path().to_path_buf();
    std::fs::write(dir.join("ca_chain.pem"), stack.ca.chain_pem()).unwrap();
    std::fs::write(dir.join("ctlog.pub"), stack.ca.ct_log_public_key().to_pem()).unwrap();
    std::fs::write(
        dir.join("blob"),
        b"signed by cosign with a signet certificate",
    )
    .unwrap();
    std::fs::write(dir.join("other"), b"something else").unwrap();
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let token = stack.dev.mint("cosign@example.com", None).unwrap();
    let base = stack.base.clone();
    let issuer = stack.issuer();

    let run = move |args: Vec<String>| {
        support::outcome(
            &Command::new(&cosign)
                .args(&args)
                .current_dir(&dir)
                .env("HOME", dir.join("home"))
                .env("SIGSTORE_ROOT_FILE", dir.join("ca_chain.pem"))
                .env("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE", dir.join("ctlog.pub"))
                .output()
                .unwrap(),
        )
    };
    let strings = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let sign = strings(&[
        "sign-blob",
        "--fulcio-url",
        &base,
        "--identity-token",
        &token,
        "--tlog-upload=false",
        "--output-certificate",
        "cert.pem",
        "--output-signature",
        "blob.sig",
        "--yes",
        "blob",
    ]);
    let verify = |identity: &str, file: &str| {
        strings(&[
            "verify-blob",
            "--certificate",
            "cert.pem",
            "--signature",
            "blob.sig",
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            &issuer,
            "--insecure-ignore-tlog",
            file,
        ])
    };
    let jobs = vec![
        sign,
        verify("cosign@example.com", "blob"),
        verify("cosign@example.com", "other"),
        verify("someone@example.com", "blob"),
    ];
    let results =
        tokio::task::spawn_blocking(move || jobs.into_iter().map(run).collect::<Vec<_>>())
            .await
            .unwrap();
    let (ok, log) = results[0].clone();
    assert!(ok && log.contains("Successfully verified SCT"), "{log}");
    let (ok, log) = results[1].clone();
    assert!(ok && log.contains("Verified OK"), "{log}");
    let (ok, log) = results[2].clone();
    assert!(!ok, "another blob must not verify: {log}");
    let (ok, log) = results[3].clone();
    assert!(
        !ok && log.contains("none of the expected identities matched"),
        "{log}"
    );
}
