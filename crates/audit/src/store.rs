//! Where the tree's complete-subtree hashes live: a trait for the database and an in-memory store.

use std::fmt;

use crate::hash::Hash;

/// Address of a complete subtree: the `2^level` leaves that start at leaf `index << level`.
///
/// Only complete subtrees are ever stored: once written their hash never changes,
/// so a store is append-only and every row can be written exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    /// Height above the leaves: 0 for a leaf hash.
    pub level: u8,
    /// Position among the subtrees of this level, counting from 0 at the left.
    pub index: u64,
}

impl NodeId {
    /// The node for one leaf's hash.
    pub const fn leaf(index: u64) -> Self {
        Self { level: 0, index }
    }

    /// Index of the first leaf this subtree covers.
    pub const fn first_leaf(&self) -> u64 {
        self.index << self.level
    }

    /// Number of leaves this subtree covers.
    pub const fn width(&self) -> u64 {
        1u64 << self.level
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.first_leaf();
        write!(
            f,
            "level {} index {} (leaves {}..{})",
            self.level,
            self.index,
            first,
            first.saturating_add(self.width())
        )
    }
}

/// Why a tree store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A hash that should exist for the requested tree size is absent.
    #[error(
        "the tree store has no hash for the subtree at {0}; the store is behind the log or was truncated"
    )]
    Missing(NodeId),
    /// A write would leave a gap, which an append-only store must never have.
    #[error("the tree store refused to write {0}: it is not the next node of its level")]
    OutOfOrder(NodeId),
    /// The backend (database, file) failed.
    #[error("the tree store failed")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// Wraps a backend error, such as a database error, for the `?` operator.
    pub fn backend(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(err))
    }
}

/// Persistence of complete-subtree hashes keyed by [`NodeId`].
///
/// A database implementation maps this to one table `(level, idx) -> hash`
/// with a primary key on `(level, idx)`; `put` receives every row for one
/// append (or one batch) so it fits in the caller's transaction.
pub trait NodeStore {
    /// The stored hash of one complete subtree, or `None` if it was never written.
    fn get(&self, id: NodeId) -> Result<Option<Hash>, StoreError>;

    /// Writes hashes of newly completed subtrees; called in append order.
    fn put(&mut self, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError>;

    /// Several hashes at once, all of which must exist; override to use one query.
    fn get_many(&self, ids: &[NodeId]) -> Result<Vec<Hash>, StoreError> {
        ids.iter().map(|&id| self.get(id)?.ok_or(StoreError::Missing(id))).collect()
    }
}

/// A store that keeps every complete-subtree hash in memory, one vector per level.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    levels: Vec<Vec<Hash>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of hashes stored, all levels together (about twice the leaf count).
    pub fn len(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// True when nothing has been stored.
    pub fn is_empty(&self) -> bool {
        self.levels.iter().all(Vec::is_empty)
    }

    /// Overwrites a stored hash, to simulate tampering in tests and drills.
    pub fn tamper(&mut self, id: NodeId, hash: Hash) -> bool {
        match self
            .levels
            .get_mut(usize::from(id.level))
            .and_then(|l| l.get_mut(usize::try_from(id.index).ok()?))
        {
            Some(slot) => {
                *slot = hash;
                true
            }
            None => false,
        }
    }
}

impl NodeStore for MemoryStore {
    fn get(&self, id: NodeId) -> Result<Option<Hash>, StoreError> {
        Ok(self
            .levels
            .get(usize::from(id.level))
            .and_then(|l| l.get(usize::try_from(id.index).ok()?))
            .copied())
    }

    fn put(&mut self, nodes: &[(NodeId, Hash)]) -> Result<(), StoreError> {
        // Check everything first so a refused batch leaves the store untouched,
        // as a rolled-back transaction would.
        let mut next: Vec<u64> = self.levels.iter().map(|l| l.len() as u64).collect();
        for (id, _) in nodes {
            let level = usize::from(id.level);
            if next.len() <= level {
                next.resize(level + 1, 0);
            }
            if id.index > next[level] {
                return Err(StoreError::OutOfOrder(*id));
            }
            next[level] = next[level].max(id.index + 1);
        }
        for (id, hash) in nodes {
            let level = usize::from(id.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            let slots = &mut self.levels[level];
            let i = id.index as usize;
            if i == slots.len() {
                slots.push(*hash);
            } else {
                // Rewriting a complete subtree yields the same hash for the same leaves.
                slots[i] = *hash;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_geometry() {
        let id = NodeId { level: 3, index: 2 };
        assert_eq!(id.first_leaf(), 16);
        assert_eq!(id.width(), 8);
        assert_eq!(id.to_string(), "level 3 index 2 (leaves 16..24)");
    }

    #[test]
    fn memory_store_refuses_gaps_and_keeps_state() {
        let mut s = MemoryStore::new();
        s.put(&[(NodeId::leaf(0), [1; 32])]).unwrap();
        let err = s.put(&[(NodeId::leaf(1), [2; 32]), (NodeId::leaf(3), [3; 32])]).unwrap_err();
        assert!(matches!(err, StoreError::OutOfOrder(id) if id == NodeId::leaf(3)));
        assert_eq!(s.len(), 1, "a refused batch writes nothing");
        assert_eq!(s.get(NodeId::leaf(0)).unwrap(), Some([1; 32]));
        assert_eq!(s.get(NodeId::leaf(1)).unwrap(), None);
        assert!(matches!(
            s.get_many(&[NodeId::leaf(0), NodeId::leaf(1)]),
            Err(StoreError::Missing(id)) if id == NodeId::leaf(1)
        ));
    }
}
