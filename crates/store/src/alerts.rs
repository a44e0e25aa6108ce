//! Early-warning alerts: what the alerts phase of the batch reads about the borrowers
//! that changed on a date, what it writes back, and the alerts people list, acknowledge
//! and close.

use arrears_core::id::{BorrowerId, CaseId, RuleId};
use arrears_core::work::AlertStatus;
use std::collections::HashMap;

use futures_util::{StreamExt, TryStreamExt};

use arrears_core::Amount;
use arrears_core::ability::Statement;
use chrono::NaiveDate;

use crate::batch_chunks::KeyRange;
use crate::rows::literal::text_list;
use crate::rows::packed::{self, Fields, RECORD, Record};
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// Rows per multi-row statement.
const ROWS_PER_STATEMENT: usize = 1000;

fn iso(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// Which borrowers a read of one page covers: the page's ids, or (when the page holds most
/// borrowers of its id range, as on a book's first business date) the whole range, read as
/// one walk of an index instead of a seek per id. Rows of borrowers outside the page are
/// dropped by the reader, so a range only has to hold the page.
enum Scope<'a> {
    Ids(&'a [String]),
    Range(&'a str, &'a str),
}

impl Scope<'_> {
    /// The SQL condition that `col` is in scope.
    fn on(&self, col: &str) -> String {
        match self {
            Scope::Ids(ids) => format!("{col} IN ({})", text_list(ids)),
            Scope::Range(lo, hi) => format!("{col} BETWEEN {} AND {}", text_list(&[lo]), text_list(&[hi])),
        }
    }
}

/// The text of the first column, named `b`, of `sql`'s rows.
async fn select_ids(db: &Db, sql: &str) -> Result<Vec<String>, StoreError> {
    match db {
        Db::Sqlite(pool) => {
            crate::sqlite::rows::fold_rows(pool, sql.to_string(), "alerts", Vec::new(), |ids, r| {
                ids.push(r.raw(0)?.to_string());
                Ok(())
            })
            .await
        }
        Db::Postgres(pool) => {
            let sql = format!("SELECT string_agg(b, '{RECORD}') FROM ({sql}) t");
            let text: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                .persistent(false)
                .fetch_one(pool)
                .await?;
            Ok(packed::records(text.as_deref()).map(str::to_string).collect())
        }
    }
}

/// Reads `cols` of `SELECT … FROM rest` packed into one text (see `packed`), with every
/// `{in:COL}` in `rest` replaced by the scope's condition on `COL`.
async fn select_packed(
    db: &Db,
    cols: &[&str],
    rest: &str,
    scope: &Scope<'_>,
) -> Result<Option<String>, StoreError> {
    let mut rest = rest.to_string();
    while let Some(start) = rest.find("{in:") {
        let Some(len) = rest[start..].find('}') else { break };
        let cond = scope.on(&rest[start + 4..start + len]);
        rest.replace_range(start..=start + len, &cond);
    }
    match db {
        Db::Sqlite(pool) => {
            crate::sqlite::rows::packed_rows(
                pool,
                format!("SELECT {} FROM {rest}", cols.join(", ")),
                "alerts",
            )
            .await
        }
        Db::Postgres(pool) => {
            let sql = format!(
                "SELECT string_agg(rec, '{RECORD}') FROM (SELECT {} AS rec FROM {rest}) t",
                packed::pack(cols)
            );
            Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str()))
                .persistent(false)
                .fetch_one(pool)
                .await?)
        }
    }
}

async fn exec(tx: &mut Tx, sql: String) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).persistent(false).execute(c).await?;
    });
    Ok(())
}

/// The highest import that brought financial statements (0 when none did).
pub async fn financials_import_max(db: &Db) -> Result<i64, StoreError> {
    let v: Option<i64> = on_pool!(db, p => sqlx::query_scalar("SELECT CAST(MAX(import_id) AS BIGINT) FROM financials").fetch_one(p).await?);
    Ok(v.unwrap_or(0))
}

/// The last import whose statements the alerts phase has read.
pub async fn financials_mark(db: &Db) -> Result<i64, StoreError> {
    let v: Option<i64> = on_pool!(db, p => sqlx::query_scalar("SELECT value FROM alert_marks WHERE name = 'financials'").fetch_optional(p).await?);
    Ok(v.unwrap_or(0))
}

/// Borrowers to evaluate on `date`, in id order: those with a loan snapshot taken on the
/// date, a promise judged on it, a statement from an import after `fin_mark` or ending
/// on the date, or a guarantor who is a borrower of the book with a loan snapshot taken on
/// the date (its delinquency may have started or ended).
/// Only borrowers of `range` are returned.
pub async fn changed_borrowers(
    db: &Db,
    date: NaiveDate,
    fin_mark: i64,
    range: &KeyRange,
) -> Result<Vec<String>, StoreError> {
    let d = iso(date);
    // On the book's first business date every loan evaluated is new, and a new loan always
    // has a snapshot of its first date: its borrowers are read off the state's borrower
    // index instead of joining every snapshot of the date to its loan (1.3 s of the
    // alerts phase on a million loans, and as long again to sort them for the union).
    let earlier: bool = on_pool!(db, p => sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM business_days WHERE business_date < $1)",
    ).bind(date).fetch_one(p).await?);
    let loans_part = if earlier {
        format!(
            "SELECT l.borrower_id AS b FROM snapshots s JOIN loans l ON l.loan_id = s.loan_id AND l.borrower_id = s.borrower_id WHERE s.as_of = '{d}'{}",
            range.sql("l.borrower_id")
        )
    } else {
        format!("SELECT DISTINCT borrower_id AS b FROM loan_state WHERE 1 = 1{}", range.sql("borrower_id"))
    };
    let mut out = select_ids(
        db,
        &format!(
            "{loans_part} \
             UNION ALL SELECT c.borrower_id FROM ptps t JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id WHERE t.evaluated_on = '{d}'{} \
             UNION ALL SELECT borrower_id FROM financials WHERE ((import_id > {fin_mark} AND period_end <= '{d}') \
             OR period_end = '{d}'){}",
            range.sql("c.borrower_id"),
            range.sql("borrower_id"),
        ),
    )
    .await?;
    // Pages are cut from this order; a page read as a range checks that the database's
    // order agrees (see `alert_inputs`), so byte order is enough here.
    out.sort_unstable();
    out.dedup();
    // When every borrower changed already (a book's first date), the guarantors' side can
    // add no one, and it is a join over every snapshot of the date.
    let count = format!("SELECT COUNT(*) FROM borrowers WHERE 1 = 1{}", range.sql("borrower_id"));
    let all: i64 =
        on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(count.as_str())).fetch_one(p).await?);
    if out.len() as i64 >= all {
        return Ok(out);
    }
    let guaranteed = format!(
        "SELECT DISTINCT c.borrower_id FROM snapshots s JOIN loans l ON l.loan_id = s.loan_id AND l.borrower_id = s.borrower_id \
         JOIN borrowers y ON y.borrower_id = l.borrower_id AND y.phone_bidx <> '' \
         JOIN contacts c ON c.phone_bidx = y.phone_bidx AND c.relation = 'guarantor' AND c.borrower_id <> y.borrower_id \
         WHERE s.as_of = '{d}'{}",
        range.sql("c.borrower_id")
    );
    let more: Vec<String> = on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(guaranteed.as_str())).persistent(false).fetch_all(p).await?);
    if !more.is_empty() {
        out.extend(more);
        out.sort_unstable();
        out.dedup();
    }
    Ok(out)
}

/// What the alerts phase knows of one borrower on a date, before the pure evaluation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertInput {
    /// `individual` or `company`.
    pub kind: String,
    /// Currency of its loans (the first, if several), for showing amounts.
    pub currency: Option<String>,
    /// Worst DPD over its loans.
    pub max_dpd: i64,
    /// Overdue total, minor units.
    pub overdue_total: i64,
    /// Loans past due.
    pub delinquent_loans: i64,
    /// Loans not paid off.
    pub active_loans: i64,
    /// The first business date any of its loans was evaluated.
    pub first_seen: Option<NaiveDate>,
    /// The first business date it was past due, if ever.
    pub first_delinquent: Option<NaiveDate>,
    /// Its open case.
    pub open_case: Option<CaseId>,
    /// Promises judged broken on the date.
    pub ptp_broken_today: i64,
    /// Promises judged kept on the date.
    pub ptp_kept_today: i64,
    /// Promises broken in all.
    pub ptp_broken: i64,
    /// Promises kept in all.
    pub ptp_kept: i64,
    /// Promises pending.
    pub ptp_pending: i64,
    /// Statements ending on or before the date.
    pub statements: Vec<Statement>,
    /// Its behaviour scores of the date (default: not scored).
    pub scores: crate::scores::ScoreFacts,
    /// Rules whose condition held at its last evaluation.
    pub holding: Vec<String>,
    /// Rules with an alert not yet closed.
    pub open_alerts: Vec<String>,
    /// Its guarantor contacts whose phone's blind index is that of another borrower of the
    /// book, as (contact id, that borrower, its worst DPD on the date), by contact and borrower.
    pub guarantors: Vec<(String, String, i64)>,
}

/// A statement's columns as `statement` decodes them.
const FIN_COLS: &[&str] = &[
    "borrower_id",
    "period_end",
    "current_assets",
    "current_liabilities",
    "inventory",
    "total_assets",
    "total_liabilities",
    "revenue",
    "net_income",
    "operating_cash_flow",
];

/// The guarantor side of the alert inputs ([`AlertInput::guarantors`]) for the whole book
/// at once, by the borrower whose contacts they are.
#[derive(Debug, Default)]
pub struct GuarantorLinks(HashMap<String, Vec<(String, String, i64)>>);

/// The join from a guarantor contact to the borrower whose phone it has, with that
/// borrower's loans; a page's read adds its scope.
const GUARANTOR_ROWS: &str = "contacts c JOIN borrowers y ON y.phone_bidx = c.phone_bidx AND y.borrower_id <> c.borrower_id \
     JOIN loan_state s ON s.borrower_id = y.borrower_id \
     WHERE c.relation = 'guarantor' AND c.phone_bidx <> ''";
const GUARANTOR_COLS: &[&str] = &["c.borrower_id", "c.contact_id", "y.borrower_id", "s.dpd"];

/// Reads [`GuarantorLinks`] for every borrower in one join. On PostgreSQL, when most of the
/// book is read (a first date), this is one hash join of a second or so where the pages
/// would look each guarantor's phone up in the borrowers' index, a random read each (ten
/// seconds for a million loans on a server with its default 128 MB of buffers). Only the
/// borrowers of `range` (a chunk of `arrears worker`) are read.
pub async fn guarantor_links(db: &Db, range: &KeyRange) -> Result<GuarantorLinks, StoreError> {
    let rows = format!("{GUARANTOR_ROWS}{}", range.sql("c.borrower_id"));
    // No `{in:…}` in the rows, so the scope is not used.
    let text = select_packed(db, GUARANTOR_COLS, &rows, &Scope::Ids(&[])).await?;
    let mut links: HashMap<String, Vec<(String, String, i64)>> = HashMap::new();
    for ((b, contact, other), dpd) in worst_guarantors(text.as_deref(), |_| true)? {
        links.entry(b).or_default().push((contact, other, dpd));
    }
    Ok(GuarantorLinks(links))
}

/// (borrower, contact, other borrower) → worst DPD, from packed [`GUARANTOR_COLS`] rows of
/// borrowers that `keep` accepts; ordered, so each borrower's links come by contact and
/// other borrower.
fn worst_guarantors(
    text: Option<&str>,
    keep: impl Fn(&str) -> bool,
) -> Result<std::collections::BTreeMap<(String, String, String), i64>, StoreError> {
    let mut worst = std::collections::BTreeMap::new();
    for rec in packed::records(text) {
        let r = Fields::split("contacts", rec);
        // A range read also brings borrowers outside the page: skip them before allocating.
        if !keep(r.raw(0)?) {
            continue;
        }
        let dpd = r.int(3)?;
        let w = worst.entry((r.text(0)?, r.text(1)?, r.text(2)?)).or_insert(dpd);
        *w = (*w).max(dpd);
    }
    Ok(worst)
}

/// Reads what the alert rules need about `borrowers` (ids in the database's order) on `date`;
/// their guarantor links come from `links` when it is given, else from the database.
pub async fn alert_inputs(
    db: &Db,
    date: NaiveDate,
    borrowers: &[String],
    links: Option<&GuarantorLinks>,
) -> Result<HashMap<String, AlertInput>, StoreError> {
    let mut out: HashMap<String, AlertInput> = HashMap::with_capacity(borrowers.len());
    if borrowers.is_empty() {
        return Ok(out);
    }
    let d = iso(date);
    let mut scope = page_scope(db, borrowers).await?;
    let page: std::collections::HashSet<&str> = borrowers.iter().map(String::as_str).collect();
    loop {
        let text =
            select_packed(db, &["borrower_id", "kind"], "borrowers WHERE {in:borrower_id}", &scope).await?;
        for rec in packed::records(text.as_deref()) {
            let r = Fields::split("borrowers", rec);
            let b = r.raw(0)?;
            if page.contains(b) {
                out.insert(b.to_string(), AlertInput { kind: r.text(1)?, ..AlertInput::default() });
            }
        }
        // A database whose text order is not the page's (a collation) may leave some of the
        // page outside its range: then the page is read by id.
        if matches!(scope, Scope::Ids(_)) || out.len() == page.len() {
            break;
        }
        out.clear();
        scope = Scope::Ids(borrowers);
    }
    let scope = &scope;
    // The reads are independent. On PostgreSQL four run side by side; on SQLite two, which
    // is what two cores give while the page before is decided and written (one at a time
    // left the deciding side waiting for a third of the phase). Either way the pool keeps
    // connections for the page being written and the figures being read meanwhile (see
    // `app::alerts`).
    let guarantor_rows = format!("{GUARANTOR_ROWS} AND {{in:c.borrower_id}}");
    let fin_rest = format!("financials WHERE {{in:borrower_id}} AND period_end <= '{d}'");
    let side_by_side = if matches!(db, Db::Sqlite(_)) { 2 } else { 4 };
    let mut queries = vec![
        select_packed(
            db,
            &[
                "borrower_id",
                "MIN(currency)",
                "MAX(dpd)",
                "SUM(overdue_principal + overdue_interest + overdue_fee + overdue_penalty)",
                "SUM(CASE WHEN dpd > 0 THEN 1 ELSE 0 END)",
                "SUM(CASE WHEN status = 'active' THEN 1 ELSE 0 END)",
                "MIN(first_on)",
            ],
            "loan_state WHERE {in:borrower_id} GROUP BY borrower_id",
            scope,
        ),
        select_packed(
            db,
            &["borrower_id", "first_on"],
            "alert_first_delinquency WHERE {in:borrower_id}",
            scope,
        ),
        // Open cases are picked below: with `status = 'open'` in the query, SQLite walks
        // every open case of the book through the status index, for every page.
        select_packed(db, &["borrower_id", "case_id", "status"], "cases WHERE {in:borrower_id}", scope),
        select_packed(
            db,
            &["c.borrower_id", "t.status", "t.evaluated_on"],
            "ptps t JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id WHERE {in:c.borrower_id}",
            scope,
        ),
        select_packed(db, FIN_COLS, &fin_rest, scope),
        select_packed(db, &["borrower_id", "rule_id"], "alert_state WHERE {in:borrower_id}", scope),
        select_packed(
            db,
            &["borrower_id", "rule_id"],
            "alerts WHERE status <> 'closed' AND {in:borrower_id}",
            scope,
        ),
    ];
    // Mobile numbers are registered to one person (real-name registration), so a guarantor
    // whose phone is a borrower's is that borrower. The worst DPD is taken below: with a
    // GROUP BY, SQLite scans every contact instead of seeking the page's.
    if links.is_none() {
        queries.push(select_packed(db, GUARANTOR_COLS, &guarantor_rows, scope));
    }
    let reads = futures_util::stream::iter(queries).buffered(side_by_side).try_collect::<Vec<_>>();
    let (mut texts, scores) =
        futures_util::future::try_join(reads, crate::scores::scores_on(db, date, Some(borrowers))).await?;
    let guarantors = if links.is_none() { texts.pop().flatten() } else { None };
    let [states, firsts, cases, ptps, fins, holding, open]: [Option<String>; 7] =
        texts.try_into().expect("seven reads besides the guarantors'");
    // Rows of borrowers outside the page (a range scope) find no entry and are skipped.
    for rec in packed::records(states.as_deref()) {
        let r = Fields::split("loan_state", rec);
        if let Some(x) = out.get_mut(r.raw(0)?) {
            x.currency = Some(r.text(1)?);
            x.max_dpd = r.int(2)?;
            x.overdue_total = r.int(3)?;
            x.delinquent_loans = r.int(4)?;
            x.active_loans = r.int(5)?;
            x.first_seen = r.opt_date(6)?;
        }
    }
    for rec in packed::records(firsts.as_deref()) {
        let r = Fields::split("alert_first_delinquency", rec);
        if let Some(x) = out.get_mut(r.raw(0)?) {
            x.first_delinquent = Some(r.date(1)?);
        }
    }
    for rec in packed::records(cases.as_deref()) {
        let r = Fields::split("cases", rec);
        if let Some(x) = out.get_mut(r.raw(0)?)
            && r.raw(2)? == "open"
        {
            let id: CaseId = crate::stored_id("cases", r.text(1)?)?;
            if x.open_case.as_ref().is_none_or(|have| id < *have) {
                x.open_case = Some(id);
            }
        }
    }
    for rec in packed::records(ptps.as_deref()) {
        let r = Fields::split("ptps", rec);
        let Some(x) = out.get_mut(r.raw(0)?) else { continue };
        let today = r.opt_date(2)? == Some(date);
        match r.raw(1)? {
            "broken" => {
                x.ptp_broken += 1;
                x.ptp_broken_today += i64::from(today);
            }
            "kept" => {
                x.ptp_kept += 1;
                x.ptp_kept_today += i64::from(today);
            }
            _ => x.ptp_pending += 1,
        }
    }
    for rec in packed::records(fins.as_deref()) {
        let r = Fields::split("financials", rec);
        if let Some(x) = out.get_mut(r.raw(0)?) {
            x.statements.push(statement(&r)?);
        }
    }
    for (b, f) in scores {
        if let Some(x) = out.get_mut(&b) {
            x.scores = f;
        }
    }
    for rec in packed::records(holding.as_deref()) {
        let r = Fields::split("alert_state", rec);
        if let Some(x) = out.get_mut(r.raw(0)?) {
            x.holding.push(r.text(1)?);
        }
    }
    for rec in packed::records(open.as_deref()) {
        let r = Fields::split("alerts", rec);
        if let Some(x) = out.get_mut(r.raw(0)?) {
            x.open_alerts.push(r.text(1)?);
        }
    }
    match links {
        Some(GuarantorLinks(links)) => {
            for (b, x) in out.iter_mut() {
                if let Some(l) = links.get(b) {
                    x.guarantors = l.clone();
                }
            }
        }
        None => {
            for ((b, contact, other), dpd) in
                worst_guarantors(guarantors.as_deref(), |b| out.contains_key(b))?
            {
                if let Some(x) = out.get_mut(&b) {
                    x.guarantors.push((contact, other, dpd));
                }
            }
        }
    }
    Ok(out)
}

/// How to read a page of borrowers (ids in the database's order): as the range from its
/// first to its last id when that range holds at most twice as many borrowers as the page,
/// else by id.
async fn page_scope<'a>(db: &Db, page: &'a [String]) -> Result<Scope<'a>, StoreError> {
    let (Some(lo), Some(hi)) = (page.first(), page.last()) else { return Ok(Scope::Ids(page)) };
    if page.len() < 64 {
        return Ok(Scope::Ids(page));
    }
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM borrowers WHERE borrower_id BETWEEN {} AND {} LIMIT {}) t",
        text_list(&[lo]),
        text_list(&[hi]),
        2 * page.len() + 1
    );
    let in_range: i64 = on_pool!(db, p => sqlx::query_scalar(sqlx::AssertSqlSafe(sql.as_str())).persistent(false).fetch_one(p).await?);
    Ok(if in_range as usize > 2 * page.len() { Scope::Ids(page) } else { Scope::Range(lo, hi) })
}

fn statement(r: &Fields<'_>) -> Result<Statement, StoreError> {
    Ok(Statement {
        period_end: r.date(1)?,
        current_assets: Amount::from_minor(r.int(2)?),
        current_liabilities: Amount::from_minor(r.int(3)?),
        inventory: Amount::from_minor(r.int(4)?),
        total_assets: Amount::from_minor(r.int(5)?),
        total_liabilities: Amount::from_minor(r.int(6)?),
        revenue: Amount::from_minor(r.int(7)?),
        net_income: Amount::from_minor(r.int(8)?),
        operating_cash_flow: Amount::from_minor(r.int(9)?),
    })
}

/// A new alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAlert {
    /// The borrower the rule fired for (alerts are per borrower, not per loan).
    pub borrower_id: BorrowerId,
    /// Open case, if any.
    pub case_id: Option<CaseId>,
    /// Rule id.
    pub rule_id: RuleId,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// Department codes, comma-separated.
    pub departments: String,
    /// The values that fired it, a JSON object.
    pub values_json: String,
}

/// What the alerts phase writes for one page of borrowers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertWrites {
    /// Alerts to raise.
    pub raise: Vec<NewAlert>,
    /// (borrower, rule) conditions that started to hold.
    pub now_holding: Vec<(String, String)>,
    /// (borrower, rule) conditions that stopped holding.
    pub stopped: Vec<(String, String)>,
    /// Borrowers past due for the first time on the date.
    pub first_delinquent: Vec<String>,
}

/// Writes one page's results, raised on `date`.
pub async fn apply_alerts(tx: &mut Tx, date: NaiveDate, w: &AlertWrites) -> Result<(), StoreError> {
    crate::rows::insert_all(
        tx,
        "INSERT INTO alerts (borrower_id, case_id, rule_id, severity, departments, vals, raised_on)",
        "",
        &w.raise,
        |r, a| {
            r.text(&a.borrower_id)
                .opt_text(a.case_id.as_deref())
                .text(&a.rule_id)
                .text(&a.severity)
                .text(&a.departments)
                .text(&a.values_json)
                .date(date);
        },
    )
    .await?;
    crate::rows::insert_all(
        tx,
        "INSERT INTO alert_state (borrower_id, rule_id, since)",
        " ON CONFLICT DO NOTHING",
        &w.now_holding,
        |r, (b, rule)| {
            r.text(b).text(rule).date(date);
        },
    )
    .await?;
    let mut by_rule: HashMap<&str, Vec<&str>> = HashMap::new();
    for (b, rule) in &w.stopped {
        by_rule.entry(rule.as_str()).or_default().push(b.as_str());
    }
    for (rule, borrowers) in by_rule {
        for part in borrowers.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "DELETE FROM alert_state WHERE rule_id = {} AND borrower_id IN ({})",
                text_list(&[rule]),
                text_list(part)
            );
            exec(tx, sql).await?;
        }
    }
    crate::rows::insert_all(
        tx,
        "INSERT INTO alert_first_delinquency (borrower_id, first_on)",
        " ON CONFLICT DO NOTHING",
        &w.first_delinquent,
        |r, b| {
            r.text(b).date(date);
        },
    )
    .await?;
    Ok(())
}

/// Records that statements up to import `mark` have been read.
pub async fn set_financials_mark(tx: &mut Tx, mark: i64) -> Result<(), StoreError> {
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO alert_marks (name, value) VALUES ('financials', $1) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(mark)
        .execute(c)
        .await?;
    });
    Ok(())
}

/// One stored alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertRow {
    /// The alert's number, given by the database as alerts are raised; `alert ack` and `alert close` name it.
    pub alert_id: i64,
    /// The borrower the rule fired for.
    pub borrower_id: BorrowerId,
    /// Case open when it was raised.
    pub case_id: Option<CaseId>,
    /// The id of the early-warning rule that raised it.
    pub rule_id: RuleId,
    /// `info`, `warning` or `critical`, as the rule sets it.
    pub severity: String,
    /// The departments the rule sends it to (`collections`, `risk`, `legal`, `relationship_manager`).
    pub departments: Vec<String>,
    /// The values that fired it, as the JSON text stored.
    pub values: String,
    /// Business date raised.
    pub raised_on: NaiveDate,
    /// Open, acknowledged or closed.
    pub status: AlertStatus,
    /// Notes, oldest first, each `when|who|status|text`.
    pub notes: Vec<String>,
    /// Who changed it last.
    pub updated_by: Option<String>,
    /// When it was changed last (RFC 3339).
    pub updated_at: Option<String>,
}

const ALERT_COLUMNS: &str = "alert_id, borrower_id, case_id, rule_id, severity, departments, vals, raised_on, \
                             status, notes, updated_by, updated_at";

fn alert_row<R: sqlx::Row>(r: &R) -> Result<AlertRow, StoreError>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    NaiveDate: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let departments: String = r.try_get("departments")?;
    let notes: String = r.try_get("notes")?;
    Ok(AlertRow {
        alert_id: r.try_get("alert_id")?,
        borrower_id: crate::stored_id("alerts", r.try_get::<String, _>("borrower_id")?)?,
        case_id: crate::stored_opt_id("alerts", r.try_get::<Option<String>, _>("case_id")?)?,
        rule_id: crate::stored_id("alerts", r.try_get::<String, _>("rule_id")?)?,
        severity: r.try_get("severity")?,
        departments: departments.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
        values: r.try_get("vals")?,
        raised_on: r.try_get("raised_on")?,
        status: crate::stored_enum("alerts", &r.try_get::<String, _>("status")?)?,
        notes: notes.lines().map(str::to_string).collect(),
        updated_by: r.try_get("updated_by")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Alerts by id, filtered by status and borrower when given.
pub async fn list_alerts(
    db: &Db,
    status: Option<AlertStatus>,
    borrower: Option<&str>,
) -> Result<Vec<AlertRow>, StoreError> {
    // Conditions only for the filters given, so that the status and borrower indexes are used.
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE {} AND {} ORDER BY alert_id",
        if status.is_some() { "status = CAST($1 AS TEXT)" } else { "CAST($1 AS TEXT) IS NULL" },
        if borrower.is_some() { "borrower_id = CAST($2 AS TEXT)" } else { "CAST($2 AS TEXT) IS NULL" },
    );
    on_pool!(db, p => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(status.map(AlertStatus::as_str)).bind(borrower).fetch_all(p).await?;
        Ok(rows.iter().map(alert_row).collect::<Result<Vec<_>, _>>()?)
    })
}

/// One alert.
pub async fn get_alert(db: &Db, id: i64) -> Result<Option<AlertRow>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = $1");
    on_pool!(db, p => {
        let row = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await?;
        Ok(row.as_ref().map(alert_row).transpose()?)
    })
}

/// Sets an alert's status and appends a note, if its status is still `from_status`; false when
/// it was not (someone else changed it first, or there is no such alert). In the caller's
/// transaction, so that its audit entry commits with it.
pub async fn update_alert_tx(
    tx: &mut Tx,
    id: i64,
    from_status: &[AlertStatus],
    to_status: AlertStatus,
    note_line: &str,
    who: &str,
    at: &str,
) -> Result<bool, StoreError> {
    let allowed = text_list(&from_status.iter().map(|s| s.as_str()).collect::<Vec<_>>());
    // notes || line || newline: the note itself was made single-line by the caller.
    let sql = format!(
        "UPDATE alerts SET status = $1, notes = notes || $2, updated_by = $3, updated_at = $4 \
         WHERE alert_id = $5 AND status IN ({allowed})"
    );
    let line = format!("{note_line}\n");
    let done = on_tx!(tx, p => sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(to_status.as_str()).bind(line).bind(who).bind(at).bind(id).execute(p).await?.rows_affected());
    Ok(done == 1)
}

/// A borrower's kind, `None` if there is no such borrower.
pub async fn borrower_kind(db: &Db, borrower: &str) -> Result<Option<String>, StoreError> {
    Ok(on_pool!(db, p => sqlx::query_scalar("SELECT kind FROM borrowers WHERE borrower_id = $1")
        .bind(borrower).fetch_optional(p).await?))
}

/// A borrower's statements, every period.
pub async fn statements_of(db: &Db, borrower: &str) -> Result<Vec<Statement>, StoreError> {
    let text = select_packed(
        db,
        FIN_COLS,
        "financials WHERE {in:borrower_id}",
        &Scope::Ids(&[borrower.to_string()]),
    )
    .await?;
    let mut out: Vec<Statement> = packed::records(text.as_deref())
        .map(|rec| statement(&Fields::split("financials", rec)))
        .collect::<Result<_, _>>()?;
    out.sort_by_key(|s| s.period_end);
    Ok(out)
}

/// A borrower's loan ids.
pub async fn loans_of(db: &Db, borrower: &str) -> Result<Vec<String>, StoreError> {
    Ok(
        on_pool!(db, p => sqlx::query_scalar("SELECT loan_id FROM loans WHERE borrower_id = $1 ORDER BY loan_id")
        .bind(borrower).fetch_all(p).await?),
    )
}

/// A borrower's promises as (status, due date), for the ones due by `date`.
pub async fn promises_of(db: &Db, borrower: &str) -> Result<Vec<(String, NaiveDate)>, StoreError> {
    Ok(on_pool!(db, p => sqlx::query_as(
        "SELECT t.status, t.due_on FROM ptps t JOIN cases c ON c.case_id = t.case_id AND c.borrower_id = t.borrower_id WHERE c.borrower_id = $1")
        .bind(borrower).fetch_all(p).await?))
}
