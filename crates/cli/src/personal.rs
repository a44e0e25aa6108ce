//! `arrears user …`, `arrears borrower show` and `arrears pii …`: users, identity data
//! masked by default, and the keys and retention of personal data.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arrears_app::personal::{self as uc, NewUser, Unmask};
use arrears_store::Db;
use arrears_store::personal::{self as keys, Field, Keyring};
use chrono::NaiveDate;
use clap::Subcommand;

use crate::{date_arg, open, print_json};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input and stored as an argon2id hash.
    Add {
        /// Login name.
        name: String,
        /// collector, supervisor, legal, risk_analyst, agency, auditor or admin.
        #[arg(long)]
        role: String,
        /// The agency an agency user works for (required for, and only for, role agency).
        #[arg(long)]
        agency: Option<String>,
        /// The team of a collector or supervisor; with the role it decides whose cases they see.
        #[arg(long)]
        team: Option<String>,
        /// Read the password from the first line of standard input (required: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Users, by name.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum BorrowerCommand {
    /// A borrower and its contacts, ID numbers, phones and e-mails masked.
    Show {
        /// Borrower id.
        id: String,
        /// Show them unmasked: needs --as USER of role legal or auditor, password on standard
        /// input; every request is recorded, granted or refused.
        #[arg(long, requires = "user")]
        unmask: bool,
        /// The user asking to unmask.
        #[arg(long = "as", value_name = "USER", requires = "unmask")]
        user: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum PiiCommand {
    /// Re-seal every ID number, phone and e-mail under the current data key, all or nothing;
    /// running it again finishes what a crash left or does nothing.
    Rekey {
        /// First add a fresh data key to the keyring file and make it current.
        #[arg(long)]
        new_key: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Purge the personal data of borrowers whose cases all closed more than N years before
    /// the date (loans, amounts, cases and history stay), all or nothing.
    Purge {
        /// Business date (YYYY-MM-DD).
        #[arg(long, value_parser = date_arg)]
        date: NaiveDate,
        /// Years of retention after the last case closed (default: the pack's, cn 5, us 3).
        #[arg(long)]
        years: Option<u32>,
        /// Contact-policy pack whose retention applies.
        #[arg(long, default_value = "cn")]
        pack: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Borrowers and contacts with this ID number, phone or e-mail (through the blind index;
    /// ids only are printed).
    Find {
        /// ID number.
        #[arg(long, conflicts_with_all = ["phone", "email"], required_unless_present_any = ["phone", "email"])]
        national_id: Option<String>,
        /// Phone number (any spacing; +86 optional).
        #[arg(long, conflicts_with = "email")]
        phone: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recorded requests to see personal data unmasked.
    Access {
        /// Only those for this borrower.
        #[arg(long)]
        borrower: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Who the audit log records for these commands: the command line as a whole, as `case
/// assign` does, since the CLI knows no logged-in user.
const ACTOR: &str = "user:cli";

use crate::now;

/// The first line of standard input, without its line ending.
pub(crate) fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading the password from standard input")?;
    let pw = line.trim_end_matches(['\n', '\r']).to_string();
    if pw.is_empty() {
        bail!("no password on standard input");
    }
    Ok(pw)
}

async fn keyring(db: &Db, data_key: Option<&Path>) -> Result<Keyring> {
    Keyring::resolve(db, data_key).context("loading the data keys")
}

pub async fn user(db_url: &str, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { name, role, agency, team, password_stdin: _, json } => {
            let password = read_password()?;
            let db = open(db_url).await?;
            let new = NewUser {
                name: &name,
                role: &role,
                agency: agency.as_deref(),
                team: team.as_deref(),
                password: &password,
            };
            let u = uc::add_user(&db, &new, &now(), ACTOR).await;
            db.close().await;
            let u = u?;
            if json {
                print_json(&u)?;
            } else {
                println!("user {} created with role {}", u.name, u.role);
            }
        }
        UserCommand::List { json } => {
            let db = open(db_url).await?;
            let users = uc::list_users(&db).await;
            db.close().await;
            let users = users?;
            if json {
                print_json(&users)?;
            } else {
                let mut o = std::io::stdout().lock();
                writeln!(
                    o,
                    "{:<20} {:<13} {:<12} {:<12} {:<9} created",
                    "name", "role", "agency", "team", "status"
                )?;
                for u in &users {
                    writeln!(
                        o,
                        "{:<20} {:<13} {:<12} {:<12} {:<9} {}",
                        u.name,
                        u.role,
                        u.agency.as_deref().unwrap_or("-"),
                        u.team.as_deref().unwrap_or("-"),
                        if u.disabled { "disabled" } else { "active" },
                        u.created_at
                    )?;
                }
            }
        }
    }
    Ok(())
}

pub async fn borrower(db_url: &str, data_key: Option<&Path>, command: BorrowerCommand) -> Result<()> {
    let BorrowerCommand::Show { id, unmask, user, json } = command;
    let password = if unmask { Some(read_password()?) } else { None };
    let db = open(db_url).await?;
    let keys = keyring(&db, data_key).await?;
    let at = now();
    let request = match (&user, &password) {
        (Some(user), Some(password)) => Some(Unmask { user, password, at }),
        _ => None,
    };
    let v = uc::show_borrower(&db, &keys, &id, request).await;
    db.close().await;
    let Some(v) = v? else { bail!("no borrower with id {id:?}") };
    if json {
        return print_json(&v);
    }
    let mut o = std::io::stdout().lock();
    writeln!(o, "borrower {}  {}  {}  {} {}", v.borrower_id, v.kind, v.name, v.timezone, v.language)?;
    if let Some(d) = v.purged_on {
        writeln!(o, "personal data purged on {d}")?;
    }
    writeln!(
        o,
        "ID {}  phone {}  e-mail {}{}",
        v.national_id,
        v.phone,
        v.email,
        if v.masked { "  (masked)" } else { "" }
    )?;
    if !v.contacts.is_empty() {
        writeln!(
            o,
            "\n{:<12} {:<10} {:<16} {:<16} {:<28} consent",
            "contact", "relation", "name", "phone", "e-mail"
        )?;
        for c in &v.contacts {
            writeln!(
                o,
                "{:<12} {:<10} {:<16} {:<16} {:<28} {}",
                c.contact_id, c.relation, c.name, c.phone, c.email, c.consent
            )?;
        }
    }
    Ok(())
}

/// The keyring file a new key goes into: `--data-key`, `ARREARS_DATA_KEY_FILE`, or the
/// default file (refused when the keys come from `ARREARS_DATA_KEY`, which is no file).
fn keyring_file(db: &Db, data_key: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = data_key {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os(keys::KEY_FILE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if std::env::var(keys::KEY_ENV).is_ok_and(|k| !k.trim().is_empty()) {
        bail!(
            "the data key comes from {}, which is one key: to rotate, put the keys in a keyring file \
             (--data-key FILE) instead",
            keys::KEY_ENV
        );
    }
    Ok(keys::default_path(db))
}

pub async fn pii(db_url: &str, data_key: Option<&Path>, command: PiiCommand) -> Result<()> {
    let db = open(db_url).await?;
    let result = pii_on(&db, data_key, command).await;
    db.close().await;
    result
}

async fn pii_on(db: &Db, data_key: Option<&Path>, command: PiiCommand) -> Result<()> {
    match command {
        PiiCommand::Rekey { new_key, json } => {
            if new_key {
                let file = keyring_file(db, data_key)?;
                let id = Keyring::add_key_to_file(&file)
                    .with_context(|| format!("adding a data key to {}", file.display()))?;
                if !json {
                    println!("new data key {id} added to {}", file.display());
                }
            }
            let keys = keyring(db, data_key).await?;
            let r = uc::rekey(db, &keys, &now(), ACTOR).await?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "re-sealed under data key {}: {} borrower(s), {} contact(s), {} contact restriction(s); \
                     every value is now under it",
                    r.key_id, r.borrowers, r.contacts, r.restrictions
                );
            }
        }
        PiiCommand::Purge { date, years, pack, json } => {
            let r = uc::purge(db, date, years, &pack, &now(), ACTOR).await?;
            if json {
                print_json(&r)?;
            } else {
                let cutoff = r.cutoff.map_or("-".to_string(), |d| d.to_string());
                println!(
                    "purged the personal data of {} borrower(s) and {} contact(s) whose cases all closed before {cutoff}",
                    r.borrowers.len(),
                    r.contacts
                );
                for id in &r.borrowers {
                    println!("  {id}");
                }
            }
        }
        PiiCommand::Find { national_id, phone, email, json } => {
            let (field, value) = match (national_id, phone, email) {
                (Some(v), _, _) => (Field::NationalId, v),
                (_, Some(v), _) => (Field::Phone, v),
                (_, _, Some(v)) => (Field::Email, v),
                _ => bail!("give --national-id, --phone or --email"),
            };
            let keys = keyring(db, data_key).await?;
            let found = arrears_store::people::find_by(db, &keys, field, &value).await?;
            if json {
                print_json(&found)?;
            } else if found.is_empty() {
                println!("nobody has that {}", field.column());
            } else {
                for h in &found {
                    println!("{:<8} {:<12} borrower {}", h.kind, h.id, h.borrower_id);
                }
            }
        }
        PiiCommand::Access { borrower, json } => {
            let rows = arrears_store::people::accesses(db, borrower.as_deref()).await?;
            if json {
                print_json(&rows)?;
            } else {
                for a in &rows {
                    println!(
                        "{} {} {:<8} {:<12} {:<12} {}",
                        a.at, a.outcome, a.user_name, a.role, a.borrower_id, a.fields
                    );
                }
            }
        }
    }
    Ok(())
}
