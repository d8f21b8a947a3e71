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

#[test]
fn every_generated_inclusion_proof_verifies_up_to_300() {
    let all = leaves(300);
    for n in 1..=300usize {
        let tree = &all[..n];
        let root = root_from_leaves(tree);
        for i in 0..n {
            let proof = inclusion_proof(tree, LogIndex(i as u64)).expect("index in range");
            verify_inclusion(
                &tree[i],
                LogIndex(i as u64),
                TreeSize(n as u64),
                &proof,
                &root,
            )
            .unwrap_or_else(|e| panic!("size {n} index {i}: {e}"));
        }
    }
}

#[test]
fn every_generated_consistency_proof_verifies_up_to_128() {
    let all = leaves(128);
    let roots: Vec<Hash> = (0..=128).map(|n| root_from_leaves(&all[..n])).collect();
    for n in 0..=128usize {
        for m in 0..=n {
            let proof = consistency_proof(&all[..n], TreeSize(m as u64)).expect("m <= n");
            verify_consistency(
                TreeSize(m as u64),
                TreeSize(n as u64),
                &roots[m],
                &roots[n],
                &proof,
            )
            .unwrap_or_else(|e| panic!("{m} -> {n}: {e}"));
        }
    }
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
