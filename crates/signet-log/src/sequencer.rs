//! The single writer: groups concurrent submissions into batches and commits each
//! batch once.
//!
//! For each batch, on one OS thread: look up every leaf hash (existing entries are
//! answered 409 at once) → drop duplicates within the batch → assign consecutive
//! indices and one integrated time (never earlier than the last one) → extend the
//! Merkle frontier (new complete nodes, new root) → sign the checkpoint for the new
//! size → [`LogStore::append`], the commit point (one transaction, fsynced) → publish
//! the new head → answer every submitter. Nothing is answered before the commit
//! returns, so an acknowledged entry is durable. If the commit fails, every submitter
//! of the batch gets 503 and the writer reloads its state from the store.
//!
//! Batching comes from the queue itself: while one commit is in flight, new
//! submissions wait in the channel and form the next batch, so fsyncs are shared
//! without an artificial delay.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use signet_tlog::checkpoint::Checkpoint;
use signet_tlog::merkle::Hash;
use signet_tlog::{LogIndex, TreeSize};
use tokio::sync::{mpsc, oneshot};

use crate::LogError;
use crate::entry::CanonicalEntry;
use crate::error::chain;
use crate::key::LogKey;
use crate::merkle::Frontier;
use crate::store::{AppendBatch, LogStore, NewLeaf, StoreError};

/// The committed state readers use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) tree_size: TreeSize,
    pub(crate) root: Hash,
    pub(crate) checkpoint: Arc<str>,
}

/// Where an accepted entry went.
#[derive(Clone, Debug)]
pub(crate) struct Appended {
    pub(crate) index: LogIndex,
    pub(crate) integrated_time: i64,
    /// The head right after the batch that holds the entry.
    pub(crate) head: Arc<Head>,
}

pub(crate) type Reply = oneshot::Sender<Result<Appended, LogError>>;

/// One entry waiting to be sequenced.
pub(crate) struct Submission {
    pub(crate) entry: CanonicalEntry,
    pub(crate) reply: Reply,
}

/// What the writer needs; moved onto its thread.
pub(crate) struct Sequencer {
    pub(crate) store: Arc<dyn LogStore>,
    pub(crate) key: Arc<LogKey>,
    pub(crate) hostname: String,
    pub(crate) tree_id: i64,
    pub(crate) max_batch: usize,
    pub(crate) head: Arc<RwLock<Arc<Head>>>,
    pub(crate) frontier: Frontier,
    pub(crate) last_time: i64,
}

/// Reads the committed head and frontier from the store.
pub(crate) fn load_state(store: &dyn LogStore) -> Result<(Head, Frontier, i64), LogError> {
    let stored = store.head()?;
    let ids = Frontier::nodes_for(stored.tree_size);
    let hashes = store.nodes(&ids)?;
    let frontier =
        Frontier::from_nodes(stored.tree_size, &hashes).map_err(|e| StoreError::Corrupt {
            detail: e.to_string(),
        })?;
    let body = parse_checkpoint(&stored.checkpoint).ok_or_else(|| StoreError::Corrupt {
        detail: format!(
            "the checkpoint for tree size {} does not parse",
            stored.tree_size
        ),
    })?;
    if body.tree_size != stored.tree_size || body.root_hash != frontier.root() {
        return Err(StoreError::Corrupt {
            detail: format!(
                "the checkpoint for tree size {} says size {} root {}, the stored tree has root {}",
                stored.tree_size,
                body.tree_size,
                body.root_hash,
                frontier.root()
            ),
        }
        .into());
    }
    let head = Head {
        tree_size: stored.tree_size,
        root: frontier.root(),
        checkpoint: stored.checkpoint.into(),
    };
    Ok((head, frontier, stored.last_integrated_time))
}

/// The body of a stored signed checkpoint (the store wrote it, so it is not verified).
pub(crate) fn parse_checkpoint(note: &str) -> Option<Checkpoint> {
    let note = signet_tlog::checkpoint::Note::parse(note.as_bytes()).ok()?;
    Checkpoint::parse_body(note.text()).ok()
}

/// The current time in Unix seconds.
pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Sequencer {
    /// Runs until every sender is dropped.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Submission>) {
        while let Some(first) = rx.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(s) => batch.push(s),
                    Err(_) => break,
                }
            }
            self.process(batch);
        }
    }

    fn process(&mut self, batch: Vec<Submission>) {
        let hashes: Vec<Hash> = batch.iter().map(|s| s.entry.leaf_hash).collect();
        let existing = match self.store.find_leaves(&hashes) {
            Ok(e) => e,
            Err(e) => {
                let detail = chain(&e);
                for s in batch {
                    let _ = s.reply.send(Err(LogError::Unavailable {
                        detail: detail.clone(),
                    }));
                }
                return;
            }
        };

        let start = self.frontier.size().0;
        let mut accepted: Vec<Submission> = Vec::with_capacity(batch.len());
        // Duplicates of an entry accepted in this batch: answered after the commit.
        let mut in_batch_dups: Vec<(Submission, usize)> = Vec::new();
        let mut position: HashMap<Hash, usize> = HashMap::new();
        for (s, found) in batch.into_iter().zip(existing) {
            if let Some(index) = found {
                let uuid = s.entry.leaf_hash;
                let _ = s.reply.send(Err(LogError::Duplicate { uuid, index }));
            } else if let Some(&p) = position.get(&s.entry.leaf_hash) {
                in_batch_dups.push((s, p));
            } else {
                position.insert(s.entry.leaf_hash, accepted.len());
                accepted.push(s);
            }
        }
        if accepted.is_empty() {
            return;
        }

        let time = now_unix().max(self.last_time);
        let mut frontier = self.frontier.clone();
        let mut nodes = Vec::new();
        let mut leaves = Vec::with_capacity(accepted.len());
        let mut replies = Vec::with_capacity(accepted.len());
        for (i, s) in accepted.into_iter().enumerate() {
            let index = LogIndex(start + i as u64);
            let entry = s.entry;
            nodes.extend(
                frontier
                    .append(entry.leaf_hash)
                    .into_iter()
                    .filter(|(id, _)| id.level > 0),
            );
            leaves.push(NewLeaf {
                index,
                body: entry.body,
                leaf_hash: entry.leaf_hash,
                integrated_time: time,
                search_keys: entry.search_keys,
            });
            replies.push(s.reply);
        }
        let tree_size = frontier.size();
        let root = frontier.root();
        let result = self
            .key
            .sign_checkpoint(&self.hostname, self.tree_id, tree_size, root)
            .and_then(|checkpoint| {
                let batch = AppendBatch {
                    leaves,
                    nodes,
                    tree_size,
                    checkpoint,
                };
                self.store.append(&batch)?;
                Ok(batch.checkpoint)
            });
        match result {
            Ok(checkpoint) => {
                self.frontier = frontier;
                self.last_time = time;
                let head = Arc::new(Head {
                    tree_size,
                    root,
                    checkpoint: checkpoint.into(),
                });
                self.publish(head.clone());
                for (i, reply) in replies.into_iter().enumerate() {
                    let _ = reply.send(Ok(Appended {
                        index: LogIndex(start + i as u64),
                        integrated_time: time,
                        head: head.clone(),
                    }));
                }
                for (s, p) in in_batch_dups {
                    let _ = s.reply.send(Err(LogError::Duplicate {
                        uuid: s.entry.leaf_hash,
                        index: LogIndex(start + p as u64),
                    }));
                }
            }
            Err(e) => {
                let detail = format!(
                    "the batch was not committed ({}); retry the request",
                    chain(&e)
                );
                for reply in replies
                    .into_iter()
                    .chain(in_batch_dups.into_iter().map(|(s, _)| s.reply))
                {
                    let _ = reply.send(Err(LogError::Unavailable {
                        detail: detail.clone(),
                    }));
                }
                self.resync();
            }
        }
    }

    /// After a failed commit: reload the head and frontier from the store (the commit
    /// may or may not have happened). If even that fails, keep the old state: the next
    /// append is then refused by the store's sequence check until a resync works.
    fn resync(&mut self) {
        if let Ok((head, frontier, last_time)) = load_state(self.store.as_ref()) {
            self.frontier = frontier;
            self.last_time = self.last_time.max(last_time);
            self.publish(Arc::new(head));
        }
    }

    /// Makes `head` the one readers see.
    fn publish(&self, head: Arc<Head>) {
        match self.head.write() {
            Ok(mut h) => *h = head,
            Err(poisoned) => *poisoned.into_inner() = head,
        }
    }
}
