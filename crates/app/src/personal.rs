//! Use cases of people and personal data: users, a borrower's identity data masked or (for
//! a role that may) unmasked and recorded, re-keying and the retention purge.

use arrears_core::access::{self, AccessError, Role};
use arrears_core::id::{BorrowerId, ContactId};
use arrears_core::personal::{mask_email, mask_national_id, mask_phone, retention_cutoff, retention_years};
use arrears_store::people::{self, Access, PeopleError, PurgeReport, RekeyReport, SealedBorrower};
use arrears_store::personal::{Field, Keyring, PersonalError};
use arrears_store::{Db, StoreError};
use chrono::NaiveDate;

use crate::audit::At;
use serde::Serialize;

/// What went wrong; messages never contain personal data or password material.
#[derive(Debug, thiserror::Error)]
pub enum PersonalDataError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys or sealed values.
    #[error(transparent)]
    Keys(#[from] PersonalError),
    /// Users and access records.
    #[error(transparent)]
    People(PeopleError),
    /// The audit entry could not be recorded (nothing was saved).
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The new user breaks a rule.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// No such role.
    #[error("role {0:?} does not exist: use one of {roles}", roles = role_names())]
    UnknownRole(String),
    /// An agency user for an agency that is not registered.
    #[error(
        "agency {0:?} is not registered: add it first (`arrears agency add`, or the admin page's agencies)"
    )]
    UnknownAgency(String),
    /// A collector user with no collector record of its name.
    #[error(
        "collector {0:?} is not registered: a collector user's name is their collector id, so add the collector \
         first (`arrears collector add {0}`, or the admin page's collectors)"
    )]
    UnknownCollector(String),
    /// Unknown user or wrong password (which of the two is not said).
    #[error("user {0:?}: unknown user or wrong password")]
    BadCredentials(String),
    /// The user is disabled.
    #[error("user {0:?} is disabled")]
    Disabled(String),
    /// The role may not see personal data unmasked; the refusal was recorded.
    #[error(
        "user {user:?} has role {role}, which may not see personal data unmasked (legal and auditor may); \
         the refusal was recorded"
    )]
    Forbidden {
        /// Who asked.
        user: String,
        /// Their role.
        role: Role,
    },
    /// A pack without a retention period.
    #[error("pack {0:?} has no retention period: use cn or us, or give --years")]
    UnknownPack(String),
    /// The date minus the years is outside the calendar.
    #[error("{years} years before {date} is outside the calendar")]
    BadPeriod {
        /// The business date.
        date: NaiveDate,
        /// Years of retention.
        years: u32,
    },
    /// Hashing the password failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

impl From<PeopleError> for PersonalDataError {
    fn from(e: PeopleError) -> PersonalDataError {
        match e {
            PeopleError::Store(s) => PersonalDataError::Store(s),
            PeopleError::Personal(p) => PersonalDataError::Keys(p),
            other => PersonalDataError::People(other),
        }
    }
}

fn role_names() -> String {
    Role::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

/// A user as listed (no password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    /// The user's number, given by the database when the user is added.
    pub user_id: i64,
    /// Login name.
    pub name: String,
    /// The user's role (written collector, supervisor, legal, risk_analyst, agency, auditor or admin).
    pub role: Role,
    /// Agency of an agency user.
    pub agency: Option<String>,
    /// The team of a collector or supervisor; with the role it decides whose cases they see.
    pub team: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Disabled users cannot act.
    pub disabled: bool,
}

/// A new user's details.
#[derive(Debug, Clone, Copy)]
pub struct NewUser<'a> {
    /// Login name.
    pub name: &'a str,
    /// Role name.
    pub role: &'a str,
    /// Agency of an agency user.
    pub agency: Option<&'a str>,
    /// The team of a collector or supervisor (with the role it decides whose cases they see); blank for none.
    pub team: Option<&'a str>,
    /// The password (hashed with argon2id before it is stored).
    pub password: &'a str,
}

/// Creates a user whose password is stored as an argon2id hash (the crate's defaults:
/// 19 MiB, 2 passes, as OWASP recommends); `actor` (`user:<name>`, `user:cli`) is recorded
/// as having added it.
pub async fn add_user(db: &Db, u: &NewUser<'_>, at: &At, actor: &str) -> Result<UserView, PersonalDataError> {
    let now = &at.to_rfc3339();
    let role: Role = u.role.parse().map_err(|_| PersonalDataError::UnknownRole(u.role.to_string()))?;
    let agency = u.agency.map(str::trim).filter(|a| !a.is_empty());
    let team = u.team.map(str::trim).filter(|t| !t.is_empty());
    access::check_new_user(u.name, role, agency, u.password)?;
    // An agency user sees the cases placed with its agency: one that does not exist would see
    // nothing, and a later agency of that id would inherit the account.
    if let Some(a) = agency
        && !arrears_store::staff::agencies(db).await?.iter().any(|x| x.agency_id.as_str() == a)
    {
        return Err(PersonalDataError::UnknownAgency(a.to_string()));
    }
    // A collector user works the queue of the collector of its name: without one, its queue
    // would stay empty and allocation would never reach it.
    if role == Role::Collector
        && !arrears_store::staff::collectors(db).await?.iter().any(|c| c.collector_id.as_str() == u.name)
    {
        return Err(PersonalDataError::UnknownCollector(u.name.to_string()));
    }
    let hash = hash_password(u.password)?;
    let new = people::NewUser { name: u.name, role, agency, team, password_hash: &hash, created_at: now };
    let mut tx = db.begin().await?;
    let user_id = people::add_user_tx(&mut tx, &new).await?;
    // Never the password or its hash: the log is kept for good, and a hash can be attacked.
    let e = crate::audit::Event::new(actor, "user.added")
        .entity(format!("user:{}", u.name))
        .fact("user_id", user_id)
        .fact("role", role.as_str())
        .fact("agency", agency)
        .fact("team", team);
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(UserView {
        user_id,
        name: u.name.to_string(),
        role,
        agency: agency.map(str::to_string),
        team: team.map(str::to_string),
        created_at: now.to_string(),
        disabled: false,
    })
}

/// Every user, by name.
pub async fn list_users(db: &Db) -> Result<Vec<UserView>, PersonalDataError> {
    Ok(people::users(db)
        .await?
        .into_iter()
        .map(|u| UserView {
            user_id: u.user_id,
            name: u.name,
            role: u.role,
            agency: u.agency,
            team: u.team,
            created_at: u.created_at,
            disabled: u.disabled,
        })
        .collect())
}

fn hash_password(password: &str) -> Result<String, PersonalDataError> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PersonalDataError::Hash(e.to_string()))
}

fn password_matches(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// The user named, if the password is theirs and they are not disabled, with their role.
pub async fn authenticate(db: &Db, name: &str, password: &str) -> Result<Role, PersonalDataError> {
    let user = authenticate_user(db, name, password).await?;
    Ok(user.role)
}

/// The stored user named, if the password is theirs and they are not disabled. An unknown
/// name costs the same argon2 work as a wrong password, so that timing does not tell which.
pub async fn authenticate_user(
    db: &Db,
    name: &str,
    password: &str,
) -> Result<people::UserRow, PersonalDataError> {
    let user = people::user(db, name).await?;
    let matches = match &user {
        Some(u) => password_matches(password, &u.password_hash),
        None => {
            let _ = password_matches(password, DUMMY_HASH);
            false
        }
    };
    let Some(user) = user.filter(|_| matches) else {
        return Err(PersonalDataError::BadCredentials(name.to_string()));
    };
    if user.disabled {
        return Err(PersonalDataError::Disabled(name.to_string()));
    }
    Ok(user)
}

/// An argon2id hash of a random password nobody knows, with the crate's default cost.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$0Qb8Jx1w1Y5v7C0gS4eY0l4m9o3c7m8g2oJd9cQ8lWQ";

/// A borrower with its identity data, masked unless [`BorrowerView::masked`] is false.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BorrowerView {
    /// The borrower's id, as imported.
    pub borrower_id: BorrowerId,
    /// `individual` or `company`.
    pub kind: String,
    /// Name (empty once purged).
    pub name: String,
    /// ID number.
    pub national_id: String,
    /// The borrower's phone number, masked unless [`BorrowerView::masked`] is false.
    pub phone: String,
    /// E-mail.
    pub email: String,
    /// IANA zone.
    pub timezone: String,
    /// `zh` or `en`.
    pub language: String,
    /// Whether the identity data is masked.
    pub masked: bool,
    /// When the retention purge removed the personal data.
    pub purged_on: Option<NaiveDate>,
    /// The borrower's guarantors and other contacts, masked like the borrower.
    pub contacts: Vec<ContactView>,
}

/// A contact, masked like its borrower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContactView {
    /// The contact's id, as imported; an action on the contact names it as the party.
    pub contact_id: ContactId,
    /// Relation to the borrower.
    pub relation: String,
    /// The contact's name, never masked; empty once purged.
    pub name: String,
    /// The contact's phone number, masked like the borrower's.
    pub phone: String,
    /// E-mail.
    pub email: String,
    /// Consent to be contacted.
    pub consent: bool,
}

/// Who asks to see a borrower's data unmasked.
#[derive(Debug, Clone, Copy)]
pub struct Unmask<'a> {
    /// User name.
    pub user: &'a str,
    /// Their password.
    pub password: &'a str,
    /// When the request was made, recorded.
    pub at: At,
}

/// The fields an unmasked view shows, as recorded.
const UNMASKED_FIELDS: &str = "borrower:national_id,phone,email;contacts:phone,email";

/// A borrower and its contacts: masked when `unmask` is `None`; otherwise plain if the
/// user's password is right and their role may unmask. Every unmask request for an
/// existing borrower is recorded, granted or refused, before anything is shown.
pub async fn show_borrower(
    db: &Db,
    keys: &Keyring,
    id: &str,
    unmask: Option<Unmask<'_>>,
) -> Result<Option<BorrowerView>, PersonalDataError> {
    let Some(b) = people::sealed_borrower(db, id).await? else { return Ok(None) };
    let plain = match unmask {
        None => false,
        Some(u) => {
            let role = authenticate(db, u.user, u.password).await;
            let granted = matches!(&role, Ok(r) if r.may_unmask());
            let role_name = role.as_ref().map_or("unknown", |r| r.as_str());
            let access = Access {
                at: &u.at.to_rfc3339(),
                user_name: u.user,
                role: role_name,
                borrower_id: id,
                fields: UNMASKED_FIELDS,
                outcome: if granted { "granted" } else { "refused" },
            };
            // The request and its audit entry commit together, before anything is shown.
            let mut tx = db.begin().await?;
            let access_id = people::record_access(&mut tx, &access).await?;
            let e = crate::audit::Event::new(&format!("user:{}", u.user), "pii.unmask_requested")
                .entity(format!("borrower:{id}"))
                .entity(format!("pii_access:{access_id}"))
                .fact("role", role_name)
                .fact("fields", UNMASKED_FIELDS)
                .fact("outcome", access.outcome);
            crate::audit::record_all(&mut tx, &u.at, vec![e]).await?;
            tx.commit().await?;
            match role {
                Ok(_) if granted => true,
                Ok(role) => return Err(PersonalDataError::Forbidden { user: u.user.to_string(), role }),
                Err(e) => return Err(e),
            }
        }
    };
    Ok(Some(view(keys, b, plain)?))
}

fn view(keys: &Keyring, b: SealedBorrower, plain: bool) -> Result<BorrowerView, PersonalDataError> {
    let show = |field: Field, stored: &str, what: &dyn Fn() -> String| -> Result<String, PersonalDataError> {
        let value = keys.open(field, stored, what)?;
        Ok(match (plain, field) {
            (true, _) => value,
            (false, Field::NationalId) => mask_national_id(&value),
            (false, Field::Phone) => mask_phone(&value),
            (false, Field::Email) => mask_email(&value),
        })
    };
    let bid = b.borrower_id.clone();
    let of_borrower = |f: Field| {
        let bid = bid.clone();
        move || format!("borrowers.{} of borrower {bid}", f.column())
    };
    // The borrower's own values first: an error names the borrower before its contacts.
    let national_id = show(Field::NationalId, &b.national_id, &of_borrower(Field::NationalId))?;
    let phone = show(Field::Phone, &b.phone, &of_borrower(Field::Phone))?;
    let email = show(Field::Email, &b.email, &of_borrower(Field::Email))?;
    let mut contacts = Vec::with_capacity(b.contacts.len());
    for c in b.contacts {
        let cid = c.contact_id.clone();
        let of_contact = |f: Field| {
            let cid = cid.clone();
            move || format!("contacts.{} of contact {cid}", f.column())
        };
        contacts.push(ContactView {
            phone: show(Field::Phone, &c.phone, &of_contact(Field::Phone))?,
            email: show(Field::Email, &c.email, &of_contact(Field::Email))?,
            contact_id: c.contact_id,
            relation: c.relation,
            name: c.name,
            consent: c.consent,
        });
    }
    Ok(BorrowerView {
        national_id,
        phone,
        email,
        borrower_id: b.borrower_id,
        kind: b.kind,
        name: b.name,
        timezone: b.timezone,
        language: b.language,
        masked: !plain,
        purged_on: b.purged_on,
        contacts,
    })
}

/// Re-seals every value under the keyring's current key (see [`people::rekey`]), recording
/// the key and the counts (never a value) in the same transaction.
pub async fn rekey(db: &Db, keys: &Keyring, at: &At, actor: &str) -> Result<RekeyReport, PersonalDataError> {
    let mut tx = db.begin().await?;
    let r = match people::rekey_tx(&mut tx, keys).await {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.rollback().await;
            return Err(e.into());
        }
    };
    // Recorded even when nothing was left to re-seal: that every value is under this key is
    // itself what an auditor asks after a key change.
    let e = crate::audit::Event::new(actor, "pii.rekeyed")
        .entity(format!("data_key:{}", r.key_id))
        .fact("key_id", r.key_id.as_str())
        .fact("borrowers", r.borrowers)
        .fact("contacts", r.contacts)
        .fact("restrictions", r.restrictions);
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(r)
}

/// Purges the personal data of borrowers whose cases all closed more than `years` (default:
/// the pack's period) years before `date`; see [`people::purge_tx`].
pub async fn purge(
    db: &Db,
    date: NaiveDate,
    years: Option<u32>,
    pack: &str,
    at: &At,
    actor: &str,
) -> Result<PurgeReport, PersonalDataError> {
    let years = match years {
        Some(y) => y,
        None => retention_years(pack).ok_or_else(|| PersonalDataError::UnknownPack(pack.to_string()))?,
    };
    let cutoff = retention_cutoff(date, years).ok_or(PersonalDataError::BadPeriod { date, years })?;
    let mut tx = db.begin().await?;
    let r = people::purge_tx(&mut tx, cutoff, date).await?;
    // The borrowers by id and the counts, never what was erased. A run that purged nobody
    // is recorded too: it shows the retention rule was applied on that date.
    let mut e = crate::audit::Event::new(actor, "pii.purged")
        .fact("business_date", date.to_string())
        .fact("cutoff", cutoff.to_string())
        .fact("retention_years", u64::from(years))
        .fact("borrowers", r.borrowers.len() as u64)
        .fact("contacts", r.contacts);
    for id in &r.borrowers {
        e = e.entity(format!("borrower:{id}"));
    }
    crate::audit::record_all(&mut tx, at, vec![e]).await?;
    tx.commit().await?;
    Ok(r)
}
