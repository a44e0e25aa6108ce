//! The audit log's tables: appending entries inside the caller's transaction, and reading
//! entries, tree nodes and checkpoints back for proofs and verification.
//!
//! The Merkle logic is `arrears_audit`'s; this module only keeps its rows. An append
//! first bumps `audit_head`, which takes SQLite's write lock or PostgreSQL's row lock, so
//! appenders queue behind each other until the holder's transaction ends, and sequence
//! numbers never collide nor leave gaps.

use std::cell::RefCell;
use std::collections::HashMap;

use arrears_audit::{Entry, Hash, MerkleLog, NodeId, NodeStore};
use sqlx::Row as _;

use crate::corrupt;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

fn hash_of(table: &'static str, bytes: &[u8]) -> Result<Hash, StoreError> {
    <Hash>::try_from(bytes).map_err(|_| corrupt(table, format!("a hash of {} bytes, not 32", bytes.len())))
}

/// Rows per multi-row statement.
const ROWS_PER_STATEMENT: usize = 500;

/// The complete subtrees that make up the first `size` leaves, largest first.
fn frontier_ids(size: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut start = 0u64;
    let mut left = size;
    while left > 0 {
        let level = 63 - left.leading_zeros();
        out.push(NodeId { level: level as u8, index: start >> level });
        start += 1u64 << level;
        left -= 1u64 << level;
    }
    out
}

/// Tree hashes loaded from `audit_nodes`, as a [`NodeStore`]; writes are collected.
#[derive(Debug, Default)]
pub struct LoadedNodes {
    map: HashMap<NodeId, Hash>,
    written: Vec<(NodeId, Hash)>,
    /// When set, every id asked for is noted and answered with a zero hash: a dry run
    /// that finds out which rows a proof needs, so that they can be read in one query.
    recording: Option<RefCell<Vec<NodeId>>>,
}

impl LoadedNodes {
    /// Number of hashes held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every stored node, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &Hash)> {
        self.map.iter()
    }
}

impl NodeStore for LoadedNodes {
    fn get(&self, id: NodeId) -> Result<Option<Hash>, arrears_audit::StoreError> {
        if let Some(rec) = &self.recording {
            rec.borrow_mut().push(id);
            return Ok(Some([0; 32]));
        }
        Ok(self.map.get(&id).copied())
    }

    fn put(&mut self, nodes: &[(NodeId, Hash)]) -> Result<(), arrears_audit::StoreError> {
        self.written.extend_from_slice(nodes);
        self.map.extend(nodes.iter().copied());
        Ok(())
    }
}

/// `(level = 3 AND idx = 0) OR …` for a list of node ids (integers only, written in).
fn node_filter(ids: &[NodeId]) -> String {
    let mut s = String::with_capacity(ids.len() * 32);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push_str(" OR ");
        }
        s.push_str(&format!("(level = {} AND idx = {})", id.level, id.index));
    }
    s
}

/// Appends `entries` to the log in the caller's transaction: assigns each its sequence
/// number (overwriting `seq`), stores its canonical bytes, its entity ids, its leaf hash
/// and the subtree hashes it completes. Returns the first sequence number.
///
/// Call it last in the transaction: from here until commit, other appenders wait.
pub async fn append(tx: &mut Tx, entries: &mut [Entry]) -> Result<u64, StoreError> {
    if entries.is_empty() {
        return Err(corrupt("audit_entries", "an append of no entries"));
    }
    let n = entries.len() as i64;
    let new_size: i64 = on_tx!(tx, conn => {
        sqlx::query_scalar("UPDATE audit_head SET size = size + $1 WHERE id = 1 RETURNING size")
            .bind(n)
            .fetch_one(&mut *conn)
            .await?
    });
    let first = u64::try_from(new_size - n).map_err(|e| corrupt("audit_head", e))?;
    let ids = frontier_ids(first);
    let mut have = HashMap::with_capacity(ids.len());
    if !ids.is_empty() {
        let sql =
            format!("SELECT CAST(level AS BIGINT), idx, hash FROM audit_nodes WHERE {}", node_filter(&ids));
        on_tx!(tx, conn => {
            let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *conn).await?;
            for r in rows {
                let level: i64 = r.try_get(0)?;
                let idx: i64 = r.try_get(1)?;
                let hash: Vec<u8> = r.try_get(2)?;
                have.insert(NodeId { level: level as u8, index: idx as u64 }, hash_of("audit_nodes", &hash)?);
            }
        });
    }
    let store = LoadedNodes { map: have, ..Default::default() };
    let mut log = MerkleLog::open(store, first).map_err(|e| {
        corrupt("audit_nodes", format!("the tree's frontier for {first} entries cannot be read: {e}"))
    })?;
    let mut bodies = Vec::with_capacity(entries.len());
    let mut leaves = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter_mut().enumerate() {
        e.seq = first + i as u64;
        // The app layer checks every entry encodes before it calls here.
        let bytes = e.encode().map_err(|err| corrupt("audit_entries", format!("entry {}: {err}", e.seq)))?;
        leaves.push(arrears_audit::leaf_hash(&bytes));
        bodies.push(bytes);
    }
    log.append_many(&leaves).map_err(|e| corrupt("audit_nodes", e))?;
    let written = log.into_store().written;
    on_tx!(tx, conn => {
        for (part, bodies) in entries.chunks(ROWS_PER_STATEMENT).zip(bodies.chunks(ROWS_PER_STATEMENT)) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO audit_entries (seq, at, kind, body) ");
            q.push_values(part.iter().zip(bodies), |mut b, (e, body)| {
                b.push_bind(e.seq as i64).push_bind(e.at.clone()).push_bind(e.kind.clone()).push_bind(body.clone());
            });
            q.build().execute(&mut *conn).await?;
        }
        let mut named: Vec<(String, i64)> = entries
            .iter()
            .flat_map(|e| e.entity_ids.iter().map(move |id| (id.clone(), e.seq as i64)))
            .collect();
        named.sort_unstable();
        named.dedup();
        for part in named.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO audit_entities (entity_id, seq) ");
            q.push_values(part, |mut b, (id, seq)| {
                b.push_bind(id.clone()).push_bind(*seq);
            });
            q.build().execute(&mut *conn).await?;
        }
        for part in written.chunks(ROWS_PER_STATEMENT) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO audit_nodes (level, idx, hash) ");
            q.push_values(part, |mut b, (id, hash)| {
                b.push_bind(i16::from(id.level)).push_bind(id.index as i64).push_bind(hash.to_vec());
            });
            q.build().execute(&mut *conn).await?;
        }
    });
    Ok(first)
}

/// Number of entries the head row says were appended.
pub async fn head_size(db: &Db) -> Result<u64, StoreError> {
    let n: i64 =
        on_pool!(db, p => sqlx::query_scalar("SELECT size FROM audit_head WHERE id = 1").fetch_one(p).await?);
    u64::try_from(n).map_err(|e| corrupt("audit_head", e))
}

/// Every entry row in sequence order: `(seq, body)`.
pub async fn all_entries(db: &Db) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
    Ok(
        on_pool!(db, p => sqlx::query_as("SELECT seq, body FROM audit_entries ORDER BY seq").fetch_all(p).await?),
    )
}

/// Entry rows read in one go: their numbers, and their `at`, `kind` and body end to end.
#[derive(Debug, Clone, Default)]
pub struct EntryPage {
    /// Each row's sequence number and where its `at`, `kind` and body end in `bytes`.
    rows: Vec<(i64, [usize; 3])>,
    bytes: Vec<u8>,
}

impl EntryPage {
    /// Rows read.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row was read.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { self.rows[i - 1].1[2] }
    }

    /// Row `i`'s sequence number and body.
    pub fn row(&self, i: usize) -> (i64, &[u8]) {
        let (seq, [_, kind_end, end]) = self.rows[i];
        (seq, &self.bytes[kind_end..end])
    }

    /// Row `i`'s `at` and `kind` columns as stored (UTF-8 unless changed by hand).
    pub fn columns(&self, i: usize) -> (&[u8], &[u8]) {
        let [at_end, kind_end, _] = self.rows[i].1;
        (&self.bytes[self.start(i)..at_end], &self.bytes[at_end..kind_end])
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &[u8])> {
        (0..self.len()).map(|i| self.row(i))
    }

    fn push(&mut self, seq: i64, at: &[u8], kind: &[u8], body: &[u8]) {
        let mut ends = [0; 3];
        for (end, part) in ends.iter_mut().zip([at, kind, body]) {
            self.bytes.extend_from_slice(part);
            *end = self.bytes.len();
        }
        self.rows.push((seq, ends));
    }
}

// SQLite sorts the input of an aggregate with ORDER BY again, though the limited subquery
// delivers it in key order already; the reader checks that order instead. The columns are
// read as bytes, so that a value changed by hand into something else still reads back.
const PAGE_SQLITE: &str = "SELECT string_agg(seq || ',' || octet_length(at) || ',' || octet_length(kind) \
     || ',' || octet_length(body), ';'), \
     CAST(string_agg(CAST(at AS BLOB) || CAST(kind AS BLOB) || body, '') AS BLOB) \
     FROM (SELECT seq, at, kind, body FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2)";
const PAGE_POSTGRES: &str = "SELECT string_agg(seq::text || ',' || octet_length(at)::text || ',' \
     || octet_length(kind)::text || ',' || octet_length(body)::text, ';' ORDER BY seq), \
     string_agg(convert_to(at, 'UTF8') || convert_to(kind, 'UTF8') || body, ''::bytea ORDER BY seq) \
     FROM (SELECT seq, at, kind, body FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2) t";
const ROWS_SQLITE: &str = "SELECT seq, CAST(at AS BLOB), CAST(kind AS BLOB), body FROM audit_entries \
     WHERE seq >= $1 ORDER BY seq LIMIT $2";
const ROWS_POSTGRES: &str = "SELECT seq, convert_to(at, 'UTF8'), convert_to(kind, 'UTF8'), body \
     FROM audit_entries WHERE seq >= $1 ORDER BY seq LIMIT $2";

/// Up to `limit` entry rows numbered `from` or more, in order, packed into one row in SQL:
/// the driver's cost per row, not the bytes, is what reading a whole log would spend.
pub async fn entry_page(db: &Db, from: i64, limit: u32) -> Result<EntryPage, StoreError> {
    let (index, bytes): (Option<String>, Option<Vec<u8>>) = match db {
        Db::Sqlite(p) => sqlx::query_as(PAGE_SQLITE).bind(from).bind(i64::from(limit)).fetch_one(p).await?,
        Db::Postgres(p) => {
            sqlx::query_as(PAGE_POSTGRES).bind(from).bind(i64::from(limit)).fetch_one(p).await?
        }
    };
    let (Some(index), Some(bytes)) = (index, bytes) else { return Ok(EntryPage::default()) };
    let mut rows = Vec::with_capacity(limit as usize);
    let mut end = 0usize;
    for rec in index.split(';') {
        let mut fields = rec.split(',');
        let mut number = || fields.next().and_then(|f| f.parse::<i64>().ok());
        let parsed = (number(), number(), number(), number());
        let (Some(seq), Some(at), Some(kind), Some(body)) = parsed else {
            return Err(corrupt(
                "audit_entries",
                format!("a packed page holds {rec:?}, not a number and three lengths"),
            ));
        };
        let mut ends = [0; 3];
        for (e, len) in ends.iter_mut().zip([at, kind, body]) {
            end += usize::try_from(len).map_err(|e| corrupt("audit_entries", e))?;
            *e = end;
        }
        rows.push((seq, ends));
    }
    if end != bytes.len() {
        return Err(corrupt("audit_entries", format!("a packed page of {} bytes says {end}", bytes.len())));
    }
    if rows.windows(2).any(|w| w[0].0 >= w[1].0) {
        // Not in key order after all: read the page row by row.
        type Found = Vec<(i64, Vec<u8>, Vec<u8>, Vec<u8>)>;
        let found: Found = match db {
            Db::Sqlite(p) => {
                sqlx::query_as(ROWS_SQLITE).bind(from).bind(i64::from(limit)).fetch_all(p).await?
            }
            Db::Postgres(p) => {
                sqlx::query_as(ROWS_POSTGRES).bind(from).bind(i64::from(limit)).fetch_all(p).await?
            }
        };
        let mut page = EntryPage::default();
        for (seq, at, kind, body) in found {
            page.push(seq, &at, &kind, &body);
        }
        return Ok(page);
    }
    Ok(EntryPage { rows, bytes })
}

/// Rows of `audit_entities` read in one go, in primary-key order.
#[derive(Debug, Clone, Default)]
pub struct EntityPage {
    /// Each row's seq and where its entity id ends in `ids`.
    rows: Vec<(i64, usize)>,
    ids: Vec<u8>,
}

impl EntityPage {
    /// Rows read.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when no row was read.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `i`: its entity id (bytes; UTF-8 unless changed by hand) and seq.
    pub fn row(&self, i: usize) -> (&[u8], i64) {
        let start = if i == 0 { 0 } else { self.rows[i - 1].1 };
        let (seq, end) = self.rows[i];
        (&self.ids[start..end], seq)
    }

    /// The rows in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], i64)> {
        (0..self.len()).map(|i| self.row(i))
    }
}

const ENTITIES_SQLITE: &str = "SELECT string_agg(octet_length(entity_id) || ',' || seq, ';'), \
     CAST(string_agg(CAST(entity_id AS BLOB), '') AS BLOB) FROM (SELECT entity_id, seq FROM audit_entities";
const ENTITIES_POSTGRES: &str = "SELECT string_agg(octet_length(entity_id)::text || ',' || seq::text, ';' \
     ORDER BY entity_id, seq), string_agg(convert_to(entity_id, 'UTF8'), ''::bytea ORDER BY entity_id, seq) \
     FROM (SELECT entity_id, seq FROM audit_entities";

/// Up to `limit` rows of `audit_entities` after the key `after` (from the first when `None`),
/// in primary-key order, packed into one row in SQL as [`entry_page`] does. The next call
/// continues after [`EntityPage::last_key`].
pub async fn entity_page(db: &Db, after: Option<&EntityKey>, limit: u32) -> Result<EntityPage, StoreError> {
    let filter = if after.is_some() { " WHERE (entity_id, seq) > ($2, $3)" } else { "" };
    let tail = " ORDER BY entity_id, seq LIMIT $1) t";
    let head = if matches!(db, Db::Sqlite(_)) { ENTITIES_SQLITE } else { ENTITIES_POSTGRES };
    let sql = format!("{head}{filter}{tail}");
    let (index, bytes): (Option<String>, Option<Vec<u8>>) = on_pool!(db, p => {
        let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit));
        if let Some(k) = after {
            q = q.bind(k.entity_id.clone()).bind(k.seq);
        }
        q.fetch_one(p).await?
    });
    let (Some(index), Some(ids)) = (index, bytes) else { return Ok(EntityPage::default()) };
    let mut rows = Vec::with_capacity(limit as usize);
    let mut end = 0usize;
    for rec in index.split(';') {
        let parsed =
            rec.split_once(',').and_then(|(l, s)| Some((l.parse::<usize>().ok()?, s.parse::<i64>().ok()?)));
        let Some((len, seq)) = parsed else {
            return Err(corrupt(
                "audit_entities",
                format!("a packed page holds {rec:?}, not a length and a number"),
            ));
        };
        end += len;
        rows.push((seq, end));
    }
    if end != ids.len() {
        return Err(corrupt("audit_entities", format!("a packed page of {} bytes says {end}", ids.len())));
    }
    let page = EntityPage { rows, ids };
    // PostgreSQL orders the aggregate as asked, by the column's collation. SQLite's compares
    // bytes, as Rust does, so its order can be checked here.
    let sorted = (1..page.len()).all(|i| page.row(i - 1) < page.row(i));
    if matches!(db, Db::Sqlite(_)) && !sorted {
        let sql = format!(
            "SELECT CAST(entity_id AS BLOB), seq FROM audit_entities{filter} ORDER BY entity_id, seq LIMIT $1"
        );
        let found: Vec<(Vec<u8>, i64)> = match db {
            Db::Sqlite(p) => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(i64::from(limit));
                if let Some(k) = after {
                    q = q.bind(k.entity_id.clone()).bind(k.seq);
                }
                q.fetch_all(p).await?
            }
            Db::Postgres(_) => unreachable!("checked above"),
        };
        let mut page = EntityPage::default();
        for (id, seq) in found {
            page.ids.extend_from_slice(&id);
            page.rows.push((seq, page.ids.len()));
        }
        return Ok(page);
    }
    Ok(page)
}

/// Where a read of `audit_entities` in key order stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityKey {
    /// The last entity id read.
    pub entity_id: String,
    /// Its seq.
    pub seq: i64,
}

impl EntityPage {
    /// The key of the last row, to continue after; `None` when the page is empty or its last
    /// id is not UTF-8 (then no key in text can follow it).
    pub fn last_key(&self) -> Option<EntityKey> {
        let (id, seq) = self.row(self.len().checked_sub(1)?);
        Some(EntityKey { entity_id: String::from_utf8(id.to_vec()).ok()?, seq })
    }
}

/// Rows of `audit_entities` whose seq lies in `lo..hi`. The table is keyed by entity id, so
/// this reads all of it: for narrowing down a difference already found, not for every page.
pub async fn entities_between(db: &Db, lo: i64, hi: i64) -> Result<Vec<(Vec<u8>, i64)>, StoreError> {
    Ok(match db {
        Db::Sqlite(p) => sqlx::query_as(
            "SELECT CAST(entity_id AS BLOB), seq FROM audit_entities WHERE seq >= $1 AND seq < $2 ORDER BY seq, entity_id",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(p)
        .await?,
        Db::Postgres(p) => sqlx::query_as(
            "SELECT convert_to(entity_id, 'UTF8'), seq FROM audit_entities WHERE seq >= $1 AND seq < $2 ORDER BY seq, entity_id",
        )
        .bind(lo)
        .bind(hi)
        .fetch_all(p)
        .await?,
    })
}

/// A stored tree hash as read back for comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredHash {
    /// No row.
    Missing,
    /// A row with a 32-byte hash.
    Hash(Hash),
    /// A row whose value is not 32 bytes.
    Malformed,
}

// The limited subquery is read along the primary key, in index order, without the sort an
// ORDER BY inside the aggregate would add. Were the order ever different, the hashes would
// not match and the check would fail: it can raise a false alarm, never miss a change.
const RUN_SQLITE: &str = "SELECT COUNT(*), MIN(octet_length(hash)), MAX(octet_length(hash)), \
     CAST(string_agg(hash, '') AS BLOB) \
     FROM (SELECT hash FROM audit_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx LIMIT $4)";
const RUN_POSTGRES: &str = "SELECT COUNT(*), CAST(MIN(octet_length(hash)) AS BIGINT), \
     CAST(MAX(octet_length(hash)) AS BIGINT), string_agg(hash, ''::bytea ORDER BY idx) \
     FROM audit_nodes WHERE level = $1 AND idx >= $2 AND idx < $3";

/// The stored hashes of `level` at indexes `first..first + count`, in one packed read when
/// every row is there and well formed, else row by row to say which are not.
pub async fn node_run(db: &Db, level: u8, first: u64, count: u64) -> Result<Vec<StoredHash>, StoreError> {
    let (lo, hi) = (first as i64, (first + count) as i64);
    type Packed = (i64, Option<i64>, Option<i64>, Option<Vec<u8>>);
    let (rows, min, max, bytes): Packed = match db {
        Db::Sqlite(p) => {
            sqlx::query_as(RUN_SQLITE)
                .bind(i16::from(level))
                .bind(lo)
                .bind(hi)
                .bind(hi - lo)
                .fetch_one(p)
                .await?
        }
        Db::Postgres(p) => {
            sqlx::query_as(RUN_POSTGRES).bind(i16::from(level)).bind(lo).bind(hi).fetch_one(p).await?
        }
    };
    // Unique (level, idx): as many rows as indexes means every index has its row.
    if rows as u64 == count && min.unwrap_or(32) == 32 && max.unwrap_or(32) == 32 {
        let bytes = bytes.unwrap_or_default();
        if bytes.len() as u64 == 32 * count {
            return Ok(bytes
                .chunks_exact(32)
                .map(|h| StoredHash::Hash(h.try_into().expect("chunks of 32")))
                .collect());
        }
    }
    let found: Vec<(i64, Vec<u8>)> = on_pool!(db, p => sqlx::query_as(
        "SELECT idx, hash FROM audit_nodes WHERE level = $1 AND idx >= $2 AND idx < $3")
        .bind(i16::from(level)).bind(lo).bind(hi).fetch_all(p).await?);
    let mut out = vec![StoredHash::Missing; count as usize];
    for (idx, hash) in found {
        out[(idx - lo) as usize] =
            <Hash>::try_from(hash.as_slice()).map_or(StoredHash::Malformed, StoredHash::Hash);
    }
    Ok(out)
}

/// Stored tree rows a log of `size` entries cannot have, as `(level, idx)`: at each level
/// the first past its last complete subtree, and any at a level or index no tree has.
pub async fn nodes_beyond(db: &Db, size: u64) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut out = Vec::new();
    for level in 0..64i16 {
        let cut = (size >> level) as i64;
        let past: Option<i64> = on_pool!(db, p => sqlx::query_scalar(
            "SELECT idx FROM audit_nodes WHERE level = $1 AND idx >= $2 ORDER BY idx LIMIT 1")
            .bind(level).bind(cut).fetch_optional(p).await?);
        let negative: Option<i64> = on_pool!(db, p => sqlx::query_scalar(
            "SELECT idx FROM audit_nodes WHERE level = $1 AND idx < 0 ORDER BY idx LIMIT 1")
            .bind(level).fetch_optional(p).await?);
        out.extend(past.into_iter().chain(negative).map(|i| (i64::from(level), i)));
    }
    for sql in [
        "SELECT CAST(level AS BIGINT), idx FROM audit_nodes WHERE level < 0 ORDER BY level, idx LIMIT 1",
        "SELECT CAST(level AS BIGINT), idx FROM audit_nodes WHERE level > 63 ORDER BY level, idx LIMIT 1",
    ] {
        let row: Option<(i64, i64)> = on_pool!(db, p => sqlx::query_as(sql).fetch_optional(p).await?);
        out.extend(row);
    }
    Ok(out)
}

/// One entry's bytes.
pub async fn entry(db: &Db, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(on_pool!(db, p => sqlx::query_scalar("SELECT body FROM audit_entries WHERE seq = $1")
        .bind(seq as i64)
        .fetch_optional(p)
        .await?))
}

/// Sequence numbers of the entries that name `entity_id`, in order.
pub async fn entries_naming(db: &Db, entity_id: &str) -> Result<Vec<u64>, StoreError> {
    let seqs: Vec<i64> = on_pool!(db, p => sqlx::query_scalar(
        "SELECT seq FROM audit_entities WHERE entity_id = $1 ORDER BY seq")
        .bind(entity_id)
        .fetch_all(p)
        .await?);
    Ok(seqs.into_iter().map(|s| s as u64).collect())
}

/// Every stored tree node.
pub async fn all_nodes(db: &Db) -> Result<LoadedNodes, StoreError> {
    let rows: Vec<(i64, i64, Vec<u8>)> = on_pool!(db, p => sqlx::query_as(
        "SELECT CAST(level AS BIGINT), idx, hash FROM audit_nodes").fetch_all(p).await?);
    let mut map = HashMap::with_capacity(rows.len());
    for (level, idx, hash) in rows {
        let level = u8::try_from(level).map_err(|e| corrupt("audit_nodes", e))?;
        map.insert(NodeId { level, index: idx as u64 }, hash_of("audit_nodes", &hash)?);
    }
    Ok(LoadedNodes { map, ..Default::default() })
}

/// Runs `f` (a root or proof computation over a [`NodeStore`]) with only the nodes it
/// needs read from the database: a dry run notes which, one query reads them, then the
/// real run. `f` must ask for the same nodes whatever hashes it gets, which the
/// functions of `arrears_audit::tree` do.
pub async fn with_nodes<T>(db: &Db, f: impl Fn(&LoadedNodes) -> T) -> Result<T, StoreError> {
    let dry = LoadedNodes { recording: Some(RefCell::new(Vec::new())), ..Default::default() };
    let _ = f(&dry);
    let mut ids = dry.recording.map(RefCell::into_inner).unwrap_or_default();
    ids.sort_unstable();
    ids.dedup();
    let mut map = HashMap::with_capacity(ids.len());
    for part in ids.chunks(NODES_PER_READ) {
        // A statement text per number of pairs (at most NODES_PER_READ texts, each prepared
        // once per connection). Padding every read to NODES_PER_READ pairs cost more than the
        // read: on a 10M-entry log 24 pairs take 0.08 ms, 64 take 0.67 ms.
        let rows: Vec<(i64, i64, Vec<u8>)> = match db {
            Db::Sqlite(p) => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(nodes_sql(part.len())));
                for id in part {
                    q = q.bind(i16::from(id.level)).bind(id.index as i64);
                }
                q.fetch_all(p).await?
            }
            Db::Postgres(p) => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(nodes_sql(part.len())));
                for id in part {
                    q = q.bind(i16::from(id.level)).bind(id.index as i64);
                }
                q.fetch_all(p).await?
            }
        };
        for (level, idx, hash) in rows {
            map.insert(NodeId { level: level as u8, index: idx as u64 }, hash_of("audit_nodes", &hash)?);
        }
    }
    Ok(f(&LoadedNodes { map, ..Default::default() }))
}

/// Tree nodes one proof query reads (a proof needs a few dozen; a longer list takes several).
const NODES_PER_READ: usize = 64;

/// `SELECT … WHERE (level = $1 AND idx = $2) OR …` for `pairs` pairs (1 ..= NODES_PER_READ).
fn nodes_sql(pairs: usize) -> String {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let texts = SQL.get_or_init(|| {
        (1..=NODES_PER_READ)
            .map(|n| {
                let terms: Vec<String> =
                    (0..n).map(|k| format!("(level = ${} AND idx = ${})", 2 * k + 1, 2 * k + 2)).collect();
                format!(
                    "SELECT CAST(level AS BIGINT), idx, hash FROM audit_nodes WHERE {}",
                    terms.join(" OR ")
                )
            })
            .collect()
    });
    texts[pairs.clamp(1, NODES_PER_READ) - 1].clone()
}

/// A stored checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Row id, in the order they were made.
    pub id: i64,
    /// Entries covered, as the row says.
    pub size: i64,
    /// Root, as the row says.
    pub root: Vec<u8>,
    /// When it was made.
    pub at: String,
    /// The signed note.
    pub note: String,
}

/// Every stored checkpoint, oldest first.
pub async fn checkpoints(db: &Db) -> Result<Vec<StoredCheckpoint>, StoreError> {
    let rows: Vec<(i64, i64, Vec<u8>, String, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT id, size, root, at, note FROM audit_checkpoints ORDER BY id").fetch_all(p).await?);
    Ok(rows
        .into_iter()
        .map(|(id, size, root, at, note)| StoredCheckpoint { id, size, root, at, note })
        .collect())
}

/// The latest checkpoint, if any.
pub async fn latest_checkpoint(db: &Db) -> Result<Option<StoredCheckpoint>, StoreError> {
    let row: Option<(i64, i64, Vec<u8>, String, String)> = on_pool!(db, p => sqlx::query_as(
        "SELECT id, size, root, at, note FROM audit_checkpoints ORDER BY id DESC LIMIT 1").fetch_optional(p).await?);
    Ok(row.map(|(id, size, root, at, note)| StoredCheckpoint { id, size, root, at, note }))
}

/// Stores a signed checkpoint.
pub async fn insert_checkpoint(
    db: &Db,
    size: u64,
    root: &Hash,
    at: &str,
    note: &str,
) -> Result<(), StoreError> {
    on_pool!(db, p => {
        sqlx::query("INSERT INTO audit_checkpoints (size, root, at, note) VALUES ($1, $2, $3, $4)")
            .bind(size as i64)
            .bind(root.to_vec())
            .bind(at)
            .bind(note)
            .execute(p)
            .await?;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontier_is_the_binary_digits_of_the_size() {
        let cases: [(u64, &[(u8, u64)]); 4] =
            [(0, &[]), (1, &[(0, 0)]), (6, &[(2, 0), (1, 2)]), (13, &[(3, 0), (2, 2), (0, 12)])];
        for (size, want) in cases {
            let want: Vec<NodeId> = want.iter().map(|&(level, index)| NodeId { level, index }).collect();
            assert_eq!(frontier_ids(size), want, "size {size}");
        }
    }
}
