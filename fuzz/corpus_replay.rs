//! Replays the cargo-fuzz corpora on stable. `#[path]`-included by the
//! `fuzz_corpus`/`fuzzing` tests of signet-formats, signet-tlog, signet-x509,
//! signet-policy, signet-log, signet-ca and signet-sign, which all live two directories
//! below the workspace root.

#![allow(dead_code)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// Every file of `fuzz/corpus/<target>/`, by name; the directory must not be empty.
pub(crate) fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} has no seeds", dir.display());
    files
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// Runs `entry` on every seed of `target`, naming each seed that panics.
pub(crate) fn replay(target: &str, entry: fn(&[u8])) -> Vec<(String, Vec<u8>)> {
    let seeds = corpus(target);
    let panicked: Vec<&str> = seeds
        .iter()
        .filter(|(_, data)| catch_unwind(AssertUnwindSafe(|| entry(data))).is_err())
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        panicked.is_empty(),
        "{target} seeds that panic: {panicked:?}"
    );
    seeds
}

/// Seeds that are valid documents (not hand-mutated, not a conformance `_fail` case)
/// must parse, or the corpus would drift away from the parser unnoticed.
pub(crate) fn valid(name: &str) -> bool {
    !name.starts_with("mutated-") && !name.contains("_fail")
}

/// Feeds `entry` deterministic byte-level mutations (a flipped bit, a truncation, a
/// duplicated half) of every seed, 64 per seed: none may panic.
pub(crate) fn mutate(seeds: &[(String, Vec<u8>)], entry: fn(&[u8])) {
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
