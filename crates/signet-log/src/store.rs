//! The storage contract of the log ([`LogStore`]) and its embedded implementation
//! ([`RedbStore`], in `store/redb.rs`).
//!
//! The store is deliberately dumb: it persists what the sequencer computed (leaves,
//! complete Merkle nodes, a signed checkpoint, search keys) and answers reads. It
//! never hashes, signs or validates entries, so another backend (a SQL database for
//! a replicated deployment) only has to honour the contract below.

mod redb;

use signet_tlog::merkle::Hash;
use signet_tlog::{LogIndex, TreeSize};

pub use self::redb::{CommitMode, RedbStore};
use crate::merkle::NodeId;

/// Facts about a log fixed when it is created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogIdentity {
    /// The tree ID (decimal in checkpoint origins, `<hostname> - <treeID>`).
    pub tree_id: i64,
    /// The DER `SubjectPublicKeyInfo` of the log's key.
    pub public_key_spki: Vec<u8>,
    /// When the log was created (Unix seconds): the start of its key's validity.
    pub created_at: i64,
}

/// One leaf, as appended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewLeaf {
    /// Its index (consecutive within a batch, starting at the store's tree size).
    pub index: LogIndex,
    /// The canonicalized body.
    pub body: Vec<u8>,
    /// `SHA-256(0x00 || body)`.
    pub leaf_hash: Hash,
    /// When the log integrated it (Unix seconds).
    pub integrated_time: i64,
    /// Search-index keys.
    pub search_keys: Vec<String>,
}

/// Everything one append commits, atomically.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendBatch {
    /// The leaves, in index order, starting at the store's current tree size.
    pub leaves: Vec<NewLeaf>,
    /// The complete nodes of level ≥ 1 that the leaves complete.
    pub nodes: Vec<(NodeId, Hash)>,
    /// The new tree size (`first index + leaves.len()`).
    pub tree_size: TreeSize,
    /// The signed checkpoint (C2SP signed note) for `tree_size`.
    pub checkpoint: String,
}

/// A stored leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLeaf {
    /// Its index.
    pub index: LogIndex,
    /// The canonicalized body.
    pub body: Vec<u8>,
    /// The leaf hash (the entry UUID).
    pub leaf_hash: Hash,
    /// When the log integrated it (Unix seconds).
    pub integrated_time: i64,
}

/// The latest committed state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredHead {
    /// The tree size.
    pub tree_size: TreeSize,
    /// The signed checkpoint for that size.
    pub checkpoint: String,
    /// The integrated time of the last leaf (0 for the empty log).
    pub last_integrated_time: i64,
}

/// Why the store failed. I/O and corruption are not the client's fault (HTTP 500/503).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The underlying database failed (I/O, a full disk, a lock held by another
    /// process).
    #[error("log storage failed while {action}")]
    Backend {
        /// What the store was doing.
        action: &'static str,
        /// The backend's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The stored data breaks an invariant: the store is corrupt or was written by
    /// something else. Run `signet log fsck`.
    #[error("log storage is inconsistent: {detail}; run `signet log fsck` on the data directory")]
    Corrupt {
        /// What was found.
        detail: String,
    },
    /// An append did not start at the current tree size (another writer, or a bug).
    #[error(
        "append starts at index {found} but the tree has {expected} leaves: another writer appended, or the sequencer is out of step"
    )]
    OutOfSequence {
        /// The current tree size.
        expected: u64,
        /// Where the batch started.
        found: u64,
    },
    /// An append would add a leaf that is already in the log.
    #[error(
        "leaf {leaf_hash} is already in the log at index {index}: duplicates are never appended"
    )]
    DuplicateLeaf {
        /// The leaf hash.
        leaf_hash: Hash,
        /// Where it already is.
        index: LogIndex,
    },
    /// The log was never initialized, or was initialized differently.
    #[error("log storage identity: {detail}")]
    Identity {
        /// What is wrong.
        detail: String,
    },
}

/// Storage for one log. Blocking: call it from a dedicated thread or `spawn_blocking`.
///
/// Contract (every implementation MUST keep it):
/// - [`LogStore::append`] is the **commit point**. It MUST be atomic (after a crash,
///   either the whole batch is visible or none of it) and durable when it returns
///   `Ok` (on disk, fsynced). On `Err`, nothing of the batch may be visible.
/// - It MUST refuse a batch whose first index is not the current tree size
///   ([`StoreError::OutOfSequence`]) or that adds a leaf hash already stored
///   ([`StoreError::DuplicateLeaf`]): leaves are never overwritten.
/// - Leaves, nodes and checkpoints are immutable once committed; reads MAY therefore
///   see a newer state than the head they were planned against, never an older one.
/// - [`LogStore::nodes`] MUST return the hashes in the order asked, from one
///   consistent snapshot, and fail with [`StoreError::Corrupt`] if a node of the
///   committed tree is missing.
/// - Reads are idempotent and may run concurrently with one append.
pub trait LogStore: Send + Sync + 'static {
    /// The log's identity, fixed at creation; `None` for a store never initialized.
    ///
    /// # Errors
    /// Backend failures.
    fn identity(&self) -> Result<Option<LogIdentity>, StoreError>;

    /// Initializes an empty store: records `identity` and the signed checkpoint of the
    /// empty tree, atomically and durably.
    ///
    /// # Errors
    /// [`StoreError::Identity`] when the store is already initialized; backend failures.
    fn initialize(&self, identity: &LogIdentity, empty_checkpoint: &str) -> Result<(), StoreError>;

    /// The latest committed state.
    ///
    /// # Errors
    /// Backend failures, [`StoreError::Corrupt`].
    fn head(&self) -> Result<StoredHead, StoreError>;

    /// Appends a batch: the commit point (see the trait docs).
    ///
    /// # Errors
    /// [`StoreError::OutOfSequence`], [`StoreError::DuplicateLeaf`], backend failures.
    fn append(&self, batch: &AppendBatch) -> Result<(), StoreError>;

    /// The hashes of complete nodes (level 0: leaf hashes), in the order given.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when a node is missing; backend failures.
    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError>;

    /// Where each leaf hash is in the log, if it is.
    ///
    /// # Errors
    /// Backend failures.
    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LogIndex>>, StoreError>;

    /// The leaf at `index`, if the log has one there.
    ///
    /// # Errors
    /// Backend failures.
    fn leaf(&self, index: LogIndex) -> Result<Option<StoredLeaf>, StoreError>;

    /// Up to `limit` leaves from `start`, in index order.
    ///
    /// # Errors
    /// Backend failures.
    fn leaves(&self, start: LogIndex, limit: usize) -> Result<Vec<StoredLeaf>, StoreError>;

    /// The signed checkpoint stored for `tree_size`, if any.
    ///
    /// # Errors
    /// Backend failures.
    fn checkpoint(&self, tree_size: TreeSize) -> Result<Option<String>, StoreError>;

    /// Up to `limit` stored checkpoints with a tree size ≥ `from`, in size order.
    ///
    /// # Errors
    /// Backend failures.
    fn checkpoints(
        &self,
        from: TreeSize,
        limit: usize,
    ) -> Result<Vec<(TreeSize, String)>, StoreError>;

    /// The indices of the leaves indexed under `key`, ascending, at most `limit`.
    ///
    /// # Errors
    /// Backend failures.
    fn search(&self, key: &str, limit: usize) -> Result<Vec<LogIndex>, StoreError>;
}
