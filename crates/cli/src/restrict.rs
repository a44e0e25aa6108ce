//! `arrears contact …`: the contact restrictions (联系限制) of a borrower or of one of its
//! contacts — record, list, lift.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use arrears_app::restrictions::{self as uc, NewInput, RestrictionView};
use arrears_store::personal::Keyring;
use chrono::NaiveDate;
use clap::Subcommand;

use crate::{date_arg, open, print_json, today};

/// `arrears contact …`.
#[derive(Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per process; boxing buys nothing")]
pub enum ContactCommand {
    /// Record a restriction the contact policy honours from now on (batch and logged contacts),
    /// on a borrower or, with --contact, on one of its contacts (spouse, relative, guarantor…).
    Restrict {
        /// Borrower id (or give --contact instead).
        #[arg(required_unless_present = "contact")]
        borrower: Option<String>,
        /// A contact id (contacts.csv) restricted instead of a borrower.
        #[arg(long)]
        contact: Option<String>,
        /// do-not-contact (--number or --address), opt-out (--channel [--address]),
        /// inconvenient (--from --to [--weekdays]), attorney (--name [--phone]) or cease (--date);
        /// for a contact also refusal (--date: the day they refused to be contacted again).
        #[arg(long)]
        kind: String,
        /// A phone number never to be used (do-not-contact).
        #[arg(long)]
        number: Option<String>,
        /// A phone number or e-mail: never to be used (do-not-contact), or the one address an
        /// opt-out is about (opt-out).
        #[arg(long)]
        address: Option<String>,
        /// The medium opted out of: call, sms, email, voice_bot, letter or visit (opt-out).
        #[arg(long)]
        channel: Option<String>,
        /// Start of the inconvenient time, local HH:MM (inconvenient).
        #[arg(long)]
        from: Option<String>,
        /// End of the inconvenient time (first convenient minute), local HH:MM (inconvenient).
        #[arg(long)]
        to: Option<String>,
        /// Days it applies on, e.g. mon,tue,wed (inconvenient; default every day).
        #[arg(long)]
        weekdays: Option<String>,
        /// The attorney's name (attorney).
        #[arg(long)]
        name: Option<String>,
        /// The attorney's phone (attorney).
        #[arg(long)]
        phone: Option<String>,
        /// Date of the written cease request (cease) or of the contact's refusal (refusal),
        /// YYYY-MM-DD.
        #[arg(long, value_parser = date_arg)]
        date: Option<NaiveDate>,
        /// Where the instruction came from (call of 28 Nov, letter ref …).
        #[arg(long, default_value = "")]
        note: String,
        /// Who records it.
        #[arg(long, default_value = "cli")]
        by: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A borrower's restrictions (every borrower's without one), numbers masked.
    Restrictions {
        /// Borrower id.
        borrower: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Lift a restriction: it no longer applies from --on (default today); its record stays.
    Lift {
        /// Restriction id (from `arrears contact restrictions`).
        id: i64,
        /// First date it no longer applies on.
        #[arg(long, value_parser = date_arg)]
        on: Option<NaiveDate>,
        /// Why it is lifted.
        #[arg(long, default_value = "")]
        note: String,
        /// Who lifts it.
        #[arg(long, default_value = "cli")]
        by: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `contact` subcommand.
pub async fn run(db_url: &str, data_key: Option<&Path>, cmd: ContactCommand) -> Result<()> {
    let db = open(db_url).await?;
    let keys = Keyring::resolve(&db, data_key).context("loading the data keys")?;
    let result = command(&db, &keys, cmd).await;
    db.close().await;
    result
}

async fn command(db: &arrears_store::Db, keys: &Keyring, cmd: ContactCommand) -> Result<()> {
    match cmd {
        ContactCommand::Restrict {
            borrower,
            contact,
            kind,
            number,
            address,
            channel,
            from,
            to,
            weekdays,
            name,
            phone,
            date,
            note,
            by,
            json,
        } => {
            let input = NewInput {
                borrower_id: borrower.unwrap_or_default(),
                contact_id: contact,
                kind,
                number,
                address,
                channel,
                from,
                to,
                weekdays,
                name,
                phone,
                date,
                note,
                by,
            };
            let v = uc::restrict(db, keys, &input, today(), &crate::now()).await?;
            if json {
                return print_json(&v);
            }
            let whose = match &v.contact_id {
                Some(c) => format!("contact {c} of borrower {}", v.borrower_id),
                None => format!("borrower {}", v.borrower_id),
            };
            println!(
                "已记录联系限制 / restriction {} recorded for {whose}: {}",
                v.restriction_id,
                describe(&v)
            );
        }
        ContactCommand::Restrictions { borrower, json } => {
            let rows = uc::list(db, keys, borrower.as_deref()).await?;
            if json {
                return print_json(&rows);
            }
            let mut o = std::io::stdout().lock();
            writeln!(
                o,
                "{:>5} {:<12} {:<12} {:<8} {:<10} {:<10} restriction",
                "id", "borrower", "contact", "status", "from", "lifted"
            )?;
            for v in &rows {
                writeln!(
                    o,
                    "{:>5} {:<12} {:<12} {:<8} {:<10} {:<10} {}{}",
                    v.restriction_id,
                    v.borrower_id,
                    v.contact_id.as_deref().unwrap_or("-"),
                    if v.active { "active" } else { "lifted" },
                    v.recorded_on.to_string(),
                    v.ended_on.map_or("-".to_string(), |d| d.to_string()),
                    describe(v),
                    if v.note.is_empty() { String::new() } else { format!("  ({})", v.note) }
                )?;
            }
        }
        ContactCommand::Lift { id, on, note, by, json } => {
            let v = uc::lift(db, keys, id, on.unwrap_or_else(today), &crate::now(), &by, &note).await?;
            if json {
                return print_json(&v);
            }
            let on = v.ended_on.map_or("-".to_string(), |d| d.to_string());
            println!("联系限制已解除 / restriction {id} lifted from {on}: {}", describe(&v));
        }
    }
    Ok(())
}

/// One line saying what a restriction restricts.
fn describe(v: &RestrictionView) -> String {
    let address = v.address.as_deref().unwrap_or("-");
    match v.kind.as_str() {
        "do_not_contact" => format!("do not contact {address}"),
        "opt_out" => match &v.address {
            Some(a) => format!("opted out of {} to {a}", v.channel.as_deref().unwrap_or("-")),
            None => format!("opted out of {}", v.channel.as_deref().unwrap_or("-")),
        },
        "inconvenient_time" => format!(
            "inconvenient {}–{}{}",
            v.from.as_deref().unwrap_or("-"),
            v.to.as_deref().unwrap_or("-"),
            if v.weekdays.is_empty() {
                " every day".to_string()
            } else {
                format!(" on {}", v.weekdays.join(","))
            }
        ),
        "attorney" => format!(
            "represented by attorney {} {address}: contact only through them",
            v.attorney_name.as_deref().unwrap_or("-")
        ),
        "cease" => {
            format!("written cease request of {}", v.cease_on.map_or("-".to_string(), |d| d.to_string()))
        }
        "refusal" => format!(
            "refused on {} to be contacted again",
            v.cease_on.map_or("-".to_string(), |d| d.to_string())
        ),
        other => other.to_string(),
    }
}
