//! Hot paths of verification: checking one signature layer (signature over the payload,
//! payload parse, claims) and parsing a signature manifest.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::hint::black_box;

use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer};
use signet_formats::cosign::{
    ManifestFlavor, SIGNATURE_ANNOTATION, SignatureLayer, SimpleSigning, signature_image,
};
use signet_formats::manifest::parse_manifest;
use signet_formats::{Digest, MediaType, Repository};
use signet_verify::{Authority, ClaimCheck, Policy, verify_signature};

fn bench(c: &mut Criterion) {
    let key = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let image = Digest::sha256_of(b"image");
    let repo = Repository::parse("registry.example.com/team/app").unwrap();
    let payload = SimpleSigning::new(&repo, &image, &BTreeMap::new()).to_bytes();
    let sig = base64::engine::general_purpose::STANDARD.encode(key.sign(&payload).unwrap());
    let layer = SignatureLayer {
        media_type: MediaType::COSIGN_SIMPLE_SIGNING,
        payload: payload.clone(),
        annotations: BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), sig)]),
    };
    let desc = layer.descriptor();
    let policy = Policy {
        authority: Authority::Key(key.public_key().clone()),
        annotations: BTreeMap::new(),
        claims: ClaimCheck::Enforce,
    };

    let mut g = c.benchmark_group("verify");
    g.throughput(Throughput::Elements(1));
    g.bench_function("signature layer (p256, ~250-byte payload)", |b| {
        b.iter(|| verify_signature(black_box(&policy), &image, &desc, black_box(&payload)).unwrap())
    });
    g.bench_function("payload sign (p256)", |b| {
        b.iter(|| key.sign(black_box(&payload)).unwrap())
    });
    g.bench_function("payload build (go json)", |b| {
        b.iter(|| SimpleSigning::new(black_box(&repo), &image, &BTreeMap::new()).to_bytes())
    });
    let manifest =
        signature_image(&[desc.clone(), desc.clone(), desc], ManifestFlavor::Oci).manifest;
    g.bench_function("parse .sig manifest (3 layers)", |b| {
        b.iter(|| parse_manifest(black_box(&manifest), None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
