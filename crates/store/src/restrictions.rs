//! Contact restrictions (migration 0009): a borrower's standing instructions that the contact
//! policy honours — do-not-contact numbers, opt-outs, inconvenient times, attorney
//! representation and written cease requests. Numbers and addresses are stored sealed with
//! their blind index (see [`crate::personal`]); lifting a restriction keeps its row.

use arrears_core::id::{BorrowerId, ContactId};
use chrono::NaiveDate;
use sqlx::Row as _;

use crate::batch_chunks::KeyRange;
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// A restriction as stored (its address still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictionRow {
    /// The restriction's number, given by the database; lifting it names this number.
    pub restriction_id: i64,
    /// The borrower whose instruction it is, also when it restricts one of their contacts.
    pub borrower_id: BorrowerId,
    /// `do_not_contact`, `opt_out`, `inconvenient_time`, `attorney` or `cease`.
    pub kind: String,
    /// The medium of an opt-out.
    pub channel: Option<String>,
    /// Sealed number or e-mail ('' when there is none).
    pub address: String,
    /// The personal-data field the address is sealed as: `phone`, `email` or ''.
    pub address_field: String,
    /// Blind index of the address ('' when there is none).
    pub address_bidx: String,
    /// Start of an inconvenient window, local `HH:MM`.
    pub window_from: Option<String>,
    /// End of an inconvenient window (first convenient minute), local `HH:MM`.
    pub window_until: Option<String>,
    /// Weekdays of an inconvenient window, e.g. `mon,tue` ('' is every day).
    pub weekdays: String,
    /// The representing attorney's name.
    pub attorney_name: Option<String>,
    /// Date of a written cease request.
    pub cease_on: Option<NaiveDate>,
    /// Business date it was recorded on.
    pub recorded_on: NaiveDate,
    /// RFC 3339 time it was recorded.
    pub recorded_at: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// Where the instruction came from.
    pub note: String,
    /// From this date on it no longer applies.
    pub ended_on: Option<NaiveDate>,
    /// Who lifted it.
    pub ended_by: Option<String>,
    /// Why it was lifted.
    pub end_note: Option<String>,
    /// The borrower's contact it restricts; `None` for the borrower themself.
    pub contact_id: Option<ContactId>,
}

/// A new restriction; the address is already sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRestriction {
    /// The borrower whose instruction it is, also when it restricts one of their contacts.
    pub borrower_id: BorrowerId,
    /// Kind code (see [`RestrictionRow::kind`]).
    pub kind: &'static str,
    /// The medium of an opt-out.
    pub channel: Option<String>,
    /// Sealed number or e-mail.
    pub address: String,
    /// `phone`, `email` or ''.
    pub address_field: &'static str,
    /// Blind index of the address.
    pub address_bidx: String,
    /// Inconvenient window start, `HH:MM`.
    pub window_from: Option<String>,
    /// Inconvenient window end, `HH:MM`.
    pub window_until: Option<String>,
    /// Weekdays, comma-separated.
    pub weekdays: String,
    /// Attorney's name.
    pub attorney_name: Option<String>,
    /// Cease request date.
    pub cease_on: Option<NaiveDate>,
    /// Business date.
    pub recorded_on: NaiveDate,
    /// RFC 3339.
    pub recorded_at: String,
    /// The person who recorded it (`cli` when none was named).
    pub recorded_by: String,
    /// Source note.
    pub note: String,
    /// The borrower's contact it restricts; `None` for the borrower themself.
    pub contact_id: Option<ContactId>,
}

const COLUMNS: &str = "r.restriction_id, r.borrower_id, r.kind, r.channel, r.address, r.address_field, \
     r.address_bidx, r.window_from, r.window_until, r.weekdays, r.attorney_name, r.cease_on, r.recorded_on, \
     r.recorded_at, r.recorded_by, r.note, r.ended_on, r.ended_by, r.end_note, r.contact_id";

/// Reads the [`COLUMNS`] of a row of either backend.
macro_rules! restriction_row {
    ($r:expr) => {{
        let r = $r;
        RestrictionRow {
            restriction_id: r.try_get(0)?,
            borrower_id: crate::stored_id("contact_restrictions", r.try_get::<String, _>(1)?)?,
            kind: r.try_get(2)?,
            channel: r.try_get(3)?,
            address: r.try_get(4)?,
            address_field: r.try_get(5)?,
            address_bidx: r.try_get(6)?,
            window_from: r.try_get(7)?,
            window_until: r.try_get(8)?,
            weekdays: r.try_get(9)?,
            attorney_name: r.try_get(10)?,
            cease_on: r.try_get(11)?,
            recorded_on: r.try_get(12)?,
            recorded_at: r.try_get(13)?,
            recorded_by: r.try_get(14)?,
            note: r.try_get(15)?,
            ended_on: r.try_get(16)?,
            ended_by: r.try_get(17)?,
            end_note: r.try_get(18)?,
            contact_id: crate::stored_opt_id("contact_restrictions", r.try_get::<Option<String>, _>(19)?)?,
        }
    }};
}

/// Stores a restriction; returns its id.
pub async fn insert(tx: &mut Tx, r: &NewRestriction) -> Result<i64, StoreError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar(
            "INSERT INTO contact_restrictions (borrower_id, kind, channel, address, address_field, address_bidx, \
             window_from, window_until, weekdays, attorney_name, cease_on, recorded_on, recorded_at, recorded_by, note, \
             contact_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING restriction_id",
        )
        .bind(r.borrower_id.as_str())
        .bind(r.kind)
        .bind(r.channel.as_deref())
        .bind(&r.address)
        .bind(r.address_field)
        .bind(&r.address_bidx)
        .bind(r.window_from.as_deref())
        .bind(r.window_until.as_deref())
        .bind(&r.weekdays)
        .bind(r.attorney_name.as_deref())
        .bind(r.cease_on)
        .bind(r.recorded_on)
        .bind(&r.recorded_at)
        .bind(&r.recorded_by)
        .bind(&r.note)
        .bind(r.contact_id.as_deref())
        .fetch_one(conn)
        .await?
    }))
}

/// The restriction with this id, read inside a transaction.
pub async fn get(tx: &mut Tx, id: i64) -> Result<Option<RestrictionRow>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM contact_restrictions r WHERE r.restriction_id = $1");
    Ok(on_tx!(tx, conn => {
        match sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(conn).await? {
            Some(row) => Some(restriction_row!(row)),
            None => None,
        }
    }))
}

/// Lifts a restriction still in force: it stops applying from `on`. False when there is no
/// such restriction or it was lifted already.
pub async fn end(tx: &mut Tx, id: i64, on: NaiveDate, by: &str, note: &str) -> Result<bool, StoreError> {
    let n = on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE contact_restrictions SET ended_on = $1, ended_by = $2, end_note = $3 \
             WHERE restriction_id = $4 AND ended_on IS NULL",
        )
        .bind(on)
        .bind(by)
        .bind(note)
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected()
    });
    Ok(n == 1)
}

/// Restrictions of one borrower (every borrower when `None`), lifted ones included, by
/// borrower and id.
pub async fn list(db: &Db, borrower_id: Option<&str>) -> Result<Vec<RestrictionRow>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM contact_restrictions r WHERE $1 IS NULL OR r.borrower_id = $1 \
         ORDER BY r.borrower_id, r.restriction_id"
    );
    on_pool!(db, p => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(borrower_id).fetch_all(p).await?;
        rows.iter().map(|row| Ok(restriction_row!(row))).collect::<Result<Vec<_>, StoreError>>()
    })
}

/// Restrictions of these borrowers, lifted ones included, by borrower and id (the dispatcher
/// reads those of a claimed batch at once).
pub async fn list_of(db: &Db, borrowers: &[&str]) -> Result<Vec<RestrictionRow>, StoreError> {
    let mut out = Vec::new();
    for chunk in borrowers.chunks(500) {
        let sql = format!(
            "SELECT {COLUMNS} FROM contact_restrictions r WHERE r.borrower_id IN ({}) \
             ORDER BY r.borrower_id, r.restriction_id",
            crate::rows::literal::text_list(chunk)
        );
        let rows: Vec<RestrictionRow> = on_pool!(db, p => {
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?;
            rows.iter().map(|row| Ok(restriction_row!(row))).collect::<Result<Vec<_>, StoreError>>()?
        });
        out.extend(rows);
    }
    Ok(out)
}

/// A restriction of a borrower with an open case, with the blind indexes of the borrower's own
/// phone and e-mail (so that a restricted number can be recognised as the one on record), and
/// the relation of the contact it restricts, when it restricts one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCaseRestriction {
    /// The restriction.
    pub restriction: RestrictionRow,
    /// Blind index of the borrower's phone.
    pub phone_bidx: String,
    /// Blind index of the borrower's e-mail.
    pub email_bidx: String,
    /// The restricted contact's relation (`None` for the borrower).
    pub relation: Option<String>,
}

/// Every restriction not lifted by `on` of the borrowers with an open case (their contacts'
/// included), in one query (the batch's treatment phase reads them once for all cases).
pub async fn for_open_cases(db: &Db, on: NaiveDate) -> Result<Vec<OpenCaseRestriction>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS}, b.phone_bidx, b.email_bidx, k.relation FROM contact_restrictions r \
         JOIN borrowers b ON b.borrower_id = r.borrower_id \
         LEFT JOIN contacts k ON k.contact_id = r.contact_id AND k.borrower_id = r.borrower_id \
         WHERE (r.ended_on IS NULL OR r.ended_on > $1) \
         AND EXISTS (SELECT 1 FROM cases c WHERE c.borrower_id = r.borrower_id AND c.status = 'open') \
         ORDER BY r.borrower_id, r.restriction_id"
    );
    on_pool!(db, p => {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(on).fetch_all(p).await?;
        rows.iter()
            .map(|row| {
                Ok(OpenCaseRestriction {
                    restriction: restriction_row!(row),
                    phone_bidx: row.try_get(20)?,
                    email_bidx: row.try_get(21)?,
                    relation: row.try_get(22)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()
    })
}

/// A guarantor of a borrower with an open case, with the blind indexes of its phone and e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCaseGuarantor {
    /// Whose guarantor.
    pub borrower_id: BorrowerId,
    /// The contact.
    pub contact_id: ContactId,
    /// Blind index of its phone ('' when none).
    pub phone_bidx: String,
    /// Blind index of its e-mail ('' when none).
    pub email_bidx: String,
}

/// The guarantors of the borrowers with an open case, by borrower and contact id, in one query
/// (the batch picks, for a guarantor-contact step, the first one the contact policy allows);
/// of `range`'s borrowers.
pub async fn guarantors_of_open_cases(
    db: &Db,
    range: &KeyRange,
) -> Result<Vec<OpenCaseGuarantor>, StoreError> {
    // From the open cases' borrowers to their contacts: written as a correlated EXISTS,
    // SQLite walked every open case for each of a 1M-loan book's 1.4M contacts (hours).
    let sql = format!(
        "SELECT k.borrower_id, k.contact_id, k.phone_bidx, k.email_bidx FROM contacts k \
         WHERE k.relation = 'guarantor'{} \
         AND k.borrower_id IN (SELECT c.borrower_id FROM cases c WHERE c.status = 'open') \
         ORDER BY k.borrower_id, k.contact_id",
        range.sql("k.borrower_id")
    );
    let rows: Vec<(String, String, String, String)> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    rows.into_iter()
        .map(|(borrower_id, contact_id, phone_bidx, email_bidx)| {
            Ok(OpenCaseGuarantor {
                borrower_id: crate::stored_id("contacts", borrower_id)?,
                contact_id: crate::stored_id("contacts", contact_id)?,
                phone_bidx,
                email_bidx,
            })
        })
        .collect()
}

/// The borrower and relation of a contact; `None` when there is no such contact.
pub async fn contact_owner(db: &Db, contact_id: &str) -> Result<Option<(String, String)>, StoreError> {
    Ok(on_pool!(db, p => sqlx::query_as(
        "SELECT borrower_id, relation FROM contacts WHERE contact_id = $1",
    ).bind(contact_id).fetch_optional(p).await?))
}

/// Blind indexes of the phone and e-mail on record for the borrower, or for one of its contacts
/// when `contact_id` is given; `None` when there is no such person.
pub async fn party_bidx(
    db: &Db,
    borrower_id: &str,
    contact_id: Option<&str>,
) -> Result<Option<(String, String)>, StoreError> {
    let row: Option<(String, String)> = match contact_id {
        None => on_pool!(db, p => sqlx::query_as(
            "SELECT phone_bidx, email_bidx FROM borrowers WHERE borrower_id = $1",
        ).bind(borrower_id).fetch_optional(p).await?),
        Some(c) => on_pool!(db, p => sqlx::query_as(
            "SELECT phone_bidx, email_bidx FROM contacts WHERE borrower_id = $1 AND contact_id = $2",
        ).bind(borrower_id).bind(c).fetch_optional(p).await?),
    };
    Ok(row)
}

/// Whether the borrower exists.
pub async fn borrower_exists(db: &Db, borrower_id: &str) -> Result<bool, StoreError> {
    let n: i64 = on_pool!(db, p => sqlx::query_scalar(
        "SELECT COUNT(*) FROM borrowers WHERE borrower_id = $1",
    ).bind(borrower_id).fetch_one(p).await?);
    Ok(n > 0)
}

/// Stores a restriction's address sealed and indexed under the current key (a key rotation).
pub(crate) async fn rekey_address(
    tx: &mut Tx,
    restriction_id: i64,
    sealed: &str,
    bidx: &str,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => sqlx::query(
        "UPDATE contact_restrictions SET address = $1, address_bidx = $2 WHERE restriction_id = $3",
    ).bind(sealed).bind(bidx).bind(restriction_id).execute(conn).await?.rows_affected());
    Ok(())
}

/// Erases the personal data of these borrowers' restrictions: a restriction's number and
/// attorney are personal data too; its kind and dates stay.
pub(crate) async fn purge_of(tx: &mut Tx, borrowers: &[String]) -> Result<(), StoreError> {
    let sql = format!(
        "UPDATE contact_restrictions SET address = '', address_bidx = '', attorney_name = '' \
         WHERE borrower_id IN ({})",
        crate::rows::literal::text_list(borrowers)
    );
    on_tx!(tx, conn => sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(conn).await?.rows_affected());
    Ok(())
}
