//! Appending to the tree and answering roots and proofs from stored complete subtrees.
//!
//! Every hash an RFC 9162 root or proof needs is the hash of a range `[a, b)` of
//! leaves that the RFC's recursion produces. Such a range is a run of complete
//! subtrees of strictly decreasing size (the binary digits of `b - a`), and its
//! hash is those subtrees folded from the right. A proof therefore needs
//! O(log n) stored hashes and never a walk over the leaves. The functions here
//! first *plan* which nodes they need, then fetch them with one
//! [`NodeStore::get_many`] call, so a database answers a proof in one query.

use crate::hash::{EMPTY_ROOT, Hash, node_hash, split_point};
use crate::store::{NodeId, NodeStore, StoreError};

/// Why a root or proof could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The store could not supply a hash.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A proof was asked for a leaf that the tree of that size does not contain.
    #[error("entry {index} is not in a log of {size} entries")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size the proof was asked against.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("cannot prove a log of {old} entries grew into one of {new}: it would have shrunk")]
    Shrunk {
        /// The earlier size.
        old: u64,
        /// The later size.
        new: u64,
    },
    /// A size beyond what the store holds was asked for.
    #[error("the log has {have} entries; size {asked} does not exist yet")]
    Beyond {
        /// The size asked for.
        asked: u64,
        /// The size the appender holds.
        have: u64,
    },
}

/// Hashes to fetch for one proof element: complete subtrees folded from the right.
type Group = Vec<NodeId>;

/// The complete subtrees that make up an RFC-aligned range `[a, b)`, largest first.
pub(crate) fn range_nodes(a: u64, b: u64) -> Group {
    let mut out = Vec::with_capacity(8);
    let mut start = a;
    let mut left = b - a;
    while left > 0 {
        let level = 63 - left.leading_zeros();
        debug_assert_eq!(start % (1u64 << level), 0, "range [{a}, {b}) is not aligned");
        out.push(NodeId { level: level as u8, index: start >> level });
        start += 1u64 << level;
        left -= 1u64 << level;
    }
    out
}

/// RFC 6962 PATH(m, D[a:b]) as ranges, from the leaf upwards.
fn path_plan(m: u64, a: u64, b: u64, out: &mut Vec<Group>) {
    let n = b - a;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    if m < a + k {
        path_plan(m, a, a + k, out);
        out.push(range_nodes(a + k, b));
    } else {
        path_plan(m, a + k, b, out);
        out.push(range_nodes(a, a + k));
    }
}

/// RFC 6962 SUBPROOF(m, D[a:b], have_root) as ranges; `m` counts leaves from `a`.
fn subproof_plan(m: u64, a: u64, b: u64, have_root: bool, out: &mut Vec<Group>) {
    let n = b - a;
    if m == n {
        if !have_root {
            out.push(range_nodes(a, b));
        }
        return;
    }
    let k = split_point(n);
    if m <= k {
        subproof_plan(m, a, a + k, have_root, out);
        out.push(range_nodes(a + k, b));
    } else {
        subproof_plan(m - k, a + k, b, false, out);
        out.push(range_nodes(a, a + k));
    }
}

/// Fetches every node of a plan in one call and folds each group into one hash.
fn resolve<S: NodeStore + ?Sized>(store: &S, plan: &[Group]) -> Result<Vec<Hash>, StoreError> {
    let ids: Vec<NodeId> = plan.iter().flatten().copied().collect();
    let hashes = store.get_many(&ids)?;
    let mut it = hashes.into_iter();
    Ok(plan
        .iter()
        .map(|group| {
            let got: Vec<Hash> = it.by_ref().take(group.len()).collect();
            fold_right(&got)
        })
        .collect())
}

/// Folds complete-subtree hashes (largest first) into the hash of their range.
pub(crate) fn fold_right(hashes: &[Hash]) -> Hash {
    let mut it = hashes.iter().rev();
    let Some(last) = it.next() else {
        return EMPTY_ROOT;
    };
    it.fold(*last, |acc, left| node_hash(left, &acc))
}

/// The root (Merkle Tree Hash) of the first `size` leaves, from O(log n) stored hashes.
pub fn root_at<S: NodeStore + ?Sized>(store: &S, size: u64) -> Result<Hash, StoreError> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    Ok(resolve(store, &[range_nodes(0, size)])?[0])
}

/// The RFC 9162 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves.
pub fn inclusion_proof<S: NodeStore + ?Sized>(
    store: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, TreeError> {
    if index >= size {
        return Err(TreeError::IndexOutOfRange { index, size });
    }
    let mut plan = Vec::with_capacity(64);
    path_plan(index, 0, size, &mut plan);
    Ok(resolve(store, &plan)?)
}

/// The RFC 9162 consistency proof that the tree of `old` leaves is a prefix of the tree of `new`.
pub fn consistency_proof<S: NodeStore + ?Sized>(
    store: &S,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, TreeError> {
    if old > new {
        return Err(TreeError::Shrunk { old, new });
    }
    if old == 0 || old == new {
        // Every tree extends the empty one, and a tree extends itself: nothing to prove.
        return Ok(Vec::new());
    }
    let mut plan = Vec::with_capacity(64);
    subproof_plan(old, 0, new, true, &mut plan);
    Ok(resolve(store, &plan)?)
}

/// Hashes of consecutive complete subtrees of one level: indexes `first..first + hashes.len()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Height above the leaves.
    pub level: u8,
    /// Index of the first subtree of the run at its level.
    pub first: u64,
    /// Their hashes, in index order.
    pub hashes: Vec<Hash>,
}

/// Every complete subtree that lies wholly within `hashes` (consecutive hashes of `level`
/// starting at index `first`), level by level up to `top`: the run given, then its parents,
/// and so on. A log's whole tree can so be rebuilt a piece at a time and compared with a
/// stored one in bulk: pieces of `2^k` leaves give every node up to level `k`, and the
/// level-`k` hashes of all pieces, run through here again, every node above.
pub fn subtree_runs(level: u8, first: u64, hashes: Vec<Hash>, top: u8) -> Vec<Run> {
    let mut runs = vec![Run { level, first, hashes }];
    loop {
        let below = runs.last().expect("starts with one run");
        let (level, first) = (below.level, below.first);
        if level >= top {
            break;
        }
        // An odd first index has its left sibling outside the run.
        let skip = (first & 1) as usize;
        let pairs = below.hashes.get(skip..).unwrap_or_default().chunks_exact(2);
        if pairs.len() == 0 {
            break;
        }
        let hashes = pairs.map(|p| node_hash(&p[0], &p[1])).collect();
        runs.push(Run { level: level + 1, first: (first + 1) >> 1, hashes });
    }
    runs
}

/// An append-only Merkle log over a [`NodeStore`].
///
/// It keeps the "frontier" (the hashes of the complete subtrees that make up
/// the current tree, at most 64) in memory, so appending reads nothing from the
/// store and writes one leaf hash plus, on average, one completed interior node.
#[derive(Debug)]
pub struct MerkleLog<S> {
    store: S,
    size: u64,
    /// Hashes of the complete subtrees of `[0, size)`, largest (leftmost) first.
    frontier: Vec<Hash>,
}

impl<S: NodeStore> MerkleLog<S> {
    /// A new, empty log over an empty store.
    pub fn new(store: S) -> Self {
        Self { store, size: 0, frontier: Vec::new() }
    }

    /// Reopens a log of `size` leaves whose hashes the store already holds.
    pub fn open(store: S, size: u64) -> Result<Self, StoreError> {
        let frontier = if size == 0 { Vec::new() } else { store.get_many(&range_nodes(0, size))? };
        Ok(Self { store, size, frontier })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The current root, from the in-memory frontier.
    pub fn root(&self) -> Hash {
        fold_right(&self.frontier)
    }

    /// The underlying store, for proofs and roots of earlier sizes.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives the store back.
    pub fn into_store(self) -> S {
        self.store
    }

    /// Appends one leaf hash (see [`crate::leaf_hash`]) and returns its index.
    pub fn append(&mut self, leaf: Hash) -> Result<u64, StoreError> {
        self.append_many(&[leaf])
    }

    /// Appends several leaf hashes with one store write; returns the index of the first.
    pub fn append_many(&mut self, leaves: &[Hash]) -> Result<u64, StoreError> {
        let first = self.size;
        let mut frontier = self.frontier.clone();
        let mut writes = Vec::with_capacity(leaves.len() * 2 + 1);
        for (offset, leaf) in leaves.iter().enumerate() {
            let mut index = first + offset as u64;
            let mut level = 0u8;
            let mut hash = *leaf;
            writes.push((NodeId::leaf(index), hash));
            // Each trailing 1-bit of the index is a left sibling waiting on the
            // frontier: the new leaf completes that subtree.
            while index & 1 == 1 {
                let left = frontier.pop().expect("frontier holds one hash per set bit of the size");
                hash = node_hash(&left, &hash);
                index >>= 1;
                level += 1;
                writes.push((NodeId { level, index }, hash));
            }
            frontier.push(hash);
        }
        // The state only moves once the store has accepted the writes, so a
        // failed transaction leaves the log where it was.
        self.store.put(&writes)?;
        self.frontier = frontier;
        self.size = first + leaves.len() as u64;
        Ok(first)
    }

    /// An unsigned checkpoint of the current state; `time` is RFC 3339, from the caller's clock.
    pub fn checkpoint(&self, origin: &str, time: &str) -> crate::checkpoint::Checkpoint {
        crate::checkpoint::Checkpoint {
            origin: origin.to_owned(),
            size: self.size,
            root: self.root(),
            time: time.to_owned(),
        }
    }

    /// The root of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, TreeError> {
        self.check(size)?;
        if size == self.size {
            return Ok(self.root());
        }
        Ok(root_at(&self.store, size)?)
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, TreeError> {
        self.check(size)?;
        inclusion_proof(&self.store, index, size)
    }

    /// Consistency proof from size `old` to size `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, TreeError> {
        self.check(new)?;
        consistency_proof(&self.store, old, new)
    }

    fn check(&self, size: u64) -> Result<(), TreeError> {
        if size > self.size {
            return Err(TreeError::Beyond { asked: size, have: self.size });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{from_hex, leaf_hash};
    use crate::store::MemoryStore;

    /// The eight leaves of certificate-transparency's cpp/merkletree/merkle_tree_test.cc.
    const CT_LEAVES: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

    /// kSHA256Roots from the same file: the root after each leaf is added.
    const CT_ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn h(s: &str) -> Hash {
        from_hex(s).unwrap()
    }

    fn ct_log() -> MerkleLog<MemoryStore> {
        let mut log = MerkleLog::new(MemoryStore::new());
        for leaf in CT_LEAVES {
            log.append(leaf_hash(&hex::decode(leaf).unwrap())).unwrap();
        }
        log
    }

    #[test]
    fn roots_match_ct_reference_vectors() {
        let mut log = MerkleLog::new(MemoryStore::new());
        assert_eq!(log.root(), EMPTY_ROOT);
        for (i, leaf) in CT_LEAVES.iter().enumerate() {
            log.append(leaf_hash(&hex::decode(leaf).unwrap())).unwrap();
            assert_eq!(log.root(), h(CT_ROOTS[i]), "incremental root after {} leaves", i + 1);
        }
        for size in 1..=8 {
            assert_eq!(log.root_at(size).unwrap(), h(CT_ROOTS[size as usize - 1]));
        }
        assert_eq!(log.root_at(0).unwrap(), EMPTY_ROOT);
    }

    #[test]
    fn inclusion_proofs_match_ct_reference_vectors() {
        // kSHA256Paths; the C++ test numbers leaves from 1, this crate from 0.
        let log = ct_log();
        let cases: [(u64, u64, &[&str]); 5] = [
            (0, 1, &[]),
            (
                0,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                5,
                8,
                &[
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (2, 3, &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
            (
                1,
                5,
                &[
                    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (index, size, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(log.inclusion_proof(index, size).unwrap(), want, "leaf {index} of {size}");
        }
    }

    #[test]
    fn consistency_proofs_match_ct_reference_vectors() {
        // kSHA256Proofs.
        let log = ct_log();
        let cases: [(u64, u64, &[&str]); 4] = [
            (1, 1, &[]),
            (
                1,
                8,
                &[
                    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
                ],
            ),
            (
                6,
                8,
                &[
                    "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                ],
            ),
            (
                2,
                5,
                &[
                    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                ],
            ),
        ];
        for (old, new, want) in cases {
            let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
            assert_eq!(log.consistency_proof(old, new).unwrap(), want, "{old} -> {new}");
        }
    }

    #[test]
    fn appends_write_about_two_nodes_per_leaf() {
        let mut log = MerkleLog::new(MemoryStore::new());
        for i in 0u32..1000 {
            log.append(leaf_hash(&i.to_be_bytes())).unwrap();
        }
        // n leaves + (n - popcount(n)) completed interior nodes.
        assert_eq!(log.store().len(), 1000 + 1000 - 1000u32.count_ones() as usize);
    }

    #[test]
    fn reopen_and_batch_append_agree_with_single_appends() {
        let leaves: Vec<Hash> = (0u32..77).map(|i| leaf_hash(&i.to_le_bytes())).collect();
        let mut one = MerkleLog::new(MemoryStore::new());
        for l in &leaves {
            one.append(*l).unwrap();
        }
        let mut batched = MerkleLog::new(MemoryStore::new());
        batched.append_many(&leaves[..30]).unwrap();
        let mut reopened = MerkleLog::open(batched.into_store(), 30).unwrap();
        assert_eq!(reopened.append_many(&leaves[30..]).unwrap(), 30);
        assert_eq!(reopened.root(), one.root());
        for size in 0..=77 {
            assert_eq!(reopened.root_at(size).unwrap(), one.root_at(size).unwrap());
        }
    }

    #[test]
    fn subtree_runs_rebuild_every_stored_node_piece_by_piece() {
        for n in [1u64, 2, 7, 8, 33, 100] {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
            let mut log = MerkleLog::new(MemoryStore::new());
            log.append_many(&leaves).unwrap();
            for k in [0u8, 1, 3] {
                // Pieces of 2^k leaves give levels 0..=k; their level-k hashes the rest.
                let mut got = Vec::new();
                let mut tops = Vec::new();
                for (p, piece) in leaves.chunks(1 << k).enumerate() {
                    for run in subtree_runs(0, (p as u64) << k, piece.to_vec(), k) {
                        if run.level == k {
                            tops.extend_from_slice(&run.hashes);
                        }
                        got.push(run);
                    }
                }
                got.extend(subtree_runs(k, 0, tops, 63).into_iter().skip(1));
                let mut count = 0;
                for run in &got {
                    for (i, h) in run.hashes.iter().enumerate() {
                        let id = NodeId { level: run.level, index: run.first + i as u64 };
                        assert_eq!(log.store().get(id).unwrap(), Some(*h), "n {n}, k {k}, {id}");
                        count += 1;
                    }
                }
                assert_eq!(count, log.store().len(), "n {n}, k {k}: every stored node, once");
            }
        }
        // A run that starts at an odd index leaves out the subtree it only half covers.
        let runs = subtree_runs(0, 3, vec![[1; 32], [2; 32], [3; 32]], 63);
        assert_eq!((runs[1].level, runs[1].first, runs[1].hashes.len()), (1, 2, 1));
    }

    #[test]
    fn out_of_range_requests_are_refused_with_reasons() {
        let log = ct_log();
        assert!(matches!(log.inclusion_proof(8, 8), Err(TreeError::IndexOutOfRange { index: 8, size: 8 })));
        assert!(matches!(log.consistency_proof(5, 3), Err(TreeError::Shrunk { .. })));
        let err = log.root_at(9).unwrap_err();
        assert_eq!(err.to_string(), "the log has 8 entries; size 9 does not exist yet");
        assert!(log.consistency_proof(0, 8).unwrap().is_empty());
    }
}
