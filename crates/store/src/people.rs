//! Users, the record of unmasked access, and the stored personal data of borrowers and
//! contacts: reading it sealed, re-sealing it under a new key, purging it after retention.

use std::collections::HashMap;

use arrears_core::access::Role;
use arrears_core::id::{BorrowerId, ContactId};
use chrono::NaiveDate;

use crate::personal::{Field, Keyring, PersonalError};
use crate::{Db, StoreError, Tx, on_pool, on_tx};

/// What went wrong with users or personal data.
#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys or sealed values.
    #[error(transparent)]
    Personal(#[from] PersonalError),
    /// A user of that name exists already.
    #[error("a user named {0:?} exists already")]
    UserExists(String),
}

impl From<sqlx::Error> for PeopleError {
    fn from(e: sqlx::Error) -> PeopleError {
        PeopleError::Store(StoreError::Query(e))
    }
}

/// A user as stored (the password hash included: never print it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The user's number, given by the database when the user is added.
    pub user_id: i64,
    /// Login name.
    pub name: String,
    /// The user's role, parsed where it is read.
    pub role: Role,
    /// Agency of an agency user.
    pub agency: Option<String>,
    /// The team of a collector or supervisor; with the role it decides whose cases they see.
    pub team: Option<String>,
    /// argon2 PHC string.
    pub password_hash: String,
    /// RFC 3339.
    pub created_at: String,
    /// A disabled user cannot act.
    pub disabled: bool,
}

/// A new user.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// Login name.
    pub name: &'a str,
    /// The user's role.
    pub role: Role,
    /// Agency of an agency user.
    pub agency: Option<&'a str>,
    /// The team of a collector or supervisor; with the role it decides whose cases they see.
    pub team: Option<&'a str>,
    /// argon2 PHC string.
    pub password_hash: &'a str,
    /// RFC 3339.
    pub created_at: &'a str,
}

type UserTuple = (i64, String, String, Option<String>, Option<String>, String, String, bool);

const USER_COLUMNS: &str = "user_id, name, role, agency, team, password_hash, created_at, disabled";

fn user_row(t: UserTuple) -> Result<UserRow, PeopleError> {
    let (user_id, name, role, agency, team, password_hash, created_at, disabled) = t;
    let role = parse_role(&name, &role)?;
    Ok(UserRow { user_id, name, role, agency, team, password_hash, created_at, disabled })
}

/// A stored role, which arrears itself wrote from a [`Role`].
pub(crate) fn parse_role(user: &str, role: &str) -> Result<Role, StoreError> {
    role.parse().map_err(|e| StoreError::Corrupt { table: "users", detail: format!("user {user}: {e}") })
}

/// Stores a new user and returns its id, in the caller's transaction so that its audit entry
/// commits with it.
pub async fn add_user_tx(tx: &mut Tx, u: &NewUser<'_>) -> Result<i64, PeopleError> {
    let exists: Option<i64> = on_tx!(tx, conn => {
        sqlx::query_scalar("SELECT user_id FROM users WHERE name = $1").bind(u.name).fetch_optional(conn).await?
    });
    if exists.is_some() {
        return Err(PeopleError::UserExists(u.name.to_string()));
    }
    let id: i64 = on_tx!(tx, conn => {
        sqlx::query_scalar(
            "INSERT INTO users (name, role, agency, team, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING user_id",
        )
        .bind(u.name)
        .bind(u.role.as_str())
        .bind(u.agency)
        .bind(u.team)
        .bind(u.password_hash)
        .bind(u.created_at)
        .fetch_one(conn)
        .await?
    });
    Ok(id)
}

/// Every user, by name.
pub async fn users(db: &Db) -> Result<Vec<UserRow>, PeopleError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY name");
    let rows: Vec<UserTuple> =
        on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).fetch_all(p).await?);
    rows.into_iter().map(user_row).collect()
}

/// The user of that name.
pub async fn user(db: &Db, name: &str) -> Result<Option<UserRow>, PeopleError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1");
    let row: Option<UserTuple> = on_pool!(db, p => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(name).fetch_optional(p).await?
    });
    row.map(user_row).transpose()
}

/// One request to see personal data unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access<'a> {
    /// RFC 3339.
    pub at: &'a str,
    /// Who asked (as given, even if no such user exists).
    pub user_name: &'a str,
    /// Their role, or `unknown`.
    pub role: &'a str,
    /// Whose data.
    pub borrower_id: &'a str,
    /// Which fields.
    pub fields: &'a str,
    /// `granted` or `refused`.
    pub outcome: &'a str,
}

/// Records an access request; returns its id.
pub async fn record_access(tx: &mut Tx, a: &Access<'_>) -> Result<i64, PeopleError> {
    Ok(on_tx!(tx, p => {
        sqlx::query_scalar(
            "INSERT INTO pii_access (at, user_name, role, borrower_id, fields, outcome) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING access_id",
        )
        .bind(a.at)
        .bind(a.user_name)
        .bind(a.role)
        .bind(a.borrower_id)
        .bind(a.fields)
        .bind(a.outcome)
        .fetch_one(&mut *p)
        .await?
    }))
}

/// A recorded access request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessRow {
    /// The request's number, in the order requests were recorded.
    pub access_id: i64,
    /// RFC 3339.
    pub at: String,
    /// Who asked.
    pub user_name: String,
    /// Their role.
    pub role: String,
    /// Whose data.
    pub borrower_id: BorrowerId,
    /// Which fields.
    pub fields: String,
    /// `granted` or `refused`.
    pub outcome: String,
}

/// Access requests for a borrower's data (all borrowers when `None`), oldest first.
pub async fn accesses(db: &Db, borrower_id: Option<&str>) -> Result<Vec<AccessRow>, PeopleError> {
    let rows: Vec<(i64, String, String, String, String, String, String)> = on_pool!(db, p => {
        sqlx::query_as(
            "SELECT access_id, at, user_name, role, borrower_id, fields, outcome FROM pii_access \
             WHERE $1 IS NULL OR borrower_id = $1 ORDER BY access_id",
        )
        .bind(borrower_id)
        .fetch_all(p)
        .await?
    });
    rows.into_iter()
        .map(|(access_id, at, user_name, role, borrower_id, fields, outcome)| {
            Ok(AccessRow {
                access_id,
                at,
                user_name,
                role,
                borrower_id: crate::stored_id("pii_access", borrower_id)?,
                fields,
                outcome,
            })
        })
        .collect()
}

/// A borrower as stored, identity data still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBorrower {
    /// The borrower's id, as imported.
    pub borrower_id: BorrowerId,
    /// `individual` or `company`.
    pub kind: String,
    /// The borrower's name, stored in clear (only ID number, phone and e-mail are sealed); '' once purged.
    pub name: String,
    /// Sealed ID number.
    pub national_id: String,
    /// Sealed phone.
    pub phone: String,
    /// Sealed e-mail.
    pub email: String,
    /// IANA zone.
    pub timezone: String,
    /// `zh` or `en`.
    pub language: String,
    /// When retention purged the personal data.
    pub purged_on: Option<NaiveDate>,
    /// Contacts, by id.
    pub contacts: Vec<SealedContact>,
}

/// A contact as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedContact {
    /// The contact's id, as imported; an action on the contact names it as the party.
    pub contact_id: ContactId,
    /// Relation to the borrower.
    pub relation: String,
    /// The contact's name, stored in clear; '' once purged.
    pub name: String,
    /// Sealed phone.
    pub phone: String,
    /// Sealed e-mail.
    pub email: String,
    /// Consent to be contacted.
    pub consent: bool,
}

type BorrowerTuple = (String, String, String, String, String, String, String, String, Option<NaiveDate>);

/// A borrower and its contacts, sealed values as stored.
pub async fn sealed_borrower(db: &Db, id: &str) -> Result<Option<SealedBorrower>, PeopleError> {
    let b: Option<BorrowerTuple> = on_pool!(db, p => {
        sqlx::query_as(
            "SELECT borrower_id, kind, name, national_id, phone, email, timezone, language, purged_on \
             FROM borrowers WHERE borrower_id = $1",
        )
        .bind(id)
        .fetch_optional(p)
        .await?
    });
    let Some((borrower_id, kind, name, national_id, phone, email, timezone, language, purged_on)) = b else {
        return Ok(None);
    };
    let contacts: Vec<(String, String, String, String, String, bool)> = on_pool!(db, p => {
        sqlx::query_as(
            "SELECT contact_id, relation, name, phone, email, consent FROM contacts \
             WHERE borrower_id = $1 ORDER BY contact_id",
        )
        .bind(id)
        .fetch_all(p)
        .await?
    });
    let contacts = contacts
        .into_iter()
        .map(|(contact_id, relation, name, phone, email, consent)| {
            Ok(SealedContact {
                contact_id: crate::stored_id("contacts", contact_id)?,
                relation,
                name,
                phone,
                email,
                consent,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(SealedBorrower {
        borrower_id: crate::stored_id("borrowers", borrower_id)?,
        kind,
        name,
        national_id,
        phone,
        email,
        timezone,
        language,
        purged_on,
        contacts,
    }))
}

/// A borrower's phone and e-mail as stored (sealed), for the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedContactPoints {
    /// Sealed phone ('' when none).
    pub phone: String,
    /// Sealed e-mail ('' when none).
    pub email: String,
}

/// The sealed phone and e-mail of these borrowers (those on record).
pub async fn contact_points(
    db: &Db,
    borrowers: &[&str],
) -> Result<HashMap<BorrowerId, SealedContactPoints>, PeopleError> {
    let mut out = HashMap::with_capacity(borrowers.len());
    for chunk in borrowers.chunks(500) {
        let sql = format!(
            "SELECT borrower_id, phone, email FROM borrowers WHERE borrower_id IN ({})",
            crate::rows::literal::text_list(chunk)
        );
        let rows: Vec<(String, String, String)> =
            on_pool!(db, p => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(p).await?);
        for (id, phone, email) in rows {
            out.insert(crate::stored_id("borrowers", id)?, SealedContactPoints { phone, email });
        }
    }
    Ok(out)
}

/// Who holds a value: a borrower, or a contact (with the borrower it belongs to).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Holder {
    /// `borrower` or `contact`.
    pub kind: &'static str,
    /// Borrower or contact id.
    pub id: String,
    /// The borrower (itself for a borrower).
    pub borrower_id: BorrowerId,
}

/// Borrowers and contacts whose `field` equals `value` after normalising, found through the
/// blind index: a guarantor's phone finds the borrower with the same phone.
pub async fn find_by(db: &Db, keys: &Keyring, field: Field, value: &str) -> Result<Vec<Holder>, PeopleError> {
    let bidx = keys.blind(field, value);
    if bidx.is_empty() {
        return Ok(Vec::new());
    }
    let col = format!("{}_bidx", field.column());
    let sql_b = format!("SELECT borrower_id FROM borrowers WHERE {col} = $1 ORDER BY borrower_id");
    let borrowers: Vec<BorrowerId> = on_pool!(db, p => {
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql_b.as_str())).bind(&bidx).fetch_all(p).await?
    })
    .into_iter()
    .map(|id| crate::stored_id("borrowers", id))
    .collect::<Result<_, _>>()?;
    let mut out: Vec<Holder> = borrowers
        .into_iter()
        .map(|id| Holder { kind: "borrower", borrower_id: id.clone(), id: id.into() })
        .collect();
    if field != Field::NationalId {
        let sql_c =
            format!("SELECT contact_id, borrower_id FROM contacts WHERE {col} = $1 ORDER BY contact_id");
        let contacts: Vec<(String, String)> = on_pool!(db, p => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql_c.as_str())).bind(&bidx).fetch_all(p).await?
        });
        for (id, borrower_id) in contacts {
            out.push(Holder { kind: "contact", id, borrower_id: crate::stored_id("contacts", borrower_id)? });
        }
    }
    Ok(out)
}

/// What a re-keying did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RekeyReport {
    /// The key every value is now sealed under.
    pub key_id: String,
    /// Borrowers whose values were re-sealed.
    pub borrowers: u64,
    /// Contacts whose values were re-sealed.
    pub contacts: u64,
    /// Contact restrictions whose number or address was re-sealed.
    pub restrictions: u64,
}

/// Rows re-sealed per round trip.
const REKEY_PAGE: i64 = 500;

/// Re-seals every value not yet under the keyring's current key (plaintext from before
/// sealing included) and recomputes its blind indexes, in one transaction: a failure (a
/// value no key opens) changes nothing. Running it again after a crash or on a re-keyed
/// database finds nothing left to do and does nothing.
pub async fn rekey(db: &Db, keys: &Keyring) -> Result<RekeyReport, PeopleError> {
    let mut tx = db.begin().await?;
    match rekey_tx(&mut tx, keys).await {
        Ok(r) => {
            tx.commit().await?;
            Ok(r)
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// [`rekey`] in the caller's transaction, so that its audit entry commits with it; on an
/// error the caller rolls back.
pub async fn rekey_tx(tx: &mut Tx, keys: &Keyring) -> Result<RekeyReport, PeopleError> {
    let current = format!("v1:{}:%", keys.current_id());
    let mut report = RekeyReport { key_id: keys.current_id().to_string(), ..Default::default() };
    // A row whose every value is current is skipped; the cursor moves past the rows of each
    // page so that a row is visited once.
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String, String, String)> = on_tx!(tx, conn => {
            sqlx::query_as(
                "SELECT borrower_id, national_id, phone, email FROM borrowers WHERE borrower_id > $1 \
                 AND ((national_id <> '' AND national_id NOT LIKE $2) OR (phone <> '' AND phone NOT LIKE $2) \
                 OR (email <> '' AND email NOT LIKE $2)) ORDER BY borrower_id LIMIT $3",
            )
            .bind(&after)
            .bind(&current)
            .bind(REKEY_PAGE)
            .fetch_all(conn)
            .await?
        });
        let Some(last) = rows.last() else { break };
        after = last.0.clone();
        for (id, nid, phone, email) in rows {
            let idr = &id;
            let what = |f: Field| move || format!("borrowers.{} of borrower {idr}", f.column());
            let nid = keys.open(Field::NationalId, &nid, &what(Field::NationalId))?;
            let phone = keys.open(Field::Phone, &phone, &what(Field::Phone))?;
            let email = keys.open(Field::Email, &email, &what(Field::Email))?;
            on_tx!(tx, conn => {
                sqlx::query(
                    "UPDATE borrowers SET national_id = $1, phone = $2, email = $3, national_id_bidx = $4, \
                     phone_bidx = $5, email_bidx = $6 WHERE borrower_id = $7",
                )
                .bind(keys.seal(Field::NationalId, &nid)?)
                .bind(keys.seal(Field::Phone, &phone)?)
                .bind(keys.seal(Field::Email, &email)?)
                .bind(keys.blind(Field::NationalId, &nid))
                .bind(keys.blind(Field::Phone, &phone))
                .bind(keys.blind(Field::Email, &email))
                .bind(&id)
                .execute(conn)
                .await?
                .rows_affected()
            });
            report.borrowers += 1;
        }
    }
    let mut after = String::new();
    loop {
        let rows: Vec<(String, String, String)> = on_tx!(tx, conn => {
            sqlx::query_as(
                "SELECT contact_id, phone, email FROM contacts WHERE contact_id > $1 \
                 AND ((phone <> '' AND phone NOT LIKE $2) OR (email <> '' AND email NOT LIKE $2)) \
                 ORDER BY contact_id LIMIT $3",
            )
            .bind(&after)
            .bind(&current)
            .bind(REKEY_PAGE)
            .fetch_all(conn)
            .await?
        });
        let Some(last) = rows.last() else { break };
        after = last.0.clone();
        for (id, phone, email) in rows {
            let idr = &id;
            let what = |f: Field| move || format!("contacts.{} of contact {idr}", f.column());
            let phone = keys.open(Field::Phone, &phone, &what(Field::Phone))?;
            let email = keys.open(Field::Email, &email, &what(Field::Email))?;
            on_tx!(tx, conn => {
                sqlx::query(
                    "UPDATE contacts SET phone = $1, email = $2, phone_bidx = $3, email_bidx = $4 \
                     WHERE contact_id = $5",
                )
                .bind(keys.seal(Field::Phone, &phone)?)
                .bind(keys.seal(Field::Email, &email)?)
                .bind(keys.blind(Field::Phone, &phone))
                .bind(keys.blind(Field::Email, &email))
                .bind(&id)
                .execute(conn)
                .await?
                .rows_affected()
            });
            report.contacts += 1;
        }
    }
    // Numbers and addresses of contact restrictions (each sealed as the field it names).
    let mut after = 0_i64;
    loop {
        let rows: Vec<(i64, String, String)> = on_tx!(tx, conn => {
            sqlx::query_as(
                "SELECT restriction_id, address_field, address FROM contact_restrictions \
                 WHERE restriction_id > $1 AND address <> '' AND address NOT LIKE $2 \
                 ORDER BY restriction_id LIMIT $3",
            )
            .bind(after)
            .bind(&current)
            .bind(REKEY_PAGE)
            .fetch_all(conn)
            .await?
        });
        let Some(last) = rows.last() else { break };
        after = last.0;
        for (id, field, address) in rows {
            let field = if field == "email" { Field::Email } else { Field::Phone };
            let what = || format!("contact_restrictions.address of restriction {id}");
            let plain = keys.open(field, &address, &what)?;
            crate::restrictions::rekey_address(
                tx,
                id,
                &keys.seal(field, &plain)?,
                &keys.blind(field, &plain),
            )
            .await?;
            report.restrictions += 1;
        }
    }
    Ok(report)
}

/// What a retention purge did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    /// Cases closed before this date count as past retention.
    pub cutoff: Option<NaiveDate>,
    /// Borrowers whose personal data was purged now, by id.
    pub borrowers: Vec<String>,
    /// Their contacts purged now.
    pub contacts: u64,
}

/// Purges the personal data (name, ID number, phone, e-mail and their indexes, and the numbers
/// of their contact restrictions) of every borrower, and its contacts, whose cases all closed
/// before `cutoff`: at least one case closed, none open or closed on or after `cutoff`, and no
/// loan that is not paid off (a loan the batch has not evaluated yet counts as active). Loans,
/// amounts, cases and history stay; a purged borrower is not purged again. In the caller's
/// transaction, so that its audit entry commits with it.
pub async fn purge_tx(tx: &mut Tx, cutoff: NaiveDate, today: NaiveDate) -> Result<PurgeReport, PeopleError> {
    let ids: Vec<String> = on_tx!(tx, conn => {
        sqlx::query_scalar(
            "SELECT b.borrower_id FROM borrowers b WHERE b.purged_on IS NULL \
             AND EXISTS (SELECT 1 FROM cases c WHERE c.borrower_id = b.borrower_id AND c.status = 'closed') \
             AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.borrower_id = b.borrower_id AND c.status <> 'void' \
                 AND (c.status = 'open' OR c.closed_on IS NULL OR c.closed_on >= $1)) \
             AND NOT EXISTS (SELECT 1 FROM loans l LEFT JOIN loan_state s ON s.loan_id = l.loan_id AND s.borrower_id = l.borrower_id \
                 WHERE l.borrower_id = b.borrower_id AND (s.status IS NULL OR s.status <> 'paid_off')) \
             ORDER BY b.borrower_id",
        )
        .bind(cutoff)
        .fetch_all(conn)
        .await?
    });
    let mut report = PurgeReport { cutoff: Some(cutoff), contacts: 0, borrowers: Vec::new() };
    for part in ids.chunks(500) {
        let list = crate::rows::literal::text_list(part);
        let b = format!(
            "UPDATE borrowers SET name = '', national_id = '', phone = '', email = '', national_id_bidx = '', \
             phone_bidx = '', email_bidx = '', purged_on = $1 WHERE borrower_id IN ({list})"
        );
        let c = format!(
            "UPDATE contacts SET name = '', phone = '', email = '', phone_bidx = '', email_bidx = '', \
             purged_on = $1 WHERE borrower_id IN ({list}) AND purged_on IS NULL"
        );
        on_tx!(tx, conn => {
            sqlx::query(sqlx::AssertSqlSafe(b.as_str())).bind(today).execute(&mut *conn).await?;
            report.contacts +=
                sqlx::query(sqlx::AssertSqlSafe(c.as_str())).bind(today).execute(&mut *conn).await?.rows_affected();
        });
        crate::restrictions::purge_of(tx, part).await?;
    }
    report.borrowers = ids;
    Ok(report)
}
