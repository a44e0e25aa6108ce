//! Checking inclusion and consistency proofs, following RFC 9162 sections 2.1.3.2 and 2.1.4.2.

use crate::hash::{EMPTY_ROOT, Hash, node_hash, to_hex};

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree the proof claims.
    #[error("entry {index} cannot be in a log of {size} entries")]
    IndexOutOfRange {
        /// Claimed leaf index.
        index: u64,
        /// Claimed tree size.
        size: u64,
    },
    /// The proof has more hashes than a tree of that size can need.
    #[error("the proof has more hashes than a log of {size} entries needs")]
    TooLong {
        /// Claimed tree size.
        size: u64,
    },
    /// The proof ran out before reaching the root.
    #[error("the proof has fewer hashes than a log of {size} entries needs")]
    TooShort {
        /// Claimed tree size.
        size: u64,
    },
    /// The hashes combine to a root other than the expected one.
    #[error("the proof leads to root {computed}, not to the expected root {expected}")]
    RootMismatch {
        /// The trusted root, in hex.
        expected: String,
        /// The root the proof produced, in hex.
        computed: String,
    },
    /// A consistency proof between sizes that go backwards.
    #[error("a log of {old} entries cannot be an earlier state of one of {new} entries")]
    Shrunk {
        /// Earlier size.
        old: u64,
        /// Later size.
        new: u64,
    },
    /// Equal sizes (or a start from empty) need no proof hashes, yet some were given.
    #[error("no proof hashes are needed from size {old} to size {new}, yet {given} were given")]
    Unexpected {
        /// Earlier size.
        old: u64,
        /// Later size.
        new: u64,
        /// Number of hashes given.
        given: usize,
    },
    /// The two sizes are equal but the roots differ: a fork.
    #[error("two different roots for the same log size {size}: the log was rewritten")]
    Fork {
        /// The common size.
        size: u64,
    },
    /// The earlier root does not follow from the proof.
    #[error("the proof does not reproduce the earlier root {expected} (got {computed})")]
    OldRootMismatch {
        /// Trusted earlier root, in hex.
        expected: String,
        /// Root computed from the proof, in hex.
        computed: String,
    },
}

fn mismatch(expected: &Hash, computed: &Hash) -> ProofError {
    ProofError::RootMismatch { expected: to_hex(expected), computed: to_hex(computed) }
}

/// The root an inclusion proof leads to (RFC 9162 section 2.1.3.2, steps 1-4).
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let mut f = index;
    let mut s = size - 1;
    let mut r = *leaf;
    for p in proof {
        if s == 0 {
            return Err(ProofError::TooLong { size });
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            // A right-edge node with no right sibling is promoted unchanged,
            // so skip the levels where it has none.
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::TooShort { size });
    }
    Ok(r)
}

/// Checks that `leaf` (a leaf hash) is entry `index` of the log of `size` entries with `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(index, size, leaf, proof)?;
    if &computed != root {
        return Err(mismatch(root, &computed));
    }
    Ok(())
}

/// Checks that the log of `old` entries with `old_root` is a prefix of the log of `new` entries
/// with `new_root` (RFC 9162 section 2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::Shrunk { old, new });
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(ProofError::Unexpected { old, new, given: proof.len() });
        }
        if old == 0 && old_root != &EMPTY_ROOT {
            return Err(ProofError::OldRootMismatch {
                expected: to_hex(old_root),
                computed: to_hex(&EMPTY_ROOT),
            });
        }
        if old == new && old_root != new_root {
            return Err(ProofError::Fork { size: old });
        }
        return Ok(());
    }
    if proof.is_empty() {
        return Err(ProofError::TooShort { size: new });
    }

    // Step 2: when the old tree is a complete subtree its root is the first
    // node of the path, and the proof leaves it out.
    let (first, rest) = if old.is_power_of_two() { (*old_root, proof) } else { (proof[0], &proof[1..]) };
    let mut f = old - 1;
    let mut s = new - 1;
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let mut fr = first;
    let mut sr = first;
    for c in rest {
        if s == 0 {
            return Err(ProofError::TooLong { size: new });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(ProofError::TooShort { size: new });
    }
    if &fr != old_root {
        return Err(ProofError::OldRootMismatch { expected: to_hex(old_root), computed: to_hex(&fr) });
    }
    if &sr != new_root {
        return Err(mismatch(new_root, &sr));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;
    use crate::store::MemoryStore;
    use crate::tree::MerkleLog;

    fn log(n: u32) -> MerkleLog<MemoryStore> {
        let mut log = MerkleLog::new(MemoryStore::new());
        for i in 0..n {
            log.append(leaf_hash(&i.to_be_bytes())).unwrap();
        }
        log
    }

    #[test]
    fn every_inclusion_proof_verifies_and_mutations_fail() {
        let log = log(21);
        for size in 1..=21u64 {
            let root = log.root_at(size).unwrap();
            for index in 0..size {
                let leaf = leaf_hash(&(index as u32).to_be_bytes());
                let proof = log.inclusion_proof(index, size).unwrap();
                verify_inclusion(index, size, &leaf, &proof, &root).unwrap();

                assert!(verify_inclusion(index, size, &leaf_hash(b"other"), &proof, &root).is_err());
                if index + 1 < size {
                    assert!(verify_inclusion(index + 1, size, &leaf, &proof, &root).is_err());
                }
                // Only the signed checkpoint pins the size; a proof for 3 leaves
                // also fits 4, so test sizes whose shape must differ.
                assert!(verify_inclusion(index, size * 2, &leaf, &proof, &root).is_err());
                if index < size / 2 {
                    assert!(verify_inclusion(index, size / 2, &leaf, &proof, &root).is_err());
                }
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][0] ^= 1;
                    assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
                }
                let mut longer = proof.clone();
                longer.push(root);
                assert!(verify_inclusion(index, size, &leaf, &longer, &root).is_err());
                if !proof.is_empty() {
                    assert_eq!(
                        verify_inclusion(index, size, &leaf, &proof[..proof.len() - 1], &root),
                        Err(ProofError::TooShort { size })
                    );
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_mutations_fail() {
        let log = log(21);
        for new in 0..=21u64 {
            let new_root = log.root_at(new).unwrap();
            for old in 0..=new {
                let old_root = log.root_at(old).unwrap();
                let proof = log.consistency_proof(old, new).unwrap();
                verify_consistency(old, new, &old_root, &new_root, &proof).unwrap();
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i][31] ^= 0x80;
                    assert!(verify_consistency(old, new, &old_root, &new_root, &bad).is_err());
                }
                if !proof.is_empty() {
                    assert!(verify_consistency(old, new, &old_root, &new_root, &proof[1..]).is_err());
                    assert!(verify_consistency(old, new, &new_root, &old_root, &proof).is_err());
                    let mut longer = proof.clone();
                    longer.push(new_root);
                    assert!(verify_consistency(old, new, &old_root, &new_root, &longer).is_err());
                }
            }
        }
    }

    #[test]
    fn degenerate_cases_have_clear_answers() {
        let r = leaf_hash(b"a");
        assert_eq!(verify_consistency(3, 2, &r, &r, &[]), Err(ProofError::Shrunk { old: 3, new: 2 }));
        assert_eq!(verify_consistency(2, 2, &r, &leaf_hash(b"b"), &[]), Err(ProofError::Fork { size: 2 }));
        assert!(matches!(
            verify_consistency(2, 2, &r, &r, &[r]),
            Err(ProofError::Unexpected { given: 1, .. })
        ));
        assert_eq!(verify_consistency(1, 2, &r, &r, &[]), Err(ProofError::TooShort { size: 2 }));
        assert_eq!(
            verify_inclusion(0, 0, &r, &[], &r),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        verify_inclusion(0, 1, &r, &[], &r).unwrap();
    }
}
