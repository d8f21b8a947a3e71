//! sigstore-python 4.5.1 as an oracle, through the same internals its `sign` uses: its
//! Fulcio client (CSR, token in `Authorization`) gets a certificate whose SCT it verifies
//! against the CT key of the trusted root this crate writes, and its TSA client (DER,
//! nonce) gets a timestamp its verifier accepts for the signature and rejects for another.
//! Skipped unless `SIGNET_TEST_SIGSTORE_PYTHON` (or `$SIGNET_TEST_DIR/env.sh`) names the
//! oracle venv's python (`bash scripts/test-env.sh oracles`).

#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use signet_crypto::Signer as _;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstore_python_accepts_the_certificate_and_the_timestamp() {
    let Some(python) = support::test_tool("SIGNET_TEST_SIGSTORE_PYTHON") else {
        eprintln!(
            "skipping: sigstore-python not installed (run `bash scripts/test-env.sh oracles`)"
        );
        return;
    };
    let stack = support::start().await;
    let dir = stack.dir.path().to_path_buf();
    // sigstore-python's verifier wants at least one transparency log in the root.
    let tlog = support::rekor_log(support::new_key().public_key(), 0);
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
    let (ok, log) = tokio::task::spawn_blocking(move || {
        support::outcome(
            &Command::new(python)
                .args(["oracle.py", &base, "trusted_root.json", "token"])
                .current_dir(&dir)
                .env("XDG_CACHE_HOME", dir.join("cache"))
                .env("XDG_DATA_HOME", dir.join("data"))
                .output()
                .unwrap(),
        )
    })
    .await
    .unwrap();
    assert!(ok, "{log}");
    assert!(
        log.contains("SCT OK") && log.contains("TIMESTAMP OK"),
        "{log}"
    );
}
