//! The reference clients as oracles for what the log serves, over a real socket:
//!
//! - sigstore-python (`SIGNET_TEST_SIGSTORE_PYTHON`, the venv's python): its Rekor v1
//!   client fetches entries by UUID and by index and parses the tree head, and its
//!   `TransparencyLogEntry._verify` checks the inclusion proof, the checkpoint and the
//!   SET against a trusted root holding the log's key;
//! - @sigstore/verify (`SIGNET_TEST_SIGSTORE_JS`, a node_modules directory) and cosign
//!   2.5 (`SIGNET_TEST_COSIGN`) verify key-signed v0.3 bundles (message signature and
//!   DSSE) whose tlog entry the log issued, offline, with that trusted root.
//!
//! `bash scripts/test-env.sh oracles` / `tools` install them and export the variables;
//! each oracle that is missing is skipped with a message.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use signet_crypto::Signer as _;
use signet_log::{LogConfig, LogService};

use common::{bundle, dsse, hashedrekord, key, message_signature, only_entry, trusted_root};

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("run oracle");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

const PY: &str = r#"
import json, sys
from sigstore._internal.rekor.client import RekorClient
from sigstore._internal.trust import KeyringPurpose
from sigstore.models import TrustedRoot
url, root_path, uuids = sys.argv[1], sys.argv[2], sys.argv[3:]
keyring = TrustedRoot.from_file(root_path).rekor_keyring(KeyringPurpose.VERIFY)
client = RekorClient(url)
info = client.log.get()
# Entry 0 is the log's genesis entry.
assert info.tree_size == len(uuids) + 1, (info.tree_size, len(uuids))
for i, uuid in enumerate(uuids, start=1):
    for entry in (client.log.entries.get(uuid=uuid), client.log.entries.get(log_index=i)):
        entry._verify(keyring)
        assert int(entry._inner.log_index) == i, (entry._inner.log_index, i)
print("OK", len(uuids))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_clients_accept_what_the_log_serves() {
    let python = env_path("SIGNET_TEST_SIGSTORE_PYTHON");
    let js = env_path("SIGNET_TEST_SIGSTORE_JS");
    let cosign = env_path("SIGNET_TEST_COSIGN");
    if python.is_none() && js.is_none() && cosign.is_none() {
        eprintln!("skipping: no oracle installed (run `bash scripts/test-env.sh oracles tools`)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    // @sigstore/verify only accepts a checkpoint signed under a name that is a
    // substring of the log's baseUrl: name the log after its URL.
    let config = LogConfig::from_base_url(&url).expect("config");
    let service = LogService::open(&dir.path().join("log"), config).expect("open");
    let app = service.router();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let k = key();
    let artifact = b"signed by a key, logged by signet-log";
    let hr = service
        .submit(&hashedrekord(&k, artifact))
        .await
        .expect("hashedrekord");
    let (envelope, proposal) = dsse(&k, artifact);
    let ds = service.submit(&proposal).await.expect("dsse");

    let root = trusted_root(&service, &url);
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("trusted_root.json"), root.to_string()).expect("write");
    std::fs::write(path("artifact"), artifact).expect("write");
    std::fs::write(path("key.pub"), k.public_key().to_pem()).expect("write");
    let hint = STANDARD.encode(k.public_key().key_id().as_bytes());
    let message = bundle(
        &only_entry(&hr.to_rekor_json()).1,
        "hashedrekord",
        message_signature(&hr.body, artifact),
        &hint,
    );
    let env: Value = serde_json::from_str(&envelope).expect("json");
    let dsse_bundle = bundle(
        &only_entry(&ds.to_rekor_json()).1,
        "dsse",
        ("dsseEnvelope", env),
        &hint,
    );
    std::fs::write(path("message.sigstore.json"), message.to_string()).expect("write");
    std::fs::write(path("dsse.sigstore.json"), dsse_bundle.to_string()).expect("write");

    // sigstore-python: blocking client, so off the runtime.
    if let Some(python) = python {
        let url = url.clone();
        let root_path = path("trusted_root.json");
        let uuids = [hr.uuid.to_string(), ds.uuid.to_string()];
        let (ok, text) = tokio::task::spawn_blocking(move || {
            run(Command::new(python)
                .args(["-c", PY, &url, root_path.to_str().expect("utf8")])
                .args(uuids))
        })
        .await
        .expect("join");
        assert!(ok, "sigstore-python rejected the log's entries:\n{text}");
        eprintln!("sigstore-python: {}", text.trim());
    } else {
        eprintln!("skipping sigstore-python: SIGNET_TEST_SIGSTORE_PYTHON is not set");
    }

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/oracles/js-verify.js");
    match js {
        Some(modules) if script.exists() => {
            for b in ["message.sigstore.json", "dsse.sigstore.json"] {
                let (ok, text) = run(Command::new("node")
                    .env("SIGNET_TEST_SIGSTORE_JS", &modules)
                    .arg(&script)
                    .arg("key")
                    .args([
                        path(b),
                        path("artifact"),
                        path("trusted_root.json"),
                        path("key.pub"),
                    ]));
                assert!(ok, "@sigstore/verify rejected {b}:\n{text}");
                eprintln!("@sigstore/verify {b}: {}", text.trim());
            }
        }
        _ => eprintln!("skipping @sigstore/verify: SIGNET_TEST_SIGSTORE_JS is not set"),
    }

    if let Some(cosign) = cosign {
        for b in ["message.sigstore.json", "dsse.sigstore.json"] {
            let mut cmd = Command::new(&cosign);
            if b.starts_with("dsse") {
                cmd.arg("verify-blob-attestation");
            } else {
                cmd.arg("verify-blob");
            }
            let (ok, text) = run(cmd
                .args(["--key", path("key.pub").to_str().expect("utf8")])
                .args(["--bundle", path(b).to_str().expect("utf8")])
                .arg("--new-bundle-format")
                .args([
                    "--trusted-root",
                    path("trusted_root.json").to_str().expect("utf8"),
                ])
                .arg(path("artifact"))
                .env("HOME", dir.path())
                .env("TUF_ROOT", dir.path().join("tuf")));
            assert!(ok, "cosign rejected {b}:\n{text}");
            eprintln!("cosign {b}: {}", text.trim());
        }
    } else {
        eprintln!("skipping cosign: SIGNET_TEST_COSIGN is not set");
    }
    server.abort();
}
