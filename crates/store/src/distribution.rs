//! Where each table would live on a distributed PostgreSQL (Citus): spread across nodes by
//! `borrower_id`, copied to every node, or kept on the coordinator. Every table of the schema
//! is in exactly one list (a test holds the lists against the migrated schema), and the
//! PostgreSQL keys of the spread tables all include `borrower_id`, as Citus requires.
//!
//! Here too: the borrower of a row about a case or a loan, for the writers that are handed
//! only the case or the loan, and the key a PostgreSQL upsert names.
//!
//! [`partition_by_borrower`] lays the spread tables out as PostgreSQL's own hash partitions
//! by `borrower_id`, which refuse the same keys Citus refuses: the tests run the book on it.

use crate::{Db, StoreError, Tx, on_tx};

/// Tables spread across the nodes by `borrower_id`, each co-located with `borrowers`: every
/// join from a borrower to its own rows stays on one node.
pub const DISTRIBUTED: &[&str] = &[
    "borrowers",
    "contacts",
    "contact_restrictions",
    "invalid_contact_points",
    "financials",
    "pii_access",
    "loans",
    "installments",
    "schedule_versions",
    "payments",
    "ledger_events",
    "loan_state",
    "snapshots",
    "cases",
    "case_loans",
    "case_sync",
    "case_treatment",
    "ptps",
    "actions",
    "tasks",
    "placements",
    "outbox",
    "scores",
    "alerts",
    "alert_state",
    "alert_first_delinquency",
    "alert_pushes",
    "arrangement_imports",
    "arrangement_requests",
    "write_offs",
    "transfer_loans",
    "legal_cases",
    "legal_events",
];

/// Small tables every node reads: copied to each (`create_reference_table`).
pub const REFERENCE: &[&str] = &[
    "products",
    "strategies",
    "score_models",
    "collectors",
    "collector_days_off",
    "agencies",
    "users",
    "api_keys",
    "business_days",
    "transfers",
];

/// Tables kept on the coordinator: control tables written by one process at a time, the
/// audit log and the events made from it (one sequence each), intake logs keyed by someone
/// else's ids, and the figures of a whole date.
pub const COORDINATOR: &[&str] = &[
    "batch_chunks",
    "batch_shards",
    "imports",
    "event_cursors",
    "event_dead_letters",
    "alert_marks",
    "sessions",
    "audit_entries",
    "audit_nodes",
    "audit_checkpoints",
    "audit_head",
    "audit_entities",
    "events",
    "provider_receipts",
    "portfolio_figures",
    "roll_rates",
];

/// The borrower of case `case_id`, for a row about the case.
pub(crate) async fn borrower_of_case(tx: &mut Tx, case_id: &str) -> Result<String, StoreError> {
    let found: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT borrower_id FROM cases WHERE case_id = $1",
    ).bind(case_id).fetch_optional(&mut *conn).await?);
    found.ok_or_else(|| crate::corrupt("cases", format!("no case {case_id} for a row that refers to it")))
}

/// The borrower of loan `loan_id`, for a row about the loan.
pub(crate) async fn borrower_of_loan(tx: &mut Tx, loan_id: &str) -> Result<String, StoreError> {
    let found: Option<String> = on_tx!(tx, conn => sqlx::query_scalar(
        "SELECT borrower_id FROM loans WHERE loan_id = $1",
    ).bind(loan_id).fetch_optional(&mut *conn).await?);
    found.ok_or_else(|| crate::corrupt("loans", format!("no loan {loan_id} for a row that refers to it")))
}

/// The conflict target of an upsert on a spread table keyed by `key`: PostgreSQL's key has
/// `borrower_id` last, SQLite (one node) keeps the key it had.
pub(crate) fn upsert_key(tx: &Tx, key: &str) -> String {
    match tx {
        Tx::Sqlite(_) => format!("({key})"),
        Tx::Postgres(_) => format!("({key}, borrower_id)"),
    }
}

/// The statements that would spread a migrated database on Citus, in order: reference
/// tables first, then `borrowers`, then the tables co-located with it.
pub fn citus_plan() -> Vec<String> {
    let mut out: Vec<String> =
        REFERENCE.iter().map(|t| format!("SELECT create_reference_table('{t}');")).collect();
    for t in DISTRIBUTED {
        out.push(if *t == "borrowers" {
            "SELECT create_distributed_table('borrowers', 'borrower_id');".to_string()
        } else {
            format!("SELECT create_distributed_table('{t}', 'borrower_id', colocate_with => 'borrowers');")
        });
    }
    out
}

/// Why the hash-partitioned layout could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// Only PostgreSQL partitions tables.
    #[error("hash partitioning needs PostgreSQL; this database is SQLite")]
    NotPostgres,
    /// A statement failed: PostgreSQL refuses a key without the partition column here.
    #[error("partitioning {table} by borrower_id failed at `{statement}`: {source}")]
    Statement {
        /// The table being laid out.
        table: String,
        /// The statement PostgreSQL refused.
        statement: String,
        /// Its error.
        source: sqlx::Error,
    },
    /// Reading the catalogue failed.
    #[error("reading the schema failed: {0}")]
    Query(#[from] sqlx::Error),
}

/// Lays every table of [`DISTRIBUTED`] out as `partitions` hash partitions by `borrower_id`
/// in a freshly migrated, empty PostgreSQL database: each table is made again, partitioned,
/// with its columns, defaults, keys, indexes, foreign keys and the views over it.
/// PostgreSQL, like Citus, refuses a unique key without the partition column.
pub async fn partition_by_borrower(db: &Db, partitions: u32) -> Result<(), PartitionError> {
    let Db::Postgres(pool) = db else { return Err(PartitionError::NotPostgres) };
    let mut tx = pool.begin().await?;
    let tables: Vec<String> = DISTRIBUTED.iter().map(|t| t.to_string()).collect();
    // What is made again after the tables: views over them, and every foreign key that
    // touches one (dropped with the table it is on or points at).
    let views: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_viewdef(c.oid) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'v'",
    )
    .fetch_all(&mut *tx)
    .await?;
    let foreign: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT k.conrelid::regclass::text, k.conname::text, pg_get_constraintdef(k.oid) FROM pg_constraint k \
         WHERE k.contype = 'f' AND (k.conrelid::regclass::text = ANY($1) OR k.confrelid::regclass::text = ANY($1))",
    )
    .bind(&tables)
    .fetch_all(&mut *tx)
    .await?;
    let mut after: Vec<(String, String)> = Vec::new();
    for (name, def) in &views {
        let statement = format!("DROP VIEW {name}");
        run(&mut tx, name, statement).await?;
        after.push((name.clone(), format!("CREATE VIEW {name} AS {def}")));
    }
    for (table, name, def) in &foreign {
        run(&mut tx, table, format!("ALTER TABLE {table} DROP CONSTRAINT {name}")).await?;
        after.push((table.clone(), format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}")));
    }
    for table in &tables {
        // Keys and indexes as the migrations left them, made again on the partitioned table.
        let indexes: Vec<(String, bool)> = sqlx::query_as(
            "SELECT pg_get_indexdef(i.indexrelid), i.indisprimary FROM pg_index i \
             WHERE i.indrelid = $1::regclass ORDER BY i.indisprimary DESC, i.indexrelid",
        )
        .bind(table)
        .fetch_all(&mut *tx)
        .await?;
        let plain = format!("{table}_plain");
        run(&mut tx, table, format!("ALTER TABLE {table} RENAME TO {plain}")).await?;
        let mut index_names = Vec::new();
        for (def, _) in &indexes {
            let name = index_name(def);
            run(&mut tx, table, format!("ALTER INDEX {name} RENAME TO {name}_plain")).await?;
            index_names.push(name);
        }
        run(
            &mut tx,
            table,
            format!(
                "CREATE TABLE {table} (LIKE {plain} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING IDENTITY) \
                 PARTITION BY HASH (borrower_id)"
            ),
        )
        .await?;
        for r in 0..partitions {
            let statement = format!(
                "CREATE TABLE {table}_p{r} PARTITION OF {table} FOR VALUES WITH (MODULUS {partitions}, REMAINDER {r})"
            );
            run(&mut tx, table, statement).await?;
        }
        // The definitions name the table as it is called again now, the partitioned one.
        for ((def, primary), name) in indexes.iter().zip(&index_names) {
            let statement = if *primary {
                let cols = def.rsplit_once('(').map(|(_, c)| c.trim_end_matches(')')).unwrap_or_default();
                format!("ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY ({cols})")
            } else {
                def.clone()
            };
            run(&mut tx, table, statement).await?;
        }
        // The sequences behind serial columns belong to the old table: hand them over first
        // (an identity column's came anew with the table).
        let owned: Vec<(String, String)> = sqlx::query_as(
            "SELECT s.relname::text, a.attname::text FROM pg_depend d JOIN pg_class s ON s.oid = d.objid \
             JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
             WHERE d.refobjid = $1::regclass AND s.relkind = 'S' AND d.deptype = 'a'",
        )
        .bind(&plain)
        .fetch_all(&mut *tx)
        .await?;
        for (seq, col) in owned {
            run(&mut tx, table, format!("ALTER SEQUENCE {seq} OWNED BY {table}.{col}")).await?;
        }
        run(&mut tx, table, format!("DROP TABLE {plain}")).await?;
    }
    for (table, statement) in after {
        run(&mut tx, &table, statement).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn run(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    table: &str,
    statement: String,
) -> Result<(), PartitionError> {
    match sqlx::raw_sql(sqlx::AssertSqlSafe(statement.as_str())).execute(&mut **tx).await {
        Ok(_) => Ok(()),
        Err(source) => Err(PartitionError::Statement { table: table.to_string(), statement, source }),
    }
}

/// The index's name in `CREATE [UNIQUE] INDEX name ON …`.
fn index_name(def: &str) -> String {
    def.split_whitespace().skip_while(|w| *w != "INDEX").nth(1).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_definitions_are_read() {
        let def = "CREATE UNIQUE INDEX loans_pkey ON public.loans USING btree (loan_id, borrower_id)";
        assert_eq!(index_name(def), "loans_pkey");
    }

    #[test]
    fn no_table_is_in_two_lists() {
        let mut all: Vec<&str> = DISTRIBUTED.iter().chain(REFERENCE).chain(COORDINATOR).copied().collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a table is listed twice");
    }

    /// Every join of two spread tables on an id that fixes the borrower says the borrowers
    /// are equal too, so that Citus runs it on one node: a join added without it fails here.
    #[test]
    fn joins_on_a_borrower_s_ids_say_the_borrower() {
        let ids =
            ["loan_id", "case_id", "ptp_id", "alert_id", "legal_id", "contact_id", "task_id", "message_id"];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![dir.clone()];
        let mut missing = Vec::new();
        let mut seen = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (i, _) in text.match_indices("JOIN ") {
                // `JOIN table alias ON a.id = b.id`, as the store writes its joins.
                let words: Vec<&str> = text[i..].split_whitespace().take(8).collect();
                let [_, table, _, on, left, eq, right, ..] = words[..] else { continue };
                if on != "ON" || eq != "=" || !DISTRIBUTED.contains(&table) {
                    continue;
                }
                let (Some((l, lcol)), Some((r, rcol))) = (left.split_once('.'), right.split_once('.')) else {
                    continue;
                };
                if lcol != rcol || !ids.contains(&lcol) {
                    continue;
                }
                seen += 1;
                let says = format!("{right} AND {l}.borrower_id = {r}.borrower_id");
                if !text[i..].chars().take(200).collect::<String>().contains(&says) {
                    missing.push(format!("{}: {}", path.display(), words[..7].join(" ")));
                }
            }
        }
        assert!(seen > 40, "only {seen} joins found: has the way the store writes joins changed?");
        assert!(missing.is_empty(), "joins without the borrower: {missing:#?}");
    }

    #[test]
    fn the_plan_spreads_borrowers_before_what_is_colocated_with_it() {
        let plan = citus_plan();
        let borrowers = plan.iter().position(|s| s.contains("'borrowers', 'borrower_id')")).unwrap();
        let loans = plan.iter().position(|s| s.contains("'loans'")).unwrap();
        assert!(borrowers < loans);
        assert!(plan.iter().any(|s| s == "SELECT create_reference_table('products');"));
    }
}
