//! Replays `fuzz/corpus/<target>/` for this crate's fuzz entry points on stable, and
//! feeds each entry point byte-level mutations of every seed: none may panic.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::{mutate, replay};

#[test]
fn admission_review_corpus_replays_and_mutations_never_panic() {
    let seeds = replay("admission_review", signet_policy::fuzzing::fuzz_review);
    mutate(&seeds, signet_policy::fuzzing::fuzz_review);
}

#[test]
fn policy_corpus_replays_and_mutations_never_panic() {
    let seeds = replay("policy", signet_policy::fuzzing::fuzz_policy);
    mutate(&seeds, signet_policy::fuzzing::fuzz_policy);
}
