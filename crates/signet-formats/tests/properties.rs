//! Property tests: the parsers of untrusted bytes never panic (the same entry points
//! the cargo-fuzz targets call), and what we print parses back to the same value.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use signet_formats::cosign::SimpleSigning;
use signet_formats::{Digest, ImageRef, Repository, fuzzing};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn parsers_never_panic_on_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::fuzz_reference(&data);
        fuzzing::fuzz_manifest(&data);
        fuzzing::fuzz_payload(&data);
    }

    #[test]
    fn parsers_never_panic_on_json_like_text(s in r#"[{}\[\]":,a-zA-Z0-9 ._/@-]{0,200}"#) {
        fuzzing::fuzz_reference(s.as_bytes());
        fuzzing::fuzz_manifest(s.as_bytes());
        fuzzing::fuzz_payload(s.as_bytes());
    }

    #[test]
    fn references_round_trip(
        host in "(localhost|[a-z]{1,8}\\.[a-z]{2,3}|127\\.0\\.0\\.1)(:[0-9]{1,5})?",
        path in "[a-z0-9]{1,6}([._-][a-z0-9]{1,6}){0,2}(/[a-z0-9]{1,6}){0,2}",
        tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        digest in proptest::option::of("[0-9a-f]{64}"),
    ) {
        let mut s = format!("{host}/{path}");
        if let Some(t) = &tag { s.push(':'); s.push_str(t); }
        if let Some(d) = &digest { s.push_str("@sha256:"); s.push_str(d); }
        let r: ImageRef = s.parse().unwrap();
        prop_assert_eq!(r.to_string(), s.clone());
        prop_assert_eq!(r.to_string().parse::<ImageRef>().unwrap(), r);
    }

    #[test]
    fn payloads_round_trip(
        ann in proptest::collection::btree_map("[ -~]{0,12}", "\\PC{0,12}", 0..4),
        hex in "[0-9a-f]{64}",
    ) {
        let digest: Digest = format!("sha256:{hex}").parse().unwrap();
        let repo = Repository::parse("registry.example/app").unwrap();
        let ann: BTreeMap<String, String> = ann;
        let p = SimpleSigning::new(&repo, &digest, &ann);
        let parsed = SimpleSigning::parse(&p.to_bytes()).unwrap();
        prop_assert_eq!(parsed.to_bytes(), p.to_bytes());
        prop_assert_eq!(parsed.critical.image.docker_manifest_digest, digest.to_string());
    }
}
