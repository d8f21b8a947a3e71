//! RFC 6962 / RFC 9162 Merkle tree hashing, inclusion proofs and consistency proofs.
//!
//! Hashing follows RFC 6962 §2.1: a leaf hash is `SHA-256(0x00 || data)` and an
//! interior node is `SHA-256(0x01 || left || right)`. The root of the empty tree is
//! `SHA-256("")`.
//!
//! Verification implements RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency)
//! in the "decomposed" form that transparency-dev/merkle uses: the expected proof
//! length is computed from the index and sizes first, so a proof of the wrong length
//! is rejected with [`ProofError::WrongProofLength`] before any hashing.
//!
//! Generation ([`inclusion_proof`], [`consistency_proof`]) implements RFC 9162
//! §2.1.3.1 `PATH` and §2.1.4.1 `SUBPROOF` over an in-memory list of leaf hashes. It
//! is meant for tests and small logs; a log server with tiles computes the same
//! proofs from stored subtree hashes.

use core::fmt;

use sha2::{Digest as _, Sha256};

/// A SHA-256 value: a leaf hash, a node hash or a tree root.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl TryFrom<&[u8]> for Hash {
    type Error = HashLengthError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| HashLengthError { found: bytes.len() })
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({self})")
    }
}

/// A byte string that should have been a 32-byte SHA-256 value was not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected a 32-byte SHA-256 hash, found {found} bytes")]
pub struct HashLengthError {
    /// The length that was found.
    pub found: usize,
}

/// The 0-based position of a leaf in a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogIndex(pub u64);

impl fmt::Display for LogIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The number of leaves in a tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TreeSize(pub u64);

impl fmt::Display for TreeSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Which of the two trees of a consistency proof a value belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TreeRole {
    /// The smaller, older tree.
    Old,
    /// The larger, newer tree.
    New,
}

impl fmt::Display for TreeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TreeRole::Old => "old",
            TreeRole::New => "new",
        })
    }
}

/// Why an inclusion or consistency proof was rejected (or could not be generated).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not inside the tree (this includes every index of an empty tree).
    #[error(
        "leaf index {index} is outside a tree of size {tree_size}: the proof was made for a different (larger) tree"
    )]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: LogIndex,
        /// The claimed tree size.
        tree_size: TreeSize,
    },

    /// The proof has the wrong number of hashes for this index and tree size.
    #[error(
        "the proof has {found} hashes but index and tree size require exactly {expected}: the proof was truncated, padded or made for another position"
    )]
    WrongProofLength {
        /// The length that the index and sizes require.
        expected: usize,
        /// The length that was given.
        found: usize,
    },

    /// The inclusion proof leads to a different root than the one claimed.
    #[error(
        "the inclusion proof leads to root {computed}, not the expected root {expected}: the leaf, proof or root was altered"
    )]
    RootMismatch {
        /// The root the proof was checked against.
        expected: Hash,
        /// The root the proof leads to.
        computed: Hash,
    },

    /// A consistency proof with the old tree larger than the new one.
    #[error(
        "old tree size {old_size} is larger than new tree size {new_size}: swap the trees, a log never shrinks"
    )]
    OldSizeExceedsNew {
        /// The old tree size.
        old_size: TreeSize,
        /// The new tree size.
        new_size: TreeSize,
    },

    /// The consistency proof does not lead to one of the two roots.
    #[error(
        "the consistency proof leads to {computed} for the {tree} tree, but its root is {expected}: the trees are inconsistent or the proof was altered"
    )]
    ConsistencyRootMismatch {
        /// Which tree's root did not match.
        tree: TreeRole,
        /// The root that was claimed for that tree.
        expected: Hash,
        /// The root the proof leads to.
        computed: Hash,
    },
}

/// `SHA-256(0x00 || data)`: the RFC 6962 hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`: the RFC 6962 hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// `SHA-256("")`: the root of the empty tree.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// The largest power of two strictly smaller than `n` (`n >= 2`).
fn split_point(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

/// The RFC 6962 Merkle tree hash (`MTH`) of a list of **leaf hashes** (already
/// hashed with [`leaf_hash`]).
pub fn root_from_leaves(leaf_hashes: &[Hash]) -> Hash {
    match leaf_hashes {
        [] => empty_root(),
        [one] => *one,
        _ => {
            let k = split_point(leaf_hashes.len());
            node_hash(
                &root_from_leaves(&leaf_hashes[..k]),
                &root_from_leaves(&leaf_hashes[k..]),
            )
        }
    }
}

/// Generates the inclusion proof (RFC 9162 §2.1.3.1 `PATH`) of leaf `index` in the
/// tree made of `leaf_hashes`.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] when `index` is not below the number of leaves.
pub fn inclusion_proof(leaf_hashes: &[Hash], index: LogIndex) -> Result<Vec<Hash>, ProofError> {
    let size = leaf_hashes.len();
    let m =
        usize::try_from(index.0)
            .ok()
            .filter(|&m| m < size)
            .ok_or(ProofError::IndexOutOfRange {
                index,
                tree_size: TreeSize(size as u64),
            })?;
    let mut proof = Vec::new();
    path(m, leaf_hashes, &mut proof);
    Ok(proof)
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split_point(leaves.len());
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root_from_leaves(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root_from_leaves(&leaves[..k]));
    }
}

/// Generates the consistency proof (RFC 9162 §2.1.4.1 `PROOF`) from the tree of the
/// first `old_size` leaves to the tree of all `leaf_hashes`.
///
/// The proof is empty when `old_size` is 0 or equals the number of leaves.
///
/// # Errors
/// [`ProofError::OldSizeExceedsNew`] when `old_size` is larger than the number of leaves.
pub fn consistency_proof(
    leaf_hashes: &[Hash],
    old_size: TreeSize,
) -> Result<Vec<Hash>, ProofError> {
    let n = leaf_hashes.len();
    let m = usize::try_from(old_size.0).ok().filter(|&m| m <= n).ok_or(
        ProofError::OldSizeExceedsNew {
            old_size,
            new_size: TreeSize(n as u64),
        },
    )?;
    let mut proof = Vec::new();
    if m > 0 && m < n {
        subproof(m, leaf_hashes, true, &mut proof);
    }
    Ok(proof)
}

fn subproof(m: usize, leaves: &[Hash], complete_subtree: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !complete_subtree {
            out.push(root_from_leaves(leaves));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof(m, &leaves[..k], complete_subtree, out);
        out.push(root_from_leaves(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root_from_leaves(&leaves[..k]));
    }
}

/// Splits an inclusion proof for `index` in a tree of `size` into the number of
/// "inner" hashes (below the point where the paths to `index` and to the last leaf
/// meet) and "border" hashes (left siblings above it).
fn decompose_inclusion(index: u64, size: u64) -> (usize, usize) {
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    let border = (index >> inner).count_ones() as usize;
    (inner, border)
}

fn chain_inner(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        seed = if (index >> i) & 1 == 0 {
            node_hash(&seed, h)
        } else {
            node_hash(h, &seed)
        };
    }
    seed
}

fn chain_inner_right(mut seed: Hash, proof: &[Hash], index: u64) -> Hash {
    for (i, h) in proof.iter().enumerate() {
        if (index >> i) & 1 == 1 {
            seed = node_hash(h, &seed);
        }
    }
    seed
}

fn chain_border_right(mut seed: Hash, proof: &[Hash]) -> Hash {
    for h in proof {
        seed = node_hash(h, &seed);
    }
    seed
}

/// The root that an inclusion proof for `leaf_hash` at `index` in a tree of
/// `tree_size` leads to.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] and [`ProofError::WrongProofLength`].
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: LogIndex,
    tree_size: TreeSize,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index.0 >= tree_size.0 {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    let (inner, border) = decompose_inclusion(index.0, tree_size.0);
    if proof.len() != inner + border {
        return Err(ProofError::WrongProofLength {
            expected: inner + border,
            found: proof.len(),
        });
    }
    let (inner_proof, border_proof) = proof.split_at(inner);
    let res = chain_inner(*leaf_hash, inner_proof, index.0);
    Ok(chain_border_right(res, border_proof))
}

/// Verifies an RFC 9162 §2.1.3.2 inclusion proof: that `leaf_hash` is leaf `index` of
/// the tree of `tree_size` leaves whose root is `root`.
///
/// # Errors
/// [`ProofError::IndexOutOfRange`] (also for `tree_size` 0),
/// [`ProofError::WrongProofLength`] and [`ProofError::RootMismatch`].
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: LogIndex,
    tree_size: TreeSize,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)?;
    if computed == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch {
            expected: *root,
            computed,
        })
    }
}

/// Verifies an RFC 9162 §2.1.4.2 consistency proof: that the tree of `old_size`
/// leaves with root `old_root` is a prefix of the tree of `new_size` leaves with root
/// `new_root`.
///
/// When `old_size == new_size` the proof must be empty and the roots equal. When
/// `old_size == 0` the proof must be empty (every tree extends the empty tree).
///
/// # Errors
/// [`ProofError::OldSizeExceedsNew`], [`ProofError::WrongProofLength`] and
/// [`ProofError::ConsistencyRootMismatch`].
pub fn verify_consistency(
    old_size: TreeSize,
    new_size: TreeSize,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let (size1, size2) = (old_size.0, new_size.0);
    if size1 > size2 {
        return Err(ProofError::OldSizeExceedsNew { old_size, new_size });
    }
    if size1 == size2 || size1 == 0 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                found: proof.len(),
            });
        }
        if size1 == size2 && old_root != new_root {
            return Err(ProofError::ConsistencyRootMismatch {
                tree: TreeRole::New,
                expected: *new_root,
                computed: *old_root,
            });
        }
        return Ok(());
    }

    // 0 < size1 < size2 from here on.
    let (inner, border) = decompose_inclusion(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    // shift < inner: the highest bit where size1-1 and size2-1 differ is 0 in size1-1,
    // while the lowest `shift` bits of size1-1 are all 1, so that bit is above them.
    let inner = inner - shift;
    // If the old tree is a complete subtree, its root is the seed and is not in the proof.
    let old_is_complete = size1 == 1u64 << shift;
    let start = usize::from(!old_is_complete);
    let expected = start + inner + border;
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    let (seed, rest) = if old_is_complete {
        (*old_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (inner_proof, border_proof) = rest.split_at(inner);
    let mask = (size1 - 1) >> shift;

    let hash1 = chain_border_right(chain_inner_right(seed, inner_proof, mask), border_proof);
    if hash1 != *old_root {
        return Err(ProofError::ConsistencyRootMismatch {
            tree: TreeRole::Old,
            expected: *old_root,
            computed: hash1,
        });
    }
    let hash2 = chain_border_right(chain_inner(seed, inner_proof, mask), border_proof);
    if hash2 != *new_root {
        return Err(ProofError::ConsistencyRootMismatch {
            tree: TreeRole::New,
            expected: *new_root,
            computed: hash2,
        });
    }
    Ok(())
}

/// An inclusion proof as carried by a Rekor entry or a Sigstore bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionProof {
    /// The index of the leaf the proof is for.
    pub log_index: LogIndex,
    /// The size of the tree the proof is for.
    pub tree_size: TreeSize,
    /// The root of that tree, as claimed by the proof.
    pub root_hash: Hash,
    /// The audit path, leaf to root.
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Verifies that `leaf_hash` is included under this proof's own `root_hash`.
    ///
    /// This alone proves nothing about the log: tie the root to a signed checkpoint
    /// with [`crate::checkpoint::verify_inclusion_against_checkpoint`].
    ///
    /// # Errors
    /// See [`verify_inclusion`].
    pub fn verify(&self, leaf_hash: &Hash) -> Result<(), ProofError> {
        verify_inclusion(
            leaf_hash,
            self.log_index,
            self.tree_size,
            &self.hashes,
            &self.root_hash,
        )
    }
}

#[cfg(test)]
mod tests;
