//! Every column of every audit table changed by hand, and rows deleted from and inserted
//! into the entries and their index: `audit verify` exits 1 and names the table and the
//! column (or the row, when a whole row is missing or extra). Each change is undone by
//! restoring the tables from a copy taken while the log was intact.

use super::*;

const TABLES: [&str; 5] =
    ["audit_head", "audit_entries", "audit_entities", "audit_nodes", "audit_checkpoints"];

async fn save(db: &Db) {
    for t in TABLES {
        exec(db, &format!("CREATE TABLE saved_{t} AS SELECT * FROM {t}")).await;
    }
}

async fn restore(db: &Db) {
    for t in TABLES {
        exec(db, &format!("DELETE FROM {t}")).await;
        exec(db, &format!("INSERT INTO {t} SELECT * FROM saved_{t}")).await;
    }
}

async fn one<T>(db: &Db, sql: &str) -> T
where
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + Send + Unpin,
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    arrears_store::on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(p).await.unwrap())
}

#[tokio::test]
async fn every_column_of_every_audit_table_is_checked() {
    each_backend(async |t| {
        let e = Env::new(t);
        e.book_with_history();
        let db = &t.db;
        let all = bodies(db).await;
        let n = all.len();
        assert!(n > 12, "enough entries: {n}");
        e.intact();
        // A case's index row, and the import's last (its own entry and those of the arrangement
        // decisions it brought name it; the next entry names it no more).
        let case: String = one(db, "SELECT entity_id FROM audit_entities WHERE entity_id LIKE 'case:%' ORDER BY seq, entity_id LIMIT 1").await;
        let case_seq: i64 = one(db, &format!("SELECT MIN(seq) FROM audit_entities WHERE entity_id = '{case}'")).await;
        let import_seq: i64 = one(db, "SELECT MAX(seq) FROM audit_entities WHERE entity_id = 'import:1'").await;
        let cp: i64 = one(db, "SELECT MIN(id) FROM audit_checkpoints").await;
        let last = n - 1;
        save(db).await;

        let forged_body =
            "UPDATE audit_entries SET body = (SELECT body FROM audit_entries WHERE seq = 4) WHERE seq = 3".to_string();
        // (what, SQL, table expected, column expected: None for a whole row)
        let cases: Vec<(&str, String, &str, Option<&str>)> = vec![
            ("entries.seq", "UPDATE audit_entries SET seq = seq + 1000000 WHERE seq = 3".into(), "audit_entries", Some("seq")),
            ("entries.at", "UPDATE audit_entries SET at = '2020-01-01T00:00:00Z' WHERE seq = 3".into(), "audit_entries", Some("at")),
            ("entries.kind", "UPDATE audit_entries SET kind = 'case.forged' WHERE seq = 3".into(), "audit_entries", Some("kind")),
            ("entries.body", forged_body, "audit_entries", Some("body")),
            ("entries delete", "DELETE FROM audit_entries WHERE seq = 5".into(), "audit_entries", None),
            (
                "entries insert",
                format!("INSERT INTO audit_entries (seq, at, kind, body) SELECT {n}, at, kind, body FROM audit_entries WHERE seq = {last}"),
                "audit_entries",
                Some("seq"),
            ),
            (
                "entities.entity_id",
                format!("UPDATE audit_entities SET entity_id = 'case:forged' WHERE entity_id = '{case}' AND seq = {case_seq}"),
                "audit_entities",
                Some("entity_id"),
            ),
            (
                "entities.seq",
                format!("UPDATE audit_entities SET seq = seq + 1 WHERE entity_id = 'import:1' AND seq = {import_seq}"),
                "audit_entities",
                Some("seq"),
            ),
            (
                "entities delete",
                format!("DELETE FROM audit_entities WHERE entity_id = '{case}' AND seq = {case_seq}"),
                "audit_entities",
                None,
            ),
            (
                "entities insert",
                format!("INSERT INTO audit_entities (entity_id, seq) VALUES ('{case}', {last})"),
                "audit_entities",
                None,
            ),
            ("nodes.level", "UPDATE audit_nodes SET level = 40 WHERE level = 1 AND idx = 2".into(), "audit_nodes", Some("level")),
            ("nodes.idx", "UPDATE audit_nodes SET idx = idx + 1000000 WHERE level = 1 AND idx = 2".into(), "audit_nodes", Some("idx")),
            (
                "nodes.hash",
                "UPDATE audit_nodes SET hash = (SELECT hash FROM audit_nodes WHERE level = 0 AND idx = 0) WHERE level = 1 AND idx = 2".into(),
                "audit_nodes",
                Some("hash"),
            ),
            ("checkpoints.size", format!("UPDATE audit_checkpoints SET size = size - 1 WHERE id = {cp}"), "audit_checkpoints", Some("size")),
            (
                "checkpoints.root",
                format!("UPDATE audit_checkpoints SET root = (SELECT hash FROM audit_nodes WHERE level = 0 AND idx = 0) WHERE id = {cp}"),
                "audit_checkpoints",
                Some("root"),
            ),
            ("checkpoints.at", format!("UPDATE audit_checkpoints SET at = '2020-01-01T00:00:00Z' WHERE id = {cp}"), "audit_checkpoints", Some("at")),
            ("checkpoints.note", format!("UPDATE audit_checkpoints SET note = 'forged ' || note WHERE id = {cp}"), "audit_checkpoints", Some("note")),
            ("head.size", "UPDATE audit_head SET size = size + 1".into(), "audit_head", Some("size")),
        ];
        for (what, sql, table, column) in cases {
            exec(db, &sql).await;
            let v = e.tampered();
            let findings = v["findings"].as_array().unwrap_or_else(|| panic!("[{}] {what}: no findings: {v:#}", t.backend));
            let named = findings.iter().any(|f| {
                f["table"] == table && f["column"].as_str() == column && f["row"].as_str().is_some_and(|r| !r.is_empty())
            });
            assert!(named, "[{}] {what}: no finding of {table}.{column:?}: {v:#}", t.backend);
            let out = e.run(&["audit", "verify"]);
            assert_eq!(out.status.code(), Some(1), "[{}] {what}", t.backend);
            let said = text(&out.stderr);
            assert!(said.contains(&format!("  {table} ")), "[{}] {what}: {said}", t.backend);
            if let Some(c) = column {
                assert!(said.contains(&format!(" column {c}: ")), "[{}] {what}: {said}", t.backend);
            }
            restore(db).await;
            e.intact();
        }
    })
    .await;
}
