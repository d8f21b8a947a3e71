//! `RegistryClient` against real registries (distribution 2.8 from
//! `scripts/test-env.sh`) and, for faults a real registry cannot be made to show, a
//! scripted HTTP/1.1 server on 127.0.0.1:0.
//!
//! Real-registry tests read `SIGNET_TEST_REGISTRY`, `SIGNET_TEST_TLS_REGISTRY`,
//! `SIGNET_TEST_TLS_CA`, `SIGNET_TEST_TLS_USER`, `SIGNET_TEST_TLS_PASSWORD` and
//! `SIGNET_TEST_IMG_A_DIGEST` (source `$SIGNET_TEST_DIR/env.sh`) and skip when unset.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use signet_formats::manifest::{AnyManifest, parse_manifest};
use signet_formats::{Digest, MediaType, Repository};
use signet_oci::{
    AuthFailure, ClientConfig, CredentialSet, DockerAuths, HttpPolicy, RegistryClient,
    RegistryError, TlsVerification,
};

// ---------------------------------------------------------------------------------
// helpers

/// A docker config path that does not exist: anonymous unless a test says otherwise,
/// and independent of the machine's ~/.docker.
fn no_docker_config() -> PathBuf {
    PathBuf::from("/nonexistent/signet-oci-test/config.json")
}

fn config() -> ClientConfig {
    ClientConfig {
        docker_config: Some(no_docker_config()),
        ..ClientConfig::default()
    }
}

fn client(config: ClientConfig) -> RegistryClient {
    RegistryClient::new(config).unwrap()
}

fn repo(registry: &str, path: &str) -> Repository {
    Repository::parse(&format!("{registry}/{path}")).unwrap()
}

/// Distinct content per test run, so runs do not see each other's blobs.
fn nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{t}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// An OCI image manifest over one config blob and one layer blob.
fn image(config_blob: &[u8], layer: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": config_blob.len(),
            "digest": Digest::sha256_of(config_blob).to_string(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "size": layer.len(),
            "digest": Digest::sha256_of(layer).to_string(),
        }],
    }))
    .unwrap()
}

struct Env {
    registry: String,
    tls_registry: String,
    tls_ca: Vec<u8>,
    tls_user: String,
    tls_password: String,
    img_a: Digest,
}

fn env() -> Option<Env> {
    let Ok(registry) = std::env::var("SIGNET_TEST_REGISTRY") else {
        println!("skipping: SIGNET_TEST_REGISTRY not set (run scripts/test-env.sh up)");
        return None;
    };
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    Some(Env {
        registry,
        tls_registry: var("SIGNET_TEST_TLS_REGISTRY"),
        tls_ca: std::fs::read(var("SIGNET_TEST_TLS_CA")).unwrap(),
        tls_user: var("SIGNET_TEST_TLS_USER"),
        tls_password: var("SIGNET_TEST_TLS_PASSWORD"),
        img_a: var("SIGNET_TEST_IMG_A_DIGEST").parse().unwrap(),
    })
}

/// Pushes a fresh image (two blobs + manifest under `tag`) and returns its digest.
async fn push_image(c: &RegistryClient, r: &Repository, tag: &str) -> (Digest, Vec<u8>) {
    let n = nonce();
    let config_blob = format!(r#"{{"signet-oci-test":"{n}"}}"#).into_bytes();
    let layer = format!("layer {n}").into_bytes();
    c.push_blob(r, &Digest::sha256_of(&config_blob), &config_blob)
        .await
        .unwrap();
    c.push_blob(r, &Digest::sha256_of(&layer), &layer)
        .await
        .unwrap();
    let manifest = image(&config_blob, &layer);
    let d = c
        .put_manifest(r, tag, &MediaType::OCI_MANIFEST, &manifest)
        .await
        .unwrap();
    assert_eq!(d, Digest::sha256_of(&manifest));
    (d, manifest)
}

// ---------------------------------------------------------------------------------
// real registries

/// Push blobs and a manifest, read it back by tag and by digest, HEAD it, read a blob,
/// then delete it; 404s are `None` / `BlobNotFound`.
#[tokio::test]
async fn plain_registry_push_get_head_delete() {
    let Some(env) = env() else { return };
    let c = client(config());
    let r = repo(&env.registry, "signet-oci-test/roundtrip");
    let tag = format!("t{}", nonce().replace('-', ""));
    let (digest, manifest) = push_image(&c, &r, &tag).await;

    let by_tag = c.get_manifest(&r, &tag).await.unwrap().unwrap();
    assert_eq!(by_tag.bytes, manifest);
    assert_eq!(by_tag.digest, digest);
    assert_eq!(by_tag.media_type, MediaType::OCI_MANIFEST);
    let by_digest = c
        .get_manifest(&r, &digest.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_digest, by_tag);

    let head = c.head_manifest(&r, &tag).await.unwrap().unwrap();
    assert_eq!(head.digest, digest);
    assert_eq!(head.size, manifest.len() as i64);
    assert_eq!(head.media_type, MediaType::OCI_MANIFEST);

    let AnyManifest::Image(m) = parse_manifest(&by_tag.bytes, Some(&by_tag.media_type)).unwrap()
    else {
        panic!("expected an image manifest")
    };
    let layer = c.get_blob(&r, &m.layers[0].digest, None).await.unwrap();
    assert!(m.layers[0].digest.matches(&layer));

    // Pushing the same blob again only costs the HEAD.
    let before = c.request_count();
    c.push_blob(&r, &m.layers[0].digest, &layer).await.unwrap();
    assert_eq!(c.request_count() - before, 1);

    // 404s.
    assert_eq!(c.get_manifest(&r, "no-such-tag").await.unwrap(), None);
    assert_eq!(c.head_manifest(&r, "no-such-tag").await.unwrap(), None);
    let unknown_repo = repo(&env.registry, "signet-oci-test/no-such-repo");
    assert_eq!(c.get_manifest(&unknown_repo, "v1").await.unwrap(), None);
    let missing = Digest::sha256_of(nonce().as_bytes());
    let err = c.get_blob(&r, &missing, None).await.unwrap_err();
    assert!(
        matches!(&err, RegistryError::BlobNotFound { digest, .. } if *digest == missing),
        "{err:?}"
    );

    assert!(c.delete_manifest(&r, &digest).await.unwrap());
    assert_eq!(c.get_manifest(&r, &digest.to_string()).await.unwrap(), None);
    assert!(!c.delete_manifest(&r, &digest).await.unwrap());
}

/// Digests are checked on the way out too, before any request.
#[tokio::test]
async fn plain_registry_rejects_mismatched_digests_locally() {
    let Some(env) = env() else { return };
    let c = client(config());
    let r = repo(&env.registry, "signet-oci-test/roundtrip");
    let wrong = Digest::sha256_of(b"something else");
    let err = c.push_blob(&r, &wrong, b"blob").await.unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    let err = c
        .put_manifest(&r, &wrong.to_string(), &MediaType::OCI_MANIFEST, b"{}")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert_eq!(c.request_count(), 0);
}

/// `max_manifest_bytes` is enforced from Content-Length (distribution refuses >4 MiB
/// manifests on PUT, so the limit is lowered instead).
#[tokio::test]
async fn plain_registry_manifest_size_limit() {
    let Some(env) = env() else { return };
    let c = client(ClientConfig {
        max_manifest_bytes: 100,
        ..config()
    });
    let r = repo(&env.registry, "demo/app");
    let err = c.get_manifest(&r, "v1").await.unwrap_err();
    assert!(
        matches!(err, RegistryError::TooLarge { limit: 100, size: Some(s), .. } if s > 100),
        "{err:?}"
    );
    // A blob limit below the blob's size.
    let c = client(config());
    let m = c.get_manifest(&r, "v1").await.unwrap().unwrap();
    let AnyManifest::Image(m) = parse_manifest(&m.bytes, Some(&m.media_type)).unwrap() else {
        panic!("demo/app:v1 is an image")
    };
    let err = c
        .get_blob(&r, &m.layers[0].digest, Some(10))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::TooLarge { limit: 10, .. }),
        "{err:?}"
    );
}

/// Round trips: no /v2/ ping; tag, .sig tag and blob cost one request each, and a GET
/// by digest costs exactly one once the registry's scheme is known.
#[tokio::test]
async fn plain_registry_request_counts() {
    let Some(env) = env() else { return };
    let r = repo(&env.registry, "demo/app");

    let c = client(config());
    let m = c.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(c.request_count(), 1, "GET manifest by tag, cold client");
    let _sig = c
        .get_manifest(&r, &format!("{}.sig", m.digest.tag_form()))
        .await
        .unwrap();
    assert_eq!(c.request_count(), 2, "GET .sig manifest");
    let AnyManifest::Image(parsed) = parse_manifest(&m.bytes, Some(&m.media_type)).unwrap() else {
        panic!("demo/app:v1 is an image")
    };
    c.get_blob(&r, &parsed.config.digest, None).await.unwrap();
    assert_eq!(c.request_count(), 3, "GET blob");
    println!(
        "tag + .sig + blob on a cold client: {} requests",
        c.request_count()
    );

    let before = c.request_count();
    let by_digest = c
        .get_manifest(&r, &env.img_a.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_digest.digest, env.img_a);
    assert_eq!(c.request_count() - before, 1, "GET by digest");

    // Clones share the counter and what was learnt.
    let clone = c.clone();
    clone.head_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(c.request_count() - before, 2);
}

/// Many concurrent tasks over one client.
#[tokio::test]
async fn plain_registry_concurrent_use() {
    let Some(env) = env() else { return };
    let c = client(config());
    let r = repo(&env.registry, "demo/app");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            let r = r.clone();
            tokio::spawn(async move { c.get_manifest(&r, "v1").await })
        })
        .collect();
    for t in tasks {
        let m = t.await.unwrap().unwrap().unwrap();
        assert_eq!(m.digest, env.img_a);
    }
}

/// The TLS registry's CA and its htpasswd user.
fn tls_with_basic_auth(env: &Env) -> ClientConfig {
    ClientConfig {
        extra_ca_pem: vec![env.tls_ca.clone()],
        username: Some(env.tls_user.clone()),
        password: Some(env.tls_password.clone()),
        ..config()
    }
}

/// TLS with --registry-cacert and basic auth: one 401 on the first request, then
/// credentials are sent up front (reads and pushes).
#[tokio::test]
async fn tls_registry_with_ca_and_basic_auth() {
    let Some(env) = env() else { return };
    let c = client(tls_with_basic_auth(&env));
    let r = repo(&env.tls_registry, "demo/app");
    let m = c.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(m.digest, env.img_a);
    assert_eq!(
        c.request_count(),
        3,
        "a plain-http probe answered 400 (loopback registries are tried over http first), then 401 + retry with Basic over https"
    );
    c.get_manifest(&r, &env.img_a.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.request_count(), 4, "Basic is now sent proactively");

    let pr = repo(&env.tls_registry, "signet-oci-test/tls");
    let tag = format!("t{}", nonce().replace('-', ""));
    let before = c.request_count();
    let (digest, _) = push_image(&c, &pr, &tag).await;
    // 2 blobs x (HEAD + POST + PUT) + manifest PUT, no 401s.
    assert_eq!(c.request_count() - before, 7);
    assert!(c.delete_manifest(&pr, &digest).await.unwrap());

    // --allow-insecure-registry instead of the CA.
    let c = client(ClientConfig {
        tls: TlsVerification::Insecure,
        username: Some(env.tls_user.clone()),
        password: Some(env.tls_password.clone()),
        ..config()
    });
    assert!(c.get_manifest(&r, "v1").await.unwrap().is_some());
}

/// A fresh client whose first request to the TLS loopback registry is a HEAD (a blob
/// push): the bodiless 400 over plain http does not make it settle on http.
#[tokio::test]
async fn tls_registry_first_reached_by_a_head() {
    let Some(env) = env() else { return };
    let c = client(tls_with_basic_auth(&env));
    let pr = repo(&env.tls_registry, "signet-oci-test/head-first");
    let tag = format!("t{}", nonce().replace('-', ""));
    let (digest, _) = push_image(&c, &pr, &tag).await;
    let m = c.get_manifest(&pr, &tag).await.unwrap().unwrap();
    assert_eq!(m.digest, digest);
    assert!(c.delete_manifest(&pr, &digest).await.unwrap());
}

/// Without the CA the certificate is untrusted: `Tls`, even though the loopback
/// registry may fall back to http (the http answer "HTTP request to an HTTPS server" is
/// not taken for a plain-HTTP registry).
#[tokio::test]
async fn tls_registry_without_ca_is_a_tls_error() {
    let Some(env) = env() else { return };
    let c = client(ClientConfig {
        username: Some(env.tls_user.clone()),
        password: Some(env.tls_password.clone()),
        ..config()
    });
    let err = c
        .get_manifest(&repo(&env.tls_registry, "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Tls { registry, .. } if *registry == env.tls_registry),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("--registry-cacert"), "{text}");
    assert!(!text.contains(&env.tls_password), "{text}");
    // A garbage CA bundle is refused up front.
    let err = RegistryClient::new(ClientConfig {
        extra_ca_pem: vec![b"not a pem".to_vec()],
        ..config()
    })
    .unwrap_err();
    assert!(
        matches!(err, RegistryError::InvalidCaCertificate { index: 0, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn tls_registry_wrong_password_or_none_is_unauthorized() {
    let Some(env) = env() else { return };
    let r = repo(&env.tls_registry, "demo/app");
    let c = client(ClientConfig {
        extra_ca_pem: vec![env.tls_ca.clone()],
        username: Some(env.tls_user.clone()),
        password: Some("wrong-password".into()),
        ..config()
    });
    let err = c.get_manifest(&r, "v1").await.unwrap_err();
    assert!(
        matches!(
            &err,
            RegistryError::Unauthorized { registry, failure: AuthFailure::CredentialsRejected }
                if *registry == env.tls_registry
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("wrong-password"));

    let c = client(ClientConfig {
        extra_ca_pem: vec![env.tls_ca.clone()],
        ..config()
    });
    let err = c.get_manifest(&r, "v1").await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                failure: AuthFailure::NoCredentials,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&format!("docker login {}", env.tls_registry))
            && text.contains("--registry-username/--registry-password"),
        "{text}"
    );
}

/// Credentials from a docker config.json (`auths` entry keyed by host:port).
#[tokio::test]
async fn tls_registry_with_docker_config_credentials() {
    let Some(env) = env() else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    let auth = b64(&format!("{}:{}", env.tls_user, env.tls_password));
    std::fs::write(
        &path,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
            env.tls_registry
        ),
    )
    .unwrap();
    let c = client(ClientConfig {
        extra_ca_pem: vec![env.tls_ca.clone()],
        docker_config: Some(path),
        ..ClientConfig::default()
    });
    let m = c
        .get_manifest(&repo(&env.tls_registry, "demo/app"), "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.digest, env.img_a);
}

/// Credentials from Kubernetes pull secrets: a client made with `with_credentials`
/// reads with them, and its parent, which shares connections and what it learnt about
/// the registry, still has none (its token or Basic header is never the child's).
#[tokio::test]
async fn tls_registry_with_pull_secret_credentials_in_a_derived_client() {
    let Some(env) = env() else { return };
    let r = repo(&env.tls_registry, "demo/app");
    let parent = client(ClientConfig {
        extra_ca_pem: vec![env.tls_ca.clone()],
        ..config()
    });
    let auth = b64(&format!("{}:{}", env.tls_user, env.tls_password));
    let secret = DockerAuths::from_config_json(
        format!(
            r#"{{"auths":{{"https://{}":{{"auth":"{auth}"}}}}}}"#,
            env.tls_registry
        )
        .as_bytes(),
    )
    .unwrap();
    let elsewhere = DockerAuths::from_dockercfg(br#"{"other.example":{"auth":"dTpw"}}"#).unwrap();
    let mut set = CredentialSet::new();
    set.push("Secret team-a/unrelated", elsewhere);
    set.push("Secret team-a/regcred", secret);
    assert_eq!(set.source_for(r.registry()), Some("Secret team-a/regcred"));
    let child = parent.with_credentials(set);
    let m = child.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(m.digest, env.img_a);
    for c in [&parent, &parent.clone()] {
        let err = c.get_manifest(&r, "v1").await.unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::Unauthorized {
                    failure: AuthFailure::NoCredentials,
                    ..
                }
            ),
            "{err:?}"
        );
    }
    // The child still reads after the parent's failures; both count in one total.
    assert!(child.get_manifest(&r, "v1").await.unwrap().is_some());
    assert_eq!(parent.request_count(), child.request_count());
    // An empty set: the parent's own credentials (none).
    let none = parent.with_credentials(CredentialSet::new());
    let err = none.get_manifest(&r, "v1").await.unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                failure: AuthFailure::NoCredentials,
                ..
            }
        ),
        "{err:?}"
    );
}

/// Nothing listens on port 9: `Unreachable`, with the hint.
#[tokio::test]
async fn connection_refused_is_unreachable() {
    let c = client(ClientConfig {
        max_retries: 1,
        ..config()
    });
    let err = c
        .get_manifest(&repo("127.0.0.1:9", "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Unreachable { registry, .. } if registry == "127.0.0.1:9"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "cannot reach registry 127.0.0.1:9: connection refused; check the address, or pass --allow-http-registry for a plain-HTTP registry"
    );
    assert_eq!(c.request_count(), 0);
}

// ---------------------------------------------------------------------------------
// a scripted registry for faults

#[path = "support/fake.rs"]
mod fake;

use fake::{Reply, Req, Server};

const MANIFEST: &[u8] = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},"layers":[]}"#;

fn manifest_reply() -> Reply {
    Reply::body(200, MANIFEST)
        .with("Content-Type", MediaType::OCI_MANIFEST.as_str())
        .with(
            "Docker-Content-Digest",
            &Digest::sha256_of(MANIFEST).to_string(),
        )
}

fn bearer_challenge(addr: std::net::SocketAddr, scope: &str, error: Option<&str>) -> Reply {
    let mut v =
        format!(r#"Bearer realm="http://{addr}/token",service="fake registry",scope="{scope}""#);
    if let Some(e) = error {
        v.push_str(&format!(r#",error="{e}""#));
    }
    Reply::json(
        401,
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
    )
    .with("WWW-Authenticate", &v)
}

fn fake_client(extra: impl FnOnce(&mut ClientConfig)) -> RegistryClient {
    let mut c = ClientConfig {
        request_timeout: Duration::from_secs(5),
        ..config()
    };
    extra(&mut c);
    client(c)
}

fn with_creds(c: &mut ClientConfig) {
    c.username = Some("ci".into());
    c.password = Some("s3cret-pw".into());
}

/// The Bearer flow: 401 -> token (with Basic credentials, the repository's pull
/// scope) -> retry; the token is then sent without a 401; a push asks for pull,push
/// up front; `token` and `access_token` answers both work.
#[tokio::test]
async fn bearer_tokens_are_fetched_once_and_reused() {
    let server = Server::start(|req: &Req, _| {
        let addr_realm = req.header("host").unwrap_or("").to_owned();
        if req.path() == "/token" {
            let scope = req.query("scope").unwrap_or_default();
            return match scope.as_str() {
                "repository:demo/app:pull" => {
                    Reply::json(200, r#"{"token":"tok-pull","expires_in":300}"#)
                }
                "repository:demo/app:pull,push" => {
                    Reply::json(200, r#"{"access_token":"tok-push","expires_in":300}"#)
                }
                _ => Reply::json(200, r#"{"token":"tok-other"}"#),
            };
        }
        let auth = req.header("authorization").unwrap_or("");
        let addr: std::net::SocketAddr = addr_realm.parse().unwrap();
        match (req.method.as_str(), auth) {
            ("GET", "Bearer tok-pull" | "Bearer tok-push" | "Bearer tok-other") => manifest_reply(),
            ("PUT", "Bearer tok-push") => Reply::status(201),
            ("PUT", _) => bearer_challenge(addr, "repository:demo/app:pull,push", None),
            _ => bearer_challenge(addr, "repository:demo/app:pull", None),
        }
    })
    .await;
    let c = fake_client(with_creds);
    let r = repo(&server.host(), "demo/app");

    let m = c.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(m.bytes, MANIFEST);
    assert_eq!(c.request_count(), 3, "GET 401, token, GET");
    c.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(c.request_count(), 4, "cached token, no 401");
    c.put_manifest(&r, "v2", &MediaType::OCI_MANIFEST, MANIFEST)
        .await
        .unwrap();
    assert_eq!(
        c.request_count(),
        6,
        "push token fetched up front, then PUT"
    );
    c.get_manifest(&repo(&server.host(), "demo/other"), "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c.request_count(),
        8,
        "token for the new repository up front, then GET"
    );

    let reqs = server.requests();
    let tokens: Vec<&Req> = reqs.iter().filter(|r| r.path() == "/token").collect();
    let scopes: Vec<String> = tokens.iter().map(|r| r.query("scope").unwrap()).collect();
    assert_eq!(
        scopes,
        [
            "repository:demo/app:pull",
            "repository:demo/app:pull,push",
            "repository:demo/other:pull"
        ]
    );
    for t in &tokens {
        assert_eq!(t.query("service").as_deref(), Some("fake registry"));
        assert_eq!(
            t.header("authorization"),
            Some(format!("Basic {}", b64("ci:s3cret-pw")).as_str())
        );
    }
    let put = reqs.iter().find(|r| r.method == "PUT").unwrap();
    assert_eq!(put.header("authorization"), Some("Bearer tok-push"));
    assert_eq!(
        put.header("content-type"),
        Some(MediaType::OCI_MANIFEST.as_str())
    );
    assert_eq!(put.body, MANIFEST);
    let get = reqs
        .iter()
        .find(|r| r.method == "GET" && r.path() != "/token")
        .unwrap();
    assert_eq!(get.header("accept"), Some(signet_formats::MANIFEST_ACCEPT));
}

/// Anonymous pull works with an anonymous token; an anonymous push that the token
/// service only grants pull for ends in `Unauthorized { NoCredentials }`.
#[tokio::test]
async fn bearer_anonymous_push_is_unauthorized() {
    let server = Server::start(|req: &Req, _| {
        let addr: std::net::SocketAddr = req.header("host").unwrap().parse().unwrap();
        if req.path() == "/token" {
            assert!(req.header("authorization").is_none());
            return Reply::json(200, r#"{"token":"anon"}"#);
        }
        match (req.method.as_str(), req.header("authorization")) {
            ("GET", Some("Bearer anon")) => manifest_reply(),
            ("PUT", Some(_)) => bearer_challenge(
                addr,
                "repository:demo/app:pull,push",
                Some("insufficient_scope"),
            ),
            _ => bearer_challenge(addr, "repository:demo/app:pull", None),
        }
    })
    .await;
    let c = fake_client(|_| {});
    let r = repo(&server.host(), "demo/app");
    c.get_manifest(&r, "v1").await.unwrap().unwrap();
    let err = c
        .put_manifest(&r, "v1", &MediaType::OCI_MANIFEST, MANIFEST)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                failure: AuthFailure::NoCredentials,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("docker login 127.0.0.1:"), "{err}");
}

/// The token service refusing our credentials is `CredentialsRejected`, and neither the
/// password nor any token leaks into errors.
#[tokio::test]
async fn token_service_rejecting_credentials_is_unauthorized() {
    let server = Server::start(|req: &Req, _| {
        let addr: std::net::SocketAddr = req.header("host").unwrap().parse().unwrap();
        if req.path() == "/token" {
            return Reply::json(401, r#"{"details":"incorrect username or password"}"#);
        }
        bearer_challenge(addr, "repository:demo/app:pull", None)
    })
    .await;
    let c = fake_client(with_creds);
    let err = c
        .get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::Unauthorized {
                failure: AuthFailure::CredentialsRejected,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("s3cret-pw"));
}

/// A token answer that is not token JSON is a `TokenService` error.
#[tokio::test]
async fn malformed_token_answer_is_a_token_service_error() {
    let server = Server::start(|req: &Req, _| {
        let addr: std::net::SocketAddr = req.header("host").unwrap().parse().unwrap();
        if req.path() == "/token" {
            return Reply::body(200, b"<html>login</html>");
        }
        bearer_challenge(addr, "repository:demo/app:pull", None)
    })
    .await;
    let err = fake_client(|_| {})
        .get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::TokenService { .. }), "{err:?}");
}

/// Concurrent cold requests share one token fetch.
#[tokio::test]
async fn concurrent_requests_share_one_token_fetch() {
    let server = Server::start(|req: &Req, _| {
        let addr: std::net::SocketAddr = req.header("host").unwrap().parse().unwrap();
        if req.path() == "/token" {
            return Reply::json(200, r#"{"token":"t"}"#);
        }
        match req.header("authorization") {
            Some("Bearer t") => manifest_reply(),
            _ => bearer_challenge(addr, "repository:demo/app:pull", None),
        }
    })
    .await;
    let c = fake_client(|_| {});
    let r = repo(&server.host(), "demo/app");
    // Learn the scheme first so that every task starts from the same state.
    c.head_manifest(&r, "v0").await.unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (c, r) = (c.clone(), r.clone());
            tokio::spawn(async move { c.get_manifest(&r, "v1").await })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().unwrap().is_some());
    }
    let token_fetches = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/token")
        .count();
    assert_eq!(token_fetches, 1);
}

/// A token the registry stops accepting (expired or revoked early) is replaced: the
/// 401 leads to a fresh token and one more try.
#[tokio::test]
async fn rejected_cached_token_is_refetched() {
    let issued = std::sync::Arc::new(AtomicU64::new(0));
    let counter = issued.clone();
    let server = Server::start(move |req: &Req, _| {
        let addr: std::net::SocketAddr = req.header("host").unwrap().parse().unwrap();
        if req.path() == "/token" {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            return Reply::json(200, &format!(r#"{{"token":"t{n}","expires_in":3600}}"#));
        }
        // Only the newest token is valid.
        let current = format!("Bearer t{}", counter.load(Ordering::SeqCst));
        if req.header("authorization") == Some(current.as_str()) && !req.path().ends_with("/rotate")
        {
            manifest_reply()
        } else if req.path().ends_with("/rotate") {
            counter.fetch_add(1, Ordering::SeqCst);
            manifest_reply()
        } else {
            bearer_challenge(addr, "repository:demo/app:pull", None)
        }
    })
    .await;
    let c = fake_client(|_| {});
    let r = repo(&server.host(), "demo/app");
    c.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(c.request_count(), 3);
    // The server rotates its token behind the client's back.
    c.get_manifest(&r, "rotate").await.unwrap().unwrap();
    assert_eq!(c.request_count(), 4);
    c.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(
        c.request_count(),
        7,
        "401 with the stale token, new token, retry"
    );
    c.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(c.request_count(), 8);
    assert_eq!(issued.load(Ordering::SeqCst), 3);
}

/// An `identitytoken` in the docker config is exchanged with the OAuth2 refresh-token
/// POST, never sent to the registry itself.
#[tokio::test]
async fn identity_token_uses_the_oauth2_refresh_grant() {
    let server = Server::start(|req: &Req, _| {
        let addr: std::net::SocketAddr = req.header("host").unwrap().parse().unwrap();
        if req.path() == "/token" {
            let form = String::from_utf8(req.body.clone()).unwrap();
            let ok = req.method == "POST"
                && req.header("content-type") == Some("application/x-www-form-urlencoded")
                && form.contains("grant_type=refresh_token")
                && form.contains("refresh_token=idt-123")
                && form.contains("scope=repository%3Ademo%2Fapp%3Apull")
                && form.contains("service=fake+registry");
            return if ok {
                Reply::json(200, r#"{"access_token":"from-refresh"}"#)
            } else {
                Reply::status(400)
            };
        }
        match req.header("authorization") {
            Some("Bearer from-refresh") => manifest_reply(),
            _ => bearer_challenge(addr, "repository:demo/app:pull", None),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"idt-123"}}}}}}"#,
            server.host()
        ),
    )
    .unwrap();
    let c = fake_client(|c| c.docker_config = Some(path.clone()));
    c.get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap()
        .unwrap();
    let leaked = server
        .requests()
        .iter()
        .filter(|r| r.path() != "/token")
        .any(|r| format!("{r:?}").contains("idt-123"));
    assert!(!leaked);
}

/// A HEAD answer without Docker-Content-Digest falls back to a GET.
#[tokio::test]
async fn head_without_digest_header_falls_back_to_get() {
    let server = Server::start(|_, _| {
        Reply::body(200, MANIFEST).with("Content-Type", MediaType::OCI_MANIFEST.as_str())
    })
    .await;
    let c = fake_client(|_| {});
    let d = c
        .head_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.digest, Digest::sha256_of(MANIFEST));
    assert_eq!(d.size, MANIFEST.len() as i64);
    assert_eq!(d.media_type, MediaType::OCI_MANIFEST);
    assert_eq!(c.request_count(), 2);
}

/// Basic: after the first 401 the credentials go out on every request.
#[tokio::test]
async fn basic_auth_is_sent_proactively_after_the_first_challenge() {
    let expected = format!("Basic {}", b64("ci:s3cret-pw"));
    let server = Server::start(move |req: &Req, _| {
        if req.header("authorization") == Some(expected.as_str()) {
            manifest_reply()
        } else {
            Reply::json(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
            .with("WWW-Authenticate", r#"Basic realm="fake""#)
        }
    })
    .await;
    let c = fake_client(with_creds);
    let r = repo(&server.host(), "demo/app");
    c.get_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(c.request_count(), 2);
    c.get_manifest(&r, "v1").await.unwrap().unwrap();
    c.head_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(c.request_count(), 4);
}

/// docker config: credentials are looked up only when a 401 asks for them, and a
/// config that does not parse is an error naming the file.
#[tokio::test]
async fn docker_config_is_read_lazily_and_must_parse() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, "{ this is not json").unwrap();
    let server = Server::start(|req: &Req, _| {
        if req.path().starts_with("/v2/open/") {
            manifest_reply()
        } else {
            Reply::status(401).with("WWW-Authenticate", r#"Basic realm="fake""#)
        }
    })
    .await;
    let c = fake_client(|c| c.docker_config = Some(path.clone()));
    // No 401, no lookup, no error.
    c.get_manifest(&repo(&server.host(), "open/app"), "v1")
        .await
        .unwrap()
        .unwrap();
    let err = c
        .get_manifest(&repo(&server.host(), "closed/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::CredentialConfig { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(err.to_string().contains(&path.display().to_string()));
}

/// 5xx is retried with backoff and then succeeds; a persistent 5xx becomes `Server`
/// with the registry's message after `max_retries` retries.
#[tokio::test]
async fn server_errors_are_retried() {
    let server = Server::start(|_, i| match i {
        0 => Reply::status(503),
        1 => Reply::status(502),
        _ => manifest_reply(),
    })
    .await;
    let c = fake_client(|_| {});
    let start = Instant::now();
    c.get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.request_count(), 3);
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "100 ms + 200 ms backoff"
    );

    let server = Server::start(|_, _| {
        Reply::json(500, r#"{"errors":[{"code":"UNKNOWN","message":"boom"}]}"#)
    })
    .await;
    let c = fake_client(|_| {});
    let err = c
        .get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Server { status: 500, message, .. } if message == "UNKNOWN: boom"),
        "{err:?}"
    );
    assert_eq!(c.request_count(), 4, "1 + max_retries");
}

/// 429 honours Retry-After; a persistent 429 becomes `RateLimited`.
#[tokio::test]
async fn rate_limits_honour_retry_after() {
    let server = Server::start(|_, i| match i {
        0 => Reply::status(429).with("Retry-After", "1"),
        _ => manifest_reply(),
    })
    .await;
    let c = fake_client(|_| {});
    let start = Instant::now();
    c.get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap()
        .unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1));
    assert_eq!(c.request_count(), 2);

    let server = Server::start(|_, _| Reply::status(429).with("Retry-After", "0")).await;
    let c = fake_client(|c| c.max_retries = 2);
    let err = c
        .get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::RateLimited { retries: 2, .. }),
        "{err:?}"
    );
    assert_eq!(c.request_count(), 3);
}

/// Bodies over the limit: refused from Content-Length, or cut off while streaming
/// when there is none.
#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let big = vec![b'x'; 64 * 1024];
    let body = big.clone();
    let server = Server::start(move |req: &Req, _| {
        if req.path().contains("/streamed/") {
            Reply::CloseDelimited {
                status: 200,
                body: body.clone(),
            }
        } else {
            Reply::body(200, &body)
        }
    })
    .await;
    let c = fake_client(|c| c.max_manifest_bytes = 1000);
    let err = c
        .get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::TooLarge {
                limit: 1000,
                size: Some(65536),
                ..
            }
        ),
        "{err:?}"
    );
    let err = c
        .get_manifest(&repo(&server.host(), "demo/streamed/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::TooLarge {
                limit: 1000,
                size: None,
                ..
            }
        ),
        "{err:?}"
    );
    // Blobs: the smaller of max_blob_bytes and the caller's limit.
    let d = Digest::sha256_of(&big);
    let err = c
        .get_blob(&repo(&server.host(), "demo/app"), &d, Some(4096))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::TooLarge { limit: 4096, .. }),
        "{err:?}"
    );
    let c = fake_client(|c| c.max_blob_bytes = 2048);
    let err = c
        .get_blob(&repo(&server.host(), "demo/streamed/app"), &d, Some(4096))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::TooLarge { limit: 2048, .. }),
        "{err:?}"
    );
    let c = fake_client(|_| {});
    assert_eq!(
        c.get_blob(&repo(&server.host(), "demo/app"), &d, None)
            .await
            .unwrap(),
        big
    );
}

/// Content that does not hash to what was asked for, or to what
/// Docker-Content-Digest claims, is `DigestMismatch`.
#[tokio::test]
async fn digest_mismatches_are_caught() {
    let other = Digest::sha256_of(b"other bytes");
    let lie = other.clone();
    let server = Server::start(move |req: &Req, _| {
        Reply::body(200, MANIFEST)
            .with("Content-Type", MediaType::OCI_MANIFEST.as_str())
            .with(
                "Docker-Content-Digest",
                &if req.path().ends_with("/lying") {
                    lie.to_string()
                } else {
                    Digest::sha256_of(MANIFEST).to_string()
                },
            )
    })
    .await;
    let c = fake_client(|_| {});
    let r = repo(&server.host(), "demo/app");
    // A proxy altered the bytes: the header disagrees.
    let err = c.get_manifest(&r, "lying").await.unwrap_err();
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, .. } if *expected == other),
        "{err:?}"
    );
    // Asked by digest, got other bytes.
    let err = c.get_manifest(&r, &other.to_string()).await.unwrap_err();
    assert!(
        matches!(&err, RegistryError::DigestMismatch { expected, actual, .. }
            if *expected == other && *actual == Digest::sha256_of(MANIFEST)),
        "{err:?}"
    );
    // A blob with the wrong bytes.
    let err = c.get_blob(&r, &other, None).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    // HEAD by digest answered for another digest.
    let err = c.head_manifest(&r, &other.to_string()).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::DigestMismatch { .. }),
        "{err:?}"
    );
    // And the honest answer works, with the descriptor from the headers.
    let d = c.head_manifest(&r, "v1").await.unwrap().unwrap();
    assert_eq!(d.digest, Digest::sha256_of(MANIFEST));
    assert_eq!(d.size, MANIFEST.len() as i64);
}

/// A server that never answers, or stalls mid-body, is a `Timeout` after
/// `request_timeout` (timeouts are not retried).
#[tokio::test]
async fn hanging_servers_time_out() {
    let server = Server::start(|req: &Req, _| {
        if req.path().contains("/stall/") {
            Reply::Stall {
                announced: 1000,
                sent: b"{\"schemaVersion\":".to_vec(),
            }
        } else {
            Reply::Hang
        }
    })
    .await;
    let c = fake_client(|c| c.request_timeout = Duration::from_millis(300));
    let start = Instant::now();
    let err = c
        .get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Timeout { url, timeout }
            if url.ends_with("/v2/demo/app/manifests/v1") && *timeout == Duration::from_millis(300)),
        "{err:?}"
    );
    let err = c
        .get_manifest(&repo(&server.host(), "demo/stall/app"), "v1")
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Timeout { .. }), "{err:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

/// Blob upload: HEAD 404, POST, then PUT to the (relative, query-carrying) Location
/// with `digest=` appended and an octet-stream body.
#[tokio::test]
async fn push_blob_follows_a_relative_location_with_a_query() {
    let server = Server::start(|req: &Req, _| match (req.method.as_str(), req.path()) {
        ("HEAD", _) => Reply::status(404),
        ("POST", "/v2/demo/app/blobs/uploads/") => {
            Reply::status(202).with("Location", "/upload/session-1?state=opaque%3D")
        }
        ("PUT", "/upload/session-1") => Reply::status(201),
        _ => Reply::status(400),
    })
    .await;
    let c = fake_client(|_| {});
    let blob = b"blob bytes".to_vec();
    let d = Digest::sha256_of(&blob);
    c.push_blob(&repo(&server.host(), "demo/app"), &d, &blob)
        .await
        .unwrap();
    assert_eq!(c.request_count(), 3);
    let reqs = server.requests();
    let put = &reqs[2];
    assert_eq!(put.method, "PUT");
    assert_eq!(put.query("state").as_deref(), Some("opaque="));
    assert_eq!(put.query("digest"), Some(d.to_string()));
    assert_eq!(put.header("content-type"), Some("application/octet-stream"));
    assert_eq!(put.body, blob);
    assert_eq!(reqs[0].path(), format!("/v2/demo/app/blobs/{d}"));
}

/// An upload answer without Location is an `InvalidResponse`; other statuses are
/// `UnexpectedStatus` with the registry's message.
#[tokio::test]
async fn upload_protocol_errors_are_typed() {
    let server = Server::start(|req: &Req, _| match req.method.as_str() {
        "HEAD" => Reply::status(404),
        "POST" => Reply::status(202),
        _ => Reply::json(
            400,
            r#"{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
        ),
    })
    .await;
    let c = fake_client(|_| {});
    let r = repo(&server.host(), "demo/app");
    let err = c
        .push_blob(&r, &Digest::sha256_of(b"x"), b"x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::InvalidResponse { .. }),
        "{err:?}"
    );
    let err = c
        .put_manifest(&r, "v1", &MediaType::OCI_MANIFEST, MANIFEST)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::UnexpectedStatus { status: 400, message, .. }
            if message == "MANIFEST_BLOB_UNKNOWN: blob unknown to registry"),
        "{err:?}"
    );
    let err = c.get_manifest(&r, "bad/ref").await.unwrap_err();
    assert!(
        matches!(err, RegistryError::InvalidReference { .. }),
        "{err:?}"
    );
}

/// A 403 is `Unauthorized { Denied }` with the registry's message.
#[tokio::test]
async fn forbidden_is_denied() {
    let server = Server::start(|_, _| {
        Reply::json(403, r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#)
    })
    .await;
    let err = fake_client(|_| {})
        .get_manifest(&repo(&server.host(), "demo/app"), "v1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RegistryError::Unauthorized { failure: AuthFailure::Denied { message }, .. }
            if message.contains("denied")),
        "{err:?}"
    );
}

/// `ClientConfig`'s Debug output hides the password.
#[test]
fn config_debug_hides_the_password() {
    let c = ClientConfig {
        username: Some("ci".into()),
        password: Some("hunter2".into()),
        ..ClientConfig::default()
    };
    let text = format!("{c:?}");
    assert!(!text.contains("hunter2") && text.contains("ci"), "{text}");
    assert_eq!(c.request_timeout, Duration::from_secs(30));
    assert_eq!(c.max_retries, 3);
    assert_eq!(c.max_manifest_bytes, 4 * 1024 * 1024);
    assert_eq!(c.max_blob_bytes, 128 * 1024 * 1024);
    assert_eq!(c.tls, TlsVerification::Verify);
    assert_eq!(c.http, HttpPolicy::HttpsOnly);
}
