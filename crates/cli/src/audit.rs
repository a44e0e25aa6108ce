//! `arrears audit …`: verify the tamper-evident log, prove entries, sign and export
//! checkpoints, build and check a case's evidence package.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arrears_app::audit as app;
use arrears_audit::LogVerifier;
use arrears_store::{Db, DbUrl};
use clap::Subcommand;

use crate::{Rejected, open, print_json};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Re-hash every entry against every signed checkpoint; report the first entry altered,
    /// deleted, inserted or moved, and every stored column, index row, tree row or checkpoint
    /// row that disagrees with the hashed entries or the signed notes (exit 1 when anything is wrong).
    Verify {
        /// Check signatures with this public key (name+id+base64) instead of the key file's.
        #[arg(long)]
        pubkey: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Entry N with its leaf hash and its inclusion proof to the latest checkpoint.
    Proof {
        /// Entry number (from 0).
        seq: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The consistency proof that the log of OLD entries is a prefix of the log of NEW.
    Consistency {
        /// The earlier size.
        old: u64,
        /// The later size (default: the latest checkpoint's).
        new: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign a checkpoint of the log now and print its signed note.
    Checkpoint {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the log's public key (name+id+base64), for those who check checkpoints.
    Pubkey,
    /// Export every signed checkpoint as plain text, oldest first.
    Checkpoints,
    /// Write a case's evidence package (facts, entries with proofs, checkpoint, key, README).
    Evidence {
        /// Case id.
        case_id: String,
        /// The zip file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Check an evidence package using nothing but its contents (exit 1 when it does not hold).
    CheckEvidence {
        /// The zip file.
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The key file: `--audit-key`, else beside the SQLite database, else `arrears-audit.key`.
pub fn key_path(db_url: &str, explicit: Option<&Path>) -> PathBuf {
    explicit.map(Path::to_path_buf).unwrap_or_else(|| app::default_key_path(&DbUrl::new(db_url)))
}

/// Signs the checkpoint that closes a batch run; the key is created on first use.
pub async fn checkpoint_after_batch(
    db: &Db,
    db_url: &str,
    key: Option<&Path>,
) -> Result<app::SignedCheckpoint> {
    let path = key_path(db_url, key);
    let (signer, created) = app::load_signer(&path)?;
    if created {
        eprintln!(
            "created the audit signing key {} (keep it safe; `arrears audit pubkey` prints its public half)",
            path.display()
        );
    }
    Ok(app::checkpoint(db, &signer, &crate::now()).await?)
}

pub async fn run(command: AuditCommand, db_url: &str, key: Option<&Path>) -> Result<()> {
    match command {
        AuditCommand::CheckEvidence { file, json } => return check_evidence(&file, json),
        AuditCommand::Pubkey => {
            let (signer, _) = app::load_signer(&key_path(db_url, key))?;
            println!("{}", signer.verifier());
            return Ok(());
        }
        _ => {}
    }
    let db = open(db_url).await?;
    let result = run_on(&db, command, db_url, key).await;
    db.close().await;
    result
}

async fn run_on(db: &Db, command: AuditCommand, db_url: &str, key: Option<&Path>) -> Result<()> {
    match command {
        AuditCommand::Verify { pubkey, json } => {
            let verifier = match pubkey {
                Some(k) => LogVerifier::parse(&k).context("--pubkey")?,
                None => {
                    let path = key_path(db_url, key);
                    if !path.exists() {
                        bail!(
                            "no audit key at {}: give --audit-key FILE or --pubkey KEY (the key is created by the first batch)",
                            path.display()
                        );
                    }
                    app::load_verifier(&path)?
                }
            };
            let report = app::verify(db, &verifier).await?;
            if json {
                print_json(&report)?;
            } else if report.intact {
                println!(
                    "the audit log is intact: {} entries, {} signed checkpoint(s) covering {} entries{}",
                    report.entries,
                    report.checkpoints,
                    report.covered,
                    if report.entries > report.covered {
                        format!(
                            "; the last {} are not yet covered by a checkpoint",
                            report.entries - report.covered
                        )
                    } else {
                        String::new()
                    }
                );
            } else {
                let mut err = std::io::stderr().lock();
                match report.first_bad_entry {
                    Some(i) => writeln!(err, "the audit log was tampered with: first bad entry {i}")?,
                    None => writeln!(err, "the audit log was tampered with")?,
                }
                for p in &report.problems {
                    writeln!(err, "{}: {}", p.what, p.message)?;
                }
                if !report.findings.is_empty() {
                    writeln!(err, "rows that disagree with the hashed entries or the signed checkpoints:")?;
                }
                for f in &report.findings {
                    writeln!(err, "  {f}")?;
                    if f.stored.is_some() || f.expected.is_some() {
                        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(no row)".into());
                        writeln!(err, "    stored: {}; should be: {}", show(&f.stored), show(&f.expected))?;
                    }
                }
            }
            if !report.intact {
                return Err(Rejected.into());
            }
        }
        AuditCommand::Proof { seq, json } => {
            let v = app::inclusion(db, seq).await?;
            if json {
                print_json(&v)?;
            } else {
                println!("entry {}: {}", v.seq, v.entry);
                println!("leaf hash {}", v.leaf_hash);
                println!("inclusion proof in the tree of {} entries (root {}):", v.tree_size, v.root);
                for h in &v.inclusion_proof {
                    println!("  {h}");
                }
                print!("\n{}", v.checkpoint);
            }
        }
        AuditCommand::Consistency { old, new, json } => {
            let v = app::consistency(db, old, new).await?;
            if json {
                print_json(&v)?;
            } else {
                println!("log of {} entries: root {}", v.old_size, v.old_root);
                println!("log of {} entries: root {}", v.new_size, v.new_root);
                println!("consistency proof:");
                for h in &v.consistency_proof {
                    println!("  {h}");
                }
            }
        }
        AuditCommand::Checkpoint { json } => {
            let cp = checkpoint_after_batch(db, db_url, key).await?;
            if json {
                print_json(&cp)?;
            } else {
                print!("{}", cp.note);
            }
        }
        AuditCommand::Checkpoints => {
            let mut out = std::io::stdout().lock();
            for (i, note) in app::checkpoint_notes(db).await?.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                write!(out, "{note}")?;
            }
        }
        AuditCommand::Evidence { case_id, out } => {
            let (signer, _) = app::load_signer(&key_path(db_url, key))?;
            let ev = app::case_evidence(db, &case_id, &signer, &crate::now()).await?;
            write_zip(&out, &ev).with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {}: case {}, {} entries proved against the checkpoint of {} entries",
                out.display(),
                ev.case_id,
                ev.packages.len(),
                ev.checkpoint.size
            );
        }
        AuditCommand::Pubkey | AuditCommand::CheckEvidence { .. } => {
            unreachable!("handled without a database")
        }
    }
    Ok(())
}

fn write_zip(path: &Path, ev: &app::CaseEvidence) -> Result<()> {
    std::fs::write(path, app::evidence_zip(ev)?)?;
    Ok(())
}

fn check_evidence(path: &Path, json: bool) -> Result<()> {
    let files = match read_zip(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{}: not a readable evidence package: {e:#}", path.display());
            return Err(Rejected.into());
        }
    };
    match app::check_case_evidence(&files) {
        Ok(c) => {
            if json {
                print_json(&c)?;
            } else {
                println!(
                    "evidence for case {} holds: {} entries are in the log signed at {} ({} entries) by {}",
                    c.case_id, c.entries, c.checkpoint_time, c.tree_size, c.verifier_key
                );
                println!(
                    "compare that key with the one the lender published; the package cannot vouch for it itself"
                );
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("{}: the evidence does not hold: {e}", path.display());
            Err(Rejected.into())
        }
    }
}

fn read_zip(path: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut archive = zip::ZipArchive::new(file)?;
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i)?;
        let name = f.name()?.to_string();
        let mut bytes = Vec::with_capacity(f.size() as usize);
        f.read_to_end(&mut bytes)?;
        if files.insert(name.clone(), bytes).is_some() {
            bail!("{name} appears twice in the package");
        }
    }
    Ok(files)
}
