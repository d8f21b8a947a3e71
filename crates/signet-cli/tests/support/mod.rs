//! Shared helpers for the end-to-end tests: the test environment from
//! `scripts/test-env.sh`, a runner for the built `signet` binary and for cosign, an
//! image copier (through signet's own registry client), and a proxy that alters bytes.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use signet_formats::manifest::{AnyManifest, parse_manifest};
use signet_formats::{Digest, MediaType, Repository};
use signet_oci::{ClientConfig, OciLayout, RegistryClient};

/// Values exported by `scripts/test-env.sh env`.
pub struct TestEnv {
    pub registry: String,
    pub tls_registry: String,
    pub tls_ca: PathBuf,
    pub tls_user: String,
    pub tls_password: String,
    pub layout: PathBuf,
    pub cosign: Option<PathBuf>,
    pub registry_log: Option<PathBuf>,
    /// The registry with the OCI 1.1 referrers API (`SIGNET_TEST_REFERRERS_REGISTRY`).
    pub referrers_registry: Option<String>,
}

fn env_file_vars() -> HashMap<String, String> {
    let dir = std::env::var("SIGNET_TEST_DIR").unwrap_or_else(|_| "/tmp/signet-test-env".into());
    let mut vars = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(Path::new(&dir).join("env.sh")) {
        for line in text.lines() {
            let line = line.trim().trim_start_matches("export ");
            if let Some((k, v)) = line.split_once('=') {
                vars.insert(
                    k.to_string(),
                    v.trim_matches(|c| c == '"' || c == '\'').to_string(),
                );
            }
        }
    }
    for (k, v) in std::env::vars() {
        if k.starts_with("SIGNET_TEST_") {
            vars.insert(k, v);
        }
    }
    vars
}

/// The test environment, or `None` (and a message saying how to get it) when the
/// registries are not running.
pub fn test_env() -> Option<&'static TestEnv> {
    static ENV: OnceLock<Option<TestEnv>> = OnceLock::new();
    ENV.get_or_init(|| {
        let v = env_file_vars();
        let registry = v.get("SIGNET_TEST_REGISTRY")?.clone();
        Some(TestEnv {
            registry,
            tls_registry: v
                .get("SIGNET_TEST_TLS_REGISTRY")
                .cloned()
                .unwrap_or_default(),
            tls_ca: v
                .get("SIGNET_TEST_TLS_CA")
                .map(PathBuf::from)
                .unwrap_or_default(),
            tls_user: v.get("SIGNET_TEST_TLS_USER").cloned().unwrap_or_default(),
            tls_password: v
                .get("SIGNET_TEST_TLS_PASSWORD")
                .cloned()
                .unwrap_or_default(),
            layout: v
                .get("SIGNET_TEST_OCI_LAYOUT")
                .map(PathBuf::from)
                .unwrap_or_default(),
            cosign: v
                .get("SIGNET_TEST_COSIGN")
                .map(PathBuf::from)
                .filter(|p| p.is_file()),
            registry_log: v.get("SIGNET_TEST_REGISTRY_LOG").map(PathBuf::from),
            referrers_registry: v
                .get("SIGNET_TEST_REFERRERS_REGISTRY")
                .filter(|h| !h.is_empty())
                .cloned(),
        })
    })
    .as_ref()
}

/// Returns the environment or prints why the test is skipped.
#[macro_export]
macro_rules! require_env {
    () => {
        match support::test_env() {
            Some(e) => e,
            None => {
                eprintln!(
                    "skipping: SIGNET_TEST_REGISTRY not set (run `bash scripts/test-env.sh up`)"
                );
                return;
            }
        }
    };
}

/// Returns the cosign binary or prints why the test is skipped.
#[macro_export]
macro_rules! require_cosign {
    ($env:expr) => {
        match &$env.cosign {
            Some(c) => c.clone(),
            None => {
                eprintln!("skipping: cosign not installed (run `bash scripts/test-env.sh tools`)");
                return;
            }
        }
    };
}

/// The result of running a command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Panics unless the command exited 0.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "command failed: {self:?}");
        self
    }

    /// Panics unless the command exited `code` and stderr contains `needle`.
    pub fn fails(self, code: i32, needle: &str) -> Run {
        assert_eq!(self.code, code, "wrong exit code: {self:?}");
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:?}"
        );
        assert!(!self.stderr.contains("panicked"), "panic: {self:?}");
        self
    }
}

/// The password every test key uses.
pub const PASSWORD: &str = "test-password";

/// Runs `signet` in `dir` with COSIGN_PASSWORD set and no stdin.
pub fn signet(dir: &Path, args: &[&str]) -> Run {
    signet_env(dir, args, &[])
}

/// Runs `signet` with extra environment variables.
pub fn signet_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_signet"));
    c.args(args)
        .current_dir(dir)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("DOCKER_CONFIG", dir.join(".docker"));
    c.env_remove("COSIGN_REPOSITORY");
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(Stdio::null()).output().expect("run signet").into()
}

/// Runs cosign in `dir` with COSIGN_PASSWORD set.
pub fn cosign(cosign: &Path, dir: &Path, args: &[&str]) -> Run {
    Command::new(cosign)
        .args(args)
        .current_dir(dir)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("HOME", dir)
        .env("DOCKER_CONFIG", dir.join(".docker"))
        .env("TUF_ROOT", dir.join(".sigstore"))
        .env("SIGSTORE_NO_CACHE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run cosign")
        .into()
}

/// A current-thread runtime for the async helpers.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A client for the plain-HTTP test registry.
pub fn client() -> RegistryClient {
    RegistryClient::new(ClientConfig::default()).expect("client")
}

/// A unique repository name for one test.
pub fn unique_repo(env: &TestEnv, name: &str) -> String {
    unique_repo_on(&env.registry, name)
}

/// A unique repository name for one test on the registry at `host`.
pub fn unique_repo_on(host: &str, name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{host}/e2e/{name}-{}-{n}-{nanos}", std::process::id())
}

/// Copies image `layout_tag` (`a`, `b`, `multi`) from the test layout to
/// `repo:tag`, returning its digest.
pub fn push_image(env: &TestEnv, layout_tag: &str, repo: &str, tag: &str) -> Digest {
    push_image_with(&client(), env, layout_tag, repo, tag)
}

/// As [`push_image`], through a given client.
pub fn push_image_with(
    client: &RegistryClient,
    env: &TestEnv,
    layout_tag: &str,
    repo: &str,
    tag: &str,
) -> Digest {
    let layout = OciLayout::open(&env.layout).expect("test layout");
    let repository = Repository::parse(repo).expect("repo");
    let desc = layout.resolve_tag(layout_tag).unwrap().expect("layout tag");
    rt().block_on(async {
        copy_manifest(client, &layout, &repository, &desc.digest, &desc.media_type).await;
        let bytes = layout.read_blob(&desc.digest, 1 << 22).unwrap();
        client
            .put_manifest(&repository, tag, &desc.media_type, &bytes)
            .await
            .expect("tag");
    });
    desc.digest
}

async fn copy_manifest(
    client: &RegistryClient,
    layout: &OciLayout,
    repo: &Repository,
    digest: &Digest,
    mt: &MediaType,
) {
    let bytes = layout.read_blob(digest, 1 << 22).unwrap();
    match parse_manifest(&bytes, Some(mt)).unwrap() {
        AnyManifest::Image(m) => {
            for d in m.layers.iter().chain(std::iter::once(&m.config)) {
                let blob = layout.read_blob(&d.digest, 1 << 26).unwrap();
                client
                    .push_blob(repo, &d.digest, &blob)
                    .await
                    .expect("blob");
            }
        }
        AnyManifest::Index(i) => {
            for child in &i.manifests {
                Box::pin(copy_manifest(
                    client,
                    layout,
                    repo,
                    &child.digest,
                    &child.media_type,
                ))
                .await;
            }
        }
    }
    client
        .put_manifest(repo, &digest.to_string(), mt, &bytes)
        .await
        .expect("manifest");
}

/// Generates a signet key pair `<prefix>.key`/`.pub` in `dir`.
pub fn keypair(dir: &Path, prefix: &str) -> (PathBuf, PathBuf) {
    signet(dir, &["generate-key-pair", "--output-key-prefix", prefix]).ok();
    (
        dir.join(format!("{prefix}.key")),
        dir.join(format!("{prefix}.pub")),
    )
}

/// The digest of the image at `repo:tag`, or `None`.
pub fn manifest_digest(repo: &str, reference: &str) -> Option<Digest> {
    let repository = Repository::parse(repo).unwrap();
    rt().block_on(client().get_manifest(&repository, reference))
        .unwrap()
        .map(|m| m.digest)
}

/// Raw manifest bytes at `repo:reference`.
pub fn manifest_bytes(repo: &str, reference: &str) -> Option<(Vec<u8>, MediaType)> {
    let repository = Repository::parse(repo).unwrap();
    rt().block_on(client().get_manifest(&repository, reference))
        .unwrap()
        .map(|m| (m.bytes, m.media_type))
}

/// Stores `bytes` as a manifest at `repo:tag`.
pub fn put_manifest(repo: &str, tag: &str, mt: &MediaType, bytes: &[u8]) -> Digest {
    let repository = Repository::parse(repo).unwrap();
    rt().block_on(client().put_manifest(&repository, tag, mt, bytes))
        .unwrap()
}

/// Uploads a blob to `repo`.
pub fn put_blob(repo: &str, bytes: &[u8]) -> Digest {
    let repository = Repository::parse(repo).unwrap();
    let d = Digest::sha256_of(bytes);
    rt().block_on(client().push_blob(&repository, &d, bytes))
        .unwrap();
    d
}

pub mod proxy;

/// Builds a one-layer OCI image in a layout at `dir` under `tag`; returns its digest.
pub fn build_layout_image(dir: &Path, tag: &str, content: &str) -> Digest {
    use signet_formats::manifest::{Descriptor, Manifest};
    let layout = OciLayout::create(dir).unwrap();
    let layer = content.as_bytes().to_vec();
    let layer_mt = MediaType::new("application/vnd.oci.image.layer.v1.tar");
    layout.write_blob(&layer).unwrap();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}},"config":{{}}}}"#,
        Digest::sha256_of(&layer)
    );
    layout.write_blob(config.as_bytes()).unwrap();
    let m = Manifest {
        schema_version: 2,
        media_type: Some(MediaType::OCI_MANIFEST),
        config: Descriptor::of(MediaType::OCI_CONFIG, config.as_bytes()),
        layers: vec![Descriptor::of(layer_mt, &layer)],
        annotations: None,
        subject: None,
        artifact_type: None,
    };
    let bytes = signet_formats::gojson::to_vec(&m);
    let digest = layout.write_blob(&bytes).unwrap();
    layout
        .set_tag(tag, Descriptor::of(MediaType::OCI_MANIFEST, &bytes))
        .unwrap();
    digest
}

/// Runs `signet <command> --key <key> <rest>...`.
pub fn with_key(dir: &Path, command: &str, key: &Path, rest: &[&str]) -> Run {
    let mut args = vec![command, "--key", key.to_str().expect("utf-8 key path")];
    args.extend_from_slice(rest);
    signet(dir, &args)
}
