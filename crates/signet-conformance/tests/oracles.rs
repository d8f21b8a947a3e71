//! The reference implementations check what signet writes (shared/spec/sigstore-interop.md
//! §7.2): sigstore-python 4.5.1 (its CLI, `--trust-config`) and sigstore-js
//! (`@sigstore/verify`, through `scripts/oracles/js-verify.js`), both offline.
//!
//! * Keyless: every conformance happy path (v0.1, v0.2, v0.3, DSSE, Rekor v2 and Rekor v2
//!   DSSE) is parsed with `Bundle::parse` and written again with `to_json_v03`, a v0.1 or
//!   v0.2 certificate chain becoming the v0.3 `certificate` (its leaf: v0.3 carries only
//!   the leaf, the CA certificates come from the trusted root). Both oracles must verify
//!   the rewritten file with the case's trusted root (or the production root) and
//!   identity, and reject it once its signature is altered.
//! * Key-based: sigstore-python cannot load `publicKey` bundles, so only sigstore-js
//!   checks them. `@sigstore/verify` accepts a key bundle with no tlog entry and no
//!   timestamp only with `tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0`
//!   (each default of 1 refuses it: "expected 1 timestamps, got 0"); with those, the
//!   message-signature and DSSE bundles of `signet_sign::bundle` verify, and an altered
//!   signature, another artifact or another key fail.
//!
//! The oracles come from `scripts/test-env.sh oracles` (`up` runs it), which exports
//! `SIGNET_TEST_SIGSTORE_PYTHON` (the venv's python, with `sigstore` beside it) and
//! `SIGNET_TEST_SIGSTORE_JS` (a node_modules directory) in `env.sh`. Without them each
//! test prints why and passes without checking.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use signet_crypto::{KeyAlgorithm, PrivateKey, Signer as _};
use signet_formats::Digest;
use signet_formats::sigstore::{
    Bundle, BundleContent, DSSE_IN_TOTO_PAYLOAD_TYPE, SignerMaterial, cosign_sign_statement,
};
use signet_verify::bundle::{Artifact, BundleVerifier, Policy};
use signet_x509::IdentityMatcher;

const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISS: &str = "https://token.actions.githubusercontent.com";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn conformance() -> PathBuf {
    repo().join("testdata/conformance")
}

fn production_root() -> PathBuf {
    repo().join("crates/signet-formats/trust/production_trusted_root.json")
}

/// The venv's `sigstore` CLI, if the oracle is installed.
fn sigstore_python() -> Option<PathBuf> {
    let python = std::env::var_os("SIGNET_TEST_SIGSTORE_PYTHON").filter(|v| !v.is_empty());
    let Some(python) = python else {
        println!(
            "skipping sigstore-python: SIGNET_TEST_SIGSTORE_PYTHON is not set (run scripts/test-env.sh up and source $SIGNET_TEST_DIR/env.sh)"
        );
        return None;
    };
    let cli = Path::new(&python).with_file_name("sigstore");
    assert!(
        cli.exists(),
        "SIGNET_TEST_SIGSTORE_PYTHON={} has no sigstore CLI beside it: run scripts/test-env.sh oracles",
        cli.display()
    );
    Some(cli)
}

/// The node_modules directory with `@sigstore/verify`, if the oracle is installed.
fn sigstore_js() -> Option<PathBuf> {
    let dir = std::env::var_os("SIGNET_TEST_SIGSTORE_JS").filter(|v| !v.is_empty());
    if dir.is_none() {
        println!(
            "skipping sigstore-js: SIGNET_TEST_SIGSTORE_JS is not set (run scripts/test-env.sh up and source $SIGNET_TEST_DIR/env.sh)"
        );
    }
    dir.map(PathBuf::from)
}

fn text(out: &Output) -> String {
    format!(
        "rc={:?} stdout={:?} stderr={:?}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

/// `sigstore --trust-config TC verify identity`, offline, with scratch XDG directories.
fn python_verify(
    cli: &Path,
    scratch: &Path,
    bundle: &Path,
    artifact: &Path,
    root: &Path,
) -> Output {
    let tc = scratch.join("trust_config.json");
    let root_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root).expect("read root")).expect("root is JSON");
    let config = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": root_json,
        "signingConfig": {"mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json"},
    });
    std::fs::write(&tc, config.to_string()).expect("write trust config");
    Command::new(cli)
        .arg("--trust-config")
        .arg(&tc)
        .args(["verify", "identity", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", ID, "--cert-oidc-issuer", ISS])
        .arg(artifact)
        .env("XDG_CACHE_HOME", scratch.join("xdg-cache"))
        .env("XDG_DATA_HOME", scratch.join("xdg-data"))
        .env("SIGSTORE_OFFLINE", "true")
        .output()
        .expect("run sigstore-python")
}

/// `node scripts/oracles/js-verify.js ARGS...`.
fn js_verify(node_modules: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new("node")
        .arg(repo().join("scripts/oracles/js-verify.js"))
        .args(args)
        .env("SIGNET_TEST_SIGSTORE_JS", node_modules)
        .output()
        .expect("run node (sigstore-js oracle)")
}

fn js_identity(node_modules: &Path, bundle: &Path, artifact: &Path, root: &Path) -> Output {
    js_verify(
        node_modules,
        &[
            "identity".as_ref(),
            bundle.as_os_str(),
            artifact.as_os_str(),
            root.as_os_str(),
            ID.as_ref(),
            ISS.as_ref(),
        ],
    )
}

/// The bundle as signet writes it: v0.3, a chain reduced to its leaf.
fn rewrite_v03(mut bundle: Bundle) -> String {
    if let SignerMaterial::X509CertificateChain(chain) = &bundle.verification_material.signer {
        let leaf = chain
            .first()
            .expect("a parsed chain is never empty")
            .clone();
        bundle.verification_material.signer = SignerMaterial::Certificate(leaf);
    }
    bundle.to_json_v03().expect("a v0.3 bundle")
}

fn alter_signature(bundle: &mut Bundle) {
    let sig = match &mut bundle.content {
        BundleContent::MessageSignature(ms) => &mut ms.signature,
        BundleContent::DsseEnvelope(env) => &mut env.signatures[0].sig,
    };
    let last = sig.len() - 3;
    sig[last] ^= 0x01;
}

/// The happy paths, with their trusted root (`None`: production) and artifact.
const HAPPY_PATHS: &[(&str, Option<&str>, &str)] = &[
    ("happy-path-v0.1", None, "a.txt"),
    ("happy-path-v0.2", None, "a.txt"),
    ("happy-path-v0.3", None, "a.txt"),
    ("happy-path-intoto-in-dsse-v3", None, "a.txt"),
    (
        "rekor2-happy-path",
        Some("rekor2-happy-path/trusted_root.json"),
        "a.txt",
    ),
    (
        "rekor2-dsse-happy-path",
        Some("rekor2-dsse-happy-path/trusted_root.json"),
        "a.txt",
    ),
];

#[test]
fn both_oracles_verify_bundles_signet_rewrote_and_reject_an_altered_one() {
    let python = sigstore_python();
    let js = sigstore_js();
    if python.is_none() && js.is_none() {
        return;
    }
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = conformance();
    let mut failures = Vec::new();
    for (case, root, artifact) in HAPPY_PATHS {
        let root = root.map_or_else(production_root, |r| dir.join(r));
        let artifact = dir.join(artifact);
        let original = Bundle::parse(
            &std::fs::read(dir.join(case).join("bundle.sigstore.json")).expect("read bundle"),
        )
        .expect("bundle parses");
        let out = scratch.path().join(format!("{case}.v03.json"));
        let json = rewrite_v03(original.clone());
        std::fs::write(&out, &json).expect("write");

        // signet reads back what it wrote, and it still verifies.
        let reread = Bundle::parse(json.as_bytes()).expect("signet reads its own v0.3");
        let verifier = BundleVerifier::new(
            &signet_formats::sigstore::TrustedRoot::parse(&std::fs::read(&root).expect("root"))
                .expect("root parses"),
        )
        .expect("root loads");
        let bytes = std::fs::read(&artifact).expect("artifact");
        let policy = Policy::Identity(IdentityMatcher::exact(ID, ISS));
        if let Err(e) = verifier.verify(&reread, Artifact::Bytes(&bytes), &policy) {
            failures.push(format!("{case}: signet rejects its own rewrite: {e}"));
        }

        let mut altered = original;
        alter_signature(&mut altered);
        let bad = scratch.path().join(format!("{case}.altered.json"));
        std::fs::write(&bad, rewrite_v03(altered)).expect("write");

        if let Some(cli) = &python {
            let ok = python_verify(cli, scratch.path(), &out, &artifact, &root);
            if !ok.status.success() {
                failures.push(format!(
                    "{case}: sigstore-python rejects the rewrite: {}",
                    text(&ok)
                ));
            }
            let no = python_verify(cli, scratch.path(), &bad, &artifact, &root);
            if no.status.success() {
                failures.push(format!(
                    "{case}: sigstore-python accepts an altered signature"
                ));
            }
            println!(
                "sigstore-python {case}: rewrite {}, altered {}",
                verdict(&ok),
                verdict(&no)
            );
        }
        if let Some(nm) = &js {
            let ok = js_identity(nm, &out, &artifact, &root);
            if !ok.status.success() {
                failures.push(format!(
                    "{case}: sigstore-js rejects the rewrite: {}",
                    text(&ok)
                ));
            }
            let no = js_identity(nm, &bad, &artifact, &root);
            if no.status.success() {
                failures.push(format!("{case}: sigstore-js accepts an altered signature"));
            }
            println!(
                "sigstore-js {case}: rewrite {}, altered {}",
                verdict(&ok),
                verdict(&no)
            );
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn verdict(out: &Output) -> String {
    if out.status.success() {
        "OK".into()
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let words: Vec<&str> = err.split_whitespace().collect();
        format!(
            "rejected ({})",
            words.join(" ").chars().take(160).collect::<String>()
        )
    }
}

#[test]
fn sigstore_js_verifies_signet_key_bundles_with_zero_thresholds() {
    let Some(nm) = sigstore_js() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let d = scratch.path();
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    std::fs::write(d.join("key.pub"), key.public_key().to_pem()).expect("write");
    std::fs::write(d.join("other.pub"), other.public_key().to_pem()).expect("write");
    let artifact = b"signet key-based bundle\n";
    std::fs::write(d.join("a.txt"), artifact).expect("write");
    std::fs::write(d.join("b.txt"), b"another artifact\n").expect("write");

    let statement = cosign_sign_statement(&Digest::sha256_of(artifact), &Default::default());
    let bundles = [
        (
            "message",
            signet_sign::bundle::sign_message(&key, artifact).expect("sign"),
        ),
        (
            "dsse",
            signet_sign::bundle::sign_dsse(&key, DSSE_IN_TOTO_PAYLOAD_TYPE, &statement)
                .expect("sign"),
        ),
    ];
    let root = production_root();
    let zero = [
        "--tlog-threshold",
        "0",
        "--ctlog-threshold",
        "0",
        "--timestamp-threshold",
        "0",
    ];
    let run = |bundle: &Path, artifact: &str, key: &str, thresholds: &[&str]| {
        let (artifact, key) = (d.join(artifact), d.join(key));
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "key".as_ref(),
            bundle.as_os_str(),
            artifact.as_os_str(),
            root.as_os_str(),
            key.as_os_str(),
        ];
        args.extend(thresholds.iter().map(|t| std::ffi::OsStr::new(*t)));
        js_verify(&nm, &args)
    };
    let mut failures = Vec::new();
    for (kind, bundle) in bundles {
        let good = d.join(format!("{kind}.json"));
        std::fs::write(&good, bundle.to_json_v03().expect("v0.3")).expect("write");
        let mut altered = bundle;
        alter_signature(&mut altered);
        let bad = d.join(format!("{kind}.altered.json"));
        std::fs::write(&bad, altered.to_json_v03().expect("v0.3")).expect("write");

        // (what, bundle, artifact, key, thresholds, verifies)
        type Row<'a> = (&'a str, &'a Path, &'a str, &'a str, &'a [&'a str], bool);
        let cases: [Row<'_>; 5] = [
            ("zero thresholds", &good, "a.txt", "key.pub", &zero, true),
            ("default thresholds", &good, "a.txt", "key.pub", &[], false),
            ("altered signature", &bad, "a.txt", "key.pub", &zero, false),
            ("another artifact", &good, "b.txt", "key.pub", &zero, false),
            ("another key", &good, "a.txt", "other.pub", &zero, false),
        ];
        for (what, bundle, artifact, key, thresholds, want) in cases {
            let out = run(bundle, artifact, key, thresholds);
            println!("sigstore-js key {kind}, {what}: {}", verdict(&out));
            if out.status.success() != want {
                failures.push(format!(
                    "{kind}, {what}: expected {}, got {}",
                    if want { "OK" } else { "a rejection" },
                    text(&out)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
