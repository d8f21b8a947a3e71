//! Replays `fuzz/corpus/<target>/` for this crate's fuzz entry points on stable, and
//! feeds each entry point byte-level mutations of every seed: none may panic.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::{mutate, replay};

#[test]
fn proposed_entry_corpus_replays_and_mutations_never_panic() {
    let seeds = replay("proposed_entry", signet_log::fuzzing::fuzz_proposed_entry);
    mutate(&seeds, signet_log::fuzzing::fuzz_proposed_entry);
}
