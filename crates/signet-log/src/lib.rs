//! A Rekor v1-compatible transparency log: the log half of `signet serve`.
//!
//! Clients (cosign, sigstore-python, sigstore-js, signet) submit `hashedrekord` 0.0.1
//! and `dsse` 0.0.1 entries; the log verifies their signatures, stores the
//! canonicalized body as a leaf of an RFC 6962 Merkle tree, and answers with what
//! Rekor answers: the entry, a signed entry timestamp (SET), an inclusion proof and a
//! C2SP signed-note checkpoint `<hostname> - <treeID>`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), signet_log::LogError> {
//! use signet_log::{LogConfig, LogService};
//!
//! let log = LogService::open(std::path::Path::new("/var/lib/signet/log"),
//!     LogConfig::from_base_url("https://log.example.com")?)?;
//! let tlog = log.transparency_log_instance("https://log.example.com"); // trusted_root.json tlogs[]
//! let app = axum::Router::new().merge(log.router());
//! # let _ = (tlog, app);
//! # Ok(()) }
//! ```
//!
//! # Layers
//! - [`entry`] (pure): parse, verify and canonicalize proposed entries, as Rekor's
//!   `hashedrekord` and `dsse` types do; search keys as Rekor's `IndexKeys`.
//! - [`merkle`] (pure): which stored complete subtrees a proof needs
//!   ([`merkle::ProofPlan`]), and the writer's right edge ([`merkle::Frontier`]).
//!   Hashing and proof *verification* are `signet-tlog`'s.
//! - [`store`]: the [`LogStore`] contract and [`RedbStore`], one redb file (why redb,
//!   and the tables, are in `store/redb.rs`).
//! - The sequencer (one writer thread): batches concurrent submissions, assigns
//!   indices, extends the tree, signs the checkpoint and commits the batch in one
//!   transaction; nothing is acknowledged before that commit returns.
//! - [`LogService`]: opens a data directory (`log.redb`, and `log-key.pem`, the
//!   ECDSA P-256 log key, mode 0600, generated on first start) and serves reads. A
//!   new log starts with a genesis entry at index 0, a `hashedrekord` signed by the
//!   log key: cosign 2.5 (sigstore-go before 1.0) cannot verify a bundle whose entry
//!   has log index 0, so client entries start at 1.
//! - [`LogService::router`]: the HTTP API (axum), errors as Rekor's
//!   `{"code", "message"}` JSON:
//!
//! | route | answer |
//! |---|---|
//! | `POST /api/v1/log/entries` | 201 + entry, `Location`; 400 invalid, 409 duplicate (+ `Location`), 413 too large, 503 + `Retry-After` |
//! | `GET /api/v1/log/entries/{uuid}` | the entry (64-hex UUID or 80-hex entry ID) |
//! | `GET /api/v1/log/entries?logIndex=N` | the entry |
//! | `GET /api/v1/log` | `{rootHash, signedTreeHead, treeID, treeSize}` |
//! | `GET /api/v1/log/proof?firstSize=&lastSize=` | `{hashes, rootHash}` |
//! | `POST /api/v1/index/retrieve` | UUIDs by `hash`, `publicKey` (x509) or `email`, `operator` and/or |
//! | `GET /api/v1/log/publicKey` | the log key, PEM |
//!
//! - [`fsck()`]: recompute the tree from the leaves and check every node, checkpoint
//!   and consistency proof of a stopped log.
//!
//! # What this crate does not do
//! - No Rekor v2 (tiles) API, no `rekord`/`intoto`/other entry types, no
//!   `POST /api/v1/log/entries/retrieve`, no sharding (one tree, no inactive shards).
//! - No attestation storage: DSSE envelopes are hashed, not kept (as Rekor).
//! - `hashedrekord` digests must be sha256; Ed25519 keys cannot sign digests
//!   (Rekor would need `ed25519ph`).
//! - No TLS and no listener: the caller serves the router.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod entry;
mod error;
pub mod fsck;
mod http;
mod key;
pub mod merkle;
mod sequencer;
mod service;
pub mod store;

pub use error::LogError;
pub use fsck::{FsckProblem, FsckReport, fsck};
pub use key::KEY_FILE;
pub use service::{
    ConsistencyProof, LogConfig, LogEntry, LogService, STORE_FILE, SearchOperator, SearchQuery,
    TreeHead, danger,
};
pub use store::{CommitMode, LogStore, RedbStore, StoreError};

/// Entry points for fuzzers: each must never panic on any input.
#[doc(hidden)]
pub mod fuzzing {
    /// Validates and canonicalizes `data` as a proposed Rekor entry.
    pub fn fuzz_proposed_entry(data: &[u8]) {
        let _ = crate::entry::canonicalize_proposed_entry(data);
    }
}
