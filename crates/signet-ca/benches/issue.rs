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
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use signet_ca::{CaConfig, CaService, DevOidc, Identity};
use signet_crypto::Signer as _;
use tower::ServiceExt as _;

// The integration tests' helpers (CSRs, keys); they unwrap, as tests do.
#[allow(clippy::unwrap_used)]
#[path = "../tests/support/mod.rs"]
mod support;

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

    let key = support::new_key();
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
    let body =
        serde_json::json!({ "certificateSigningRequest": support::csr_field(&key) }).to_string();
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
