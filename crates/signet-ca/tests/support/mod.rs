//! A whole CA + TSA + development issuer served on 127.0.0.1, and the pieces tests
//! need to talk to it (tokens signed with the issuer's key, CSRs, proofs).
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::Request;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::asn1::{AnyRef, BitStringRef};
use der::{Decode, Encode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use signet_ca::{
    CaConfig, CaService, DevOidc, IdentityKind, OidcIssuerConfig, TsaConfig, TsaService,
};
use signet_crypto::{KeyAlgorithm, PrivateKey, PublicKey, Signer};
use signet_formats::sigstore::{
    HashAlgorithm, LogId, PublicKeyDetails, TransparencyLogInstance, UnixTime, ValidityWindow,
};
use spki::AlgorithmIdentifierRef;

pub struct Stack {
    pub dir: tempfile::TempDir,
    pub base: String,
    pub ca: CaService,
    pub tsa: TsaService,
    pub dev: DevOidc,
    /// Requests the development issuer has served (discovery + JWKS + token).
    pub oidc_requests: Arc<AtomicUsize>,
    pub client: reqwest::Client,
}

/// Starts the stack on an ephemeral port. The CA trusts the development issuer (email)
/// and a URI issuer at `<base>/uri-issuer` that nobody serves.
pub async fn start() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let dev = DevOidc::open(dir.path(), &base).unwrap();
    let mut config = CaConfig::with_issuers(vec![dev.issuer_config()]);
    config.issuers.push(OidcIssuerConfig::new(
        format!("{base}/unserved"),
        IdentityKind::Uri,
    ));
    let ca = CaService::open(dir.path(), config).unwrap();
    let tsa = TsaService::open(dir.path(), TsaConfig::default()).unwrap();
    let oidc_requests = Arc::new(AtomicUsize::new(0));
    let counter = oidc_requests.clone();
    let dev_router = dev
        .router()
        .layer(axum::middleware::map_request(move |req: Request| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                req
            }
        }));
    let app: Router = ca
        .router()
        .merge(tsa.router())
        .merge(dev_router)
        .fallback(signet_ca::not_found);
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Stack {
        dir,
        base,
        ca,
        tsa,
        dev,
        oidc_requests,
        client: reqwest::Client::new(),
    }
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn issuer(&self) -> String {
        self.dev.issuer_url().to_owned()
    }

    /// The development issuer's signing key (PKCS#8 DER), read from its state directory.
    pub fn issuer_key_der(&self) -> Vec<u8> {
        dev_key_der(self.dir.path())
    }

    /// The development issuer's public key.
    pub fn dev_public_key(&self) -> PublicKey {
        PrivateKey::from_pkcs8_der(&self.issuer_key_der())
            .unwrap()
            .public_key()
            .clone()
    }

    /// Claims a valid token for `email` carries.
    pub fn claims(&self, email: &str) -> Value {
        let now = now();
        json!({
            "iss": self.issuer(), "sub": email, "aud": "sigstore",
            "iat": now, "nbf": now, "exp": now + 600,
            "email": email, "email_verified": true,
        })
    }

    /// `claims` signed ES256 with the development issuer's key.
    pub fn sign(&self, claims: &Value) -> String {
        let key = EncodingKey::from_ec_der(&self.issuer_key_der());
        jsonwebtoken::encode(&Header::new(Algorithm::ES256), claims, &key).unwrap()
    }

    pub async fn post_json(&self, path: &str, body: &Value, bearer: Option<&str>) -> (u16, Value) {
        let mut req = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap());
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!("{path} answered {status} {content_type:?} that is not JSON ({e}): {text}")
        });
        (status, value)
    }
}

pub fn dev_key_der(data_dir: &Path) -> Vec<u8> {
    let pem = std::fs::read(data_dir.join("dev-oidc").join("signing.key")).unwrap();
    let (label, der) = der::pem::decode_vec(&pem).unwrap();
    assert_eq!(label, "PRIVATE KEY");
    der
}

pub fn b64url_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A PKCS#10 CSR for `subject_key`, signed by `signer` (ECDSA-SHA256), as DER.
pub fn csr(subject_key: &PublicKey, signer: &PrivateKey) -> Vec<u8> {
    #[derive(der::Sequence)]
    struct Info<'a> {
        version: u8,
        subject: AnyRef<'a>,
        spki: AnyRef<'a>,
        #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
        attributes: Vec<AnyRef<'a>>,
    }
    #[derive(der::Sequence)]
    struct Csr<'a> {
        info: AnyRef<'a>,
        algorithm: AlgorithmIdentifierRef<'a>,
        signature: BitStringRef<'a>,
    }
    let info = Info {
        version: 0,
        subject: AnyRef::from_der(&[0x30, 0x00]).unwrap(),
        spki: AnyRef::from_der(subject_key.spki_der()).unwrap(),
        attributes: Vec::new(),
    }
    .to_der()
    .unwrap();
    let signature = signer.sign(&info).unwrap();
    Csr {
        info: AnyRef::from_der(&info).unwrap(),
        algorithm: AlgorithmIdentifierRef {
            oid: const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: BitStringRef::from_bytes(&signature).unwrap(),
    }
    .to_der()
    .unwrap()
}

/// The `certificateSigningRequest` field as sigstore-python sends it: base64 of the PEM.
pub fn csr_field(key: &PrivateKey) -> String {
    let pem = der::pem::encode_string(
        "CERTIFICATE REQUEST",
        der::pem::LineEnding::LF,
        &csr(key.public_key(), key),
    )
    .unwrap();
    STANDARD.encode(pem)
}

/// A `signingCert` v2 body as sigstore-js sends it: `token` in `credentials`, `key`'s
/// PEM and a proof of possession, `challenge` signed by `signer`.
pub fn proof_request(token: &str, key: &PrivateKey, signer: &PrivateKey, challenge: &str) -> Value {
    json!({
        "credentials": { "oidcIdentityToken": token },
        "publicKeyRequest": {
            "publicKey": { "content": key.public_key().to_pem() },
            "proofOfPossession": STANDARD.encode(signer.sign(challenge.as_bytes()).unwrap()),
        },
    })
}

pub fn new_key() -> PrivateKey {
    PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap()
}

/// A Rekor v1 log at `http://rekor.local` with `key`, valid from `start` (Unix seconds):
/// its `tlogs[]` entry.
pub fn rekor_log(key: &PublicKey, start: i64) -> TransparencyLogInstance {
    TransparencyLogInstance {
        base_url: "http://rekor.local".into(),
        hash_algorithm: HashAlgorithm::Sha2_256,
        public_key: signet_formats::sigstore::PublicKey {
            raw_bytes: key.spki_der().to_vec(),
            key_details: PublicKeyDetails::PkixEcdsaP256Sha256,
            valid_for: ValidityWindow::new("validFor", UnixTime(start), None).unwrap(),
        },
        log_id: LogId {
            key_id: key.key_id().as_bytes().to_vec(),
        },
        checkpoint_key_id: None,
        operator: String::new(),
    }
}

/// An oracle's executable: `$<var>`, else the `export <var>=…` line of
/// `$SIGNET_TEST_DIR/env.sh` (default `/tmp/signet-test-env`); `None` when it is not a
/// file (the test then skips).
pub fn test_tool(var: &str) -> Option<PathBuf> {
    if let Ok(path) = std::env::var(var) {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let dir = std::env::var("SIGNET_TEST_DIR").unwrap_or_else(|_| "/tmp/signet-test-env".into());
    let env = std::fs::read_to_string(Path::new(&dir).join("env.sh")).ok()?;
    env.lines()
        .filter_map(|l| l.trim().trim_start_matches("export ").split_once('='))
        .find(|(k, _)| *k == var)
        .map(|(_, v)| PathBuf::from(v.trim_matches(|c| c == '"' || c == '\'')))
        .filter(|p| p.is_file())
}

/// Whether a command succeeded, and its stdout then stderr.
pub fn outcome(out: &std::process::Output) -> (bool, String) {
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}
