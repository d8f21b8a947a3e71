//! The log's error type. HTTP status codes are assigned in one place, `http.rs`.

use std::path::PathBuf;

use signet_tlog::merkle::Hash;
use signet_tlog::{LogIndex, TreeSize};

use crate::entry::EntryRejection;
use crate::store::StoreError;

/// Everything that can go wrong in the log, grouped by who must act.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The client's request is malformed or refers to nothing valid (HTTP 400).
    #[error("invalid request: {detail}")]
    BadRequest {
        /// What is wrong, naming the parameter.
        detail: String,
    },
    /// A proposed entry failed validation (HTTP 400); nothing was written.
    #[error("the entry was rejected")]
    Rejected(#[source] EntryRejection),
    /// The entry is already in the log (HTTP 409, with its location).
    #[error("An equivalent entry already exists in the transparency log with UUID {uuid}")]
    Duplicate {
        /// The existing entry's UUID (its leaf hash).
        uuid: Hash,
        /// Its index.
        index: LogIndex,
    },
    /// No such entry (HTTP 404).
    #[error("{what} was not found in the log")]
    NotFound {
        /// What was asked for.
        what: String,
    },
    /// A tree size beyond the current tree (HTTP 400, as Rekor).
    #[error("tree size {requested} is larger than the current tree size {current}")]
    TreeSizeTooLarge {
        /// What was asked for.
        requested: TreeSize,
        /// The current size.
        current: TreeSize,
    },
    /// The log cannot take entries now (HTTP 503, with `Retry-After`): the queue is
    /// full, the log is shutting down, or a commit failed and was rolled back.
    #[error("the log is unavailable: {detail}")]
    Unavailable {
        /// Why, and whether retrying helps.
        detail: String,
    },
    /// The storage failed (HTTP 500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file in the data directory could not be read or written.
    #[error("{action} failed for {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The log key file is unusable.
    #[error("the log key {} is unusable: {detail}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The key file does not belong to the log in the store.
    #[error(
        "the log key {} is not the key this log was created with (log ID {expected}, key file {found}): restore the original key file, or use a new data directory",
        path.display()
    )]
    KeyMismatch {
        /// The key file.
        path: PathBuf,
        /// The log ID recorded in the store.
        expected: String,
        /// The log ID of the key file.
        found: String,
    },
    /// The configuration is invalid.
    #[error("invalid log configuration: {detail}")]
    Config {
        /// What is wrong.
        detail: String,
    },
    /// Signing a checkpoint or SET failed.
    #[error("signing {what} failed: {detail}")]
    Signing {
        /// What was being signed.
        what: &'static str,
        /// The signer's error.
        detail: String,
    },
}

/// An error and its sources on one line: `a: b: c`.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
