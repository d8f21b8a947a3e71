//! Proofs from stored subtrees: which complete subtree hashes a proof needs, and how
//! they combine. Pure: no I/O, no hashing of leaves.
//!
//! The log stores the hash of every *complete* subtree ([`NodeId`]: `level` L, `index`
//! j covers leaves `[j·2^L, (j+1)·2^L)`). Such a hash never changes once the tree has
//! grown past it, so a proof for any committed tree size can be read from the store
//! without rehashing the tree. Every hash in an RFC 9162 inclusion or consistency
//! proof is the root of a range `[a, b)` that the RFC's recursion produces, which
//! starts on a multiple of the largest power of two not above its length. Such a
//! range is the concatenation of complete subtrees whose sizes are the binary digits
//! of `b - a` (largest first), and its root is the right fold
//! `H(d1, H(d2, … H(dk-1, dk)))`. So a proof costs `O(log n)` node reads and at most
//! `O(log n)` node hashes (only the right edge of the tree is incomplete).
//!
//! [`Frontier`] is the writer's side: the complete subtrees along the right edge
//! (at most 64), enough to append leaves, emit the new complete nodes, and compute
//! the root, without reading anything.

use signet_tlog::merkle::{Hash, empty_root, node_hash};
use signet_tlog::{LogIndex, TreeSize};

/// A complete subtree: `level` L and `index` j cover leaves `[j·2^L, (j+1)·2^L)`.
/// Level 0 nodes are the leaf hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// The height of the subtree (0 for a leaf).
    pub level: u8,
    /// The position of the subtree among those of its level.
    pub index: u64,
}

impl NodeId {
    /// The first leaf the subtree covers.
    pub fn first_leaf(self) -> u64 {
        self.index << self.level
    }

    /// The number of leaves the subtree covers.
    pub fn width(self) -> u64 {
        1u64 << self.level
    }
}

/// A leaf range `[start, end)` whose root a proof needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    start: u64,
    end: u64,
}

/// The complete subtrees that make up `[start, end)`, largest first. `start` must be
/// a multiple of the largest power of two not above `end - start` (true of every
/// range RFC 9162's recursion produces, and of `[0, n)`).
fn decompose(start: u64, end: u64, out: &mut Vec<NodeId>) {
    let mut at = start;
    let mut rest = end - start;
    while rest > 0 {
        let level = 63 - rest.leading_zeros();
        out.push(NodeId {
            level: level as u8,
            index: at >> level,
        });
        at += 1u64 << level;
        rest -= 1u64 << level;
    }
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// What a proof needs from the store, and how to turn it into the proof.
///
/// Build one with [`ProofPlan::inclusion`], [`ProofPlan::consistency`] or
/// [`ProofPlan::root`], fetch [`ProofPlan::nodes`] (in that order) in one read of the
/// store, and pass the hashes to [`ProofPlan::assemble`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofPlan {
    /// Every node to fetch, in order.
    nodes: Vec<NodeId>,
    /// For each output hash, how many of `nodes` (consecutive) fold into it.
    counts: Vec<usize>,
}

/// A proof was asked for outside the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {tree_size}")]
    IndexOutOfRange {
        /// The index asked for.
        index: LogIndex,
        /// The tree size.
        tree_size: TreeSize,
    },
    /// The old tree is larger than the new one.
    #[error("tree size {old_size} is larger than tree size {new_size}")]
    OldSizeExceedsNew {
        /// The smaller tree.
        old_size: TreeSize,
        /// The larger tree.
        new_size: TreeSize,
    },
}

/// The fetched hashes do not match the plan (a store bug).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the store returned {found} node hashes for a plan of {expected}")]
pub struct AssembleError {
    /// How many the plan needs.
    pub expected: usize,
    /// How many were given.
    pub found: usize,
}

impl ProofPlan {
    fn from_ranges(ranges: &[Range]) -> Self {
        let mut nodes = Vec::new();
        let mut counts = Vec::with_capacity(ranges.len());
        for r in ranges {
            let before = nodes.len();
            decompose(r.start, r.end, &mut nodes);
            counts.push(nodes.len() - before);
        }
        ProofPlan { nodes, counts }
    }

    /// The plan of the inclusion proof (RFC 9162 §2.1.3.1 `PATH`) of leaf `index` in
    /// the tree of `tree_size` leaves.
    ///
    /// # Errors
    /// [`PlanError::IndexOutOfRange`].
    pub fn inclusion(index: LogIndex, tree_size: TreeSize) -> Result<Self, PlanError> {
        if index.0 >= tree_size.0 {
            return Err(PlanError::IndexOutOfRange { index, tree_size });
        }
        let mut ranges = Vec::new();
        path(index.0, 0, tree_size.0, &mut ranges);
        Ok(Self::from_ranges(&ranges))
    }

    /// The plan of the consistency proof (RFC 9162 §2.1.4.1 `PROOF`) from the tree of
    /// `old_size` leaves to the tree of `new_size` leaves. Empty when `old_size` is 0
    /// or equals `new_size`.
    ///
    /// # Errors
    /// [`PlanError::OldSizeExceedsNew`].
    pub fn consistency(old_size: TreeSize, new_size: TreeSize) -> Result<Self, PlanError> {
        if old_size > new_size {
            return Err(PlanError::OldSizeExceedsNew { old_size, new_size });
        }
        let mut ranges = Vec::new();
        if old_size.0 > 0 && old_size < new_size {
            subproof(old_size.0, 0, new_size.0, true, &mut ranges);
        }
        Ok(Self::from_ranges(&ranges))
    }

    /// The plan of the root of the tree of `tree_size` leaves (one output hash; for
    /// the empty tree, none: use [`empty_root`]).
    pub fn root(tree_size: TreeSize) -> Self {
        if tree_size.0 == 0 {
            return ProofPlan {
                nodes: Vec::new(),
                counts: Vec::new(),
            };
        }
        Self::from_ranges(&[Range {
            start: 0,
            end: tree_size.0,
        }])
    }

    /// The nodes to fetch, in order.
    pub fn nodes(&self) -> &[NodeId] {
        &self.nodes
    }

    /// Combines the fetched hashes (one per [`ProofPlan::nodes`] entry, same order)
    /// into the proof hashes.
    ///
    /// # Errors
    /// [`AssembleError`] when the number of hashes is not the number of nodes.
    pub fn assemble(&self, hashes: &[Hash]) -> Result<Vec<Hash>, AssembleError> {
        if hashes.len() != self.nodes.len() {
            return Err(AssembleError {
                expected: self.nodes.len(),
                found: hashes.len(),
            });
        }
        let mut out = Vec::with_capacity(self.counts.len());
        let mut at = 0;
        for &count in &self.counts {
            let parts = &hashes[at..at + count];
            at += count;
            out.push(fold_right(parts));
        }
        Ok(out)
    }
}

/// `H(p0, H(p1, … H(pk-2, pk-1)))`; the empty tree's root for no parts.
fn fold_right(parts: &[Hash]) -> Hash {
    let mut iter = parts.iter().rev();
    let Some(last) = iter.next() else {
        return empty_root();
    };
    iter.fold(*last, |acc, left| node_hash(left, &acc))
}

/// RFC 9162 `PATH(m, D[lo:hi])`, recording the ranges whose roots it emits.
fn path(m: u64, lo: u64, hi: u64, out: &mut Vec<Range>) {
    let n = hi - lo;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < k {
        path(m, lo, lo + k, out);
        out.push(Range {
            start: lo + k,
            end: hi,
        });
    } else {
        path(m - k, lo + k, hi, out);
        out.push(Range {
            start: lo,
            end: lo + k,
        });
    }
}

/// RFC 9162 `SUBPROOF(m, D[lo:hi], b)`.
fn subproof(m: u64, lo: u64, hi: u64, complete: bool, out: &mut Vec<Range>) {
    let n = hi - lo;
    if m == n {
        if !complete {
            out.push(Range { start: lo, end: hi });
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, lo, lo + k, complete, out);
        out.push(Range {
            start: lo + k,
            end: hi,
        });
    } else {
        subproof(m - k, lo + k, hi, false, out);
        out.push(Range {
            start: lo,
            end: lo + k,
        });
    }
}

/// The complete subtrees along the right edge of a tree: what the writer keeps to
/// append leaves without reading the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// (level, hash), levels strictly decreasing: the decomposition of `[0, size)`.
    stack: Vec<(u8, Hash)>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn empty() -> Self {
        Frontier {
            size: 0,
            stack: Vec::new(),
        }
    }

    /// The nodes whose hashes make up the frontier of a tree of `tree_size` leaves
    /// (fetch them, then call [`Frontier::from_nodes`]).
    pub fn nodes_for(tree_size: TreeSize) -> Vec<NodeId> {
        let mut out = Vec::new();
        decompose(0, tree_size.0, &mut out);
        out
    }

    /// The frontier of a tree of `tree_size` leaves, from the hashes of
    /// [`Frontier::nodes_for`] (same order).
    ///
    /// # Errors
    /// [`AssembleError`] when the number of hashes is wrong.
    pub fn from_nodes(tree_size: TreeSize, hashes: &[Hash]) -> Result<Self, AssembleError> {
        let ids = Self::nodes_for(tree_size);
        if ids.len() != hashes.len() {
            return Err(AssembleError {
                expected: ids.len(),
                found: hashes.len(),
            });
        }
        Ok(Frontier {
            size: tree_size.0,
            stack: ids
                .iter()
                .map(|n| n.level)
                .zip(hashes.iter().copied())
                .collect(),
        })
    }

    /// The number of leaves.
    pub fn size(&self) -> TreeSize {
        TreeSize(self.size)
    }

    /// Appends a leaf hash; returns every complete node this creates (the leaf
    /// itself, at level 0, first).
    pub fn append(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut created = vec![(NodeId { level: 0, index }, leaf)];
        let mut level = 0u8;
        let mut hash = leaf;
        while let Some(&(top_level, top)) = self.stack.last() {
            if top_level != level {
                break;
            }
            self.stack.pop();
            hash = node_hash(&top, &hash);
            level += 1;
            created.push((
                NodeId {
                    level,
                    index: index >> level,
                },
                hash,
            ));
        }
        self.stack.push((level, hash));
        self.size += 1;
        created
    }

    /// The RFC 6962 root of the tree.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.stack.iter().map(|(_, h)| *h).collect();
        fold_right(&hashes)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;
    use signet_tlog::merkle::{self, leaf_hash, root_from_leaves};

    use super::*;

    /// Every complete node of a tree, as a store would hold them.
    fn build(n: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>, Frontier) {
        let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut f = Frontier::empty();
        let mut nodes = HashMap::new();
        for l in &leaves {
            for (id, h) in f.append(*l) {
                assert!(nodes.insert(id, h).is_none(), "node {id:?} made twice");
            }
        }
        (leaves, nodes, f)
    }

    fn fetch(plan: &ProofPlan, nodes: &HashMap<NodeId, Hash>) -> Vec<Hash> {
        plan.nodes()
            .iter()
            .map(|id| *nodes.get(id).expect("complete node stored"))
            .collect()
    }

    #[test]
    fn frontier_root_matches_reference() {
        for n in 0..300u64 {
            let (leaves, nodes, f) = build(n);
            assert_eq!(f.root(), root_from_leaves(&leaves), "n={n}");
            // The root plan gives the same root.
            let plan = ProofPlan::root(TreeSize(n));
            let got = plan.assemble(&fetch(&plan, &nodes)).expect("assemble");
            assert_eq!(got.first().copied().unwrap_or_else(empty_root), f.root());
            // Rebuilding a frontier from stored nodes gives the same frontier.
            let ids = Frontier::nodes_for(TreeSize(n));
            let hashes: Vec<Hash> = ids.iter().map(|id| nodes[id]).collect();
            assert_eq!(
                Frontier::from_nodes(TreeSize(n), &hashes).expect("frontier"),
                f
            );
            // Every complete node exists: 2n - popcount(n).
            assert_eq!(nodes.len() as u64, 2 * n - u64::from(n.count_ones()));
        }
    }

    #[test]
    fn every_proof_matches_reference_up_to_130() {
        let (leaves, nodes, _) = build(130);
        for n in 1..=130u64 {
            let tree = &leaves[..n as usize];
            for m in 0..n {
                let plan = ProofPlan::inclusion(LogIndex(m), TreeSize(n)).expect("plan");
                let got = plan.assemble(&fetch(&plan, &nodes)).expect("assemble");
                assert_eq!(
                    got,
                    merkle::inclusion_proof(tree, LogIndex(m)).expect("ref"),
                    "m={m} n={n}"
                );
            }
            for old in 0..=n {
                let plan = ProofPlan::consistency(TreeSize(old), TreeSize(n)).expect("plan");
                let got = plan.assemble(&fetch(&plan, &nodes)).expect("assemble");
                assert_eq!(
                    got,
                    merkle::consistency_proof(tree, TreeSize(old)).expect("ref"),
                    "old={old} n={n}"
                );
            }
        }
    }

    #[test]
    fn out_of_range_requests_are_errors() {
        assert_eq!(
            ProofPlan::inclusion(LogIndex(3), TreeSize(3)),
            Err(PlanError::IndexOutOfRange {
                index: LogIndex(3),
                tree_size: TreeSize(3)
            })
        );
        assert!(matches!(
            ProofPlan::consistency(TreeSize(4), TreeSize(3)),
            Err(PlanError::OldSizeExceedsNew { .. })
        ));
        let plan = ProofPlan::root(TreeSize(5));
        assert_eq!(
            plan.assemble(&[]),
            Err(AssembleError {
                expected: 2,
                found: 0
            })
        );
    }

    proptest! {
        /// Large trees: the plan reads O(log n) nodes, and the proof verifies with
        /// signet-tlog against the frontier's root.
        #[test]
        fn proofs_verify_in_large_trees(n in 1u64..5000, seed in any::<u64>()) {
            let (leaves, nodes, f) = build(n);
            let m = seed % n;
            let plan = ProofPlan::inclusion(LogIndex(m), TreeSize(n)).expect("plan");
            prop_assert!(plan.nodes().len() <= 2 * 64);
            let proof = plan.assemble(&fetch(&plan, &nodes)).expect("assemble");
            prop_assert_eq!(
                merkle::verify_inclusion(&leaves[m as usize], LogIndex(m), TreeSize(n), &proof, &f.root()),
                Ok(())
            );
            let old = seed % (n + 1);
            let (_, _, f_old) = build(old);
            let plan = ProofPlan::consistency(TreeSize(old), TreeSize(n)).expect("plan");
            let proof = plan.assemble(&fetch(&plan, &nodes)).expect("assemble");
            prop_assert_eq!(
                merkle::verify_consistency(TreeSize(old), TreeSize(n), &f_old.root(), &f.root(), &proof),
                Ok(())
            );
        }
    }
}
