//! Transparency-log verification primitives for signet, compatible with Sigstore's
//! Rekor v1 and Rekor v2 (tiles) logs.
//!
//! - [`merkle`]: RFC 6962 leaf/node hashing, tree roots, and RFC 9162 inclusion and
//!   consistency proofs (verification and generation). Newtypes [`Hash`],
//!   [`LogIndex`], [`TreeSize`].
//! - [`checkpoint`]: C2SP signed notes and tlog checkpoints, with the key-hint rules
//!   of Rekor v1 (ECDSA: SHA-256 of the SPKI) and v2 (Ed25519: the C2SP rule);
//!   [`checkpoint::verify_inclusion_against_checkpoint`] ties a proof to a signed
//!   checkpoint; [`checkpoint::sign_note`] is the signing counterpart (Rekor v1's
//!   layout), for logs that issue checkpoints.
//! - [`set`]: Rekor v1 signed entry timestamps, over the RFC 8785 form built by [`jcs`]
//!   ([`set::verify_set`], and [`set::sign_set`] for a log).
//! - [`entry`]: typed Rekor entry bodies (`hashedrekord`, `dsse`, `intoto`).
//!
//! ```
//! use signet_tlog::merkle::{inclusion_proof, leaf_hash, root_from_leaves, verify_inclusion};
//! use signet_tlog::{LogIndex, TreeSize};
//!
//! let leaves: Vec<_> = [b"a", b"b", b"c"].iter().map(|d| leaf_hash(*d)).collect();
//! let root = root_from_leaves(&leaves);
//! let proof = inclusion_proof(&leaves, LogIndex(2))?;
//! verify_inclusion(&leaves[2], LogIndex(2), TreeSize(3), &proof, &root)?;
//! # Ok::<(), signet_tlog::merkle::ProofError>(())
//! ```
//!
//! # What this crate does not do
//! - No I/O, no clock, no async: callers fetch entries and checkpoints. Signing takes
//!   a `signet_crypto::Signer`; running a log is `signet-log`'s job.
//! - It does not parse bundles or trusted roots, choose the log key by log ID, check
//!   key validity windows, or compare an entry with a bundle's signature and artifact;
//!   that is `signet-verify`'s job.
//! - No witness cosignature (`c2sp.org/tlog-cosignature`) verification, no tlog-tiles
//!   paths yet, and JCS handles integers only.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod entry;
pub mod jcs;
pub mod merkle;
pub mod set;

pub use merkle::{Hash, LogIndex, TreeSize};

/// Entry points for fuzzers and raw-bytes property tests. They must never panic.
#[doc(hidden)]
pub mod fuzzing {
    /// Parses `data` as a signed checkpoint (structure only, no keys).
    pub fn fuzz_checkpoint(data: &[u8]) {
        if let Ok(note) = crate::checkpoint::Note::parse(data) {
            if let Ok(cp) = crate::checkpoint::Checkpoint::parse_body(note.text()) {
                // Re-encoding a parsed body must give the same text.
                assert_eq!(cp.to_body(), note.text());
            }
            let _ = note.verify(&[]);
        }
    }

    /// Parses `data` as a Rekor entry body.
    pub fn fuzz_entry(data: &[u8]) {
        let _ = crate::entry::EntryBody::parse(data);
    }

    /// Canonicalizes `data` as JSON; canonical output must be a fixed point.
    pub fn fuzz_jcs(data: &[u8]) {
        if let Ok(c) = crate::jcs::canonicalize_json(data) {
            assert_eq!(
                crate::jcs::canonicalize_json(c.as_bytes()).as_deref(),
                Ok(c.as_str())
            );
        }
    }
}
