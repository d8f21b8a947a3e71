//! Replays `fuzz/corpus/<target>/` for this crate's fuzz entry points on stable, and
//! feeds each entry point byte-level mutations of every seed: none may panic.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::{mutate, replay};

#[test]
fn service_answers_corpus_replays_and_mutations_never_panic() {
    let seeds = replay(
        "service_answers",
        signet_sign::fuzzing::fuzz_service_answers,
    );
    mutate(&seeds, signet_sign::fuzzing::fuzz_service_answers);
}
