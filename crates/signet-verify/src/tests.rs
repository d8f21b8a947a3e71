#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use base64::Engine as _;
use signet_crypto::{KeyAlgorithm, PrivateKey, Signer};
use signet_formats::cosign::{SIGNATURE_ANNOTATION, SignatureLayer, SimpleSigning};
use signet_formats::{Digest, MediaType, Repository};

use super::*;

fn repo() -> Repository {
    Repository::parse("127.0.0.1:5000/demo/app").unwrap()
}

fn signed(key: &PrivateKey, image: &Digest, ann: &[(&str, &str)]) -> Candidate {
    let ann: BTreeMap<String, String> = ann
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let payload = SimpleSigning::new(&repo(), image, &ann).to_bytes();
    layer(&payload, Some(&key.sign(&payload).unwrap()))
}

fn layer(payload: &[u8], sig: Option<&[u8]>) -> Candidate {
    let mut annotations = BTreeMap::new();
    if let Some(s) = sig {
        annotations.insert(
            SIGNATURE_ANNOTATION.to_string(),
            base64::engine::general_purpose::STANDARD.encode(s),
        );
    }
    let l = SignatureLayer {
        media_type: MediaType::COSIGN_SIMPLE_SIGNING,
        payload: payload.to_vec(),
        annotations,
    };
    Candidate {
        layer: l.descriptor(),
        payload: Ok(payload.to_vec()),
    }
}

fn policy(key: &PrivateKey, ann: &[(&str, &str)]) -> Policy {
    Policy {
        authority: Authority::Key(key.public_key().clone()),
        annotations: ann
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        claims: ClaimCheck::Enforce,
    }
}

fn only_rejection(r: Result<Vec<VerifiedSignature>, VerifyError>) -> Rejection {
    match r {
        Err(VerifyError::NoMatchingSignatures { rejections }) if rejections.len() == 1 => {
            rejections[0].reason.clone()
        }
        other => panic!("expected one rejection, got {other:?}"),
    }
}

#[test]
fn accepts_a_good_signature_with_annotations() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let img = Digest::sha256_of(b"A");
    let v = verify_image(
        &policy(&k, &[("env", "prod")]),
        &img,
        &[signed(&k, &img, &[("env", "prod"), ("x", "y")])],
    )
    .unwrap();
    assert_eq!(
        v[0].payload.critical.image.docker_manifest_digest,
        img.to_string()
    );
}

#[test]
fn no_signatures() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    assert_eq!(
        verify_image(&policy(&k, &[]), &Digest::sha256_of(b"A"), &[]).unwrap_err(),
        VerifyError::NoSignatures
    );
}

#[test]
fn wrong_key() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let img = Digest::sha256_of(b"A");
    let r = verify_image(&policy(&other, &[]), &img, &[signed(&k, &img, &[])]);
    assert_eq!(only_rejection(r), Rejection::SignatureMismatch);
}

#[test]
fn replayed_onto_another_image() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let a = Digest::sha256_of(b"A");
    let b = Digest::sha256_of(b"B");
    let r = verify_image(&policy(&k, &[]), &b, &[signed(&k, &a, &[])]);
    assert_eq!(
        only_rejection(r),
        Rejection::DigestMismatch {
            claimed: a.to_string(),
            actual: b.clone()
        }
    );
    // ...and skipping claims (debug only) lets it through, which is why it is DangerSkip
    let mut p = policy(&k, &[]);
    p.claims = ClaimCheck::DangerSkip;
    assert!(verify_image(&p, &b, &[signed(&k, &a, &[])]).is_ok());
}

#[test]
fn tampered_payload() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let a = Digest::sha256_of(b"A");
    let b = Digest::sha256_of(b"B");
    let good = signed(&k, &a, &[]);
    let sig = good.layer.annotations.as_ref().unwrap()[SIGNATURE_ANNOTATION].clone();
    let forged = SimpleSigning::new(&repo(), &b, &BTreeMap::new()).to_bytes();
    let mut c = layer(&forged, None);
    c.layer.annotations = Some(BTreeMap::from([(SIGNATURE_ANNOTATION.to_string(), sig)]));
    assert_eq!(
        only_rejection(verify_image(&policy(&k, &[]), &b, &[c])),
        Rejection::SignatureMismatch
    );
}

#[test]
fn annotation_mismatch_and_absence() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let img = Digest::sha256_of(b"A");
    let r = verify_image(
        &policy(&k, &[("env", "prod")]),
        &img,
        &[signed(&k, &img, &[("env", "dev")])],
    );
    assert_eq!(
        only_rejection(r),
        Rejection::AnnotationMismatch {
            key: "env".into(),
            expected: "prod".into(),
            found: "\"dev\"".into()
        }
    );
    let r = verify_image(
        &policy(&k, &[("env", "prod")]),
        &img,
        &[signed(&k, &img, &[])],
    );
    assert!(
        matches!(only_rejection(r), Rejection::AnnotationMismatch { found, .. } if found == "nothing")
    );
}

#[test]
fn malformed_layers() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let img = Digest::sha256_of(b"A");
    let p = policy(&k, &[]);
    assert_eq!(
        only_rejection(verify_image(&p, &img, &[layer(b"{}", None)])),
        Rejection::MissingSignature
    );
    let mut c = layer(b"{}", None);
    c.layer.annotations = Some(BTreeMap::from([(
        SIGNATURE_ANNOTATION.to_string(),
        "!!".to_string(),
    )]));
    assert_eq!(
        only_rejection(verify_image(&p, &img, &[c])),
        Rejection::MalformedSignature
    );
    let junk = b"not json";
    let c = layer(junk, Some(&k.sign(junk).unwrap()));
    assert!(matches!(
        only_rejection(verify_image(&p, &img, &[c])),
        Rejection::MalformedPayload { .. }
    ));
    let mut c = signed(&k, &img, &[]);
    c.layer.media_type = MediaType::DSSE_ENVELOPE;
    assert!(matches!(
        only_rejection(verify_image(&p, &img, &[c])),
        Rejection::WrongMediaType { .. }
    ));
    let mut c = signed(&k, &img, &[]);
    c.payload = Err("blob altered".into());
    assert!(matches!(
        only_rejection(verify_image(&p, &img, &[c])),
        Rejection::PayloadUnavailable { .. }
    ));
}

#[test]
fn one_good_signature_among_bad_ones_passes() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let other = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let img = Digest::sha256_of(b"A");
    let v = verify_image(
        &policy(&k, &[]),
        &img,
        &[signed(&other, &img, &[]), signed(&k, &img, &[])],
    )
    .unwrap();
    assert_eq!(v.len(), 1);
}

#[test]
fn keyless_without_certificate_is_exit_13_material() {
    let k = PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let img = Digest::sha256_of(b"A");
    let p = Policy {
        authority: Authority::Keyless(signet_x509::IdentityMatcher::exact("a@b", "https://x")),
        annotations: BTreeMap::new(),
        claims: ClaimCheck::Enforce,
    };
    assert_eq!(
        verify_image(&p, &img, &[signed(&k, &img, &[])]).unwrap_err(),
        VerifyError::NoCertificate
    );
}

#[test]
fn every_key_algorithm_round_trips() {
    for alg in [
        KeyAlgorithm::EcdsaP256,
        KeyAlgorithm::EcdsaP384,
        KeyAlgorithm::Ed25519,
    ] {
        let k = PrivateKey::generate(alg).unwrap();
        let img = Digest::sha256_of(b"A");
        assert!(
            verify_image(&policy(&k, &[]), &img, &[signed(&k, &img, &[])]).is_ok(),
            "{alg}"
        );
    }
}
