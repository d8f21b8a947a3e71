use proptest::prelude::*;

use super::*;

fn leaves(n: usize) -> Vec<Hash> {
    (0..n)
        .map(|i| leaf_hash(format!("leaf {i}").as_bytes()))
        .collect()
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut b = h.0;
    b[(bit / 8) % 32] ^= 1 << (bit % 8);
    Hash(b)
}

/// RFC 6962 known answers (the test vectors used by transparency-dev/merkle and
/// Certificate Transparency implementations): roots of trees over these 8 leaves.
#[test]
fn known_answer_roots() {
    let data: [&[u8]; 8] = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        b"\x50\x51\x52\x53\x54\x55\x56\x57",
        b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
    ];
    let expected = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];
    let hashes: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
    for (n, want) in expected.iter().enumerate() {
        assert_eq!(
            root_from_leaves(&hashes[..=n]).to_string(),
            *want,
            "size {}",
            n + 1
        );
    }
    assert_eq!(
        empty_root().to_string(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

/// The largest tree size of the exhaustive proof tests.
const EXHAUSTIVE: usize = 1000;

/// A reference RFC 6962 tree: every subtree hash that a tree of any size up to
/// `leaves.len()` (and so any proof between such trees) is made of, computed once.
///
/// In the recursion of RFC 6962 §2.1 every subtree `D[lo..hi]` of a tree of size `n`
/// starts at a multiple of the smallest power of two `2^level >= hi - lo`, so it is
/// named by `(hi, level)`: `lo = ((hi - 1) >> level) << level`. `nodes[level][hi]`
/// holds `MTH(D[lo..hi])`, built bottom-up with one `node_hash` per entry.
struct ReferenceTree {
    nodes: Vec<Vec<Hash>>,
}

impl ReferenceTree {
    fn new(leaves: &[Hash]) -> Self {
        let n = leaves.len();
        let mut nodes = vec![
            std::iter::once(empty_root())
                .chain(leaves.iter().copied())
                .collect::<Vec<_>>(),
        ];
        let mut level = 0;
        while (1usize << level) < n {
            level += 1;
            let half = 1usize << (level - 1);
            let below = &nodes[level - 1];
            let row: Vec<Hash> = (0..=n)
                .map(|hi| {
                    if hi == 0 {
                        return empty_root();
                    }
                    let lo = ((hi - 1) >> level) << level;
                    if hi - lo <= half {
                        below[hi]
                    } else {
                        node_hash(&below[lo + half], &below[hi])
                    }
                })
                .collect();
            nodes.push(row);
        }
        ReferenceTree { nodes }
    }

    /// `MTH(D[lo..hi])` for a subtree of the RFC 6962 recursion (`lo < hi`).
    fn mth(&self, lo: usize, hi: usize) -> Hash {
        let level = (hi - lo).next_power_of_two().trailing_zeros() as usize;
        debug_assert_eq!(
            lo,
            ((hi - 1) >> level) << level,
            "not a subtree: {lo}..{hi}"
        );
        self.nodes[level][hi]
    }

    fn root(&self, size: usize) -> Hash {
        if size == 0 {
            empty_root()
        } else {
            self.mth(0, size)
        }
    }

    /// RFC 9162 §2.1.3.1 `PATH(m, D[lo..hi])`.
    fn path(&self, m: usize, lo: usize, hi: usize, out: &mut Vec<Hash>) {
        if hi - lo <= 1 {
            return;
        }
        let k = largest_power_of_two_below(hi - lo);
        if m < lo + k {
            self.path(m, lo, lo + k, out);
            out.push(self.mth(lo + k, hi));
        } else {
            self.path(m, lo + k, hi, out);
            out.push(self.mth(lo, lo + k));
        }
    }

    /// RFC 9162 §2.1.4.1 `SUBPROOF(m, D[lo..hi], b)`.
    fn subproof(&self, m: usize, lo: usize, hi: usize, complete: bool, out: &mut Vec<Hash>) {
        if m == hi {
            if !complete {
                out.push(self.mth(lo, hi));
            }
            return;
        }
        let k = largest_power_of_two_below(hi - lo);
        if m <= lo + k {
            self.subproof(m, lo, lo + k, complete, out);
            out.push(self.mth(lo + k, hi));
        } else {
            self.subproof(m, lo + k, hi, false, out);
            out.push(self.mth(lo, lo + k));
        }
    }

    fn inclusion(&self, index: usize, size: usize, out: &mut Vec<Hash>) {
        out.clear();
        self.path(index, 0, size, out);
    }

    fn consistency(&self, old: usize, new: usize, out: &mut Vec<Hash>) {
        out.clear();
        if 0 < old && old < new {
            self.subproof(old, 0, new, true, out);
        }
    }
}

/// `k` of RFC 6962 §2.1: the largest power of two strictly below `n` (`n >= 2`),
/// written independently of the crate's `split_point`.
fn largest_power_of_two_below(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The indexes (or old sizes) at which the crate's own generators, which hash
/// `O(size)` leaves per proof, are compared with the reference tree for every size.
fn sample_points(size: usize) -> impl Iterator<Item = usize> {
    let all = size <= 64;
    (0..size).filter(move |&i| all || i < 2 || i + 2 >= size || i == size / 2)
}

#[test]
fn reference_tree_matches_root_from_leaves() {
    let all = leaves(EXHAUSTIVE);
    let tree = ReferenceTree::new(&all);
    for n in 0..=EXHAUSTIVE {
        assert_eq!(tree.root(n), root_from_leaves(&all[..n]), "size {n}");
    }
}

/// Every inclusion proof for every `(index, size)` with `1 <= size <= 1000`, generated
/// from the reference tree, verifies against that tree's root, and the crate's own
/// generator gives the same proof (at sampled indexes for sizes above 64).
#[test]
fn every_inclusion_proof_verifies_up_to_1000() {
    let all = leaves(EXHAUSTIVE);
    let tree = ReferenceTree::new(&all);
    let mut proof = Vec::new();
    let mut checked = 0usize;
    for n in 1..=EXHAUSTIVE {
        let root = tree.root(n);
        let size = TreeSize(n as u64);
        for (i, leaf) in all[..n].iter().enumerate() {
            let index = LogIndex(i as u64);
            tree.inclusion(i, n, &mut proof);
            verify_inclusion(leaf, index, size, &proof, &root)
                .unwrap_or_else(|e| panic!("size {n} index {i}: {e}"));
            checked += 1;
        }
        for i in sample_points(n) {
            tree.inclusion(i, n, &mut proof);
            assert_eq!(
                inclusion_proof(&all[..n], LogIndex(i as u64)),
                Ok(proof.clone()),
                "generator, size {n} index {i}"
            );
        }
    }
    assert_eq!(checked, EXHAUSTIVE * (EXHAUSTIVE + 1) / 2);
}

/// Every consistency proof for every `(m, n)` with `1 <= m <= n <= 1000`, generated
/// from the reference tree, verifies between the two roots, and the crate's own
/// generator gives the same proof (at sampled old sizes for sizes above 64).
#[test]
fn every_consistency_proof_verifies_up_to_1000() {
    let all = leaves(EXHAUSTIVE);
    let tree = ReferenceTree::new(&all);
    let roots: Vec<Hash> = (0..=EXHAUSTIVE).map(|n| tree.root(n)).collect();
    let mut proof = Vec::new();
    let mut checked = 0usize;
    for n in 1..=EXHAUSTIVE {
        let new = TreeSize(n as u64);
        for m in 1..=n {
            tree.consistency(m, n, &mut proof);
            verify_consistency(TreeSize(m as u64), new, &roots[m], &roots[n], &proof)
                .unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
            checked += 1;
        }
        for m in sample_points(n + 1) {
            tree.consistency(m, n, &mut proof);
            assert_eq!(
                consistency_proof(&all[..n], TreeSize(m as u64)),
                Ok(proof.clone()),
                "generator, {m} -> {n}"
            );
        }
    }
    assert_eq!(checked, EXHAUSTIVE * (EXHAUSTIVE + 1) / 2);
}

#[test]
fn inclusion_edge_cases_have_exact_errors() {
    let tree = leaves(5);
    let root = root_from_leaves(&tree);
    let proof = inclusion_proof(&tree, LogIndex(2)).expect("in range");

    // size 0
    assert!(matches!(
        verify_inclusion(&tree[0], LogIndex(0), TreeSize(0), &[], &empty_root()),
        Err(ProofError::IndexOutOfRange {
            index: LogIndex(0),
            tree_size: TreeSize(0)
        })
    ));
    // index == size, index > size
    assert!(matches!(
        verify_inclusion(&tree[2], LogIndex(5), TreeSize(5), &proof, &root),
        Err(ProofError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        verify_inclusion(&tree[2], LogIndex(u64::MAX), TreeSize(5), &proof, &root),
        Err(ProofError::IndexOutOfRange { .. })
    ));
    // too short / too long
    assert!(matches!(
        verify_inclusion(&tree[2], LogIndex(2), TreeSize(5), &proof[..2], &root),
        Err(ProofError::WrongProofLength {
            expected: 3,
            found: 2
        })
    ));
    let mut long = proof.clone();
    long.push(root);
    assert!(matches!(
        verify_inclusion(&tree[2], LogIndex(2), TreeSize(5), &long, &root),
        Err(ProofError::WrongProofLength {
            expected: 3,
            found: 4
        })
    ));
    // a single-leaf tree has an empty proof and its root is the leaf hash
    assert_eq!(
        verify_inclusion(&tree[0], LogIndex(0), TreeSize(1), &[], &tree[0]),
        Ok(())
    );
    assert!(matches!(
        verify_inclusion(&tree[1], LogIndex(0), TreeSize(1), &[], &tree[0]),
        Err(ProofError::RootMismatch { .. })
    ));
    // generation edge cases
    assert!(matches!(
        inclusion_proof(&[], LogIndex(0)),
        Err(ProofError::IndexOutOfRange { .. })
    ));
    // huge sizes do not panic
    assert!(matches!(
        verify_inclusion(
            &tree[0],
            LogIndex(u64::MAX - 1),
            TreeSize(u64::MAX),
            &[],
            &root
        ),
        Err(ProofError::WrongProofLength {
            expected: 63,
            found: 0
        })
    ));
}

#[test]
fn consistency_edge_cases_have_exact_errors() {
    let tree = leaves(7);
    let r3 = root_from_leaves(&tree[..3]);
    let r7 = root_from_leaves(&tree);
    let proof = consistency_proof(&tree, TreeSize(3)).expect("3 <= 7");
    assert!(matches!(
        verify_consistency(TreeSize(7), TreeSize(3), &r7, &r3, &proof),
        Err(ProofError::OldSizeExceedsNew { .. })
    ));
    assert!(matches!(
        consistency_proof(&tree, TreeSize(8)),
        Err(ProofError::OldSizeExceedsNew { .. })
    ));
    // same size: empty proof and equal roots
    assert_eq!(
        verify_consistency(TreeSize(7), TreeSize(7), &r7, &r7, &[]),
        Ok(())
    );
    assert!(matches!(
        verify_consistency(TreeSize(7), TreeSize(7), &r7, &r7, &proof),
        Err(ProofError::WrongProofLength { expected: 0, .. })
    ));
    assert!(matches!(
        verify_consistency(TreeSize(7), TreeSize(7), &r3, &r7, &[]),
        Err(ProofError::ConsistencyRootMismatch {
            tree: TreeRole::New,
            ..
        })
    ));
    // from the empty tree
    assert_eq!(
        verify_consistency(TreeSize(0), TreeSize(7), &empty_root(), &r7, &[]),
        Ok(())
    );
    assert!(matches!(
        verify_consistency(TreeSize(0), TreeSize(7), &empty_root(), &r7, &proof),
        Err(ProofError::WrongProofLength { expected: 0, .. })
    ));
    // missing / extra hashes
    assert!(matches!(
        verify_consistency(TreeSize(3), TreeSize(7), &r3, &r7, &[]),
        Err(ProofError::WrongProofLength { .. })
    ));
    let mut long = proof.clone();
    long.push(r7);
    assert!(matches!(
        verify_consistency(TreeSize(3), TreeSize(7), &r3, &r7, &long),
        Err(ProofError::WrongProofLength { .. })
    ));
    // wrong old root
    assert!(matches!(
        verify_consistency(TreeSize(3), TreeSize(7), &r7, &r7, &proof),
        Err(ProofError::ConsistencyRootMismatch {
            tree: TreeRole::Old,
            ..
        })
    ));
    // wrong new root
    assert!(matches!(
        verify_consistency(TreeSize(3), TreeSize(7), &r3, &r3, &proof),
        Err(ProofError::ConsistencyRootMismatch {
            tree: TreeRole::New,
            ..
        })
    ));
}

fn size_and_index() -> impl Strategy<Value = (usize, usize)> {
    (1usize..=300).prop_flat_map(|n| (Just(n), 0..n))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn inclusion_rejects_any_tampering((n, i) in size_and_index(), bit in 0usize..256, pick in any::<prop::sample::Index>()) {
        let tree = leaves(n);
        let root = root_from_leaves(&tree);
        let idx = LogIndex(i as u64);
        let size = TreeSize(n as u64);
        let proof = inclusion_proof(&tree, idx).expect("in range");
        prop_assert_eq!(verify_inclusion(&tree[i], idx, size, &proof, &root), Ok(()));

        // flipped bit in the leaf
        prop_assert!(
            matches!(
                verify_inclusion(&flip(&tree[i], bit), idx, size, &proof, &root),
                Err(ProofError::RootMismatch { .. })
            ),
            "flipped leaf accepted"
        );
        // flipped bit in the root
        prop_assert!(
            matches!(
                verify_inclusion(&tree[i], idx, size, &proof, &flip(&root, bit)),
                Err(ProofError::RootMismatch { .. })
            ),
            "flipped root accepted"
        );
        // flipped bit in one proof hash
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = pick.index(bad.len());
            bad[k] = flip(&bad[k], bit);
            prop_assert!(
                matches!(verify_inclusion(&tree[i], idx, size, &bad, &root), Err(ProofError::RootMismatch { .. })),
                "flipped proof hash accepted"
            );
            // truncated
            prop_assert!(
                matches!(
                    verify_inclusion(&tree[i], idx, size, &proof[..proof.len() - 1], &root),
                    Err(ProofError::WrongProofLength { .. })
                ),
                "truncated proof accepted"
            );
        }
        // extended
        let mut ext = proof.clone();
        ext.push(root);
        prop_assert!(
            matches!(verify_inclusion(&tree[i], idx, size, &ext, &root), Err(ProofError::WrongProofLength { .. })),
            "extended proof accepted"
        );
        // wrong index (every other index of the same tree)
        for j in 0..n {
            if j != i {
                prop_assert!(
                    verify_inclusion(&tree[i], LogIndex(j as u64), size, &proof, &root).is_err(),
                    "wrong index {} accepted", j
                );
            }
        }
        // wrong size: every other size from 1 to n + 8. An inclusion proof alone
        // cannot tell apart sizes whose path has the same shape for this index (for
        // example index 0 in trees of 3 and 4 leaves); the size is bound to the root by
        // the signed checkpoint. Every other wrong size must fail.
        for s in 1..=(n + 8) {
            if s != n && (s <= i || decompose_inclusion(i as u64, s as u64) != decompose_inclusion(i as u64, n as u64)) {
                let r = verify_inclusion(&tree[i], idx, TreeSize(s as u64), &proof, &root);
                prop_assert!(r.is_err(), "wrong size {} accepted", s);
            }
        }
    }

    #[test]
    fn consistency_rejects_any_tampering(n in 2usize..=300, m_seed in any::<prop::sample::Index>(), bit in 0usize..256, pick in any::<prop::sample::Index>()) {
        let m = 1 + m_seed.index(n - 1); // 1..n
        let tree = leaves(n);
        let (old, new) = (root_from_leaves(&tree[..m]), root_from_leaves(&tree));
        let (ms, ns) = (TreeSize(m as u64), TreeSize(n as u64));
        let proof = consistency_proof(&tree, ms).expect("m < n");
        prop_assert_eq!(verify_consistency(ms, ns, &old, &new, &proof), Ok(()));
        prop_assert!(verify_consistency(ms, ns, &flip(&old, bit), &new, &proof).is_err());
        prop_assert!(verify_consistency(ms, ns, &old, &flip(&new, bit), &proof).is_err());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let k = pick.index(bad.len());
            bad[k] = flip(&bad[k], bit);
            prop_assert!(
                matches!(verify_consistency(ms, ns, &old, &new, &bad), Err(ProofError::ConsistencyRootMismatch { .. })),
                "flipped proof hash accepted"
            );
            prop_assert!(
                matches!(verify_consistency(ms, ns, &old, &new, &proof[..proof.len() - 1]), Err(ProofError::WrongProofLength { .. })),
                "truncated proof accepted"
            );
        }
        let mut ext = proof.clone();
        ext.push(new);
        prop_assert!(
            matches!(verify_consistency(ms, ns, &old, &new, &ext), Err(ProofError::WrongProofLength { .. })),
            "extended proof accepted"
        );
        // claiming other sizes with the same proof and roots fails
        for s in 1..n {
            if s != m {
                prop_assert!(verify_consistency(TreeSize(s as u64), ns, &old, &new, &proof).is_err(), "old size {} accepted", s);
            }
        }
    }
}
