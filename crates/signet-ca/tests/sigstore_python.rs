//! sigstore-python 4.5.1 as an oracle, through the same internals its `sign` uses: its
//! Fulcio client (CSR, token in `Authorization`) gets a certificate whose SCT it verifies
//! against the CT key of the trusted root this crate writes, and its TSA client (DER,
//! nonce) gets a timestamp its verifier accepts for the signature and rejects for another.
//! Skipped unless `SIGNET_TEST_SIGSTORE_PYTHON` (or `$SIGNET_TEST_DIR/env.sh`) names the
//! oracle venv's python (`bash scripts/test-env.sh oracles`).

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use signet_crypto::{KeyAlgorithm, PrivateKey, Signer as _};
use signet_formats::sigstore::{
    HashAlgorithm, LogId, PublicKey, PublicKeyDetails, TransparencyLogInstance, UnixTime,
    ValidityWindow,
};

const SCRIPT: &str = r#"
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sigstore._internal.fulcio.client import FulcioClient
from sigstore._internal.sct import verify_sct
from sigstore._internal.timestamp import TimestampAuthorityClient
from sigstore._internal.trust import KeyringPurpose
from sigstore.models import TrustedRoot
from sigstore.oidc import IdentityToken
from sigstore.verify.verifier import Verifier

base, root_path, token_path = sys.argv[1:4]
root = TrustedRoot.from_file(root_path)
token = IdentityToken(open(token_path).read().strip())
key = ec.generate_private_key(ec.SECP256R1())
csr = (x509.CertificateSigningRequestBuilder().subject_name(x509.Name([]))
       .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
       .sign(key, hashes.SHA256()))
resp = FulcioClient(base).signing_cert.post(csr, token)
assert len(resp.chain) == 2, resp.chain
verify_sct(resp.cert, resp.chain, root.ct_keyring(KeyringPurpose.SIGN))
print("SCT OK")
signature = key.sign(b"artifact", ec.ECDSA(hashes.SHA256()))
ts = TimestampAuthorityClient(base + "/api/v1/timestamp").request_timestamp(signature)
verifier = Verifier(trusted_root=root)
assert verifier._verify_signed_timestamp(ts, signature) is not None
assert verifier._verify_signed_timestamp(ts, b"another signature") is None
print("TIMESTAMP OK")
"#;

fn python() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("SIGNET_TEST_SIGSTORE_PYTHON") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let dir = std::env::var("SIGNET_TEST_DIR").unwrap_or_else(|_| "/tmp/signet-test-env".into());
    let env = std::fs::read_to_string(Path::new(&dir).join("env.sh")).ok()?;
    env.lines()
        .filter_map(|l| l.trim().trim_start_matches("export ").split_once('='))
        .find(|(k, _)| *k == "SIGNET_TEST_SIGSTORE_PYTHON")
        .map(|(_, v)| PathBuf::from(v.trim_matches(|c| c == '"' || c == '\'')))
        .filter(|p| p.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstore_python_accepts_the_certificate_and_the_timestamp() {
    let Some(python) = python() else {
        eprintln!(
            "skipping: sigstore-python not installed (run `bash scripts/test-env.sh oracles`)"
        );
        return;
    };
    let stack = support::start().await;
    let dir = stack.dir.path().to_path_buf();
    // sigstore-python's verifier wants at least one transparency log in the root.
    let log_key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let tlog = TransparencyLogInstance {
        base_url: "http://rekor.local".into(),
        hash_algorithm: HashAlgorithm::Sha2_256,
        public_key: PublicKey {
            raw_bytes: log_key.public_key().spki_der().to_vec(),
            key_details: PublicKeyDetails::PkixEcdsaP256Sha256,
            valid_for: ValidityWindow::new("validFor", UnixTime(0), None).unwrap(),
        },
        log_id: LogId {
            key_id: log_key.public_key().key_id().as_bytes().to_vec(),
        },
        checkpoint_key_id: None,
        operator: String::new(),
    };
    let root = signet_ca::trusted_root(
        &stack.ca,
        &stack.base,
        Some((&stack.tsa, &stack.url("/api/v1/timestamp"))),
        vec![tlog],
    );
    std::fs::write(dir.join("trusted_root.json"), root.to_json()).unwrap();
    std::fs::write(
        dir.join("token"),
        stack.dev.mint("python@example.com", None).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("oracle.py"), SCRIPT).unwrap();
    let base = stack.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["oracle.py", &base, "trusted_root.json", "token"])
            .current_dir(&dir)
            .env("XDG_CACHE_HOME", dir.join("cache"))
            .env("XDG_DATA_HOME", dir.join("data"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    assert!(
        log.contains("SCT OK") && log.contains("TIMESTAMP OK"),
        "{log}"
    );
}
