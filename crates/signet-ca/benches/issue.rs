//! Certificates issued per second.
//!
//! - `issue/core`: `CaService::issue_unsafe` (precertificate, SCT, final certificate:
//!   three P-256 signatures and two DER encodings).
//! - `issue/http`: a whole `POST /api/v2/signingCert` through the router in process: JSON,
//!   the ES256 token checked against the development issuer's JWKS (cached after the first
//!   request, fetched over a real socket), the CSR's signature, issuance, the PEM chain.
//!
//! Run with `cargo bench -p signet-ca`; certificates/s = 1 / time per iteration (the
//! throughput line criterion prints, in elements/s).

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::Request;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use der::asn1::{AnyRef, BitStringRef};
use der::{Decode, Encode};
use signet_ca::{CaConfig, CaService, DevOidc, Identity};
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer};
use spki::AlgorithmIdentifierRef;
use tower::ServiceExt as _;

fn csr_pem_b64(key: &PrivateKey) -> String {
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
        subject: AnyRef::from_der(&[0x30, 0x00]).expect("empty name"),
        spki: AnyRef::from_der(key.public_key().spki_der()).expect("spki"),
        attributes: Vec::new(),
    }
    .to_der()
    .expect("info");
    let signature = key.sign(&info).expect("sign");
    let der = Csr {
        info: AnyRef::from_der(&info).expect("info"),
        algorithm: AlgorithmIdentifierRef {
            oid: const_oid::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        },
        signature: BitStringRef::from_bytes(&signature).expect("bits"),
    }
    .to_der()
    .expect("csr");
    let pem = der::pem::encode_string("CERTIFICATE REQUEST", der::pem::LineEnding::LF, &der)
        .expect("pem");
    STANDARD.encode(pem)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let dev = DevOidc::open(dir.path(), &base).expect("dev issuer");
    let ca = CaService::open(
        dir.path(),
        CaConfig::with_issuers(vec![dev.issuer_config()]),
    )
    .expect("ca");
    let dev_router = dev.router();
    rt.spawn(async move { axum::serve(listener, dev_router).await });
    let router = ca.router();

    let mut group = c.benchmark_group("issue");
    group.throughput(Throughput::Elements(1));

    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("key");
    let identity = Identity::email("bench@example.com", dev.issuer_url());
    group.bench_function("core", |b| {
        b.iter(|| {
            black_box(
                ca.issue_unsafe(&identity, key.public_key(), SystemTime::now())
                    .expect("issue"),
            )
        })
    });

    let token = dev.mint("bench@example.com", None).expect("token");
    let body = serde_json::json!({ "certificateSigningRequest": csr_pem_b64(&key) }).to_string();
    let request = || {
        Request::post("/api/v2/signingCert")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body.clone()))
            .expect("request")
    };
    // The first request fetches the JWKS; the benchmark measures the cached path.
    let first = rt
        .block_on(router.clone().oneshot(request()))
        .expect("response");
    assert_eq!(first.status().as_u16(), 201);
    group.bench_function("http", |b| {
        b.iter(|| {
            let response = rt
                .block_on(router.clone().oneshot(request()))
                .expect("response");
            assert_eq!(response.status().as_u16(), 201);
            black_box(response)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
