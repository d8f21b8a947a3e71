//! Replays `fuzz/corpus/<target>/` for this crate's fuzz entry points on stable, and
//! feeds each entry point byte-level mutations of every seed: none may panic.

#![allow(clippy::unwrap_used)]

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::replay;

/// Deterministic mutations (flip, truncate, duplicate) of every seed.
fn mutate(seeds: &[(String, Vec<u8>)], entry: fn(&[u8])) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (_, seed) in seeds {
        for _ in 0..64 {
            let mut data = seed.clone();
            match next() % 3 {
                0 if !data.is_empty() => {
                    let i = (next() as usize) % data.len();
                    data[i] ^= 1 << (next() % 8);
                }
                1 => data.truncate((next() as usize) % (data.len() + 1)),
                _ => {
                    let copy = data.clone();
                    data.extend_from_slice(&copy[..copy.len() / 2]);
                }
            }
            entry(&data);
        }
    }
}

#[test]
fn proposed_entry_corpus_replays_and_mutations_never_panic() {
    let seeds = replay("proposed_entry", signet_log::fuzzing::fuzz_proposed_entry);
    mutate(&seeds, signet_log::fuzzing::fuzz_proposed_entry);
}
