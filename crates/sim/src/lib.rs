//! Synthetic loan books for arrears: borrowers, contacts, loans, payment histories
//! and company financials, written as the CSV files `arrears import` reads.
//!
//! Payment histories come from a latent behaviour per borrower (on time,
//! occasionally late, chronically late, defaulter), so the book shows a realistic
//! spread of delinquency on the as-of date. Some defaulters ask for an arrangement,
//! which is declined, approved and kept, approved and broken, or still undecided. The output depends only on the seed:
//! loans are generated in fixed-size blocks, each with its own random stream, and
//! written in block order whatever the number of threads.
#![forbid(unsafe_code)]

mod arrange;
mod behaviour;
mod block;
pub mod ids;
mod names;
mod out;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use arrears_core::schedule::ScheduleError;
use chrono::{Datelike, NaiveDate};

use block::{BlockOut, BlockStart, Counts, Ctx, Scratch, block_counts, generate_block};

/// Loans per block: the unit of parallel work and of the random streams.
///
/// Part of the output's definition: changing it changes every generated book.
pub const BLOCK_LOANS: u64 = 4096;

/// Labels of the delinquency buckets counted in [`GenSummary::by_bucket`].
pub const BUCKET_LABELS: [&str; 8] = ["M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+"];

/// The files written, in the import format of DESIGN.md, with their header rows.
pub const FILES: [(&str, &str); 6] = [
    ("borrowers.csv", "borrower_id,kind,name,national_id,phone,email,timezone,language"),
    ("contacts.csv", "contact_id,borrower_id,relation,name,phone,email,consent"),
    (
        "loans.csv",
        "loan_id,borrower_id,product,currency,principal,annual_rate,term_months,disbursed_on,method,penalty_rate,grace_days",
    ),
    ("payments.csv", "payment_id,loan_id,paid_on,amount,channel"),
    (
        "financials.csv",
        "borrower_id,period_end,current_assets,current_liabilities,inventory,total_assets,total_liabilities,revenue,net_income,operating_cash_flow",
    ),
    (
        "arrangements.csv",
        "arrangement_id,loan_id,kind,months,amount,requested_on,requested_by,status,decided_on,decided_by",
    ),
];

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenConfig {
    /// Number of loans (at least 1).
    pub loans: u64,
    /// Seed: the same seed gives byte-identical files.
    pub seed: u64,
    /// Business date of the book: disbursements fall in the three years before it,
    /// and only payments on or before it are written.
    pub as_of: NaiveDate,
    /// Generator threads (at least 1); does not change the output.
    pub threads: usize,
    /// Replay and assess every n-th loan for the summary's delinquency counts (1: all, 0: none).
    pub assess_every: u64,
}

impl GenConfig {
    /// A configuration with 2 threads, assessing every 10th loan.
    pub fn new(loans: u64, seed: u64, as_of: NaiveDate) -> GenConfig {
        GenConfig { loans, seed, as_of, threads: 2, assess_every: 10 }
    }
}

/// What was generated, and the delinquency of the assessed loans on the as-of date.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenSummary {
    /// Rows in borrowers.csv.
    pub borrowers: u64,
    /// Rows in contacts.csv.
    pub contacts: u64,
    /// Rows in loans.csv.
    pub loans: u64,
    /// Rows in payments.csv.
    pub payments: u64,
    /// Rows in financials.csv.
    pub financial_rows: u64,
    /// Rows in arrangements.csv: defaulters who asked for an arrangement.
    pub arrangements: u64,
    /// Bytes written over all files.
    pub bytes: u64,
    /// Loans replayed through the ledger (every `assess_every`-th).
    pub assessed_loans: u64,
    /// Of those, loans still active (not paid off) on the as-of date.
    pub active_loans: u64,
    /// Active assessed loans by bucket, indexed like [`BUCKET_LABELS`].
    pub by_bucket: [u64; 8],
}

impl GenSummary {
    /// Active assessed loans with DPD above 0.
    pub fn overdue_loans(&self) -> u64 {
        self.by_bucket[1..].iter().sum()
    }

    /// Share of active assessed loans that are overdue (0 when none were assessed).
    pub fn overdue_share(&self) -> f64 {
        if self.active_loans == 0 { 0.0 } else { self.overdue_loans() as f64 / self.active_loans as f64 }
    }
}

/// Why a portfolio could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Zero loans requested.
    #[error("the number of loans must be at least 1")]
    ZeroLoans,
    /// Zero threads requested.
    #[error("the number of threads must be at least 1")]
    ZeroThreads,
    /// An as-of date whose three-year window or borrowers' birth dates fall outside years 1900–9999.
    #[error("as-of date {0} is out of range: use a date between 1970-01-01 and 9000-12-31")]
    AsOfOutOfRange(NaiveDate),
    /// A file or the output directory could not be created or written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Core refused a generated loan's terms: a bug in the generator.
    #[error(
        "generated loan number {loan_no} has terms core rejects ({source}); this is a bug in arrears-sim"
    )]
    Schedule {
        /// The loan's number.
        loan_no: u64,
        /// Core's reason.
        source: ScheduleError,
    },
    /// A generator thread panicked.
    #[error("a generator thread stopped unexpectedly (panicked); no complete output was written")]
    WorkerPanicked,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SimError + '_ {
    move |source| SimError::Io { path: path.to_path_buf(), source }
}

/// Generates a portfolio of `cfg.loans` loans into `out_dir` (created if missing).
///
/// `progress` receives the number of loans written so far after every block of
/// [`BLOCK_LOANS`] loans, on the calling thread.
pub fn generate(
    cfg: &GenConfig,
    out_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<GenSummary, SimError> {
    if cfg.loans == 0 {
        return Err(SimError::ZeroLoans);
    }
    if cfg.threads == 0 {
        return Err(SimError::ZeroThreads);
    }
    if !(1970..=9000).contains(&cfg.as_of.year()) {
        return Err(SimError::AsOfOutOfRange(cfg.as_of));
    }

    // The id numbering needs every block's borrower and contact counts up front;
    // drawing only the shapes is cheap (a few random numbers per borrower).
    let n_blocks = cfg.loans.div_ceil(BLOCK_LOANS);
    let mut starts = Vec::with_capacity(n_blocks as usize);
    let (mut borrowers, mut contacts) = (1u64, 1u64);
    for b in 0..n_blocks {
        let loans = BLOCK_LOANS.min(cfg.loans - b * BLOCK_LOANS);
        let (nb, nc) = block_counts(cfg.seed, b, loans);
        starts.push(BlockStart {
            index: b,
            first_loan: b * BLOCK_LOANS + 1,
            loans,
            first_borrower: borrowers,
            first_contact: contacts,
        });
        borrowers += nb;
        contacts += nc;
    }
    let ctx = Ctx::new(cfg.seed, cfg.as_of, cfg.assess_every, cfg.loans, contacts - 1);

    std::fs::create_dir_all(out_dir).map_err(io_err(out_dir))?;
    let mut files = Vec::with_capacity(FILES.len());
    let mut bytes = 0u64;
    for (name, header) in FILES {
        let path = out_dir.join(name);
        let mut f = File::create(&path).map_err(io_err(&path))?;
        f.write_all(header.as_bytes()).and_then(|()| f.write_all(b"\n")).map_err(io_err(&path))?;
        bytes += header.len() as u64 + 1;
        files.push((f, path));
    }

    let next = AtomicU64::new(0);
    // Finished blocks' buffers come back here so their capacity is reused.
    let pool: Mutex<Vec<BlockOut>> = Mutex::new(Vec::new());
    let mut total = Counts::default();
    let mut failure: Option<SimError> = None;
    let threads = cfg.threads.min(n_blocks as usize).max(1);

    let joined = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<(u64, Result<BlockOut, SimError>)>(threads * 2);
        let mut handles = Vec::with_capacity(threads);
        for _ in 0..threads {
            let tx = tx.clone();
            let (ctx, starts, next, pool) = (&ctx, &starts, &next, &pool);
            handles.push(scope.spawn(move || {
                let mut scratch = Scratch::default();
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    if b >= n_blocks {
                        break;
                    }
                    let mut out = pool.lock().ok().and_then(|mut p| p.pop()).unwrap_or_default();
                    let res = generate_block(ctx, &starts[b as usize], &mut out, &mut scratch).map(|()| out);
                    if tx.send((b, res)).is_err() {
                        break;
                    }
                }
            }));
        }
        drop(tx);

        // Blocks arrive in any order; they are written strictly in block order.
        let mut pending: BTreeMap<u64, BlockOut> = BTreeMap::new();
        let mut want = 0u64;
        'recv: for (b, res) in rx.iter() {
            match res {
                Ok(out) => {
                    pending.insert(b, out);
                }
                Err(e) => {
                    failure = Some(e);
                    break 'recv;
                }
            }
            while let Some(out) = pending.remove(&want) {
                let parts = [
                    &out.borrowers,
                    &out.contacts,
                    &out.loans,
                    &out.payments,
                    &out.financials,
                    &out.arrangements,
                ];
                for ((f, path), part) in files.iter_mut().zip(parts) {
                    if let Err(e) = f.write_all(part) {
                        failure = Some(SimError::Io { path: path.clone(), source: e });
                        break 'recv;
                    }
                    bytes += part.len() as u64;
                }
                total.add(&out.counts);
                want += 1;
                progress(total.loans);
                if let Ok(mut p) = pool.lock() {
                    p.push(out);
                }
            }
        }
        // Stop the workers early on failure: they see no more blocks and a closed channel.
        next.store(n_blocks, Ordering::Relaxed);
        drop(rx);
        handles.into_iter().all(|h| h.join().is_ok())
    });
    if let Some(e) = failure {
        return Err(e);
    }
    if !joined {
        return Err(SimError::WorkerPanicked);
    }
    for (f, path) in &mut files {
        f.flush().map_err(io_err(path))?;
    }
    Ok(GenSummary {
        borrowers: total.borrowers,
        contacts: total.contacts,
        loans: total.loans,
        payments: total.payments,
        financial_rows: total.financial_rows,
        arrangements: total.arrangements,
        bytes,
        assessed_loans: total.assessed,
        active_loans: total.active,
        by_bucket: total.by_bucket,
    })
}
