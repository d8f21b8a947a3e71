//! The cargo-fuzz corpora on stable: every seed in `fuzz/corpus/{bundle, trusted_root,
//! signing_config, dsse}/` goes through the entry point its fuzz target calls
//! (`signet_formats::fuzzing`), and proptest mutates those seeds, byte by byte and
//! value by value, through the same entry points.
//!
//! The entry points assert what must hold for every input (no panic, one-line errors,
//! bundles that parse write as v0.3 and read back equal), so this is the part of the
//! fuzzing that CI runs.

#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../../../fuzz/corpus_replay.rs"]
mod corpus_replay;

use corpus_replay::{corpus, replay, valid};

use proptest::prelude::*;
use serde_json::{Value, json};
use signet_formats::fuzzing;
use signet_formats::sigstore::{Bundle, Envelope, SigningConfig, Statement, TrustedRoot};

#[test]
fn bundle_corpus_replays() {
    for (name, data) in replay("bundle", fuzzing::fuzz_bundle) {
        if valid(&name) {
            Bundle::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn trusted_root_corpus_replays() {
    for (name, data) in replay("trusted_root", fuzzing::fuzz_trusted_root) {
        if valid(&name) {
            TrustedRoot::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn signing_config_corpus_replays() {
    for (name, data) in replay("signing_config", fuzzing::fuzz_signing_config) {
        if valid(&name) {
            SigningConfig::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

#[test]
fn dsse_corpus_replays() {
    for (name, data) in replay("dsse", fuzzing::fuzz_dsse) {
        if name.starts_with("statement-") {
            Statement::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if valid(&name) {
            Envelope::parse(&data).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

// ---------------------------------------------------------------------------------
// Mutations of the seeds.

/// All JSON pointers of `v`'s members and elements.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                pointers(child, p.clone(), out);
                out.push(p);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                pointers(child, p.clone(), out);
                out.push(p);
            }
        }
        _ => {}
    }
}

/// Values that probe protojson's rules: wrong types, empty and negative values, bad
/// base64, huge numbers and strings holding numbers.
fn replacement() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1.5)),
        Just(json!(1e300)),
        Just(json!(18_446_744_073_709_551_615u64)),
        Just(json!("")),
        Just(json!("-1")),
        Just(json!("9223372036854775808")),
        Just(json!("!!not base64")),
        Just(json!("AAAA")),
        Just(json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
        Just(json!("2024-02-30T00:00:00Z")),
        Just(json!("https://example.com")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([{}])),
        "\\PC{0,12}".prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
    ]
}

/// A seed with one member or element replaced by `value`, or removed.
fn mutate_value(
    seed: &[u8],
    pick: prop::sample::Index,
    value: Value,
    delete: bool,
) -> Option<Vec<u8>> {
    let mut doc: Value = serde_json::from_slice(seed).ok()?;
    let mut all = Vec::new();
    pointers(&doc, String::new(), &mut all);
    if all.is_empty() {
        return None;
    }
    let target = &all[pick.index(all.len())];
    let (parent, key) = target.rsplit_once('/')?;
    match doc.pointer_mut(parent)? {
        Value::Object(map) => {
            let key = key.replace("~1", "/").replace("~0", "~");
            if delete {
                map.remove(&key);
            } else {
                map.insert(key, value);
            }
        }
        Value::Array(items) => {
            let i: usize = key.parse().ok()?;
            if delete {
                items.remove(i);
            } else {
                items[i] = value;
            }
        }
        _ => return None,
    }
    Some(serde_json::to_vec(&doc).unwrap())
}

/// A byte-level mutation: overwrite, delete, insert or duplicate a range, or truncate.
#[derive(Clone, Debug)]
enum Edit {
    Set(prop::sample::Index, u8),
    Delete(prop::sample::Index, usize),
    Insert(prop::sample::Index, &'static str),
    Duplicate(prop::sample::Index, usize),
    Truncate(prop::sample::Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    let idx = any::<prop::sample::Index>;
    prop_oneof![
        (idx(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        (idx(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        (
            idx(),
            prop::sample::select(vec![
                "{",
                "}",
                "[",
                "]",
                "\"",
                ",",
                ":",
                "\\",
                "null",
                "-",
                "0",
                "1e9",
                "\"\"",
                "\\u0000",
                "\\ud800",
                "\n",
                "\u{fffd}",
                "==",
                "{\"mediaType\":1}",
            ])
        )
            .prop_map(|(i, s)| Edit::Insert(i, s)),
        (idx(), 1usize..256).prop_map(|(i, n)| Edit::Duplicate(i, n)),
        idx().prop_map(Edit::Truncate),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        let at = |i: &prop::sample::Index, len: usize| i.index(len + 1);
        match e {
            Edit::Set(i, v) if !b.is_empty() => {
                let i = i.index(b.len());
                b[i] = *v;
            }
            Edit::Set(..) => {}
            Edit::Delete(i, n) => {
                let start = at(i, b.len());
                let end = (start + n).min(b.len());
                b.drain(start..end);
            }
            Edit::Insert(i, s) => {
                let start = at(i, b.len());
                b.splice(start..start, s.bytes());
            }
            Edit::Duplicate(i, n) => {
                let start = at(i, b.len());
                let end = (start + n).min(b.len());
                let copy = b[start..end].to_vec();
                b.splice(end..end, copy);
            }
            Edit::Truncate(i) => {
                let len = at(i, b.len());
                b.truncate(len);
            }
        }
    }
    b
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    corpus(target).into_iter().map(|(_, data)| data).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn bundle_seeds_with_a_value_changed(
        seed in prop::sample::select(seeds("bundle")),
        pick in any::<prop::sample::Index>(),
        value in replacement(),
        delete in any::<bool>(),
    ) {
        if let Some(data) = mutate_value(&seed, pick, value, delete) {
            fuzzing::fuzz_bundle(&data);
        }
    }

    #[test]
    fn bundle_seeds_with_bytes_changed(
        seed in prop::sample::select(seeds("bundle")),
        edits in prop::collection::vec(edit(), 1..5),
    ) {
        fuzzing::fuzz_bundle(&apply(&seed, &edits));
    }

    #[test]
    fn trust_seeds_with_a_value_changed(
        seed in prop::sample::select([seeds("trusted_root"), seeds("signing_config")].concat()),
        pick in any::<prop::sample::Index>(),
        value in replacement(),
        delete in any::<bool>(),
    ) {
        if let Some(data) = mutate_value(&seed, pick, value, delete) {
            fuzzing::fuzz_trusted_root(&data);
            fuzzing::fuzz_signing_config(&data);
        }
    }

    #[test]
    fn trust_seeds_with_bytes_changed(
        seed in prop::sample::select([seeds("trusted_root"), seeds("signing_config")].concat()),
        edits in prop::collection::vec(edit(), 1..5),
    ) {
        let data = apply(&seed, &edits);
        fuzzing::fuzz_trusted_root(&data);
        fuzzing::fuzz_signing_config(&data);
    }

    #[test]
    fn dsse_seeds_mutated(
        seed in prop::sample::select(seeds("dsse")),
        pick in any::<prop::sample::Index>(),
        value in replacement(),
        delete in any::<bool>(),
        edits in prop::collection::vec(edit(), 0..4),
    ) {
        if let Some(data) = mutate_value(&seed, pick, value, delete) {
            fuzzing::fuzz_dsse(&data);
        }
        fuzzing::fuzz_dsse(&apply(&seed, &edits));
    }
}
