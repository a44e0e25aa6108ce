//! Re-hashing a whole log against its signed checkpoints, and finding the first bad entry.
//!
//! The checkpoints are the trust anchor: each was signed when the log had `size`
//! entries, and outside parties may hold copies. The entries are re-hashed from
//! their bytes and the roots compared at every checkpoint size, in increasing order.
//!
//! A root mismatch says *that* something in the first `size` entries changed. To say
//! *which* entry, the check walks down the tree from the signed root using the stored
//! subtree hashes as hints: a stored pair of children is only believed when it hashes to
//! the already-trusted parent, so a store that was rewritten along with the entries cannot
//! mislead the walk; it can only stop it, and the report then gives the narrowest range
//! it could prove instead of one index.

use std::fmt;

use crate::checkpoint::Checkpoint;
use crate::hash::{EMPTY_ROOT, Hash, leaf_hash, node_hash, split_point, to_hex};
use crate::store::NodeStore;
use crate::tree::{fold_right, range_nodes};

/// What the log check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogReport {
    /// Every checkpoint matches the entries.
    Intact(IntactLog),
    /// A checkpoint does not match: the earliest such checkpoint and the first bad entry.
    Diverged(Divergence),
}

impl LogReport {
    /// True when every checkpoint matched.
    pub fn is_intact(&self) -> bool {
        matches!(self, LogReport::Intact(_))
    }
}

/// Summary of a log that matches every checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntactLog {
    /// Entries read.
    pub entries: u64,
    /// Checkpoints compared.
    pub checkpoints: usize,
    /// Size of the largest checkpoint: entries from here on are not yet covered by a signature.
    pub covered: u64,
    /// Root of all entries read.
    pub root: Hash,
}

/// Where the first bad entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Exactly this entry index.
    Exact(u64),
    /// Somewhere in `from..to` (the tree store could not narrow it further).
    Within {
        /// First index that may be bad.
        from: u64,
        /// One past the last index that may be bad.
        to: u64,
        /// Why the search stopped here.
        why: String,
    },
}

/// What kind of difference was found at the first bad entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// An entry exists at that index but is not the one that was signed
    /// (altered, inserted before, or moved there, or an earlier entry was deleted).
    Changed,
    /// The log ends before the checkpoint's size: entries from that index on are gone.
    Missing,
}

/// The first place where the log and a checkpoint disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Size of the checkpoint that caught it.
    pub checkpoint_size: u64,
    /// Time of that checkpoint.
    pub checkpoint_time: String,
    /// Root the checkpoint signed.
    pub signed_root: Hash,
    /// Root re-computed from the entries (`None` when the log is shorter than the checkpoint).
    pub computed_root: Option<Hash>,
    /// Where the first bad entry is.
    pub location: Location,
    /// What is wrong there.
    pub cause: Cause,
    /// Entries in the log.
    pub entries: u64,
}

impl Divergence {
    /// The first bad entry index if known exactly, else the first index that may be bad.
    pub fn first_index(&self) -> u64 {
        match self.location {
            Location::Exact(i) => i,
            Location::Within { from, .. } => from,
        }
    }
}

impl fmt::Display for LogReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogReport::Intact(ok) => {
                write!(
                    f,
                    "the log is intact: {} entries match {} checkpoint(s); root {}",
                    ok.entries,
                    ok.checkpoints,
                    to_hex(&ok.root)
                )?;
                if ok.entries > ok.covered {
                    write!(
                        f,
                        "; the last {} entries are not yet covered by a checkpoint",
                        ok.entries - ok.covered
                    )?;
                }
                Ok(())
            }
            LogReport::Diverged(d) => d.fmt(f),
        }
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cp =
            format!("the checkpoint of {} entries signed at {}", self.checkpoint_size, self.checkpoint_time);
        match (&self.location, self.cause) {
            (Location::Exact(i), Cause::Missing) => write!(
                f,
                "the log has only {} entries but {cp} covers {}: entries from {i} on were deleted",
                self.entries, self.checkpoint_size
            ),
            (Location::Exact(i), Cause::Changed) => write!(
                f,
                "entry {i} is not the entry that {cp} covers: it was altered, inserted, moved, or an entry before it was deleted"
            ),
            (Location::Within { from, to, why }, _) => {
                write!(f, "the entries do not match {cp}; the first bad entry lies in {from}..{to} ({why})")
            }
        }
    }
}

/// Re-hashes `entries` (canonical bytes, in log order) and compares them with `checkpoints`.
///
/// `checkpoints` must already have had their signatures checked. `hints`, the log's tree
/// store, lets the check name the exact first bad entry; without it, or if it was altered
/// too, the report gives a range. Reading stops at the first failing checkpoint; the
/// leaf hashes read so far are kept in memory (32 bytes per entry) for the walk down.
/// Checkpoints must all be of the same log (same origin); the caller filters them.
pub fn verify_log<E, S>(
    entries: impl IntoIterator<Item = E>,
    checkpoints: &[Checkpoint],
    hints: Option<&S>,
) -> LogReport
where
    E: AsRef<[u8]>,
    S: NodeStore + ?Sized,
{
    let mut check = LogCheck::new(checkpoints);
    for entry in entries {
        if check.diverged() {
            check.skip(1);
        } else {
            check.push(leaf_hash(entry.as_ref()));
        }
    }
    check.finish(hints)
}

/// [`verify_log`] fed a leaf hash at a time, for logs read in chunks and hashed elsewhere.
///
/// Push every leaf hash in log order (or [`LogCheck::skip`] them once
/// [`LogCheck::diverged`]), then [`LogCheck::finish`] with the tree store, which is only
/// read when a checkpoint failed.
#[derive(Debug, Clone)]
pub struct LogCheck {
    /// Checkpoints by size, smallest first.
    order: Vec<Checkpoint>,
    /// The next checkpoint of `order` to compare.
    next: usize,
    /// Leaf hashes up to the first failing checkpoint, for the walk down.
    leaves: Vec<Hash>,
    /// Complete-subtree hashes of `leaves`, largest first.
    frontier: Vec<Hash>,
    /// Entries that matched the last good checkpoint.
    good: u64,
    checked: usize,
    /// The failing checkpoint (index in `order`) and the root computed for it.
    failed: Option<(usize, Hash)>,
    /// Entries counted after the failure.
    skipped: u64,
}

impl LogCheck {
    /// A check against `checkpoints` (signatures already verified, one origin).
    pub fn new(checkpoints: &[Checkpoint]) -> Self {
        let mut order = checkpoints.to_vec();
        order.sort_by_key(|c| c.size);
        Self {
            order,
            next: 0,
            leaves: Vec::new(),
            frontier: Vec::new(),
            good: 0,
            checked: 0,
            failed: None,
            skipped: 0,
        }
    }

    /// True once a checkpoint failed: later leaves need not be hashed, only counted.
    pub fn diverged(&self) -> bool {
        self.failed.is_some()
    }

    /// After the last leaf: true when every checkpoint matched, so that
    /// [`LogCheck::finish`] will not read the tree store and none need be given.
    pub fn holds(&mut self) -> bool {
        self.compare();
        self.failed.is_none() && self.next == self.order.len()
    }

    /// Counts `n` more entries without their hashes (after a failure).
    pub fn skip(&mut self, n: u64) {
        self.skipped += n;
    }

    /// Compares every checkpoint of the current size.
    fn compare(&mut self) {
        let n = self.leaves.len() as u64;
        while self.failed.is_none() && self.order.get(self.next).is_some_and(|cp| cp.size == n) {
            let root = fold_right(&self.frontier);
            if root != self.order[self.next].root {
                self.failed = Some((self.next, root));
                return;
            }
            self.good = n;
            self.checked += 1;
            self.next += 1;
        }
    }

    /// Adds the next leaf hash (ignored, but counted, once a checkpoint failed).
    pub fn push(&mut self, leaf: Hash) {
        self.compare();
        if self.failed.is_some() {
            self.skipped += 1;
            return;
        }
        let n = self.leaves.len() as u64;
        self.leaves.push(leaf);
        // Same frontier update as the appender: each trailing 1-bit of the
        // index merges one complete subtree.
        let mut hash = leaf;
        let mut index = n;
        while index & 1 == 1 {
            let left = self.frontier.pop().expect("one frontier hash per set bit");
            hash = node_hash(&left, &hash);
            index >>= 1;
        }
        self.frontier.push(hash);
    }

    /// Adds leaf hashes in order.
    pub fn extend(&mut self, leaves: &[Hash]) {
        for leaf in leaves {
            self.push(*leaf);
        }
    }

    /// The report, after the last leaf; `hints` is the log's tree store (see [`verify_log`]).
    pub fn finish<S: NodeStore + ?Sized>(mut self, hints: Option<&S>) -> LogReport {
        self.compare();
        let n = self.leaves.len() as u64;
        if let Some((at, root)) = self.failed {
            let cp = &self.order[at];
            let location = locate(&self.leaves, self.good, cp, hints);
            return LogReport::Diverged(Divergence {
                checkpoint_size: cp.size,
                checkpoint_time: cp.time.clone(),
                signed_root: cp.root,
                computed_root: Some(root),
                cause: cause_at(&location, n),
                location,
                // The whole log was not hashed; callers get the count they passed in.
                entries: n + self.skipped,
            });
        }
        if let Some(cp) = self.order.get(self.next) {
            // The log is shorter than a checkpoint.
            let location = locate(&self.leaves, self.good, cp, hints);
            return LogReport::Diverged(Divergence {
                checkpoint_size: cp.size,
                checkpoint_time: cp.time.clone(),
                signed_root: cp.root,
                computed_root: None,
                cause: cause_at(&location, n),
                location,
                entries: n,
            });
        }
        LogReport::Intact(IntactLog {
            entries: n,
            checkpoints: self.checked,
            covered: self.good,
            root: fold_right(&self.frontier),
        })
    }
}

fn cause_at(location: &Location, len: u64) -> Cause {
    match location {
        Location::Exact(i) if *i >= len => Cause::Missing,
        _ => Cause::Changed,
    }
}

/// MTH of leaves `[a, b)` re-computed from the entries, or `None` if some are missing.
fn recomputed(leaves: &[Hash], a: u64, b: u64) -> Option<Hash> {
    let slice = leaves.get(a as usize..b as usize)?;
    Some(mth(slice))
}

fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// Walks down from the signed root to the leftmost leaf that differs.
fn locate<S: NodeStore + ?Sized>(leaves: &[Hash], good: u64, cp: &Checkpoint, hints: Option<&S>) -> Location {
    if cp.size == 0 {
        return Location::Within {
            from: 0,
            to: 0,
            why: "a checkpoint of 0 entries must carry the empty root; this one cannot belong to this log"
                .into(),
        };
    }
    let len = leaves.len() as u64;
    let within = |from: u64, to: u64, why: String| {
        // Entries before `good` matched an earlier checkpoint, and a log shorter
        // than the checkpoint is certainly wrong at its end.
        let lo = from.max(good);
        let hi = to.min(len + 1);
        if lo >= hi {
            return Location::Within {
                from,
                to,
                why: format!(
                    "another checkpoint matches the first {good} entries, so the checkpoints disagree with each other: two histories were signed"
                ),
            };
        }
        if hi == lo + 1 { Location::Exact(lo) } else { Location::Within { from: lo, to: hi, why } }
    };
    let Some(store) = hints else {
        return within(good, cp.size, "no tree store was given to narrow it down".into());
    };
    let stored = |a: u64, b: u64| -> Result<Hash, String> {
        let ids = range_nodes(a, b);
        store
            .get_many(&ids)
            .map(|h| fold_right(&h))
            .map_err(|e| format!("the tree store could not be read: {e}"))
    };
    let (mut a, mut b, mut trusted) = (0u64, cp.size, cp.root);
    while b - a > 1 {
        let k = split_point(b - a);
        let (left, right) = match (stored(a, a + k), stored(a + k, b)) {
            (Ok(l), Ok(r)) => (l, r),
            (Err(why), _) | (_, Err(why)) => return within(a, b, why),
        };
        if node_hash(&left, &right) != trusted {
            return within(a, b, format!("the tree store was altered too below leaves {a}..{b}"));
        }
        if recomputed(leaves, a, a + k) != Some(left) {
            (b, trusted) = (a + k, left);
        } else {
            (a, trusted) = (a + k, right);
        }
    }
    Location::Exact(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use crate::tree::MerkleLog;

    fn entries(n: u32) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
    }

    fn signed(entries: &[Vec<u8>], sizes: &[u64]) -> (MemoryStore, Vec<Checkpoint>) {
        let mut log = MerkleLog::new(MemoryStore::new());
        let mut cps = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            log.append(leaf_hash(e)).unwrap();
            if sizes.contains(&(i as u64 + 1)) {
                cps.push(Checkpoint {
                    origin: "test".into(),
                    size: i as u64 + 1,
                    root: log.root(),
                    time: format!("2026-11-05T09:{:02}:00Z", i % 60),
                });
            }
        }
        (log.into_store(), cps)
    }

    #[test]
    fn intact_log_reports_uncovered_tail() {
        let es = entries(100);
        let (store, cps) = signed(&es, &[10, 64, 90]);
        let report = verify_log(&es, &cps, Some(&store));
        let LogReport::Intact(ok) = &report else { panic!("{report}") };
        assert_eq!((ok.entries, ok.checkpoints, ok.covered), (100, 3, 90));
        assert!(report.to_string().ends_with("the last 10 entries are not yet covered by a checkpoint"));
    }

    #[test]
    fn altered_entry_is_found_exactly_with_the_store_and_roughly_without() {
        let es = entries(100);
        let (store, cps) = signed(&es, &[10, 64, 100]);
        let mut bad = es.clone();
        bad[70] = b"entry 70, amended".to_vec();
        let LogReport::Diverged(d) = verify_log(&bad, &cps, Some(&store)) else { panic!() };
        assert_eq!(
            (d.location.clone(), d.cause, d.checkpoint_size),
            (Location::Exact(70), Cause::Changed, 100)
        );
        assert!(d.to_string().starts_with("entry 70 is not the entry that the checkpoint of 100 entries"));

        let LogReport::Diverged(d) = verify_log(&bad, &cps, None::<&MemoryStore>) else { panic!() };
        assert!(matches!(d.location, Location::Within { from: 64, to: 100, .. }), "{d}");
    }

    #[test]
    fn a_rewritten_store_cannot_point_elsewhere() {
        let es = entries(100);
        let (mut store, cps) = signed(&es, &[100]);
        let mut bad = es.clone();
        bad[70] = b"forged".to_vec();
        // The forger also fixes the stored leaf hash; the parent no longer fits.
        store.tamper(crate::store::NodeId::leaf(70), leaf_hash(b"forged"));
        let LogReport::Diverged(d) = verify_log(&bad, &cps, Some(&store)) else { panic!() };
        match d.location {
            Location::Within { from, to, .. } => assert!(from <= 70 && 70 < to),
            Location::Exact(i) => assert_eq!(i, 70),
        }
    }

    #[test]
    fn truncation_is_reported_as_missing_entries() {
        let es = entries(50);
        let (store, cps) = signed(&es, &[20, 50]);
        let LogReport::Diverged(d) = verify_log(&es[..45], &cps, Some(&store)) else { panic!() };
        assert_eq!(
            (d.location.clone(), d.cause, d.computed_root),
            (Location::Exact(45), Cause::Missing, None)
        );
        assert_eq!(
            d.to_string(),
            "the log has only 45 entries but the checkpoint of 50 entries signed at 2026-11-05T09:49:00Z covers 50: entries from 45 on were deleted"
        );
    }

    #[test]
    fn a_forked_checkpoint_of_the_same_size_is_caught() {
        let es = entries(30);
        let (store, mut cps) = signed(&es, &[16, 30]);
        let mut fork = cps[0].clone();
        fork.root = leaf_hash(b"another history");
        cps.push(fork);
        let LogReport::Diverged(d) = verify_log(&es, &cps, Some(&store)) else { panic!() };
        assert_eq!(d.checkpoint_size, 16);
        assert!(matches!(d.location, Location::Within { .. }), "{d}");
        assert!(d.to_string().contains("two histories were signed"), "{d}");
    }

    #[test]
    fn empty_checkpoint_and_empty_log() {
        let cps = [Checkpoint {
            origin: "t".into(),
            size: 0,
            root: EMPTY_ROOT,
            time: "2026-11-05T09:00:00Z".into(),
        }];
        assert!(verify_log(Vec::<Vec<u8>>::new(), &cps, None::<&MemoryStore>).is_intact());
    }
}
