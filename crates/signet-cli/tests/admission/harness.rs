//! The webhook under test: TLS certificates from a test CA (rcgen), the server started
//! in-process on 127.0.0.1:0, a reqwest client trusting only the test CA, AdmissionReview
//! builders, the apiserver's checks on every response, and a TCP proxy in front of the
//! registry that can be slowed down or stopped mid-test.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use serde_json::{Value, json};
use signet_admission::{Config, NamespaceLabels, Server, ServerHandle};
use signet_policy::decide::NoMatchPolicy;
use signet_policy::review::{ApiserverView, WebhookType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The webhook name the apiserver would prefix denials with.
pub const WEBHOOK: &str = "policy.signet.dev";

/// A test CA and a serving certificate for 127.0.0.1 / localhost.
pub struct TestTls {
    pub ca_pem: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Writes a fresh CA and leaf into `dir` (as `<name>.crt` / `<name>.key`).
pub fn make_tls(dir: &Path, name: &str) -> TestTls {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, format!("signet test CA {name}"));
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf_params
        .subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    TestTls {
        ca_pem: ca_cert.pem(),
        cert,
        key,
    }
}

/// A client that trusts only `ca_pem`.
pub fn https_client(ca_pem: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A running webhook and what a test needs around it.
pub struct Webhook {
    pub server: ServerHandle,
    pub client: reqwest::Client,
    pub tls: TestTls,
    pub policy_dir: PathBuf,
    _dir: tempfile::TempDir,
}

/// Options a test may change.
pub struct Options {
    pub timeout: Duration,
    pub no_match: NoMatchPolicy,
    pub namespaces: NamespaceLabels,
    pub webhook_namespace: Option<String>,
    pub kubernetes: Option<signet_admission::kubernetes::ApiClient>,
    /// Extra CA certificates (PEM) for registries (the TLS test registry's).
    pub registry_ca_pem: Vec<Vec<u8>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: Duration::from_secs(8),
            no_match: NoMatchPolicy::Deny,
            namespaces: NamespaceLabels::unknown(),
            webhook_namespace: Some("signet-system".into()),
            kubernetes: None,
            registry_ca_pem: Vec::new(),
        }
    }
}

/// Starts the webhook with `policies` (file name, YAML text) and `options`.
pub async fn start(policies: &[(&str, String)], options: Options) -> Webhook {
    let dir = tempfile::tempdir().unwrap();
    let tls = make_tls(dir.path(), "serving");
    let policy_dir = dir.path().join("policies");
    std::fs::create_dir(&policy_dir).unwrap();
    for (name, text) in policies {
        std::fs::write(policy_dir.join(name), text).unwrap();
    }
    let mut config = Config::new(
        "127.0.0.1:0".parse().unwrap(),
        tls.cert.clone(),
        tls.key.clone(),
        policy_dir.clone(),
    );
    config.timeout = options.timeout;
    config.settings.no_match = options.no_match;
    config.settings.webhook_namespace = options.webhook_namespace;
    config.namespaces = options.namespaces;
    config.kubernetes = options.kubernetes;
    config.reload_interval = Duration::from_millis(100);
    // An empty docker config: anonymous access to the test registry.
    let docker = dir.path().join("docker-config.json");
    std::fs::write(&docker, "{}").unwrap();
    config.registry.docker_config = Some(docker);
    config.registry.extra_ca_pem = options.registry_ca_pem;
    let server = Server::start(config).await.unwrap();
    let client = https_client(&tls.ca_pem);
    Webhook {
        server,
        client,
        tls,
        policy_dir,
        _dir: dir,
    }
}

impl Webhook {
    /// POSTs `body` to `path`; the status and body.
    pub async fn post(&self, path: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
        let r = self
            .client
            .post(format!("{}{path}", self.server.url()))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }

    /// GETs `path`; the status and text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.server.url()))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap())
    }

    /// Sends a review to `/validate` and reads the answer as the apiserver does.
    pub async fn validate(&self, review: &Review) -> ApiserverView {
        let (status, body) = self.post("/validate", review.body()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        signet_policy::check_response(&review.uid, WEBHOOK, WebhookType::Validating, &body)
            .unwrap_or_else(|e| {
                panic!(
                    "the apiserver would refuse this response ({e}): {}",
                    String::from_utf8_lossy(&body)
                )
            })
    }

    /// Sends a review to `/mutate` and reads the answer as the apiserver does.
    pub async fn mutate(&self, review: &Review) -> ApiserverView {
        let (status, body) = self.post("/mutate", review.body()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        if let Ok(v) = serde_json::from_slice::<Value>(&body)
            && let Some(p) = v["response"]["patch"].as_str()
        {
            assert_eq!(v["response"]["patchType"], "JSONPatch");
            base64::engine::general_purpose::STANDARD
                .decode(p)
                .expect("the patch is base64");
        }
        signet_policy::check_response(&review.uid, WEBHOOK, WebhookType::Mutating, &body)
            .unwrap_or_else(|e| {
                panic!(
                    "the apiserver would refuse this response ({e}): {}",
                    String::from_utf8_lossy(&body)
                )
            })
    }
}

/// An AdmissionReview request.
pub struct Review {
    pub uid: String,
    pub value: Value,
}

static UID: AtomicU64 = AtomicU64::new(1);

impl Review {
    /// A CREATE of `object` (its kind and group from its apiVersion/kind).
    pub fn create(namespace: &str, object: Value) -> Review {
        let api_version = object["apiVersion"].as_str().unwrap_or("v1").to_owned();
        let kind = object["kind"].as_str().unwrap_or("Pod").to_owned();
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_owned(), v.to_owned()),
            None => (String::new(), api_version.clone()),
        };
        let resource = format!("{}s", kind.to_lowercase());
        let uid = format!("uid-{}", UID.fetch_add(1, Ordering::SeqCst));
        Review {
            value: json!({
                "apiVersion": "admission.k8s.io/v1",
                "kind": "AdmissionReview",
                "request": {
                    "uid": uid,
                    "kind": {"group": group, "version": version, "kind": kind},
                    "resource": {"group": group, "version": version, "resource": resource},
                    "namespace": namespace,
                    "operation": "CREATE",
                    "userInfo": {"username": "test"},
                    "object": object,
                    "oldObject": null,
                    "dryRun": false,
                }
            }),
            uid,
        }
    }

    /// A review from a fixture's JSON (its uid as it is).
    pub fn from_value(value: Value) -> Review {
        let uid = value["request"]["uid"].as_str().unwrap_or("").to_owned();
        Review { uid, value }
    }

    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.value).unwrap()
    }

    pub fn object(&self) -> &Value {
        &self.value["request"]["object"]
    }

    /// The same request with `object` replaced (e.g. after the mutating patch).
    pub fn with_object(&self, object: Value) -> Review {
        let mut value = self.value.clone();
        value["request"]["object"] = object;
        Review {
            uid: self.uid.clone(),
            value,
        }
    }
}

/// One container per image, named `c0`, `c1`, ...
fn containers(images: &[&str]) -> Vec<Value> {
    images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect()
}

/// A Pod with one container per image.
pub fn pod(images: &[&str]) -> Value {
    let containers = containers(images);
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "web-"},
        "spec": {"containers": containers},
    })
}

/// A Deployment with one container per image.
pub fn deployment(images: &[&str]) -> Value {
    let containers = containers(images);
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}}},
    })
}

/// A ClusterImagePolicy (written as JSON, which is YAML) with one authority.
pub fn policy(name: &str, glob: &str, authority: Value, extra: Value) -> String {
    let mut spec = json!({"images": [{"glob": glob}], "authorities": [authority]});
    if let (Value::Object(spec), Value::Object(extra)) = (&mut spec, extra) {
        spec.extend(extra);
    }
    json!({
        "apiVersion": "policy.sigstore.dev/v1beta1",
        "kind": "ClusterImagePolicy",
        "metadata": {"name": name},
        "spec": spec,
    })
    .to_string()
}

/// A ClusterImagePolicy `name` for every image under `repo` (glob `<repo>**`) with one
/// key authority (`format`: its `signatureFormat`) and no other settings.
pub fn key_policy(name: &str, repo: &str, public: &Path, format: Option<&str>) -> String {
    policy(
        name,
        &format!("{repo}**"),
        key_authority(public, format),
        json!({}),
    )
}

/// A key authority for the PEM public key in `path`.
pub fn key_authority(path: &Path, format: Option<&str>) -> Value {
    let pem = std::fs::read_to_string(path).unwrap();
    let mut a = json!({"name": "release-key", "key": {"data": pem}});
    if let Some(f) = format {
        a["signatureFormat"] = json!(f);
    }
    a
}

/// Every image string in a pod-carrying object.
pub fn images_of(object: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut walk = vec![object];
    while let Some(v) = walk.pop() {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if (k == "image" || k == "reference") && v.is_string() {
                        out.push(v.as_str().unwrap().to_owned());
                    } else {
                        walk.push(v);
                    }
                }
            }
            Value::Array(a) => walk.extend(a.iter()),
            _ => {}
        }
    }
    out
}

/// GETs `url` with `client` inside `rt` (responses never outlive the runtime context):
/// the status and body, or the connection error.
pub fn fetch(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
) -> Result<(u16, String), String> {
    rt.block_on(async {
        let r = client.get(url).send().await.map_err(|e| format!("{e:?}"))?;
        let status = r.status().as_u16();
        Ok((status, r.text().await.map_err(|e| e.to_string())?))
    })
}

/// POSTs `body` to `url` inside `rt`: the status and body.
pub fn send(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> (u16, Vec<u8>) {
    rt.block_on(async {
        let r = client.post(url).body(body).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    })
}

/// A multi-thread runtime for the async part of a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What the registry proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward.
    Forward,
    /// Wait this long before forwarding each chunk the client sends.
    Slow,
    /// Drop every connection (the registry is down).
    Down,
}

/// A TCP proxy on 127.0.0.1 in front of the registry, switchable mid-test.
pub struct RegistryProxy {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    delay_ms: Arc<AtomicU64>,
}

impl RegistryProxy {
    /// Starts a proxy to `upstream` in its own thread.
    pub fn start(upstream: SocketAddr) -> RegistryProxy {
        let mode = Arc::new(AtomicU8::new(0));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (tx, rx) = std::sync::mpsc::channel();
        let (m, d) = (mode.clone(), delay_ms.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let (m, d) = (m.clone(), d.clone());
                    tokio::spawn(async move {
                        let _ = pipe(client, upstream, m, d).await;
                    });
                }
            });
        });
        RegistryProxy {
            addr: rx.recv().unwrap(),
            mode,
            delay_ms,
        }
    }

    pub fn set(&self, mode: ProxyMode, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
        self.mode.store(
            match mode {
                ProxyMode::Forward => 0,
                ProxyMode::Slow => 1,
                ProxyMode::Down => 2,
            },
            Ordering::SeqCst,
        );
    }
}

async fn pipe(
    mut client: TcpStream,
    upstream: SocketAddr,
    mode: Arc<AtomicU8>,
    delay: Arc<AtomicU64>,
) -> std::io::Result<()> {
    if mode.load(Ordering::SeqCst) == 2 {
        return Ok(());
    }
    let mut up = TcpStream::connect(upstream).await?;
    let (mut cr, mut cw) = client.split();
    let (mut ur, mut uw) = up.split();
    let to_upstream = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = cr.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            match mode.load(Ordering::SeqCst) {
                2 => break,
                1 => tokio::time::sleep(Duration::from_millis(delay.load(Ordering::SeqCst))).await,
                _ => {}
            }
            if mode.load(Ordering::SeqCst) == 2 {
                break;
            }
            uw.write_all(&buf[..n]).await?;
        }
        uw.shutdown().await.ok();
        Ok::<_, std::io::Error>(())
    };
    let to_client = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = ur.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            if mode.load(Ordering::SeqCst) == 2 {
                break;
            }
            cw.write_all(&buf[..n]).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::select! {
        r = to_upstream => r?,
        r = to_client => r?,
    }
    Ok(())
}
