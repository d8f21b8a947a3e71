//! [`RedbStore`]: the log in one redb file.
//!
//! Why redb rather than a hand-written append-only file: the log needs more than an
//! append-only sequence. Dedup and UUID lookups need a leaf-hash index, the Rekor
//! search API needs a multimap, and proofs need random access to ~2n node hashes.
//! redb gives all of these as B-trees in one file, with ACID transactions: one
//! write transaction per batch is the single commit point, readers see consistent
//! snapshots while the writer works, and a torn write after a crash is discarded.
//! Commits ([`CommitMode`]) use redb's two-phase commit with quick-repair by
//! default: the log stores attacker-chosen bytes, which redb's docs call out as a
//! reason for 2PC, and quick-repair makes reopening after a crash instant instead of
//! a walk of the whole file. Each commit then costs two fsyncs, shared by every entry
//! of the batch; [`CommitMode::OnePhase`] halves that (redb's default 1PC with
//! checksums) for deployments where fsync latency limits throughput.
//!
//! Tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | name | tree ID, log key SPKI, creation time, format version |
//! | `leaves` | index | integrated time (8 bytes BE) ‖ leaf hash (32) ‖ body |
//! | `leaf_index` | leaf hash | index |
//! | `nodes` | (level ≥ 1, index) | complete subtree hash |
//! | `checkpoints` | tree size | signed note |
//! | `search` | (SHA-256 of the index key, index) | () |

use std::path::Path;

use redb::{Database, Durability, ReadableDatabase as _, ReadableTable as _, TableDefinition};
use sha2::{Digest as _, Sha256};
use signet_tlog::merkle::Hash;
use signet_tlog::{LogIndex, TreeSize};

use super::{AppendBatch, LogIdentity, LogStore, StoreError, StoredHead, StoredLeaf};
use crate::merkle::NodeId;

const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
const LEAVES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("leaves");
const LEAF_INDEX: TableDefinition<'_, &[u8; 32], u64> = TableDefinition::new("leaf_index");
const NODES: TableDefinition<'_, (u8, u64), &[u8; 32]> = TableDefinition::new("nodes");
const CHECKPOINTS: TableDefinition<'_, u64, &str> = TableDefinition::new("checkpoints");
/// (SHA-256 of the search key, index): fixed-size keys keep the random inserts of
/// each batch cheap (about a third less commit time than a string multimap).
const SEARCH: TableDefinition<'_, (&[u8; 32], u64), ()> = TableDefinition::new("search");

const FORMAT_VERSION: &[u8] = b"signet-log/1";
const LEAF_HEADER: usize = 8 + 32;

fn backend<E: std::error::Error + Send + Sync + 'static>(
    action: &'static str,
) -> impl FnOnce(E) -> StoreError {
    move |e| StoreError::Backend {
        action,
        source: Box::new(e),
    }
}

fn corrupt(detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        detail: detail.into(),
    }
}

fn decode_leaf(index: u64, value: &[u8]) -> Result<StoredLeaf, StoreError> {
    if value.len() < LEAF_HEADER {
        return Err(corrupt(format!(
            "leaf {index} has {} bytes, fewer than its {LEAF_HEADER}-byte header",
            value.len()
        )));
    }
    let (time, rest) = value.split_at(8);
    let (hash, body) = rest.split_at(32);
    let mut t = [0u8; 8];
    t.copy_from_slice(time);
    let mut h = [0u8; 32];
    h.copy_from_slice(hash);
    Ok(StoredLeaf {
        index: LogIndex(index),
        body: body.to_vec(),
        leaf_hash: Hash(h),
        integrated_time: i64::from_be_bytes(t),
    })
}

fn search_hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn i64_value(name: &str, v: Option<&[u8]>) -> Result<i64, StoreError> {
    let bytes: [u8; 8] = v
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt(format!("meta {name} is missing or not 8 bytes")))?;
    Ok(i64::from_be_bytes(bytes))
}

/// How a [`RedbStore`] commits a batch (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommitMode {
    /// redb's two-phase commit with quick-repair: two fsyncs per batch; reopening
    /// after a crash is instant, and a torn write cannot be mistaken for a commit even
    /// by an attacker who controls the data and the timing of a crash.
    #[default]
    TwoPhase,
    /// redb's default one-phase commit: one fsync per batch, commits recognised by
    /// checksums (xxh3, not cryptographic) after a crash; reopening after a crash walks
    /// the whole file to repair the allocator. About twice the appends per second when
    /// fsync dominates (few concurrent clients, slow disks).
    OnePhase,
}

impl CommitMode {
    fn apply(self, txn: &mut redb::WriteTransaction) {
        match self {
            CommitMode::TwoPhase => txn.set_quick_repair(true),
            CommitMode::OnePhase => {
                txn.set_quick_repair(false);
                txn.set_two_phase_commit(false);
            }
        }
    }
}

/// The log in one redb file (see the module docs).
pub struct RedbStore {
    db: Database,
    commit: CommitMode,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens (creating if needed) the store at `path`, with a page cache of
    /// `cache_bytes`, committing appends as `commit` says. After a crash, redb repairs
    /// the file on open.
    ///
    /// # Errors
    /// [`StoreError::Backend`] (for instance when another process has it open).
    pub fn open(path: &Path, cache_bytes: usize, commit: CommitMode) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(backend("opening the database"))?;
        // Create every table, so that readers never meet a missing one (once: an
        // existing store is not written to just by opening it).
        let initialized = db
            .begin_read()
            .map_err(backend("starting a read transaction"))?
            .open_table(SEARCH)
            .is_ok();
        if initialized {
            return Ok(RedbStore { db, commit });
        }
        let txn = db
            .begin_write()
            .map_err(backend("starting the first transaction"))?;
        {
            txn.open_table(META).map_err(backend("creating tables"))?;
            txn.open_table(LEAVES).map_err(backend("creating tables"))?;
            txn.open_table(LEAF_INDEX)
                .map_err(backend("creating tables"))?;
            txn.open_table(NODES).map_err(backend("creating tables"))?;
            txn.open_table(CHECKPOINTS)
                .map_err(backend("creating tables"))?;
            txn.open_table(SEARCH).map_err(backend("creating tables"))?;
        }
        txn.commit().map_err(backend("creating tables"))?;
        Ok(RedbStore { db, commit })
    }

    fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.db
            .begin_read()
            .map_err(backend("starting a read transaction"))
    }

    /// A write transaction that is durable on commit, in this store's [`CommitMode`].
    fn write(&self, action: &'static str) -> Result<redb::WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write().map_err(backend(action))?;
        txn.set_durability(Durability::Immediate)
            .map_err(backend("setting durability"))?;
        self.commit.apply(&mut txn);
        Ok(txn)
    }
}

impl LogStore for RedbStore {
    fn identity(&self) -> Result<Option<LogIdentity>, StoreError> {
        let txn = self.read()?;
        let meta = txn.open_table(META).map_err(backend("reading meta"))?;
        let get = |k: &str| -> Result<Option<Vec<u8>>, StoreError> {
            Ok(meta
                .get(k)
                .map_err(backend("reading meta"))?
                .map(|v| v.value().to_vec()))
        };
        let Some(version) = get("version")? else {
            return Ok(None);
        };
        if version != FORMAT_VERSION {
            return Err(StoreError::Identity {
                detail: format!(
                    "the store has format {:?}, this build reads {:?}",
                    String::from_utf8_lossy(&version),
                    String::from_utf8_lossy(FORMAT_VERSION)
                ),
            });
        }
        Ok(Some(LogIdentity {
            tree_id: i64_value("tree_id", get("tree_id")?.as_deref())?,
            public_key_spki: get("public_key")?
                .ok_or_else(|| corrupt("meta public_key is missing"))?,
            created_at: i64_value("created_at", get("created_at")?.as_deref())?,
        }))
    }

    fn initialize(&self, identity: &LogIdentity, empty_checkpoint: &str) -> Result<(), StoreError> {
        let txn = self.write("starting the initial transaction")?;
        {
            let mut meta = txn.open_table(META).map_err(backend("writing meta"))?;
            if meta
                .get("version")
                .map_err(backend("reading meta"))?
                .is_some()
            {
                return Err(StoreError::Identity {
                    detail: "the store is already initialized".into(),
                });
            }
            for (name, value) in [
                ("tree_id", identity.tree_id.to_be_bytes().as_slice()),
                ("public_key", identity.public_key_spki.as_slice()),
                ("created_at", identity.created_at.to_be_bytes().as_slice()),
                ("version", FORMAT_VERSION),
            ] {
                meta.insert(name, value).map_err(backend("writing meta"))?;
            }
            let mut cps = txn
                .open_table(CHECKPOINTS)
                .map_err(backend("writing the first checkpoint"))?;
            cps.insert(0u64, empty_checkpoint)
                .map_err(backend("writing the first checkpoint"))?;
        }
        txn.commit()
            .map_err(backend("committing the initial state"))
    }

    fn head(&self) -> Result<StoredHead, StoreError> {
        let txn = self.read()?;
        let cps = txn
            .open_table(CHECKPOINTS)
            .map_err(backend("reading checkpoints"))?;
        let (size, checkpoint) = cps
            .last()
            .map_err(backend("reading checkpoints"))?
            .map(|(k, v)| (k.value(), v.value().to_owned()))
            .ok_or_else(|| corrupt("no checkpoint is stored, not even for the empty tree"))?;
        let leaves = txn.open_table(LEAVES).map_err(backend("reading leaves"))?;
        let last = leaves.last().map_err(backend("reading leaves"))?;
        let last_integrated_time = match last {
            None if size == 0 => 0,
            Some((k, v)) if k.value() + 1 == size => {
                decode_leaf(k.value(), v.value())?.integrated_time
            }
            Some((k, _)) => {
                return Err(corrupt(format!(
                    "the last checkpoint is for tree size {size} but the last leaf is {}",
                    k.value()
                )));
            }
            None => {
                return Err(corrupt(format!(
                    "the last checkpoint is for tree size {size} but there are no leaves"
                )));
            }
        };
        Ok(StoredHead {
            tree_size: TreeSize(size),
            checkpoint,
            last_integrated_time,
        })
    }

    fn append(&self, batch: &AppendBatch) -> Result<(), StoreError> {
        let Some(first) = batch.leaves.first() else {
            return Ok(());
        };
        let txn = self.write("starting an append")?;
        {
            let mut cps = txn
                .open_table(CHECKPOINTS)
                .map_err(backend("opening checkpoints"))?;
            let size = cps
                .last()
                .map_err(backend("reading checkpoints"))?
                .map(|(k, _)| k.value())
                .ok_or_else(|| corrupt("the store was never initialized"))?;
            if first.index.0 != size {
                return Err(StoreError::OutOfSequence {
                    expected: size,
                    found: first.index.0,
                });
            }
            let end = size + batch.leaves.len() as u64;
            if batch.tree_size.0 != end {
                return Err(StoreError::OutOfSequence {
                    expected: end,
                    found: batch.tree_size.0,
                });
            }
            let mut leaves = txn.open_table(LEAVES).map_err(backend("opening leaves"))?;
            let mut index = txn
                .open_table(LEAF_INDEX)
                .map_err(backend("opening the leaf index"))?;
            let mut search = txn
                .open_table(SEARCH)
                .map_err(backend("opening the search index"))?;
            let mut value = Vec::new();
            for (i, leaf) in batch.leaves.iter().enumerate() {
                let at = size + i as u64;
                if leaf.index.0 != at {
                    return Err(StoreError::OutOfSequence {
                        expected: at,
                        found: leaf.index.0,
                    });
                }
                if let Some(old) = index
                    .insert(&leaf.leaf_hash.0, at)
                    .map_err(backend("writing the leaf index"))?
                {
                    return Err(StoreError::DuplicateLeaf {
                        leaf_hash: leaf.leaf_hash,
                        index: LogIndex(old.value()),
                    });
                }
                value.clear();
                value.extend_from_slice(&leaf.integrated_time.to_be_bytes());
                value.extend_from_slice(&leaf.leaf_hash.0);
                value.extend_from_slice(&leaf.body);
                leaves
                    .insert(at, value.as_slice())
                    .map_err(backend("writing leaves"))?;
                for key in &leaf.search_keys {
                    search
                        .insert((&search_hash(key), at), ())
                        .map_err(backend("writing the search index"))?;
                }
            }
            let mut nodes = txn.open_table(NODES).map_err(backend("opening nodes"))?;
            for (id, hash) in &batch.nodes {
                if id.level == 0 {
                    continue; // leaf hashes live in `leaves`
                }
                nodes
                    .insert((id.level, id.index), &hash.0)
                    .map_err(backend("writing nodes"))?;
            }
            cps.insert(end, batch.checkpoint.as_str())
                .map_err(backend("writing the checkpoint"))?;
        }
        txn.commit().map_err(backend("committing an append"))
    }

    fn nodes(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let txn = self.read()?;
        let leaves = txn.open_table(LEAVES).map_err(backend("reading leaves"))?;
        let nodes = txn.open_table(NODES).map_err(backend("reading nodes"))?;
        ids.iter()
            .map(|id| {
                let missing = || corrupt(format!("node {id:?} of the committed tree is missing"));
                if id.level == 0 {
                    let v = leaves
                        .get(id.index)
                        .map_err(backend("reading leaves"))?
                        .ok_or_else(missing)?;
                    let v = v.value();
                    let h: [u8; 32] = v
                        .get(8..LEAF_HEADER)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(missing)?;
                    Ok(Hash(h))
                } else {
                    let v = nodes
                        .get((id.level, id.index))
                        .map_err(backend("reading nodes"))?
                        .ok_or_else(missing)?;
                    Ok(Hash(*v.value()))
                }
            })
            .collect()
    }

    fn find_leaves(&self, leaf_hashes: &[Hash]) -> Result<Vec<Option<LogIndex>>, StoreError> {
        let txn = self.read()?;
        let index = txn
            .open_table(LEAF_INDEX)
            .map_err(backend("reading the leaf index"))?;
        leaf_hashes
            .iter()
            .map(|h| {
                Ok(index
                    .get(&h.0)
                    .map_err(backend("reading the leaf index"))?
                    .map(|v| LogIndex(v.value())))
            })
            .collect()
    }

    fn leaf(&self, index: LogIndex) -> Result<Option<StoredLeaf>, StoreError> {
        let txn = self.read()?;
        let leaves = txn.open_table(LEAVES).map_err(backend("reading leaves"))?;
        leaves
            .get(index.0)
            .map_err(backend("reading leaves"))?
            .map(|v| decode_leaf(index.0, v.value()))
            .transpose()
    }

    fn leaves(&self, start: LogIndex, limit: usize) -> Result<Vec<StoredLeaf>, StoreError> {
        let txn = self.read()?;
        let leaves = txn.open_table(LEAVES).map_err(backend("reading leaves"))?;
        let mut out = Vec::new();
        for item in leaves
            .range(start.0..)
            .map_err(backend("reading leaves"))?
            .take(limit)
        {
            let (k, v) = item.map_err(backend("reading leaves"))?;
            out.push(decode_leaf(k.value(), v.value())?);
        }
        Ok(out)
    }

    fn checkpoint(&self, tree_size: TreeSize) -> Result<Option<String>, StoreError> {
        let txn = self.read()?;
        let cps = txn
            .open_table(CHECKPOINTS)
            .map_err(backend("reading checkpoints"))?;
        Ok(cps
            .get(tree_size.0)
            .map_err(backend("reading checkpoints"))?
            .map(|v| v.value().to_owned()))
    }

    fn checkpoints(
        &self,
        from: TreeSize,
        limit: usize,
    ) -> Result<Vec<(TreeSize, String)>, StoreError> {
        let txn = self.read()?;
        let cps = txn
            .open_table(CHECKPOINTS)
            .map_err(backend("reading checkpoints"))?;
        let mut out = Vec::new();
        for item in cps
            .range(from.0..)
            .map_err(backend("reading checkpoints"))?
            .take(limit)
        {
            let (k, v) = item.map_err(backend("reading checkpoints"))?;
            out.push((TreeSize(k.value()), v.value().to_owned()));
        }
        Ok(out)
    }

    fn search(&self, key: &str, limit: usize) -> Result<Vec<LogIndex>, StoreError> {
        let txn = self.read()?;
        let search = txn
            .open_table(SEARCH)
            .map_err(backend("reading the search index"))?;
        let h = search_hash(key);
        let mut out = Vec::new();
        for item in search
            .range((&h, 0u64)..=(&h, u64::MAX))
            .map_err(backend("reading the search index"))?
            .take(limit)
        {
            let (k, _) = item.map_err(backend("reading the search index"))?;
            out.push(LogIndex(k.value().1));
        }
        Ok(out)
    }
}
