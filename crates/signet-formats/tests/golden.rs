//! Byte-exact golden files for every format signet writes in cosign's legacy scheme.
//! Regenerate with `SIGNET_UPDATE_GOLDEN=1 cargo test -p signet-formats --test golden`
//! and review the diff: any change here breaks byte compatibility with cosign.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use signet_formats::cosign::{
    ManifestFlavor, SIGNATURE_ANNOTATION, SignatureLayer, SimpleSigning, signature_config,
    signature_image,
};
use signet_formats::{Digest, MediaType, Repository};

fn check(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/golden")
        .join(name);
    if std::env::var_os("SIGNET_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        String::from_utf8_lossy(actual),
        String::from_utf8_lossy(&expected),
        "{name} differs from its golden file"
    );
}

fn layer(annotations: &BTreeMap<String, String>) -> SignatureLayer {
    let digest: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
    let repo = Repository::parse("ubuntu").unwrap();
    SignatureLayer {
        media_type: MediaType::COSIGN_SIMPLE_SIGNING,
        payload: SimpleSigning::new(&repo, &digest, annotations).to_bytes(),
        annotations: BTreeMap::from([(
            SIGNATURE_ANNOTATION.to_string(),
            "MEUCIQDexampleexampleexampleexampleexampleexampleAiBexampleexampleexampleexampleexample=".to_string(),
        )]),
    }
}

#[test]
fn simple_signing_payloads() {
    check(
        "payload-no-annotations.json",
        &layer(&BTreeMap::new()).payload,
    );
    let ann = BTreeMap::from([
        ("env".to_string(), "prod".to_string()),
        ("a&b".to_string(), "<x>".to_string()),
    ]);
    check("payload-annotations.json", &layer(&ann).payload);
}

#[test]
fn signature_configs_and_manifests() {
    let one = [layer(&BTreeMap::new()).descriptor()];
    check("sig-config-1.json", &signature_config(&one));
    check(
        "sig-manifest-1.json",
        &signature_image(&one, ManifestFlavor::Oci).manifest,
    );
    let two = [
        one[0].clone(),
        layer(&BTreeMap::from([("k".to_string(), "v".to_string())])).descriptor(),
    ];
    check("sig-config-2.json", &signature_config(&two));
    check(
        "sig-manifest-2.json",
        &signature_image(&two, ManifestFlavor::Oci).manifest,
    );
    check(
        "sig-manifest-1-docker.json",
        &signature_image(&one, ManifestFlavor::Docker).manifest,
    );
}
