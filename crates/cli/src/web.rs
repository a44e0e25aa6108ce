//! `arrears serve` and `arrears demo`: the web workbench, and the whole first-run
//! experience (a fresh database, a generated book with 90 days of history, one user per
//! role, the server).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrears_app::personal::NewUser;
use arrears_server::{AppState, ServerConfig};
use arrears_store::staff::CollectorRow;
use arrears_store::{Db, DbUrl};
use chrono::{Duration, NaiveDate};

/// How `serve` and `demo` listen.
#[derive(clap::Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Mark cookies Secure and send HSTS: use it whenever the server is reached over HTTPS.
    #[arg(long)]
    secure_cookies: bool,
    /// A reverse proxy in front of the server whose X-Forwarded-For names the client (repeat
    /// or separate with commas). Without it, clients behind a proxy share its login limit.
    #[arg(long = "trusted-proxy", value_delimiter = ',')]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Configuration folder (templates, queues.toml) uploaded strategies are checked against.
    #[arg(long, default_value = "config")]
    config: PathBuf,
    /// Do not run the dispatcher (by default the server sends due outbox messages every
    /// `[dispatcher] interval_seconds`, as `arrears send` does once).
    #[arg(long)]
    no_send: bool,
}

fn config(args: &ServeArgs, db_url: &str, audit_key: Option<&Path>, data_key: Option<&Path>) -> ServerConfig {
    ServerConfig {
        secure_cookies: args.secure_cookies,
        audit_key: crate::audit::key_path(db_url, audit_key),
        data_key: data_key.map(Path::to_path_buf),
        config_dir: args.config.clone(),
        db_url: Some(db_url.to_string()),
        trusted_proxies: args.trusted_proxies.clone(),
        ..ServerConfig::default()
    }
}

/// `arrears serve`.
pub async fn serve(
    db_url: &str,
    audit_key: Option<&Path>,
    data_key: Option<&Path>,
    args: &ServeArgs,
) -> Result<()> {
    let db = crate::open(db_url).await?;
    if !args.no_send {
        // Built before serving, so that a provider's missing secret stops the start.
        let config = arrears_app::channels::config::ChannelsConfig::load()?;
        let interval = std::time::Duration::from_secs(config.dispatcher.interval_seconds.max(1));
        let keys =
            arrears_store::personal::Keyring::resolve(&db, data_key).context("loading the data keys")?;
        let mut dispatcher = arrears_app::channels::Dispatcher::new(
            &db,
            config,
            keys,
            None,
            arrears_app::channels::owner_name(&crate::now()),
        )?;
        let clock = crate::clock();
        tokio::spawn(async move {
            loop {
                match dispatcher.pass(None, None, &clock).await {
                    Ok(r) if r.sent + r.failed + r.refused + r.expired > 0 => eprintln!(
                        "dispatcher: sent {}, failed {}, refused {}, expired {}; {} queued",
                        r.sent, r.failed, r.refused, r.expired, r.queued
                    ),
                    Ok(_) => {}
                    Err(e) => eprintln!("dispatcher: {e}"),
                }
                tokio::time::sleep(interval).await;
            }
        });
    }
    let state = AppState::new(db, config(args, db_url, audit_key, data_key));
    arrears_server::serve(state, args.addr).await.with_context(|| format!("serving on {}", args.addr))
}

/// `arrears demo`'s options.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Folder for the demo's database, keys and generated book (its database is replaced).
    #[arg(long, default_value = "arrears-demo")]
    dir: PathBuf,
    /// Loans to generate.
    #[arg(long, default_value_t = 20_000)]
    loans: u64,
    /// Business days of history the batch closes, ending today.
    #[arg(long, default_value_t = 90)]
    days: i64,
    /// Seed of the generated book.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The last business date (default: today).
    #[arg(long, value_parser = crate::date_arg)]
    as_of: Option<NaiveDate>,
    /// Set up everything but do not start the server.
    #[arg(long)]
    no_serve: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

/// Who the audit log records as having set up the demo's staff and users.
const DEMO_ACTOR: &str = "system:demo";

/// One user per role; collectors are named after their collector ids.
const DEMO_USERS: [(&str, &str, Option<&str>, Option<&str>); 7] = [
    ("c01", "collector", Some("east"), None),
    ("supervisor", "supervisor", None, None),
    ("legal", "legal", None, None),
    ("risk", "risk_analyst", None, None),
    ("acme", "agency", None, Some("ACME")),
    ("auditor", "auditor", None, None),
    ("admin", "admin", None, None),
];

/// `arrears demo`.
pub async fn demo(args: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let as_of = args.as_of.unwrap_or_else(crate::today);
    if args.days < 1 || args.loans < 1 {
        bail!("--days and --loans must be at least 1");
    }
    std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
    let db_path = args.dir.join("demo.db");
    // A fresh database every time: remove what an earlier demo left (and only that).
    for suffix in ["", "-wal", "-shm", ".keys", ".audit-key"] {
        let p = PathBuf::from(format!("{}{suffix}", db_path.display()));
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    let db_url = format!("sqlite://{}", db_path.display());
    let book = args.dir.join("book");
    let book_config = arrears_sim::GenConfig::new(args.loans, args.seed, as_of);
    let summary = arrears_sim::generate(&book_config, &book, &|_| {})
        .with_context(|| format!("generating into {}", book.display()))?;
    println!(
        "generated {} loans, {} borrowers in {:.1}s",
        summary.loans,
        summary.borrowers,
        started.elapsed().as_secs_f64()
    );

    let db = crate::open(&db_url).await?;
    let now = crate::now();
    let keys = arrears_store::personal::Keyring::resolve(&db, None).context("loading the data keys")?;
    arrears_app::import::import_dir_with_keys(&db, &book, &now, &NoProgress, &keys)
        .await
        .map_err(|e| anyhow::anyhow!("importing the generated book: {e}"))?;
    staff(&db).await?;
    println!("imported; collectors and an agency set up in {:.1}s", started.elapsed().as_secs_f64());

    let from = as_of - Duration::days(args.days - 1);
    let url = DbUrl::new(db_url.clone());
    let opts = arrears_app::batch::BatchOptions {
        shard: arrears_app::batch::Shard::ALL,
        chunk: 2000,
        failpoint: None,
    };
    let now_fn = crate::clock();
    let reports = arrears_app::batch::run_batch(
        &db,
        &url,
        from..=as_of,
        as_of,
        &now_fn,
        opts,
        &arrears_app::batch::Quiet,
    )
    .await?;
    crate::audit::checkpoint_after_batch(&db, &db_url, None).await?;
    let opened: u64 = reports.iter().map(|r| r.cases_opened).sum();
    let closed: u64 = reports.iter().map(|r| r.cases_closed).sum();
    println!(
        "closed {} business dates ({from} … {as_of}) in {:.1}s; cases {opened} opened / {closed} closed",
        reports.len(),
        started.elapsed().as_secs_f64()
    );

    let fixed = std::env::var("ARREARS_DEMO_PASSWORD").ok().filter(|p| p.chars().count() >= 8);
    println!("\nusers (one per role) / 每个角色一个用户:");
    for (name, role, team, agency) in DEMO_USERS {
        let password =
            fixed.clone().unwrap_or_else(|| arrears_server::auth::random_token()[..16].to_string());
        let u = NewUser { name, role, agency, team, password: &password };
        arrears_app::personal::add_user(&db, &u, &now, DEMO_ACTOR).await?;
        println!("  {role:<13} {name:<11} {password}");
    }
    println!("ready in {:.1}s", started.elapsed().as_secs_f64());
    if args.no_serve {
        db.close().await;
        return Ok(());
    }
    let state = AppState::new(db, config(&args.serve, &db_url, None, None));
    println!("open http://{}/ and log in (Ctrl-C stops)", args.serve.addr);
    arrears_server::serve(state, args.serve.addr)
        .await
        .with_context(|| format!("serving on {}", args.serve.addr))
}

/// Ten collectors in two teams and one agency, so that the batch has desks to allocate to.
async fn staff(db: &Db) -> Result<()> {
    for i in 1..=10 {
        let team = if i <= 5 { "east" } else { "west" };
        let c = CollectorRow {
            collector_id: arrears_app::staff::collector_id(&format!("c{i:02}"))?,
            name: format!("催收员{i:02}"),
            team: team.into(),
            capacity: 40,
            queues: String::new(),
            languages: String::new(),
            buckets: String::new(),
            products: String::new(),
        };
        arrears_app::staff::save_collector(db, &c, &[], &crate::now(), DEMO_ACTOR).await?;
    }
    arrears_app::staff::save_agency(db, "ACME", "ACME 资产管理", "0.15", &crate::now(), DEMO_ACTOR).await?;
    Ok(())
}

struct NoProgress;

impl arrears_app::import::Progress for NoProgress {
    fn bytes(&self, _: u64, _: u64) {}
    fn phase(&self, _: &str) {}
}
