//! Property tests for the Sigstore formats: the parsers never panic on any bytes (the
//! same entry points the fuzz targets call), and writing a v0.3 bundle then parsing it
//! gives back the same value.

#![allow(clippy::unwrap_used)]

use proptest::collection::vec;
use proptest::prelude::*;
use signet_formats::fuzzing;
use signet_formats::sigstore::{
    Bundle, BundleContent, BundleVersion, Checkpoint, Envelope, HashAlgorithm, HashOutput,
    InclusionPromise, InclusionProof, KindVersion, LogId, LogIndex, MessageSignature,
    PublicKeyIdentifier, Rfc3161Timestamp, Signature, SignerMaterial, TimestampVerificationData,
    TransparencyLogEntry, TreeSize, UnixTime, VerificationMaterial, X509Certificate,
};

fn bytes(min: usize, max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), min..max)
}

fn signer() -> impl Strategy<Value = SignerMaterial> {
    prop_oneof![
        bytes(1, 64)
            .prop_map(|raw_bytes| SignerMaterial::Certificate(X509Certificate { raw_bytes })),
        "\\PC{0,20}".prop_map(|hint| SignerMaterial::PublicKey(PublicKeyIdentifier { hint })),
    ]
}

fn entry() -> impl Strategy<Value = TransparencyLogEntry> {
    (
        (
            0..=i64::MAX as u64,
            bytes(1, 33),
            "[a-z]{1,12}",
            "[0-9.]{1,6}",
            0..=i64::MAX,
        ),
        proptest::option::of(bytes(0, 72)),
        (
            0..=i64::MAX as u64,
            bytes(32, 33),
            0..=i64::MAX as u64,
            vec(bytes(32, 33), 0..4),
            "\\PC{1,80}",
        ),
        bytes(1, 64),
    )
        .prop_map(
            |(
                (index, key_id, kind, version, time),
                promise,
                (pi, root, size, hashes, cp),
                body,
            )| {
                TransparencyLogEntry {
                    log_index: LogIndex(index),
                    log_id: LogId { key_id },
                    kind_version: KindVersion { kind, version },
                    integrated_time: UnixTime(time),
                    inclusion_promise: promise.map(|signed_entry_timestamp| InclusionPromise {
                        signed_entry_timestamp,
                    }),
                    inclusion_proof: Some(InclusionProof {
                        log_index: LogIndex(pi),
                        root_hash: root,
                        tree_size: TreeSize(size),
                        hashes,
                        checkpoint: Some(Checkpoint { envelope: cp }),
                    }),
                    canonicalized_body: body,
                }
            },
        )
}

fn content() -> impl Strategy<Value = BundleContent> {
    let algorithm = prop_oneof![
        Just(HashAlgorithm::Unspecified),
        Just(HashAlgorithm::Sha2_256),
        Just(HashAlgorithm::Sha2_384),
        Just(HashAlgorithm::Sha2_512),
        Just(HashAlgorithm::Sha3_256),
        Just(HashAlgorithm::Sha3_384),
    ];
    let signature = (bytes(1, 72), proptest::option::of("\\PC{1,10}"))
        .prop_map(|(sig, keyid)| Signature { sig, keyid });
    prop_oneof![
        (
            proptest::option::of((algorithm, bytes(0, 64))),
            bytes(1, 72)
        )
            .prop_map(|(d, signature)| {
                BundleContent::MessageSignature(MessageSignature {
                    message_digest: d.map(|(algorithm, digest)| HashOutput { algorithm, digest }),
                    signature,
                })
            }),
        (bytes(0, 128), "\\PC{1,30}", vec(signature, 1..3)).prop_map(
            |(payload, payload_type, signatures)| {
                BundleContent::DsseEnvelope(Envelope {
                    payload,
                    payload_type,
                    signatures,
                })
            }
        ),
    ]
}

fn bundle() -> impl Strategy<Value = Bundle> {
    (
        signer(),
        vec(entry(), 0..3),
        vec(bytes(1, 64), 0..3),
        content(),
    )
        .prop_map(|(signer, tlog_entries, ts, content)| Bundle {
            version: BundleVersion::V0_3,
            verification_material: VerificationMaterial {
                signer,
                tlog_entries,
                timestamp_verification_data: TimestampVerificationData {
                    rfc3161_timestamps: ts
                        .into_iter()
                        .map(|signed_timestamp| Rfc3161Timestamp { signed_timestamp })
                        .collect(),
                },
            },
            content,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn bundles_round_trip_through_v03_json(b in bundle()) {
        let json = b.to_json_v03().unwrap();
        let parsed = Bundle::parse(json.as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &b);
        prop_assert_eq!(parsed.to_json_v03().unwrap(), json);
    }

    #[test]
    fn sigstore_parsers_never_panic_on_bytes(data in vec(any::<u8>(), 0..512)) {
        fuzzing::fuzz_bundle(&data);
        fuzzing::fuzz_trusted_root(&data);
    }

    #[test]
    fn sigstore_parsers_never_panic_on_json_like_text(s in r#"[{}\[\]":,a-zA-Z0-9 ._/+=-]{0,200}"#) {
        fuzzing::fuzz_bundle(s.as_bytes());
        fuzzing::fuzz_trusted_root(s.as_bytes());
    }

    #[test]
    fn mutated_bundles_never_panic(b in bundle(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut json = b.to_json_v03().unwrap().into_bytes();
        let i = pos.index(json.len());
        json[i] = byte;
        fuzzing::fuzz_bundle(&json);
    }

    #[test]
    fn rfc3339_round_trips(t in -62_135_596_800i64..253_402_300_800i64) {
        let s = UnixTime(t).to_rfc3339();
        prop_assert_eq!(UnixTime::parse_rfc3339("t", &s).unwrap(), UnixTime(t));
    }
}
