//! Shards: parts of the book that several workers evaluate side by side.

use super::BatchError;

/// One part of the book when several workers share it: `index` of `count`, counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which part, 1-based.
    pub index: u32,
    /// How many parts.
    pub count: u32,
}

impl Shard {
    /// The whole book.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    /// Reads `i/n` with 1 ≤ i ≤ n.
    pub fn parse(text: &str) -> Result<Shard, BatchError> {
        let bad = || BatchError::BadShard(text.to_string());
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub(super) fn lock_name(self) -> String {
        format!("batch-{}-of-{}", self.index, self.count)
    }
}
