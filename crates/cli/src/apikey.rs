//! `arrears apikey`: keys of service accounts, for systems that book payments through the API.

use anyhow::Result;
use clap::Subcommand;

use crate::{open, print_json};

/// Who the audit log records as making and revoking keys from the command line.
const ACTOR: &str = "user:cli";

/// Keys of service accounts.
#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Make a key for a service account (the lender's core banking system): it is printed once,
    /// only its SHA-256 is kept. Clients send `Authorization: Bearer KEY`.
    Create {
        /// The key's name (who uses it), e.g. core-banking.
        name: String,
        /// The role it acts with: service (books payments through the API, nothing else).
        #[arg(long)]
        role: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: requests with it are refused from now on; its name stays taken.
    Revoke {
        /// The key's name.
        name: String,
    },
    /// Every key with its role and when it was made or revoked (never the keys).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `arrears apikey …`.
pub async fn run(url: &str, command: ApiKeyCommand) -> Result<()> {
    let db = open(url).await?;
    let at = crate::now();
    match command {
        ApiKeyCommand::Create { name, role, json } => {
            let key = arrears_app::api_keys::create(&db, &name, &role, &at, ACTOR).await;
            db.close().await;
            let key = key?;
            if json {
                print_json(&serde_json::json!({ "name": name, "role": role, "key": key }))?;
            } else {
                println!("{key}");
                eprintln!(
                    "API key {name} ({role}): shown this once, keep it secret; only its SHA-256 is stored"
                );
            }
        }
        ApiKeyCommand::Revoke { name } => {
            let done = arrears_app::api_keys::revoke(&db, &name, &at, ACTOR).await;
            db.close().await;
            done?;
            println!("API key {name} revoked");
        }
        ApiKeyCommand::List { json } => {
            let rows = arrears_app::api_keys::list(&db).await;
            db.close().await;
            let rows = rows?;
            if json {
                return print_json(&rows);
            }
            for r in rows {
                let state =
                    r.revoked_at.as_deref().map_or("in use".to_string(), |at| format!("revoked {at}"));
                println!(
                    "{:<24} {:<8} made {} by {}, {state}",
                    r.name,
                    r.role.as_str(),
                    r.created_at,
                    r.created_by
                );
            }
        }
    }
    Ok(())
}
