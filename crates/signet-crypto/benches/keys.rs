//! Benchmarks for unlocking cosign keys and for ECDSA P-256 signing and verification.
//!
//! Run with `cargo bench -p signet-crypto --bench keys`.

#![allow(clippy::unwrap_used)]
// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use signet_crypto::scrypt::{ScryptParams, scrypt};
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer, cosign};

/// A ~250-byte payload, the size of a cosign simple-signing payload.
const PAYLOAD: &[u8] = include_bytes!("../testdata/keys/payload.json");

fn scrypt_n65536(c: &mut Criterion) {
    let mut group = c.benchmark_group("scrypt N=65536 r=8 p=1");
    group.sample_size(10);
    group.bench_function("signet-crypto", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            scrypt(
                black_box(b"password"),
                &[7u8; 32],
                &ScryptParams::COSIGN,
                &mut out,
            )
            .expect("scrypt");
            out
        })
    });
    group.bench_function("scrypt crate 0.12", |b| {
        let params = ::scrypt::Params::new(16, 8, 1).expect("params");
        b.iter(|| {
            let mut out = [0u8; 32];
            ::scrypt::scrypt(black_box(b"password"), &[7u8; 32], &params, &mut out)
                .expect("scrypt");
            out
        })
    });
    group.finish();
}

fn cosign_unlock(c: &mut Criterion) {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).expect("generate");
    let pem = cosign::encrypt_private_key(&key, b"correct horse").expect("encrypt");
    let mut group = c.benchmark_group("cosign key file");
    group.sample_size(10);
    group.bench_function("decrypt_private_key (N=65536)", |b| {
        b.iter(|| cosign::decrypt_private_key(black_box(pem.as_bytes()), b"correct horse"))
    });
    group.finish();
}

/// Sign and verify on both curves. A keyless Sigstore bundle from the public-good
/// instance costs 4 P-256 verifies (SCT, SET, checkpoint, artifact) and 2 P-384 ones
/// (the Fulcio chain): the floor `bench/bundles.py` figures are compared with.
fn ecdsa(c: &mut Criterion) {
    for (name, algorithm) in [
        ("ecdsa-p256", KeyAlgorithm::EcdsaP256),
        ("ecdsa-p384", KeyAlgorithm::EcdsaP384),
    ] {
        let key = PrivateKey::generate(algorithm).expect("generate");
        let signature = key.sign(PAYLOAD).expect("sign");
        let public = key.public_key().clone();
        let mut group = c.benchmark_group(format!("{name}, 252-byte payload"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("sign", |b| b.iter(|| key.sign(black_box(PAYLOAD))));
        group.bench_function("verify", |b| {
            b.iter(|| public.verify(black_box(PAYLOAD), black_box(&signature)))
        });
        group.finish();
    }
}

criterion_group!(benches, scrypt_n65536, cosign_unlock, ecdsa);
criterion_main!(benches);
