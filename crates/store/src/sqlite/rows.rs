//! SQLite only: many rows at once through SQLite's own interface, for the batch's bulk reads
//! and writes (PostgreSQL's writes go as column arrays, `crate::postgres::arrays`). Writes: a statement with bound parameters is prepared and stepped per [`ROWS_PER_STEP`]
//! rows through the connection's raw handle, since parsing literal `VALUES` text cost about
//! two thirds of each row's time there, and sqlx's bound arguments (looked up by name, boxed,
//! dates formatted through strftime) were no cheaper. Reads ([`fold_rows`]): each row is
//! decoded where SQLite hands it over, instead of crossing to the caller's thread row by
//! row (sqlx) or being packed into one text in SQL and split again (`packed`), which cost
//! more than finding the rows.

use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

use chrono::NaiveDate;
use sqlx::SqlitePool;

use crate::StoreError;
use crate::rows::literal::ValueRow;
use crate::rows::packed::{FIELD, RECORD, Record};
use crate::rows::{check_row, column_count};

/// Writes `items` through one statement prepared with `ROWS_PER_STEP` rows of bound
/// parameters, stepped as often as needed (see [`crate::rows::insert_all`]).
pub(crate) async fn insert_all<T>(
    t: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
    head: &str,
    tail: &str,
    items: &[T],
    fill: impl Fn(&mut ValueRow<'_>, &T),
) -> Result<(), StoreError> {
    let columns = column_count(head)?;
    let mut handle = t.lock_handle().await?;
    // No await from here on: the connection is locked away from its worker thread
    // until the handle is dropped, and the transaction sqlx began is still open on it.
    let db = handle.as_raw_handle();
    let write = || step_rows(db, (head, tail), columns, items, &fill);
    // A chunk's rows take tens of milliseconds: on a multi-threaded runtime (the
    // server's) the thread's other tasks move elsewhere meanwhile.
    match tokio::runtime::Handle::current().runtime_flavor() {
        tokio::runtime::RuntimeFlavor::CurrentThread => write(),
        _ => tokio::task::block_in_place(write),
    }
}

/// Rows bound to one step of the SQLite statement: each step opens and closes the table's
/// and its indexes' cursors, which cost about a tenth of writing a row alone.
const ROWS_PER_STEP: usize = 16;

/// `head VALUES (?, …), … tail` with `rows` rows of `columns` parameters.
fn values_sql((head, tail): (&str, &str), columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * (2 * columns + 3) + 8);
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ",(" });
        for i in 0..columns {
            sql.push_str(if i == 0 { "?" } else { ",?" });
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

/// Prepares the insert on `db` and steps it once per [`ROWS_PER_STEP`] items, then once
/// per item left over.
fn step_rows<T>(
    db: NonNull<ffi::sqlite3>,
    sql: (&str, &str),
    columns: usize,
    items: &[T],
    fill: &impl Fn(&mut ValueRow<'_>, &T),
) -> Result<(), StoreError> {
    let mut scratch = String::with_capacity(16);
    let mut groups = items.chunks_exact(ROWS_PER_STEP);
    if groups.len() > 0 {
        let stmt = Statement::prepare(db, &values_sql(sql, columns, ROWS_PER_STEP))?;
        for group in &mut groups {
            bind_rows(&stmt, (sql.0, columns), group, fill, &mut scratch)?;
            stmt.step()?;
        }
    }
    if !groups.remainder().is_empty() {
        let stmt = Statement::prepare(db, &values_sql(sql, columns, 1))?;
        for item in groups.remainder() {
            bind_rows(&stmt, (sql.0, columns), std::slice::from_ref(item), fill, &mut scratch)?;
            stmt.step()?;
        }
    }
    Ok(())
}

/// Binds `items` to `stmt`'s parameters in order, checking that each fills its columns.
fn bind_rows<T>(
    stmt: &Statement,
    (head, columns): (&str, usize),
    items: &[T],
    fill: &impl Fn(&mut ValueRow<'_>, &T),
    scratch: &mut String,
) -> Result<(), StoreError> {
    let mut binder = Binder { stmt: stmt.stmt, next: 1, failed: None };
    for item in items {
        let start = binder.next;
        fill(&mut ValueRow::bound(&mut binder, scratch), item);
        if let Some(code) = binder.failed {
            return Err(stmt.error(code));
        }
        check_row(head, columns, (binder.next - start) as usize)?;
    }
    Ok(())
}

/// Runs the query `sql` on a connection of `pool` and folds its rows into `acc` with
/// `each`, on one of tokio's blocking threads (a chunk's read takes tens of milliseconds).
/// `table` names the rows' table in errors about their values.
pub(crate) async fn fold_rows<A, F>(
    pool: &SqlitePool,
    sql: String,
    table: &'static str,
    acc: A,
    mut each: F,
) -> Result<A, StoreError>
where
    A: Send + 'static,
    F: FnMut(&mut A, &RawRow<'_>) -> Result<(), StoreError> + Send + 'static,
{
    let mut conn = pool.acquire().await?;
    let read = tokio::task::spawn_blocking(move || {
        let mut handle = tokio::runtime::Handle::current().block_on(conn.lock_handle())?;
        let stmt = Statement::prepare(handle.as_raw_handle(), &sql)?;
        let mut acc = acc;
        while stmt.next_row()? {
            each(&mut acc, &RawRow { stmt: &stmt, table })?;
        }
        Ok(acc)
    });
    read.await.map_err(|e| StoreError::Sqlite(format!("a read task failed: {e}")))?
}

/// The rows of the query `sql` packed into one text as [`crate::packed`] lays it out
/// (NULL as the empty field), or `None` when there are none: what `string_agg` over
/// [`crate::rows::packed::pack`] returns, which SQLite built at several times the cost of
/// finding the rows (a concatenation and a cast per value, each a new string).
pub(crate) async fn packed_rows(
    pool: &SqlitePool,
    sql: String,
    table: &'static str,
) -> Result<Option<String>, StoreError> {
    fold_rows(pool, sql, table, None, |out: &mut Option<String>, r| {
        let text = match out {
            Some(text) => {
                text.push(RECORD);
                text
            }
            None => out.insert(String::with_capacity(64 * 1024)),
        };
        for i in 0..r.columns() {
            if i > 0 {
                text.push(FIELD);
            }
            text.push_str(r.opt_raw(i)?.unwrap_or_default());
        }
        Ok(())
    })
    .await
}

/// The current row of a statement being read by [`fold_rows`].
pub(crate) struct RawRow<'s> {
    stmt: &'s Statement,
    table: &'static str,
}

impl RawRow<'_> {
    /// The text of column `i`, or `None` for NULL.
    pub(crate) fn opt_raw(&self, i: usize) -> Result<Option<&str>, StoreError> {
        let col = self.column(i)?;
        let s = self.stmt.stmt.as_ptr();
        // SAFETY: the statement is positioned on a row (`next_row` returned true) and `col`
        // is within its columns; the text stays valid until the next step, and the
        // borrow of `self` (tied to the statement) ends before that.
        unsafe {
            if ffi::sqlite3_column_type(s, col) == ffi::SQLITE_NULL {
                return Ok(None);
            }
            let ptr = ffi::sqlite3_column_text(s, col);
            let len = usize::try_from(ffi::sqlite3_column_bytes(s, col)).unwrap_or(0);
            if ptr.is_null() {
                return Err(StoreError::Sqlite("out of memory reading a text value".into()));
            }
            let bytes = std::slice::from_raw_parts(ptr, len);
            std::str::from_utf8(bytes).map(Some).map_err(|_| self.bad(i, "UTF-8 text"))
        }
    }

    /// The text of column `i`, which must not be NULL.
    pub(crate) fn raw(&self, i: usize) -> Result<&str, StoreError> {
        self.opt_raw(i)?.ok_or_else(|| self.bad(i, "a value (it is NULL)"))
    }

    /// The integer of column `i`, or `None` for NULL.
    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        let col = self.column(i)?;
        // SAFETY: as in `opt_raw`; the type is read before any conversion of the value.
        let null = unsafe { ffi::sqlite3_column_type(self.stmt.stmt.as_ptr(), col) == ffi::SQLITE_NULL };
        if null { Ok(None) } else { self.int(i).map(Some) }
    }

    /// The number of columns.
    pub(crate) fn columns(&self) -> usize {
        // SAFETY: the statement is alive.
        usize::try_from(unsafe { ffi::sqlite3_column_count(self.stmt.stmt.as_ptr()) }).unwrap_or(0)
    }

    fn column(&self, i: usize) -> Result<c_int, StoreError> {
        let count = self.columns();
        (i < count)
            .then(|| c_int::try_from(i).ok())
            .flatten()
            .ok_or_else(|| StoreError::Sqlite(format!("column {i} wanted of a row with {count}")))
    }

    fn bad(&self, i: usize, what: &str) -> StoreError {
        StoreError::Corrupt { table: self.table, detail: format!("column {i}: not {what}") }
    }
}

impl Record for RawRow<'_> {
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.raw(i).map(str::to_string)
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        let col = self.column(i)?;
        // SAFETY: as in `opt_raw`.
        unsafe {
            match ffi::sqlite3_column_type(self.stmt.stmt.as_ptr(), col) {
                ffi::SQLITE_INTEGER => Ok(ffi::sqlite3_column_int64(self.stmt.stmt.as_ptr(), col)),
                _ => Err(self.bad(i, "an integer")),
            }
        }
    }
    fn date(&self, i: usize) -> Result<NaiveDate, StoreError> {
        let text = self.raw(i)?;
        arrears_core::calendar::parse_iso_date(text).ok_or_else(|| self.bad(i, &format!("a date: {text:?}")))
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        Ok(self.opt_raw(i)?.map(str::to_string))
    }
    fn opt_date(&self, i: usize) -> Result<Option<NaiveDate>, StoreError> {
        match self.opt_raw(i)? {
            None => Ok(None),
            Some(_) => self.date(i).map(Some),
        }
    }
}

/// Binds one row's values to a prepared statement, in order.
pub(crate) struct Binder {
    stmt: NonNull<ffi::sqlite3_stmt>,
    /// 1-based index of the next parameter.
    next: c_int,
    /// The first binding's error code, if one failed.
    failed: Option<c_int>,
}

impl Binder {
    fn done(&mut self, rc: c_int) {
        if rc != ffi::SQLITE_OK && self.failed.is_none() {
            self.failed = Some(rc);
        }
        self.next += 1;
    }

    /// Binds a text value (copied by SQLite).
    pub(crate) fn text(&mut self, s: &str) {
        let rc = match c_int::try_from(s.len()) {
            // SAFETY: the statement is alive (owned by `step_rows`' `Statement`) and the
            // pointer and length describe `s`; SQLITE_TRANSIENT makes SQLite copy it.
            Ok(len) => unsafe {
                ffi::sqlite3_bind_text(
                    self.stmt.as_ptr(),
                    self.next,
                    s.as_ptr().cast(),
                    len,
                    ffi::SQLITE_TRANSIENT(),
                )
            },
            Err(_) => ffi::SQLITE_TOOBIG,
        };
        self.done(rc);
    }

    /// Binds an integer.
    pub(crate) fn int(&mut self, v: i64) {
        // SAFETY: as in `text`.
        let rc = unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), self.next, v) };
        self.done(rc);
    }

    /// Binds NULL.
    pub(crate) fn null(&mut self) {
        // SAFETY: as in `text`.
        let rc = unsafe { ffi::sqlite3_bind_null(self.stmt.as_ptr(), self.next) };
        self.done(rc);
    }
}

/// A prepared statement, finalised when dropped.
struct Statement {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: NonNull<ffi::sqlite3>,
}

impl Statement {
    fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<Statement, StoreError> {
        let len = c_int::try_from(sql.len()).map_err(|_| StoreError::Sqlite("statement too long".into()))?;
        let mut stmt = ptr::null_mut();
        // SAFETY: `db` is the open connection whose handle the caller holds locked; the
        // SQL pointer and length describe `sql`, which outlives the call.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr().cast(), len, &mut stmt, ptr::null_mut())
        };
        match NonNull::new(stmt) {
            Some(stmt) if rc == ffi::SQLITE_OK => Ok(Statement { stmt, db }),
            _ => {
                let err = Statement::message(db, rc);
                // SAFETY: finalising NULL is a no-op, and a statement that failed to
                // prepare is finalised here only.
                unsafe { ffi::sqlite3_finalize(stmt) };
                Err(StoreError::Sqlite(format!("{err} in {sql:?}")))
            }
        }
    }

    /// Runs the bound row, then resets the statement for the next one.
    fn step(&self) -> Result<(), StoreError> {
        // SAFETY: the statement is alive and its connection locked by the caller.
        let rc = unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) };
        let result = if rc == ffi::SQLITE_DONE { Ok(()) } else { Err(self.error(rc)) };
        // SAFETY: as above; reset returns the step's error again, which is already taken.
        unsafe { ffi::sqlite3_reset(self.stmt.as_ptr()) };
        result
    }

    /// Steps a query to its next row: `false` when there is none.
    fn next_row(&self) -> Result<bool, StoreError> {
        // SAFETY: the statement is alive and its connection locked by the caller.
        match unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(self.error(rc)),
        }
    }

    fn error(&self, rc: c_int) -> StoreError {
        StoreError::Sqlite(Statement::message(self.db, rc))
    }

    fn message(db: NonNull<ffi::sqlite3>, rc: c_int) -> String {
        // SAFETY: the connection is open; sqlite3_errmsg returns a NUL-terminated string
        // that stays valid until the next call on it, and it is copied at once.
        let text = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) };
        format!("{} (SQLite code {rc})", text.to_string_lossy())
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared by `prepare` and is finalised once, here.
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::insert_all;
    use crate::{Db, DbUrl};

    async fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = DbUrl::new(format!("sqlite://{}/t.db", dir.path().display()));
        let db = Db::open(&url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER NOT NULL, d TEXT, note TEXT)")
            .execute(match &db {
                Db::Sqlite(p) => p,
                Db::Postgres(_) => unreachable!("a SQLite URL"),
            })
            .await
            .unwrap();
        (dir, db)
    }

    /// A database for the write tests: SQLite always, PostgreSQL when `ARREARS_TEST_PG`
    /// holds an admin URL (a database of its own, dropped afterwards), where the writes go
    /// as column arrays instead ([`crate::arrays`]).
    struct Backend {
        db: Db,
        _dir: Option<tempfile::TempDir>,
        pg: Option<(String, String)>,
    }

    async fn admin_sql(admin: &str, sql: &str) {
        let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut c).await.unwrap();
    }

    async fn backends() -> Vec<Backend> {
        let (dir, db) = sqlite().await;
        let mut out = vec![Backend { db, _dir: Some(dir), pg: None }];
        if let Some(admin) = std::env::var("ARREARS_TEST_PG").ok().filter(|s| !s.trim().is_empty()) {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("arrears_rows_{}_{n}", std::process::id());
            admin_sql(&admin, &format!("CREATE DATABASE {name}")).await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
            let db = Db::open(&DbUrl::new(format!("{base}/{name}"))).await.unwrap();
            let Db::Postgres(pool) = &db else { unreachable!("a PostgreSQL URL") };
            sqlx::raw_sql("CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT NOT NULL, d DATE, note TEXT)")
                .execute(pool)
                .await
                .unwrap();
            out.push(Backend { db, _dir: None, pg: Some((admin, name)) });
        }
        out
    }

    impl Drop for Backend {
        fn drop(&mut self) {
            if let Some((admin, name)) = self.pg.take() {
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    rt.block_on(admin_sql(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")));
                })
                .join();
            }
        }
    }

    type Item = (&'static str, i64, Option<NaiveDate>, Option<&'static str>);

    fn fill(r: &mut ValueRow<'_>, (k, n, d, note): &Item) {
        r.text(k).int(*n).opt_date(*d).opt_text(*note);
    }

    async fn read_all(db: &Db) -> Vec<(String, i64, Option<NaiveDate>, Option<String>)> {
        // Byte order on both, whatever the PostgreSQL database's collation.
        let sql = "SELECT k, n, d, note FROM t";
        let mut rows = match db {
            Db::Sqlite(pool) => fold_rows(pool, sql.into(), "t", Vec::new(), |out, r| {
                out.push((r.text(0)?, r.int(1)?, r.opt_date(2)?, r.opt_text(3)?));
                Ok(())
            })
            .await
            .unwrap(),
            Db::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.unwrap(),
        };
        rows.sort();
        rows
    }

    #[tokio::test]
    async fn rows_written_read_back_exactly() {
        for Backend { db, .. } in &backends().await {
            rows_read_back_exactly(db).await;
        }
    }

    async fn rows_read_back_exactly(db: &Db) {
        let leap = NaiveDate::from_ymd_opt(2024, 2, 29);
        let items: Vec<Item> = vec![
            ("O'Brien", i64::MIN, leap, Some("引号 ' and \u{1f} \\ \t\n {\"x\", NULL}")),
            ("a", i64::MAX, None, None),
            ("b", 0, leap, Some("")),
        ];
        let mut tx = db.begin().await.unwrap();
        insert_all(&mut tx, "INSERT INTO t (k, n, d, note)", "", &items, fill).await.unwrap();
        // A column NULL in every row still takes the column's type.
        let nulls: Vec<Item> = vec![("c", 5, None, None), ("d", 6, None, None)];
        insert_all(&mut tx, "INSERT INTO t (k, n, d, note)", "", &nulls, fill).await.unwrap();
        // The tail applies to every row: an upsert replaces the earlier row.
        let again: Vec<Item> = vec![("a", -1, None, Some("replaced"))];
        insert_all(
            &mut tx,
            "INSERT INTO t (k, n, d, note)",
            " ON CONFLICT (k) DO UPDATE SET n = excluded.n, note = excluded.note",
            &again,
            fill,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            read_all(db).await,
            vec![
                (
                    "O'Brien".to_string(),
                    i64::MIN,
                    leap,
                    Some("引号 ' and \u{1f} \\ \t\n {\"x\", NULL}".to_string())
                ),
                ("a".to_string(), -1, None, Some("replaced".to_string())),
                ("b".to_string(), 0, leap, Some(String::new())),
                ("c".to_string(), 5, None, None),
                ("d".to_string(), 6, None, None),
            ]
        );
    }

    #[tokio::test]
    async fn rows_are_written_in_whole_steps_and_the_rest_one_by_one_with_the_same_result() {
        for Backend { db, .. } in &backends().await {
            whole_steps_and_the_rest(db).await;
        }
    }

    async fn whole_steps_and_the_rest(db: &Db) {
        let day = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        // Two whole steps and five rows left over; keys and values differ per row, so a row
        // bound to another's parameters would show.
        let n = 2 * ROWS_PER_STEP + 5;
        let keys: Vec<String> = (0..n).map(|i| format!("k{i:03}")).collect();
        let notes: Vec<String> = (0..n).map(|i| format!("第{i}行")).collect();
        let items: Vec<(usize, &str)> = keys.iter().map(String::as_str).enumerate().collect();
        let mut tx = db.begin().await.unwrap();
        let write = |r: &mut ValueRow<'_>, (i, k): &(usize, &str)| {
            let i = *i;
            r.text(k)
                .int(i as i64 * 7 - 50)
                .opt_date((i % 3 == 0).then(|| day + chrono::Days::new(i as u64)));
            r.opt_text((i % 4 != 0).then_some(notes[i].as_str()));
        };
        insert_all(&mut tx, "INSERT INTO t (k, n, d, note)", "", &items, write).await.unwrap();
        tx.commit().await.unwrap();
        let want: Vec<_> = (0..n)
            .map(|i| {
                (
                    keys[i].clone(),
                    i as i64 * 7 - 50,
                    (i % 3 == 0).then(|| day + chrono::Days::new(i as u64)),
                    (i % 4 != 0).then(|| notes[i].clone()),
                )
            })
            .collect();
        assert_eq!(read_all(db).await, want);

        // A short row inside a whole step is refused like one on its own.
        let mut tx = db.begin().await.unwrap();
        let more: Vec<(usize, &str)> = (0..ROWS_PER_STEP).map(|i| (i, "z")).collect();
        let err = insert_all(&mut tx, "INSERT INTO t (k, n, d, note)", "", &more, |r, (i, _)| {
            r.text(&format!("z{i}")).int(1);
            if *i != 3 {
                r.null().null();
            }
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("2 values written for the 4 columns"), "{err}");
    }

    #[tokio::test]
    async fn a_failing_row_is_an_error_naming_the_cause_and_the_transaction_can_roll_back() {
        for Backend { db, .. } in &backends().await {
            a_failing_row(db).await;
        }
    }

    async fn a_failing_row(db: &Db) {
        let mut tx = db.begin().await.unwrap();
        let items: Vec<Item> = vec![("x", 1, None, None), ("x", 2, None, None)];
        let err = insert_all(&mut tx, "INSERT INTO t (k, n, d, note)", "", &items, fill).await.unwrap_err();
        let cause = match db {
            Db::Sqlite(_) => "UNIQUE constraint failed: t.k",
            Db::Postgres(_) => "duplicate key value violates unique constraint \"t_pkey\"",
        };
        assert!(err.to_string().contains(cause), "{err}");
        tx.rollback().await.unwrap();
        assert!(read_all(db).await.is_empty(), "nothing of the failed write is kept");

        // A row that writes fewer values than the statement has columns is refused too.
        let mut tx = db.begin().await.unwrap();
        let err = insert_all(&mut tx, "INSERT INTO t (k, n, d, note)", "", &items[..1], |r, (k, n, _, _)| {
            r.text(k).int(*n);
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("2 values written for the 4 columns"), "{err}");
    }

    #[tokio::test]
    async fn packed_rows_match_what_string_agg_over_pack_returns() {
        let (_dir, db) = sqlite().await;
        let Db::Sqlite(pool) = &db else { unreachable!("a SQLite database") };
        let leap = NaiveDate::from_ymd_opt(2024, 2, 29);
        let items: Vec<Item> = vec![("a", -7, leap, None), ("b", 12, None, Some("x y"))];
        let mut tx = db.begin().await.unwrap();
        insert_all(&mut tx, "INSERT INTO t (k, n, d, note)", "", &items, fill).await.unwrap();
        tx.commit().await.unwrap();
        let cols = ["k", "n", "d", "note"];
        let by_sql: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT string_agg(rec, '{RECORD}') FROM (SELECT {} AS rec FROM t ORDER BY k) x",
            crate::rows::packed::pack(&cols)
        )))
        .fetch_one(pool)
        .await
        .unwrap();
        let by_rows =
            packed_rows(pool, format!("SELECT {} FROM t ORDER BY k", cols.join(", ")), "t").await.unwrap();
        assert_eq!(by_rows, by_sql);
        assert_eq!(
            by_rows,
            Some(format!("a{FIELD}-7{FIELD}2024-02-29{FIELD}{RECORD}b{FIELD}12{FIELD}{FIELD}x y"))
        );
        let none = packed_rows(pool, "SELECT k FROM t WHERE k = 'zz'".into(), "t").await.unwrap();
        assert_eq!(none, None, "no rows is NULL, as string_agg over nothing");
    }

    #[tokio::test]
    async fn values_of_the_wrong_kind_are_reported_with_their_table_and_column() {
        let (_dir, db) = sqlite().await;
        let Db::Sqlite(pool) = &db else { unreachable!("a SQLite database") };
        let sql = "SELECT 'text', NULL, 'not a date'";
        let int = fold_rows(pool, sql.into(), "t", (), |_, r| r.int(0).map(drop)).await.unwrap_err();
        assert!(int.to_string().contains("table t: column 0: not an integer"), "{int}");
        let null = fold_rows(pool, sql.into(), "t", (), |_, r| r.text(1).map(drop)).await.unwrap_err();
        assert!(null.to_string().contains("column 1: not a value (it is NULL)"), "{null}");
        let date = fold_rows(pool, sql.into(), "t", (), |_, r| r.date(2).map(drop)).await.unwrap_err();
        assert!(date.to_string().contains("column 2: not a date: \"not a date\""), "{date}");
        let missing = fold_rows(pool, sql.into(), "t", (), |_, r| r.raw(3).map(drop)).await.unwrap_err();
        assert!(missing.to_string().contains("column 3 wanted of a row with 3"), "{missing}");
        let syntax = fold_rows(pool, "SELEC 1".into(), "t", (), |_, _| Ok(())).await.unwrap_err();
        assert!(syntax.to_string().contains("syntax error"), "{syntax}");
    }

    #[test]
    fn columns_are_counted_from_the_insert_head() {
        assert_eq!(column_count("INSERT INTO t (a, b, c)").unwrap(), 3);
        assert_eq!(column_count("INSERT INTO case_sync (borrower_id)").unwrap(), 1);
        assert!(column_count("INSERT INTO t").is_err());
    }
}
