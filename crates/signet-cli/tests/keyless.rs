//! Keyless signing against `signet serve` (the CA, log, TSA and dev OIDC issuer in one
//! process), checked by every client that can check it:
//!
//! * signet signs blobs and images keylessly (token → certificate → log entry → bundle)
//!   and verifies them with the stack's `trust/trusted_root.json`;
//! * sigstore-python (`--trust-config trust/client_trust_config.json`) signs a blob
//!   against the stack, and verifies signet's keyless bundles; @sigstore/verify does too;
//! * cosign 2.5 signs an image keylessly against the stack (`--fulcio-url`,
//!   `--rekor-url`, the stack's PEM files in `SIGSTORE_ROOT_FILE`,
//!   `SIGSTORE_REKOR_PUBLIC_KEY`, `SIGSTORE_CT_LOG_PUBLIC_KEY_FILE`) and signet verifies
//!   it; cosign verifies signet's keyless image signatures (`verify-attestation
//!   --new-bundle-format`, since cosign 2.5's `verify` reads only `.sig`).
//! * the CA refuses tokens from issuers it does not trust, and signet names each
//!   missing or unusable token;
//! * signet signs after an interactive sign-in at the dev issuer: the device flow
//!   (the test approves the printed URL) and the browser flow (the test plays the
//!   browser: it opens the printed URL with a subject and follows the redirect to
//!   signet's loopback listener).
//!
//! The oracles and the registry come from `scripts/test-env.sh up`; a test whose tool is
//! missing says so and checks the rest.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::*;

/// A `signet serve --dev-oidc` on a free port, killed on drop.
struct Stack {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Stack {
    fn start(dir: &Path) -> Stack {
        let mut child = Command::new(env!("CARGO_BIN_EXE_signet"))
            .args(["serve", "--addr", "127.0.0.1:0", "--dev-oidc", "--data-dir"])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start signet serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut url = None;
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.expect("read serve output");
            if let Some(rest) = line.strip_prefix("ca: ") {
                url = rest.split_whitespace().next().map(str::to_string);
            }
            let done = line.starts_with("trust: ");
            seen.push(line);
            if done {
                break;
            }
        }
        // One line per service, then the trust directory.
        for prefix in ["oidc: ", "ca: ", "log: ", "tsa: ", "trust: "] {
            assert!(
                seen.iter().any(|l| l.starts_with(prefix)),
                "no {prefix:?} line in {seen:?}"
            );
        }
        std::thread::spawn(move || for _ in lines {});
        Stack {
            child,
            url: url.expect("the ca line names the URL"),
            dir: dir.to_path_buf(),
        }
    }

    fn issuer(&self) -> String {
        format!("{}/oidc", self.url)
    }

    fn trust(&self, name: &str) -> PathBuf {
        self.dir.join("trust").join(name)
    }

    fn token(&self, subject: &str) -> String {
        self.token_from(subject, &[])
    }

    /// A dev issuer token for `subject`, `extra` flags added (`--issuer`).
    fn token_from(&self, subject: &str, extra: &[&str]) -> String {
        let mut args = vec![
            "dev-token",
            "--data-dir",
            self.dir.to_str().expect("utf-8"),
            "--subject",
            subject,
        ];
        args.extend_from_slice(extra);
        signet(&self.dir, &args).ok().stdout.trim().to_string()
    }

    /// The flags that point keyless signing at this stack.
    fn sign_flags(&self) -> Vec<String> {
        vec![
            "--signing-config".into(),
            self.trust("signing_config.json").display().to_string(),
            "--trusted-root".into(),
            self.trust("trusted_root.json").display().to_string(),
        ]
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sigstore_python_cli() -> Option<PathBuf> {
    let python = std::env::var_os("SIGNET_TEST_SIGSTORE_PYTHON").filter(|v| !v.is_empty());
    let Some(python) = python else {
        eprintln!("skipping sigstore-python checks: SIGNET_TEST_SIGSTORE_PYTHON is not set");
        return None;
    };
    let cli = Path::new(&python).with_file_name("sigstore");
    assert!(cli.exists(), "{} is missing", cli.display());
    Some(cli)
}

fn sigstore_js() -> Option<PathBuf> {
    let dir = std::env::var_os("SIGNET_TEST_SIGSTORE_JS").filter(|v| !v.is_empty());
    if dir.is_none() {
        eprintln!("skipping sigstore-js checks: SIGNET_TEST_SIGSTORE_JS is not set");
    }
    dir.map(PathBuf::from)
}

fn show(o: &Output) -> String {
    format!(
        "rc={:?}\nstdout={}\nstderr={}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn python_verify(cli: &Path, stack: &Stack, bundle: &Path, file: &Path, id: &str) -> Output {
    Command::new(cli)
        .arg("--trust-config")
        .arg(stack.trust("client_trust_config.json"))
        .args(["verify", "identity", "--bundle"])
        .arg(bundle)
        .args(["--cert-identity", id, "--cert-oidc-issuer", &stack.issuer()])
        .arg(file)
        .output()
        .expect("run sigstore-python")
}

fn js_verify(nm: &Path, stack: &Stack, bundle: &Path, file: &Path, id: &str) -> Output {
    Command::new("node")
        .arg(repo_root().join("scripts/oracles/js-verify.js"))
        .arg("identity")
        .arg(bundle)
        .arg(file)
        .arg(stack.trust("trusted_root.json"))
        .args([id, &stack.issuer()])
        .env("SIGNET_TEST_SIGSTORE_JS", nm)
        .output()
        .expect("run node (sigstore-js oracle)")
}

fn verify_blob(stack: &Stack, bundle: &Path, file: &Path, id: &str) -> Run {
    signet(
        &stack.dir,
        &[
            "verify-blob",
            "--bundle",
            bundle.to_str().expect("utf-8"),
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            &stack.issuer(),
            "--trusted-root",
            stack.trust("trusted_root.json").to_str().expect("utf-8"),
            file.to_str().expect("utf-8"),
        ],
    )
}

/// What `verify-blob` says when `file` is not the artifact `signed` whose digest the
/// bundle's log entry holds.
fn digest_mismatch(file: &Path, signed: &Path) -> String {
    let digest =
        |p: &Path| signet_formats::Digest::sha256_of(&std::fs::read(p).expect("read")).to_string();
    format!(
        "tlog entry 0: the logged digest does not match the bundle: artifact digest: expected {}, entry has {}",
        digest(file),
        digest(signed)
    )
}

#[test]
fn blobs_signed_keylessly_verify_in_signet_sigstore_python_and_sigstore_js() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(&scratch.path().join("stack"));
    let d = scratch.path();
    // The trust files exist and describe one CA, CT log, tlog and TSA.
    let root: serde_json::Value = serde_json::from_slice(
        &std::fs::read(stack.trust("trusted_root.json")).expect("trusted root"),
    )
    .expect("json");
    for list in [
        "certificateAuthorities",
        "ctlogs",
        "tlogs",
        "timestampAuthorities",
    ] {
        assert_eq!(
            root[list].as_array().map(Vec::len),
            Some(1),
            "{list}: {root}"
        );
    }
    assert_eq!(root["tlogs"][0]["baseUrl"], stack.url.as_str());

    let file = d.join("artifact.txt");
    std::fs::write(&file, b"signed without a key\n").expect("write");
    let other = d.join("other.txt");
    std::fs::write(&other, b"not what was signed\n").expect("write");
    let bundle = d.join("artifact.sigstore.json");
    let token = stack.token("alice@example.com");
    let mut args = vec!["sign-blob", "--identity-token", &token, "--bundle"];
    let bundle_s = bundle.to_str().expect("utf-8");
    args.push(bundle_s);
    let flags = stack.sign_flags();
    args.extend(flags.iter().map(String::as_str));
    args.push(file.to_str().expect("utf-8"));
    let run = signet(d, &args).ok();
    assert!(run.stderr.contains("alice@example.com"), "{run:?}");

    // The bundle: v0.3, a certificate, a hashedrekord entry with a proof and a
    // checkpoint, and an RFC 3161 timestamp.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).expect("bundle")).expect("json");
    assert_eq!(
        json["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let material = &json["verificationMaterial"];
    assert!(material["certificate"]["rawBytes"].is_string(), "{json}");
    let entry = &material["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");
    assert!(entry["inclusionProof"]["checkpoint"]["envelope"].is_string());
    assert!(entry["inclusionPromise"]["signedEntryTimestamp"].is_string());
    assert_eq!(
        material["timestampVerificationData"]["rfc3161Timestamps"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    verify_blob(&stack, &bundle, &file, "alice@example.com").ok();
    verify_blob(&stack, &bundle, &file, "mallory@example.com").fails(
        1,
        r#"certificate identity mismatch: expected a SAN matching "mallory@example.com", the certificate has [Email("alice@example.com")]"#,
    );
    verify_blob(&stack, &bundle, &other, "alice@example.com")
        .fails(1, &digest_mismatch(&other, &file));
    // Not under the public-good root.
    signet(
        d,
        &[
            "verify-blob",
            "--bundle",
            bundle_s,
            "--certificate-identity",
            "alice@example.com",
            "--certificate-oidc-issuer",
            &stack.issuer(),
            file.to_str().expect("utf-8"),
        ],
    )
    .fails(1, "is not in the trusted root");

    if let Some(cli) = sigstore_python_cli() {
        let ok = python_verify(&cli, &stack, &bundle, &file, "alice@example.com");
        assert!(ok.status.success(), "sigstore-python: {}", show(&ok));
        let bad = python_verify(&cli, &stack, &bundle, &other, "alice@example.com");
        assert!(
            !bad.status.success(),
            "sigstore-python accepted another file"
        );

        // sigstore-python signs against the stack; signet and sigstore-python verify.
        let py_file = d.join("python.txt");
        std::fs::write(&py_file, b"signed by sigstore-python\n").expect("write");
        let py_bundle = d.join("python.sigstore.json");
        let py_token = stack.token("bob@example.com");
        let signed = Command::new(&cli)
            .arg("--trust-config")
            .arg(stack.trust("client_trust_config.json"))
            .args([
                "sign",
                "--oidc-disable-ambient-providers",
                "--identity-token",
                &py_token,
                "--overwrite",
                "--bundle",
            ])
            .arg(&py_bundle)
            .arg(&py_file)
            .output()
            .expect("run sigstore-python sign");
        assert!(
            signed.status.success(),
            "sigstore-python sign: {}",
            show(&signed)
        );
        let ok = python_verify(&cli, &stack, &py_bundle, &py_file, "bob@example.com");
        assert!(ok.status.success(), "sigstore-python verify: {}", show(&ok));
        verify_blob(&stack, &py_bundle, &py_file, "bob@example.com").ok();
        verify_blob(&stack, &py_bundle, &file, "bob@example.com")
            .fails(1, &digest_mismatch(&file, &py_file));
    }
    if let Some(nm) = sigstore_js() {
        let ok = js_verify(&nm, &stack, &bundle, &file, "alice@example.com");
        assert!(ok.status.success(), "sigstore-js: {}", show(&ok));
        let bad = js_verify(&nm, &stack, &bundle, &other, "alice@example.com");
        assert!(!bad.status.success(), "sigstore-js accepted another file");
    }
}

#[test]
fn the_ca_refuses_untrusted_issuers_and_signet_names_bad_tokens() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(&scratch.path().join("stack"));
    let d = scratch.path();
    let file = d.join("f.txt");
    std::fs::write(&file, b"x").expect("write");
    let bundle = d.join("f.sigstore.json");
    let flags = stack.sign_flags();
    let sign = |token: Option<&str>| {
        let mut args = vec!["sign-blob", "--bundle", bundle.to_str().expect("utf-8")];
        if let Some(t) = token {
            args.extend(["--identity-token", t]);
        }
        args.extend(flags.iter().map(String::as_str));
        args.push(file.to_str().expect("utf-8"));
        signet_env(d, &args, &[("SIGSTORE_ID_TOKEN", "")])
    };
    // A token the dev issuer signed, but claiming another issuer.
    let foreign = stack.token_from("eve@example.com", &["--issuer", "https://evil.example.com"]);
    sign(Some(&foreign)).fails(1, r#"the Fulcio refused the request (HTTP 401): identity token issuer "https://evil.example.com" is not trusted by this CA"#);
    sign(Some("not-a-jwt")).fails(
        1,
        "the identity token is not usable: not three dot-separated parts",
    );
    // `--fulcio-auth-flow token`: no interactive sign-in, so no token is an error.
    let mut args = vec!["sign-blob", "--fulcio-auth-flow", "token", "--bundle"];
    args.push(bundle.to_str().expect("utf-8"));
    args.extend(flags.iter().map(String::as_str));
    args.push(file.to_str().expect("utf-8"));
    signet_env(d, &args, &[("SIGSTORE_ID_TOKEN", "")]).fails(1, "no identity token");
    // Without it, no token and no terminal means the device flow, announced, at
    // --oidc-issuer (here nothing listens).
    let mut args = vec![
        "sign-blob",
        "--oidc-issuer",
        "http://127.0.0.1:1/oidc",
        "--bundle",
    ];
    args.push(bundle.to_str().expect("utf-8"));
    args.extend(flags.iter().map(String::as_str));
    args.push(file.to_str().expect("utf-8"));
    let run =
        signet_env(d, &args, &[("SIGSTORE_ID_TOKEN", "")]).fails(1, "cannot reach the OIDC issuer");
    assert!(
        run.stderr.contains("Non-interactive mode detected"),
        "{run:?}"
    );
    assert!(!bundle.exists(), "a refused signing wrote a bundle");
    // No dev issuer in a directory that never ran one.
    signet(
        d,
        &[
            "dev-token",
            "--data-dir",
            d.join("nothing").to_str().expect("utf-8"),
            "--subject",
            "a@b",
        ],
    )
    .fails(1, "--dev-oidc");
}

/// A `signet` child whose stderr is read line by line; killed on drop.
struct Signing {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

impl Signing {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Signing {
        let mut c = Command::new(env!("CARGO_BIN_EXE_signet"));
        c.args(args)
            .current_dir(dir)
            .env_remove("SIGSTORE_ID_TOKEN")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("start signet");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Signing {
            child,
            lines,
            stderr: Vec::new(),
        }
    }

    /// The first URL on a stderr line starting with `prefix`.
    fn url_after(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            self.stderr.push(line.clone());
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.split_whitespace().next().expect("a URL").to_string();
            }
        }
        panic!("no line starting with {prefix:?} in {:?}", self.stderr);
    }

    /// Waits for the exit (at most a minute) and returns success and all of stderr.
    fn finish(mut self) -> (bool, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "signet did not finish: {:?}",
                self.stderr
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader thread ends at EOF; collect what it read.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.stderr.push(line);
        }
        (status.success(), self.stderr.join("\n"))
    }
}

impl Drop for Signing {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET `url` without following redirects: the status, the `Location`, the body.
fn get(url: &str) -> (u16, Option<String>, String) {
    rt().block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let response = client.get(url).send().await.expect("GET");
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().expect("ascii").to_string());
        (status, location, response.text().await.expect("body"))
    })
}

/// Checks a bundle signed after an interactive sign-in: it verifies for `id` at the
/// stack's issuer and for no one else, and the token was never printed.
fn check_interactive_bundle(stack: &Stack, bundle: &Path, file: &Path, stderr: &str, id: &str) {
    verify_blob(stack, bundle, file, id).ok();
    verify_blob(stack, bundle, file, "mallory@example.com").fails(
        1,
        &format!(
            r#"certificate identity mismatch: expected a SAN matching "mallory@example.com", the certificate has [Email("{id}")]"#
        ),
    );
    assert!(
        stderr.contains(&format!(
            "Signing keylessly as {id} (issuer {}",
            stack.issuer()
        )),
        "{stderr}"
    );
    // A JWT's header starts with `eyJ`; nothing like it reaches the terminal.
    assert!(!stderr.contains("eyJ"), "a token was printed: {stderr}");
}

#[test]
fn signing_after_a_device_flow_sign_in_at_the_dev_issuer() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(&scratch.path().join("stack"));
    let d = scratch.path();
    let file = d.join("device.txt");
    std::fs::write(&file, b"signed after a device sign-in\n").expect("write");
    let bundle = d.join("device.sigstore.json");
    let issuer = stack.issuer();
    let mut args = vec![
        "sign-blob",
        "--fulcio-auth-flow",
        "device",
        "--oidc-issuer",
        &issuer,
        "--bundle",
        bundle.to_str().expect("utf-8"),
    ];
    let flags = stack.sign_flags();
    args.extend(flags.iter().map(String::as_str));
    args.push(file.to_str().expect("utf-8"));
    let mut signing = Signing::start(d, &args, &[]);

    let url = signing.url_after("Open this URL in a browser to sign in: ");
    assert!(
        url.starts_with(&format!("{issuer}/device/approve?user_code=")),
        "{url}"
    );
    let (status, _, page) = get(&format!("{url}&subject=alice@example.com"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Signed in as alice@example.com"), "{page}");

    let (ok, stderr) = signing.finish();
    assert!(ok, "signet failed: {stderr}");
    assert!(stderr.contains("token from the device flow)"), "{stderr}");
    check_interactive_bundle(&stack, &bundle, &file, &stderr, "alice@example.com");
}

#[test]
fn signing_after_a_browser_sign_in_at_the_dev_issuer() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(&scratch.path().join("stack"));
    let d = scratch.path();
    let file = d.join("browser.txt");
    std::fs::write(&file, b"signed after a browser sign-in\n").expect("write");
    let bundle = d.join("browser.sigstore.json");
    // The issuer comes from the signing config's oidcUrls (no --oidc-issuer), and
    // there is no browser to start: the URL printed is all the user needs.
    let mut args = vec![
        "sign-blob",
        "--fulcio-auth-flow",
        "normal",
        "--bundle",
        bundle.to_str().expect("utf-8"),
    ];
    let flags = stack.sign_flags();
    args.extend(flags.iter().map(String::as_str));
    args.push(file.to_str().expect("utf-8"));
    let mut signing = Signing::start(d, &args, &[("BROWSER", "/nonexistent/browser")]);

    let url = signing.url_after("Open this URL in a browser: ");
    assert!(
        url.starts_with(&format!("{}/authorize?", stack.issuer())),
        "{url}"
    );
    // Without a subject the issuer asks for one; with it, it redirects to signet's
    // loopback listener with a code.
    let (status, _, form) = get(&url);
    assert_eq!(status, 200);
    assert!(form.contains("login_hint"), "{form}");
    let (status, location, body) = get(&format!("{url}&login_hint=alice%40example.com"));
    assert_eq!(status, 302, "{body}");
    let location = location.expect("a Location");
    assert!(
        location.starts_with("http://localhost:") && location.contains("/auth/callback?code="),
        "{location}"
    );
    let (status, _, page) = get(&location);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("return to the terminal"), "{page}");

    let (ok, stderr) = signing.finish();
    assert!(ok, "signet failed: {stderr}");
    assert!(stderr.contains("token from a browser sign-in)"), "{stderr}");
    check_interactive_bundle(&stack, &bundle, &file, &stderr, "alice@example.com");
}

#[test]
fn serve_refuses_a_ca_that_trusts_no_issuer() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let d = scratch.path();
    signet(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            d.join("s").to_str().expect("utf-8"),
        ],
    )
    .fails(1, "trusts no OIDC issuer");
}

#[test]
fn images_signed_keylessly_interoperate_with_cosign() {
    let Some(env) = test_env() else {
        eprintln!("skipping: no test registry (run scripts/test-env.sh up)");
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(&scratch.path().join("stack"));
    let d = scratch.path();
    let repo = unique_repo(env, "keyless");
    let digest = push_image(env, "a", &repo, "v1");
    let image = format!("{repo}@{digest}");
    let flags = stack.sign_flags();
    let token = stack.token("dave@example.com");

    // signet signs keylessly (a bundle referrer by default) and verifies.
    let mut args = vec!["sign", "--allow-http-registry", "--identity-token", &token];
    args.extend(flags.iter().map(String::as_str));
    args.push(&image);
    let run = signet(d, &args).ok();
    assert!(run.stderr.contains("bundle referrer"), "{run:?}");
    let root = stack.trust("trusted_root.json");
    let verify = |id: &str, extra: &[&str]| {
        let issuer = stack.issuer();
        let mut args = vec![
            "verify",
            "--allow-http-registry",
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            &issuer,
            "--trusted-root",
            root.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        args.push(&image);
        signet(d, &args)
    };
    verify("dave@example.com", &[]).ok();
    verify("mallory@example.com", &[]).fails(
        12,
        r#"certificate identity mismatch: expected a SAN matching "mallory@example.com", the certificate has [Email("dave@example.com")]"#,
    );

    let cosign_bin = require_cosign!(env);
    let cosign_env = |c: &mut Command| {
        c.env("SIGSTORE_ROOT_FILE", stack.trust("fulcio_chain.pem"))
            .env("SIGSTORE_REKOR_PUBLIC_KEY", stack.trust("rekor.pub"))
            .env("SIGSTORE_CT_LOG_PUBLIC_KEY_FILE", stack.trust("ctlog.pub"))
            .env("HOME", d)
            .env("TUF_ROOT", d.join(".sigstore"))
            .env("DOCKER_CONFIG", d.join(".docker"));
    };
    // cosign 2.5 verifies signet's keyless referrer.
    let mut c = Command::new(&cosign_bin);
    c.args([
        "verify-attestation",
        "--allow-insecure-registry",
        "--new-bundle-format",
        "--type",
        "https://sigstore.dev/cosign/sign/v1",
        "--certificate-identity",
        "dave@example.com",
        "--certificate-oidc-issuer",
        &stack.issuer(),
        "--trusted-root",
        root.to_str().expect("utf-8"),
        &image,
    ]);
    cosign_env(&mut c);
    let out = c.output().expect("run cosign");
    assert!(
        out.status.success(),
        "cosign verify-attestation: {}",
        show(&out)
    );

    // cosign 2.5 signs keylessly against the stack (a `.sig` with certificate and
    // Rekor bundle); signet verifies it.
    let cosign_token = stack.token("carol@example.com");
    let mut c = Command::new(&cosign_bin);
    c.args([
        "sign",
        "--yes",
        "--allow-insecure-registry",
        "--fulcio-url",
        &stack.url,
        "--rekor-url",
        &stack.url,
        "--identity-token",
        &cosign_token,
        &image,
    ]);
    cosign_env(&mut c);
    let out = c.output().expect("run cosign");
    assert!(out.status.success(), "cosign sign: {}", show(&out));
    let run = verify("carol@example.com", &["--new-bundle-format=false"]).ok();
    assert!(run.stdout.contains(&digest.to_string()), "{run:?}");
}

/// `signet admission check` with the stack's `trust/trustroot.yaml` in the policy
/// directory: `keyless.trustRootRef` and `keyless.ca-cert` select the trust material
/// per authority, and a missing TrustRoot denies.
#[test]
fn keyless_authorities_use_trust_roots_and_ca_certs() {
    let Some(env) = test_env() else {
        eprintln!("skipping: no test registry (run scripts/test-env.sh up)");
        return;
    };
    let scratch = tempfile::tempdir().expect("tempdir");
    let stack = Stack::start(&scratch.path().join("stack"));
    let d = scratch.path();
    let repo = unique_repo(env, "trustroot");
    let digest = push_image(env, "a", &repo, "v1");
    let image = format!("{repo}@{digest}");
    let token = stack.token("erin@example.com");
    let mut args = vec!["sign", "--allow-http-registry", "--identity-token", &token];
    let flags = stack.sign_flags();
    args.extend(flags.iter().map(String::as_str));
    args.push(&image);
    signet(d, &args).ok();

    let policy = |keyless: serde_json::Value| {
        serde_json::json!({
            "apiVersion": "policy.sigstore.dev/v1beta1",
            "kind": "ClusterImagePolicy",
            "metadata": {"name": "private-stack"},
            "spec": {
                "images": [{"glob": format!("{repo}**")}],
                "authorities": [{"keyless": keyless, "signatureFormat": "bundle"}],
            },
        })
        .to_string()
    };
    let identities = serde_json::json!([{"issuer": stack.issuer(), "subject": "erin@example.com"}]);
    let policies = d.join("policies");
    std::fs::create_dir(&policies).expect("mkdir");
    std::fs::write(
        d.join("pod.yaml"),
        serde_json::json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "app", "namespace": "prod"},
            "spec": {"containers": [{"name": "app", "image": image}]}})
        .to_string(),
    )
    .expect("write");
    let check = |extra: &[&str]| {
        let mut args = vec!["admission", "check", "--policy", "policies"];
        args.extend_from_slice(extra);
        args.push("pod.yaml");
        signet(d, &args)
    };

    // trustRootRef: the stack's TrustRoot, no --trusted-root (the public-good root
    // would not verify this stack's certificates).
    std::fs::write(
        policies.join("cip.yaml"),
        policy(serde_json::json!({"trustRootRef": "signet", "identities": identities})),
    )
    .expect("write");
    let denied = "1 of 1 workload(s) denied";
    let run = check(&[]).fails(1, denied);
    assert!(run.stdout.contains("DENY  Pod prod/app"), "{run:?}");
    assert!(
        run.stdout.contains("TrustRoot \"signet\" does not exist"),
        "{run:?}"
    );
    std::fs::copy(
        stack.trust("trustroot.yaml"),
        policies.join("trustroot.yaml"),
    )
    .expect("copy");
    let run = check(&[]).ok();
    assert!(run.stdout.contains("ALLOW Pod prod/app"), "{run:?}");
    // The identity is still checked against the TrustRoot's certificates.
    std::fs::write(
        policies.join("cip.yaml"),
        policy(serde_json::json!({"trustRootRef": "signet",
            "identities": [{"issuer": stack.issuer(), "subject": "mallory@example.com"}]})),
    )
    .expect("write");
    let run = check(&[]).fails(1, denied);
    assert!(run.stdout.contains("mallory@example.com"), "{run:?}");

    // ca-cert: a trusted root with the stack's logs but another CA denies; the stack's
    // chain as ca-cert.data admits.
    let mut root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(stack.trust("trusted_root.json")).expect("read"))
            .expect("json");
    let public: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            repo_root().join("crates/signet-formats/trust/production_trusted_root.json"),
        )
        .expect("read"),
    )
    .expect("json");
    root["certificateAuthorities"] = public["certificateAuthorities"].clone();
    std::fs::write(d.join("other-ca.json"), root.to_string()).expect("write");
    std::fs::remove_file(policies.join("trustroot.yaml")).expect("rm");
    std::fs::write(
        policies.join("cip.yaml"),
        policy(serde_json::json!({"identities": identities})),
    )
    .expect("write");
    let run = check(&["--trusted-root", "other-ca.json"]).fails(1, denied);
    assert!(run.stdout.contains("DENY  Pod prod/app"), "{run:?}");
    assert!(
        run.stdout
            .contains("does not chain to any of the 1 certificate authorities"),
        "{run:?}"
    );
    let chain = std::fs::read_to_string(stack.trust("fulcio_chain.pem")).expect("read");
    std::fs::write(
        policies.join("cip.yaml"),
        policy(serde_json::json!({"ca-cert": {"data": chain}, "identities": identities})),
    )
    .expect("write");
    let run = check(&["--trusted-root", "other-ca.json"]).ok();
    assert!(run.stdout.contains("ALLOW Pod prod/app"), "{run:?}");
}
