//! `fsck`: check a stopped log's store against itself and its checkpoints.
//!
//! 1. Every leaf, in order: indices are contiguous, the stored leaf hash is
//!    `SHA-256(0x00 || body)`, the body parses as a Rekor entry, and the leaf-hash
//!    index points back at it (a second leaf with the same hash is a duplicate).
//! 2. The tree is recomputed from the leaves; every stored complete node must equal
//!    the recomputed one.
//! 3. Every stored checkpoint: its signature verifies with the log key (from the
//!    store), its origin is `<signer name> - <tree ID>`, its size is its key, and
//!    its root is the recomputed root at that size.
//! 4. Between consecutive checkpoints, the consistency proof the log serves (read
//!    from stored nodes) verifies with signet-tlog.
//! 5. The last checkpoint is for the number of leaves.

use std::fmt;
use std::path::Path;

use signet_crypto::PublicKey;
use signet_tlog::checkpoint::{Note, NoteVerifier, verify_checkpoint};
use signet_tlog::merkle::{Hash, leaf_hash, verify_consistency};
use signet_tlog::{LogIndex, TreeSize};

use crate::LogError;
use crate::key::{KEY_FILE, LogKey};
use crate::merkle::{Frontier, NodeId, ProofPlan};
use crate::service::{STORE_FILE, check_key, open_store};
use crate::store::{CommitMode, LogStore, StoreError};

/// The most problems a report lists (the count is always exact).
const MAX_LISTED: usize = 100;
const CHUNK: usize = 4096;

/// One inconsistency found by [`fsck`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FsckProblem {
    /// Leaf indices are not contiguous.
    IndexGap {
        /// The index expected next.
        expected: LogIndex,
        /// The index found.
        found: LogIndex,
    },
    /// The stored leaf hash is not the hash of the stored body.
    LeafHashMismatch {
        /// The leaf.
        index: LogIndex,
    },
    /// The body is not a Rekor entry.
    UnparseableBody {
        /// The leaf.
        index: LogIndex,
        /// The parser's message.
        detail: String,
    },
    /// The same leaf hash is stored twice.
    DuplicateLeaf {
        /// The later leaf.
        index: LogIndex,
        /// Where the index says the hash is.
        first: Option<LogIndex>,
    },
    /// A stored node differs from the recomputed one.
    NodeMismatch {
        /// The node.
        node: NodeId,
    },
    /// A checkpoint does not verify, parse, or match the recomputed tree.
    BadCheckpoint {
        /// The tree size it is stored under.
        tree_size: TreeSize,
        /// What is wrong.
        detail: String,
    },
    /// The consistency proof between two checkpoints does not verify.
    Inconsistent {
        /// The older checkpoint.
        old: TreeSize,
        /// The newer checkpoint.
        new: TreeSize,
        /// The verifier's message.
        detail: String,
    },
    /// The latest checkpoint is not for the number of leaves.
    HeadMismatch {
        /// The size of the latest checkpoint.
        checkpoint: TreeSize,
        /// The number of leaves.
        leaves: u64,
    },
    /// The key file is not the log's key.
    KeyFile {
        /// What is wrong.
        detail: String,
    },
}

impl fmt::Display for FsckProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsckProblem::IndexGap { expected, found } => {
                write!(
                    f,
                    "leaf index {found} follows {}: a gap",
                    expected.0.wrapping_sub(1)
                )
            }
            FsckProblem::LeafHashMismatch { index } => {
                write!(
                    f,
                    "leaf {index}: the stored leaf hash is not the hash of its body"
                )
            }
            FsckProblem::UnparseableBody { index, detail } => {
                write!(f, "leaf {index}: the body is not a Rekor entry: {detail}")
            }
            FsckProblem::DuplicateLeaf { index, first } => match first {
                Some(first) => write!(f, "leaf {index} duplicates leaf {first}"),
                None => write!(f, "leaf {index} is missing from the leaf-hash index"),
            },
            FsckProblem::NodeMismatch { node } => write!(
                f,
                "stored node at level {} index {} differs from the recomputed tree",
                node.level, node.index
            ),
            FsckProblem::BadCheckpoint { tree_size, detail } => {
                write!(f, "checkpoint for tree size {tree_size}: {detail}")
            }
            FsckProblem::Inconsistent { old, new, detail } => write!(
                f,
                "checkpoints {old} and {new} are not consistent: {detail}"
            ),
            FsckProblem::HeadMismatch { checkpoint, leaves } => write!(
                f,
                "the latest checkpoint is for tree size {checkpoint} but there are {leaves} leaves"
            ),
            FsckProblem::KeyFile { detail } => write!(f, "{KEY_FILE}: {detail}"),
        }
    }
}

/// What [`fsck`] checked and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FsckReport {
    /// The number of leaves.
    pub tree_size: u64,
    /// Leaves checked.
    pub leaves_checked: u64,
    /// Stored complete nodes (level ≥ 1) compared with the recomputed tree.
    pub nodes_checked: u64,
    /// Checkpoints verified.
    pub checkpoints_checked: u64,
    /// Consistency proofs verified between consecutive checkpoints.
    pub consistency_proofs_checked: u64,
    /// The first problems found (at most 100).
    pub problems: Vec<FsckProblem>,
    /// How many problems were found in all.
    pub problem_count: u64,
}

impl FsckReport {
    /// Whether no problem was found.
    pub fn is_clean(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, p: FsckProblem) {
        self.problem_count += 1;
        if self.problems.len() < MAX_LISTED {
            self.problems.push(p);
        }
    }
}

impl fmt::Display for FsckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "tree size {}: {} leaves, {} nodes, {} checkpoints, {} consistency proofs checked",
            self.tree_size,
            self.leaves_checked,
            self.nodes_checked,
            self.checkpoints_checked,
            self.consistency_proofs_checked
        )?;
        if self.is_clean() {
            return writeln!(f, "ok: no problems found");
        }
        for p in &self.problems {
            writeln!(f, "problem: {p}")?;
        }
        if self.problem_count > self.problems.len() as u64 {
            writeln!(
                f,
                "… and {} more",
                self.problem_count - self.problems.len() as u64
            )?;
        }
        writeln!(f, "FAILED: {} problems", self.problem_count)
    }
}

/// Checks the log in `data_dir` (see the module docs). The log must not be running:
/// the store is locked by the process that has it open.
///
/// # Errors
/// [`LogError::Io`] when there is no store, [`LogError::Store`] when it cannot be
/// opened or read. Inconsistencies are not errors: they are in the report.
pub fn fsck(data_dir: &Path) -> Result<FsckReport, LogError> {
    let path = data_dir.join(STORE_FILE);
    if !path.exists() {
        return Err(LogError::Io {
            action: "opening the log store",
            path,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let store = open_store(data_dir, 64 << 20, CommitMode::default())?;
    let identity = store.identity()?.ok_or_else(|| StoreError::Corrupt {
        detail: "the store was never initialized".into(),
    })?;
    let public_key =
        PublicKey::from_spki_der(&identity.public_key_spki).map_err(|e| StoreError::Corrupt {
            detail: format!("the stored log key does not parse: {e}"),
        })?;
    let mut report = FsckReport::default();
    match LogKey::load(data_dir) {
        Ok(key) => {
            if let Err(e) = check_key(data_dir, &identity, &key) {
                report.problem(FsckProblem::KeyFile {
                    detail: e.to_string(),
                });
            }
        }
        Err(e) => report.problem(FsckProblem::KeyFile {
            detail: e.to_string(),
        }),
    }
    let store: &dyn LogStore = store.as_ref();
    let mut checkpoints = Checkpoints {
        all: all_checkpoints(store)?,
        next: 0,
        key: public_key,
        tree_id: identity.tree_id,
        verified: Vec::new(),
    };
    let mut frontier = Frontier::empty();
    checkpoints.check_at(&mut report, &frontier);
    let mut expected = 0u64;
    loop {
        let leaves = store.leaves(LogIndex(expected), CHUNK)?;
        if leaves.is_empty() {
            break;
        }
        let hashes: Vec<Hash> = leaves.iter().map(|l| l.leaf_hash).collect();
        let indexed = store.find_leaves(&hashes)?;
        let mut created = Vec::new();
        for (leaf, at) in leaves.iter().zip(indexed) {
            if leaf.index.0 != expected {
                report.problem(FsckProblem::IndexGap {
                    expected: LogIndex(expected),
                    found: leaf.index,
                });
                // Nothing after a gap can be placed in the tree.
                report.tree_size = expected;
                return Ok(finish(report, store, &checkpoints, expected));
            }
            if leaf_hash(&leaf.body) != leaf.leaf_hash {
                report.problem(FsckProblem::LeafHashMismatch { index: leaf.index });
            }
            if let Err(e) = signet_tlog::entry::EntryBody::parse(&leaf.body) {
                report.problem(FsckProblem::UnparseableBody {
                    index: leaf.index,
                    detail: e.to_string(),
                });
            }
            if at != Some(leaf.index) {
                report.problem(FsckProblem::DuplicateLeaf {
                    index: leaf.index,
                    first: at,
                });
            }
            created.extend(
                frontier
                    .append(leaf.leaf_hash)
                    .into_iter()
                    .filter(|(id, _)| id.level > 0),
            );
            report.leaves_checked += 1;
            expected += 1;
            checkpoints.check_at(&mut report, &frontier);
        }
        let ids: Vec<NodeId> = created.iter().map(|(id, _)| *id).collect();
        match store.nodes(&ids) {
            Ok(stored) => {
                for ((id, want), got) in created.iter().zip(stored) {
                    if *want != got {
                        report.problem(FsckProblem::NodeMismatch { node: *id });
                    }
                }
            }
            Err(StoreError::Corrupt { detail }) => report.problem(FsckProblem::BadCheckpoint {
                tree_size: frontier.size(),
                detail: format!("stored nodes are missing: {detail}"),
            }),
            Err(e) => return Err(e.into()),
        }
        report.nodes_checked += ids.len() as u64;
    }
    report.tree_size = expected;
    Ok(finish(report, store, &checkpoints, expected))
}

fn all_checkpoints(store: &dyn LogStore) -> Result<Vec<(TreeSize, String)>, StoreError> {
    let mut out = Vec::new();
    let mut from = TreeSize(0);
    loop {
        let page = store.checkpoints(from, CHUNK)?;
        let Some((last, _)) = page.last() else {
            return Ok(out);
        };
        from = TreeSize(last.0 + 1);
        out.extend(page);
    }
}

/// The stored checkpoints, checked in size order as the recomputed tree grows.
struct Checkpoints {
    /// Every stored checkpoint, in size order.
    all: Vec<(TreeSize, String)>,
    /// The first one not checked yet.
    next: usize,
    key: PublicKey,
    tree_id: i64,
    /// (size, root) of every checkpoint that verified, for the consistency pass.
    verified: Vec<(TreeSize, Hash)>,
}

impl Checkpoints {
    /// Verifies every checkpoint stored for the frontier's current size.
    fn check_at(&mut self, report: &mut FsckReport, frontier: &Frontier) {
        while let Some((size, note)) = self.all.get(self.next) {
            if *size != frontier.size() {
                return;
            }
            self.next += 1;
            report.checkpoints_checked += 1;
            match check_checkpoint(note, *size, frontier.root(), &self.key, self.tree_id) {
                Ok(()) => self.verified.push((*size, frontier.root())),
                Err(detail) => report.problem(FsckProblem::BadCheckpoint {
                    tree_size: *size,
                    detail,
                }),
            }
        }
    }
}

fn check_checkpoint(
    note: &str,
    size: TreeSize,
    root: Hash,
    key: &PublicKey,
    tree_id: i64,
) -> Result<(), String> {
    let parsed = Note::parse(note.as_bytes()).map_err(|e| e.to_string())?;
    let names: Vec<NoteVerifier> = parsed
        .signatures()
        .iter()
        .filter_map(|s| NoteVerifier::new(s.name.clone(), key.clone()).ok())
        .collect();
    let cp = verify_checkpoint(note.as_bytes(), &names).map_err(|e| e.to_string())?;
    let body = cp.checkpoint();
    let signer = cp.signed_by().first().cloned().unwrap_or_default();
    let origin = format!("{signer} - {tree_id}");
    if body.origin != origin {
        return Err(format!(
            "origin {:?} is not {origin:?} (signer name and tree ID)",
            body.origin
        ));
    }
    if body.tree_size != size {
        return Err(format!("it says tree size {}", body.tree_size));
    }
    if body.root_hash != root {
        return Err(format!(
            "root {} differs from the recomputed root {root}",
            body.root_hash
        ));
    }
    Ok(())
}

fn finish(
    mut report: FsckReport,
    store: &dyn LogStore,
    checkpoints: &Checkpoints,
    leaves: u64,
) -> FsckReport {
    for (size, _) in checkpoints.all.iter().filter(|(s, _)| s.0 > leaves) {
        report.problem(FsckProblem::BadCheckpoint {
            tree_size: *size,
            detail: format!("it is beyond the {leaves} stored leaves"),
        });
    }
    if let Some((last, _)) = checkpoints.all.last()
        && last.0 != leaves
    {
        report.problem(FsckProblem::HeadMismatch {
            checkpoint: *last,
            leaves,
        });
    }
    for pair in checkpoints.verified.windows(2) {
        let [(old, old_root), (new, new_root)] = pair else {
            continue;
        };
        let result = ProofPlan::consistency(*old, *new)
            .map_err(|e| e.to_string())
            .and_then(|plan| {
                let hashes = store.nodes(plan.nodes()).map_err(|e| e.to_string())?;
                plan.assemble(&hashes).map_err(|e| e.to_string())
            })
            .and_then(|proof| {
                verify_consistency(*old, *new, old_root, new_root, &proof)
                    .map_err(|e| e.to_string())
            });
        report.consistency_proofs_checked += 1;
        if let Err(detail) = result {
            report.problem(FsckProblem::Inconsistent {
                old: *old,
                new: *new,
                detail,
            });
        }
    }
    report
}
