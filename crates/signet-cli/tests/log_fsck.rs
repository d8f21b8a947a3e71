//! `signet log fsck` on a log written by `signet_log` (the layout of `signet serve`:
//! the log in `D/log`), and on a directory without a log.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer as _};

fn fsck(data_dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["log", "fsck", "--data-dir"])
        .arg(data_dir)
        .output()
        .expect("run signet")
}

#[test]
fn fsck_reports_a_clean_log_and_fails_without_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let log = signet_log::LogService::open(
            &dir.path().join("log"),
            signet_log::LogConfig::new("log.test"),
        )
        .expect("open");
        let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
        for i in 0..3u8 {
            let artifact = [i];
            let digest = signet_formats::Digest::sha256_of(&artifact);
            let proposal = serde_json::json!({
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
                    "signature": {
                        "content": STANDARD.encode(key.sign(&artifact).expect("sign")),
                        "publicKey": {"content": STANDARD.encode(key.public_key().to_pem())},
                    },
                },
            });
            log.submit(proposal.to_string().as_bytes())
                .await
                .expect("append");
        }
    });

    let out = fsck(dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("tree size 4: 4 leaves"), "{stdout}");
    assert!(stdout.contains("ok: no problems found"), "{stdout}");

    let empty = tempfile::tempdir().expect("tmp");
    let out = fsck(empty.path());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("log.redb"), "{stderr}");
}
