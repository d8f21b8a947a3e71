//! Random and mutated bytes never panic the parsers (stable-toolchain stand-in for
//! cargo-fuzz; the same entry points live in `signet_tlog::fuzzing`), and every seed of
//! the cargo-fuzz corpora `fuzz/corpus/checkpoint/` and `fuzz/corpus/rekor_entry/` is
//! replayed through them and mutated.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::{corpus, replay, valid};

use proptest::prelude::*;
use signet_tlog::checkpoint::{Checkpoint, Note};
use signet_tlog::entry::EntryBody;
use signet_tlog::fuzzing::{fuzz_checkpoint, fuzz_entry, fuzz_jcs};

const NOTE: &str = "log.example\n736\nrs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=\n\n\u{2014} log.example 8w1amdbj1mjNN674dHAkD92+QZoEgBC7o0mXYSTRluDjQrOPjrps3zQB9ut+ShLepyZPsWBDi5IB3yXyjgjQT6OG9A8=\n";
const ENTRY: &str = r#"{"apiVersion":"0.0.1","kind":"dsse","spec":{"envelopeHash":{"algorithm":"sha256","value":"5608b4de188cd2cf3b6d79691c3160fd6feeec897b34a8e48fcf465323c23a73"},"payloadHash":{"algorithm":"sha256","value":"d6b209ba9dde3b1ee5edebb88d1b1b917b72eeb614328e7ba667f5b7ab70e987"},"signatures":[{"signature":"AA==","verifier":"AA=="}]}}"#;

fn mutate(seed: &str, edits: Vec<(prop::sample::Index, u8)>) -> Vec<u8> {
    let mut b = seed.as_bytes().to_vec();
    for (i, v) in edits {
        let at = i.index(b.len());
        b[at] = v;
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzz_checkpoint(&data);
        fuzz_entry(&data);
        fuzz_jcs(&data);
    }

    #[test]
    fn mutated_inputs_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6)) {
        fuzz_checkpoint(&mutate(NOTE, edits.clone()));
        fuzz_entry(&mutate(ENTRY, edits.clone()));
        fuzz_jcs(&mutate(ENTRY, edits));
    }
}

#[test]
fn seeds_are_accepted() {
    fuzz_checkpoint(NOTE.as_bytes());
    fuzz_entry(ENTRY.as_bytes());
    fuzz_jcs(ENTRY.as_bytes());
}

#[test]
fn checkpoint_corpus_replays() {
    for (name, data) in replay("checkpoint", fuzz_checkpoint) {
        if valid(&name) {
            let note = Note::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
            Checkpoint::parse_body(note.text()).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn rekor_entry_corpus_replays() {
    for (name, data) in replay("rekor_entry", fuzz_entry) {
        fuzz_jcs(&data);
        if valid(&name) {
            EntryBody::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    corpus(target).into_iter().map(|(_, data)| data).collect()
}

/// Overwrites, deletes or inserts bytes of `seed`.
fn edit(seed: &[u8], edits: &[(prop::sample::Index, u8, u8)]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for (i, op, v) in edits {
        let at = i.index(b.len() + 1);
        match op % 3 {
            0 if at < b.len() => b[at] = *v,
            1 if at < b.len() => {
                b.remove(at);
            }
            _ => b.insert(at, *v),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn corpus_checkpoints_mutated(
        seed in prop::sample::select(seeds("checkpoint")),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), prop::sample::select(b"\n \x00-+/=0123456789abcdef\xe2\x80\x94".to_vec())), 1..6),
    ) {
        fuzz_checkpoint(&edit(&seed, &edits));
    }

    #[test]
    fn corpus_entries_mutated(
        seed in prop::sample::select(seeds("rekor_entry")),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        let data = edit(&seed, &edits);
        fuzz_entry(&data);
        fuzz_jcs(&data);
    }
}
