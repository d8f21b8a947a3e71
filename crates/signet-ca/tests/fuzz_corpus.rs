//! Replays `fuzz/corpus/<target>/` for this crate's fuzz entry points on stable, and
//! feeds each entry point byte-level mutations of every seed: none may panic.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::{mutate, replay};

#[test]
fn timestamp_request_corpus_replays_and_mutations_never_panic() {
    let seeds = replay(
        "timestamp_request",
        signet_ca::fuzzing::fuzz_timestamp_request,
    );
    mutate(&seeds, signet_ca::fuzzing::fuzz_timestamp_request);
}

#[test]
fn signing_request_corpus_replays_and_mutations_never_panic() {
    let seeds = replay("signing_request", signet_ca::fuzzing::fuzz_signing_request);
    mutate(&seeds, signet_ca::fuzzing::fuzz_signing_request);
}
