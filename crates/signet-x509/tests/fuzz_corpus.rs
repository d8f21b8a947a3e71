//! The cargo-fuzz corpora on stable: every seed in `fuzz/corpus/x509/` and
//! `fuzz/corpus/timestamp/` goes through the entry point its fuzz target calls
//! (`signet_x509::fuzzing`), and proptest mutates those seeds (bytes, and DER lengths
//! and tags) through the same entry points.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::{corpus, replay};

use proptest::prelude::*;
use signet_x509::Certificate;
use signet_x509::fuzzing::{fuzz_certificate, fuzz_timestamp};
use signet_x509::timestamp::parse_timestamp_response;

#[test]
fn x509_corpus_replays() {
    for (name, data) in replay("x509", fuzz_certificate) {
        // Real certificates must parse, or the corpus drifts away from the parser.
        if name.ends_with(".der") && !name.starts_with("mutated-") {
            Certificate::from_der(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        if name.ends_with(".pem") {
            assert!(
                Certificate::parse_pem_chain(&data).unwrap().len() >= 2,
                "{name}"
            );
        }
    }
}

#[test]
fn timestamp_corpus_replays() {
    for (name, data) in replay("timestamp", fuzz_timestamp) {
        if !name.starts_with("mutated-") {
            parse_timestamp_response(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    corpus(target)
        .into_iter()
        .filter(|(name, _)| name.ends_with(".der"))
        .map(|(_, data)| data)
        .collect()
}

/// Byte edits: overwrite a byte, or add or subtract a small amount (which turns DER
/// lengths into lengths that overrun or stop short, and tags into neighbouring tags).
fn mutate(
    seed: &[u8],
    edits: &[(prop::sample::Index, i8, bool)],
    cut: Option<prop::sample::Index>,
) -> Vec<u8> {
    let mut der = seed.to_vec();
    for (index, delta, overwrite) in edits {
        if der.is_empty() {
            break;
        }
        let i = index.index(der.len());
        der[i] = if *overwrite {
            *delta as u8
        } else {
            der[i].wrapping_add_signed(*delta)
        };
    }
    if let Some(cut) = cut {
        der.truncate(cut.index(der.len() + 1));
    }
    der
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn certificate_seeds_mutated(
        seed in prop::sample::select(seeds("x509")),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<i8>(), any::<bool>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        fuzz_certificate(&mutate(&seed, &edits, cut));
    }

    #[test]
    fn timestamp_seeds_mutated(
        seed in prop::sample::select(seeds("timestamp")),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<i8>(), any::<bool>()), 1..6),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        fuzz_timestamp(&mutate(&seed, &edits, cut));
    }
}
