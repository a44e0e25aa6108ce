//! The supervisor's and manager's dashboard, the auditor's page and the admin page.

use arrears_core::access::Capability;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Flash, PageResult, csrf_field, l_of, money, page, svg};
use crate::auth::{PageUser, User};
use crate::chart;
use crate::error::Error;
use crate::i18n::{Lang, t};
use crate::service::{self, Figures, UserForm};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard", get(dashboard))
        .route("/dashboard/assign", post(assign))
        .route("/audit", get(audit))
        .route("/admin", get(admin))
        .route("/admin/users", post(add_user))
        .route("/admin/strategy", post(strategy))
        .route("/admin/collectors", post(save_collector))
        .route("/admin/agencies", post(save_agency))
}

/// `part / whole` as a percentage with one decimal, from integers.
fn pct(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "-".into();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn dashboard(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let f = service::figures(&state, &u).await?;
    let l = l_of(&u);
    let flash = q.done.map(|c| Flash::Ok(format!("{} → {c}", t(l, "move_case"))));
    Ok(dashboard_page(l, &u, &f, flash.as_ref()).into_response())
}

fn dashboard_page(l: Lang, u: &User, f: &Figures, flash: Option<&Flash>) -> Markup {
    let body = html! {
        h1 { (t(l, "dashboard")) " · " (t(l, "as_of")) " " (f.as_of) }
        @match &f.portfolio {
            None => p.muted { (t(l, "no_figures")) },
            Some(p) => {
                div.grid {
                    section.card {
                        h2 { (t(l, "by_bucket")) }
                        (svg(chart::bars("bucket-chart", t(l, "by_bucket"), &p.by_bucket.iter()
                            .map(|r| (format!("{} {}", r.currency, r.group), r.loans, format!("{} · {}", r.loans, r.outstanding_principal)))
                            .collect::<Vec<_>>())))
                    }
                    section.card {
                        h2 { (t(l, "by_five_class")) }
                        (svg(chart::bars("five-class-chart", t(l, "by_five_class"), &p.by_five_class.iter()
                            .map(|r| (format!("{} {}", r.currency, r.group), r.loans, format!("{} · {}", r.loans, r.outstanding_principal)))
                            .collect::<Vec<_>>())))
                    }
                }
                section.card {
                    h2 { (t(l, "roll_rates")) }
                    (roll_matrix(l, p))
                }
            }
        }
        section.card {
            h2 { (t(l, "trend")) }
            (trend(l, f))
        }
        div.grid {
            section.card #health {
                h2 { (t(l, "health")) }
                table {
                    tr { th { (t(l, "overdue_tasks")) } td.num #overdue-tasks { (f.health.overdue_tasks) } }
                    tr { th { (t(l, "unallocated_tasks")) } td.num { (f.health.unallocated_tasks) } }
                    tr { th { (t(l, "unallocated_cases")) } td.num { (f.health.unallocated_cases) } }
                    tr { th { (t(l, "ptp_rate")) } td.num #ptp-rate {
                        (pct(f.health.ptp_kept, f.health.ptp_kept + f.health.ptp_broken))
                        " (" (t(l, "kept")) " " (f.health.ptp_kept) " · " (t(l, "broken")) " " (f.health.ptp_broken)
                        " · " (t(l, "pending")) " " (f.health.ptp_pending) ")"
                    } }
                }
            }
            section.card {
                h2 { (t(l, "arms")) }
                table #arms {
                    tr { th { (t(l, "experiment")) } th { (t(l, "arm")) } th.num { (t(l, "cases")) } th.num { (t(l, "cure_rate")) }
                         th.num { (t(l, "recovered")) } th.num { (t(l, "contacts_made")) } }
                    @for a in &f.arms {
                        tr { td { (a.experiment) } td { (a.arm) } td.num { (a.cases) } td.num { (pct(a.cured, a.cases)) }
                             td.num { (money("CNY", a.recovered_minor)) } td.num { (a.contacts) } }
                    }
                }
            }
        }
        section.card {
            h2 { (t(l, "collectors")) }
            table #collectors {
                tr { th { (t(l, "collector")) } th { (t(l, "team")) } th.num { (t(l, "cases")) } th.num { (t(l, "tasks")) }
                     th.num { (t(l, "contacts_made")) } th.num { (t(l, "promises")) } th.num { (t(l, "ptp_rate")) } th.num { (t(l, "recovered")) } }
                @for c in &f.collectors {
                    tr { td { (c.collector_id) " · " (c.name) } td { (c.team) } td.num { (c.cases) } td.num { (c.open_tasks) }
                         td.num { (c.contacts) } td.num { (c.promises) } td.num { (pct(c.kept, c.kept + c.broken)) }
                         td.num { (money("CNY", c.recovered_minor)) } }
                }
            }
        }
        section.card {
            h2 { (t(l, "channel_figures")) }
            table #channels {
                tr { th { (t(l, "channel")) } th { (t(l, "template")) } th.num { (t(l, "sent")) } th.num { (t(l, "delivered")) }
                     th.num { (t(l, "failed")) } th.num { (t(l, "refused_messages")) } th.num { (t(l, "waiting")) }
                     th.num { (t(l, "response_rate")) } th.num { (t(l, "cost")) } }
                @for c in &f.channels {
                    tr { td { (c.figures.channel) } td { (c.figures.template) } td.num { (c.figures.sent) }
                         td.num { (c.figures.delivered) } td.num { (c.figures.failed) } td.num { (c.figures.refused) }
                         td.num { (c.figures.waiting) } td.num { (pct(c.figures.responded, c.figures.sent)) }
                         td.num { @if c.cost_currency.is_empty() { "-" } @else { (money(&c.cost_currency, c.cost_minor)) } } }
                }
            }
        }
        section.card {
            h2 { (t(l, "agencies")) }
            table #agencies {
                tr { th { (t(l, "agency")) } th.num { (t(l, "commission")) } th.num { (t(l, "placements")) } th.num { (t(l, "open")) } th.num { (t(l, "recovered")) } }
                @for a in &f.agencies {
                    tr { td { (a.agency_id) } td.num { (a.commission_rate) } td.num { (a.placements) } td.num { (a.open) }
                         td.num { (money("CNY", a.recovered_minor)) } }
                }
            }
        }
        @if u.role.can(Capability::AssignCases) {
            section.card {
                h2 { (t(l, "move_case")) }
                form.inline #assign-form method="post" action="/dashboard/assign" {
                    (csrf_field(u))
                    label { (t(l, "case")) input name="case_id" required; }
                    label { (t(l, "collector"))
                        select name="collector" { @for c in &f.collectors { option value=(c.collector_id) { (c.collector_id) " · " (c.name) } } }
                    }
                    button.primary type="submit" { (t(l, "move")) }
                }
            }
        }
    };
    page(l, Some(u), t(l, "dashboard"), flash, body)
}

fn roll_matrix(l: Lang, p: &arrears_app::portfolio::PortfolioView) -> Markup {
    let mut from: Vec<&str> = p.roll_rates.iter().map(|r| r.from.as_str()).collect();
    let mut to: Vec<&str> = p.roll_rates.iter().map(|r| r.to.as_str()).collect();
    from.dedup();
    to.sort_by_key(|b| {
        (b.starts_with('M').then(|| b[1..].trim_end_matches('+').parse::<u32>().unwrap_or(99)), *b)
    });
    to.dedup();
    from.sort_by_key(|b| b[1..].trim_end_matches('+').parse::<u32>().unwrap_or(99));
    from.dedup();
    html! {
        table #roll-matrix {
            tr { th { (t(l, "from_to")) } @for b in &to { th.num { (b) } } }
            @for f in &from {
                tr {
                    th { (f) }
                    @for b in &to {
                        td.num { (p.roll_rates.iter().find(|r| r.from == *f && r.to == *b).map_or("", |r| r.loan_rate.as_str())) }
                    }
                }
            }
        }
    }
}

fn trend(l: Lang, f: &Figures) -> Markup {
    let mut dates: Vec<chrono::NaiveDate> = f.bucket_trend.iter().map(|(d, _, _, _)| *d).collect();
    dates.sort();
    dates.dedup();
    let mut buckets: Vec<(i64, &str)> = f.bucket_trend.iter().map(|(_, b, r, _)| (*r, b.as_str())).collect();
    buckets.sort();
    buckets.dedup();
    // M0 dwarfs the others; the trend is about the delinquent buckets.
    let series: Vec<(String, Vec<i64>)> = buckets
        .iter()
        .filter(|(rank, _)| *rank > 0)
        .map(|(rank, b)| {
            let values = dates
                .iter()
                .map(|d| {
                    f.bucket_trend
                        .iter()
                        .find(|(x, _, r, _)| x == d && r == rank)
                        .map_or(0, |(_, _, _, v)| *v / 100)
                })
                .collect();
            (b.to_string(), values)
        })
        .collect();
    let labels: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
    svg(chart::lines("trend-chart", t(l, "trend"), &labels, &series))
}

#[derive(Deserialize)]
struct AssignForm {
    csrf: String,
    case_id: String,
    collector: String,
}

async fn assign(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Form(f): Form<AssignForm>,
) -> PageResult {
    u.check_csrf(&f.csrf)?;
    service::assign(&state, &u, f.case_id.trim(), &f.collector).await?;
    Ok(Redirect::to(&format!("/dashboard?done={}", f.case_id.trim())).into_response())
}

#[derive(Deserialize)]
struct AuditQuery {
    verify: Option<String>,
    seq: Option<String>,
    case: Option<String>,
}

async fn audit(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    service::require(&u, Capability::Audit)?;
    if let Some(case) = q.case.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        return Ok(Redirect::to(&format!("/cases/{case}/evidence.zip")).into_response());
    }
    let l = l_of(&u);
    let report = match q.verify {
        Some(_) => Some(service::verify(&state, &u).await),
        None => None,
    };
    let entry = match q.seq.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => Some(match s.parse::<u64>() {
            Ok(n) => service::entry(&state, &u, n).await,
            Err(_) => Err(Error::BadRequest(format!("{s:?}: {}", t(l, "entry_no")))),
        }),
        None => None,
    };
    let body = html! {
        h1 { (t(l, "audit")) }
        section.card {
            form method="get" action="/audit" { input type="hidden" name="verify" value="1"; button.primary #verify type="submit" { (t(l, "verify")) } }
            @match &report {
                Some(Ok(r)) => p #verify-result class=(if r.intact { "ok" } else { "refused" }) {
                    (if r.intact { t(l, "intact") } else { t(l, "tampered") }) " · " (r.entries) " " (t(l, "entries"))
                    @if let Some(bad) = r.first_bad_entry { " · #" (bad) }
                    @for pr in &r.problems { br; (format!("{pr:?}")) }
                },
                Some(Err(e)) => p.refused #verify-result { (e) },
                None => {},
            }
        }
        section.card {
            h2 { (t(l, "lookup")) }
            form.inline method="get" action="/audit" {
                label { (t(l, "entry_no")) input #seq name="seq" inputmode="numeric"; }
                button.primary type="submit" { (t(l, "check")) }
            }
            @match &entry {
                Some(Ok(v)) => {
                    table #entry {
                        tr { th { "seq" } td { (v.seq) } }
                        tr { th { "entry" } td { code { (v.entry) } } }
                        tr { th { "leaf hash" } td { code { (v.leaf_hash) } } }
                        tr { th { "tree size" } td { (v.tree_size) } }
                        tr { th { "root" } td { code { (v.root) } } }
                        tr { th { "proof" } td { @for h in &v.inclusion_proof { code { (h) } br; } } }
                        tr { th { "checkpoint" } td { pre { (v.checkpoint) } } }
                    }
                }
                Some(Err(e)) => p.refused { (e) },
                None => {},
            }
        }
        section.card {
            h2 { (t(l, "evidence")) }
            form.inline method="get" action="/audit" {
                label { (t(l, "case")) input name="case"; }
                button.primary type="submit" { (t(l, "evidence")) }
            }
        }
    };
    Ok(page(l, Some(&u), t(l, "audit"), None, body).into_response())
}

async fn admin_page(
    state: &AppState,
    u: &User,
    flash: Option<&Flash>,
    strategy: Option<(&str, &service::StrategyCheck)>,
) -> Result<Markup, Error> {
    let l = l_of(u);
    let users =
        if u.role.can(Capability::ManageUsers) { Some(service::users(state, u).await?) } else { None };
    if users.is_none() && !u.role.can(Capability::ManageStrategies) {
        return Err(service::require(u, Capability::ManageUsers).err().unwrap_or(Error::Forbidden));
    }
    let collectors = service::collectors(state).await?;
    let agencies = arrears_store::workbench::agencies(state.db()).await?;
    let body = html! {
        h1 { (t(l, "admin")) }
        @if let Some(users) = &users {
            section.card {
                h2 { (t(l, "users")) }
                table #users {
                    tr { th { (t(l, "user")) } th { (t(l, "role")) } th { (t(l, "team")) } th { (t(l, "agency")) } }
                    @for x in users { tr { td { (x.name) } td { (x.role) } td { (x.team.as_deref().unwrap_or("")) } td { (x.agency.as_deref().unwrap_or("")) } } }
                }
                h2 { (t(l, "add_user")) }
                form.inline #user-form method="post" action="/admin/users" {
                    (csrf_field(u))
                    label { (t(l, "user")) input name="name" required; }
                    label { (t(l, "role")) select name="role" { @for r in arrears_core::access::Role::ALL.iter().filter(|r| **r != arrears_core::access::Role::Service) { option value=(r.as_str()) { (r.as_str()) } } } }
                    label { (t(l, "team")) input name="team"; }
                    label { (t(l, "agency")) input name="agency"; }
                    label { (t(l, "password")) input name="password" type="password" autocomplete="new-password" required; }
                    button.primary type="submit" { (t(l, "add_user")) }
                }
            }
            div.grid {
                section.card {
                    h2 { (t(l, "collectors_teams")) }
                    table #admin-collectors { tr { th { (t(l, "collector")) } th { (t(l, "team")) } th.num { (t(l, "capacity")) } }
                        @for c in &collectors { tr { td { (c.collector_id) " · " (c.name) } td { (c.team) } td.num { (c.capacity) } } } }
                    form.inline #collector-form method="post" action="/admin/collectors" {
                        (csrf_field(u))
                        label { "id" input name="collector_id" required; }
                        label { (t(l, "name")) input name="name" required; }
                        label { (t(l, "team")) input name="team" required; }
                        label { (t(l, "capacity")) input name="capacity" inputmode="numeric" value="40" required; }
                        button.primary type="submit" { (t(l, "save")) }
                    }
                }
                section.card {
                    h2 { (t(l, "agencies")) }
                    table #admin-agencies { tr { th { (t(l, "agency")) } th.num { (t(l, "commission")) } }
                        @for a in &agencies { tr { td { (a.agency_id) " · " (a.name) } td.num { (a.commission_rate) } } } }
                    form.inline #agency-form method="post" action="/admin/agencies" {
                        (csrf_field(u))
                        label { "id" input name="agency_id" required; }
                        label { (t(l, "name")) input name="name" required; }
                        label { (t(l, "commission")) input name="commission" value="0.15" required; }
                        button.primary type="submit" { (t(l, "save")) }
                    }
                }
            }
        }
        @if u.role.can(Capability::ManageStrategies) {
            section.card {
                h2 { (t(l, "strategy_upload")) }
                @if let Some((_, r)) = strategy {
                    @if r.ok {
                        div.flash.ok #strategy-ok { (t(l, "strategy_ok")) ": " (r.strategy.as_deref().unwrap_or("")) @if r.installed { " · " (t(l, "installed")) } }
                    } @else {
                        div.flash.error #strategy-errors {
                            @for (line, col, msg) in &r.errors { "strategy.toml:" (line) ":" (col) ": " (msg) br; }
                        }
                    }
                }
                form.stack #strategy-form method="post" action="/admin/strategy" {
                    (csrf_field(u))
                    textarea.code #strategy-text name="text" { (strategy.map_or("", |(text, _)| text)) }
                    button.primary name="install" value="0" type="submit" { (t(l, "check")) } " "
                    button.primary name="install" value="1" type="submit" { (t(l, "install")) }
                }
            }
        }
    };
    Ok(page(l, Some(u), t(l, "admin"), flash, body))
}

async fn admin(State(state): State<AppState>, PageUser(u): PageUser) -> PageResult {
    Ok(admin_page(&state, &u, None, None).await?.into_response())
}

#[derive(Deserialize)]
struct UserPost {
    csrf: String,
    #[serde(flatten)]
    form: UserForm,
}

async fn add_user(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Form(p): Form<UserPost>,
) -> PageResult {
    u.check_csrf(&p.csrf)?;
    let flash = match service::add_user(&state, &u, &p.form).await {
        Ok(made) => Flash::Ok(format!("{} · {}", made.name, made.role)),
        Err(e @ Error::BadRequest(_)) => Flash::Error(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    Ok(admin_page(&state, &u, Some(&flash), None).await?.into_response())
}

#[derive(Deserialize)]
struct CollectorPost {
    csrf: String,
    #[serde(flatten)]
    form: service::CollectorForm,
}

async fn save_collector(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Form(p): Form<CollectorPost>,
) -> PageResult {
    u.check_csrf(&p.csrf)?;
    let flash = match service::save_collector(&state, &u, &p.form).await {
        Ok(()) => Flash::Ok(format!("{} · {}", p.form.collector_id.trim(), p.form.team.trim())),
        Err(e @ Error::BadRequest(_)) => Flash::Error(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    Ok(admin_page(&state, &u, Some(&flash), None).await?.into_response())
}

#[derive(Deserialize)]
struct AgencyPost {
    csrf: String,
    #[serde(flatten)]
    form: service::AgencyForm,
}

async fn save_agency(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Form(p): Form<AgencyPost>,
) -> PageResult {
    u.check_csrf(&p.csrf)?;
    let flash = match service::save_agency(&state, &u, &p.form).await {
        Ok(()) => Flash::Ok(p.form.agency_id.trim().to_string()),
        Err(e @ Error::BadRequest(_)) => Flash::Error(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    Ok(admin_page(&state, &u, Some(&flash), None).await?.into_response())
}

#[derive(Deserialize)]
struct StrategyPost {
    csrf: String,
    text: String,
    install: Option<String>,
}

async fn strategy(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Form(p): Form<StrategyPost>,
) -> PageResult {
    u.check_csrf(&p.csrf)?;
    let install = p.install.as_deref() == Some("1");
    let r = service::check_strategy(&state, &u, &p.text, install).await?;
    Ok(admin_page(&state, &u, None, Some((&p.text, &r))).await?.into_response())
}

// ------------------------------------------------------------------ approvals and legal board

/// The approvals routes and the legal board.
pub fn resolutions() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(approvals).post(decide))
        .route("/legal", get(legal_board))
        .route("/transfers", get(transfers).post(create_transfer))
        .route("/transfers/{transfer_id}/package", get(transfer_package))
        .route("/legal/stage", post(legal_stage))
}

async fn approvals(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let rows = service::approvals(&state, &u).await?;
    let l = l_of(&u);
    let flash = q.done.map(|d| Flash::Ok(format!("{} · {d}", t(l, "decided"))));
    Ok(approvals_page(l, &u, &rows, flash.as_ref()).into_response())
}

fn approvals_page(l: Lang, u: &User, rows: &[service::Pending], flash: Option<&Flash>) -> Markup {
    let body = html! {
        h1 { (t(l, "approvals")) }
        @if rows.is_empty() { p.muted #nothing-waiting { (t(l, "nothing_waiting")) } }
        @for (i, r) in rows.iter().enumerate() {
            section.card.pending id={ "pending-" (i) } data-id=(r.id) data-what=(r.what) {
                h2 { (r.kind) " · " (r.about) }
                p.muted { (t(l, "requested_by")) " " span.maker { (r.requested_by) } " · " (r.requested_at) " · " code { (r.id) } }
                div.grid {
                    table.quote {
                        tr { th colspan="2" { (t(l, "quote")) } }
                        @for (k, v) in &r.quote {
                            tr class=(k) { th { (quote_label(l, k)) } td.num { (v) } }
                        }
                    }
                    @if !r.schedule.is_empty() {
                        table.schedule {
                            tr { th { "#" } th { (t(l, "due_on")) } th.num { (t(l, "principal")) } th.num { (t(l, "interest")) } th.num { (t(l, "fee")) } }
                            @for s in &r.schedule {
                                tr { td { (s.seq) } td { (s.due_on) } td.num { (s.principal) } td.num { (s.interest) } td.num { (s.fee) } }
                            }
                        }
                    }
                }
                form.inline method="post" action="/approvals" {
                    (csrf_field(u))
                    input type="hidden" name="what" value=(r.what);
                    input type="hidden" name="id" value=(r.id);
                    input name="note" placeholder=(t(l, "note"));
                    button.primary.approve type="submit" name="decision" value="approve" { (t(l, "approve")) }
                    button.decline type="submit" name="decision" value="decline" { (t(l, "decline")) }
                }
            }
        }
    };
    page(l, Some(u), t(l, "approvals"), flash, body)
}

/// The words for a quote's line (its key stays the row's class).
fn quote_label(l: Lang, key: &str) -> &'static str {
    let key = match key {
        "owed" => "q_owed",
        "total_to_pay" => "q_total_to_pay",
        "waived" => "q_waived",
        "five_class" => "q_five_class",
        "dpd" => "dpd",
        "amount" => "amount",
        "written_off" => "q_written_off",
        "recovered" => "recovered",
        "loans" => "loans_count",
        "price" => "q_price",
        "discount" => "q_discount",
        _ => "q_error",
    };
    t(l, key)
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: String,
    what: String,
    id: String,
    decision: String,
    #[serde(default)]
    note: String,
}

async fn decide(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Form(f): Form<DecideForm>,
) -> PageResult {
    u.check_csrf(&f.csrf)?;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "decline" => false,
        other => return Err(Error::BadRequest(format!("decision {other:?}: approve or decline")).into()),
    };
    match service::decide(&state, &u, &f.what, &f.id, approve, f.note.trim()).await {
        Ok(status) => Ok(Redirect::to(&format!("/approvals?done={status}")).into_response()),
        Err(e @ Error::BadRequest(_)) => {
            let rows = service::approvals(&state, &u).await?;
            let l = l_of(&u);
            Ok((e.status(), approvals_page(l, &u, &rows, Some(&Flash::Error(e.to_string())))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn transfers(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let rows = service::transfers(&state, &u).await?;
    let l = l_of(&u);
    let flash = q.done.map(|d| Flash::Ok(format!("{} · {d}", t(l, "requested"))));
    Ok(transfers_page(l, &u, &rows, flash.as_ref()).into_response())
}

fn transfers_page(
    l: Lang,
    u: &User,
    rows: &[arrears_app::transfers::TransferView],
    flash: Option<&Flash>,
) -> Markup {
    let body = html! {
        h1 { (t(l, "transfers")) }
        section.card {
            h2 { (t(l, "new_transfer")) }
            form.inline #transfer-form method="post" action="/transfers" {
                (csrf_field(u))
                label { (t(l, "buyer")) input name="buyer" required; }
                label { (t(l, "q_price")) input name="price" inputmode="decimal" required; }
                label { (t(l, "currency")) input name="currency" value="CNY" size="4" required; }
                label { (t(l, "cut_off")) input type="date" name="cut_off" required; }
                label { (t(l, "transfer_on")) input type="date" name="transfer_on" required; }
                label { (t(l, "min_dpd")) input name="min_dpd" inputmode="numeric" value="91" required; }
                label { (t(l, "product")) input name="product"; }
                label { (t(l, "at_most")) input name="limit" inputmode="numeric" value="100" required; }
                label { (t(l, "note")) input name="note" size="30"; }
                button.primary #create-transfer type="submit" { (t(l, "request")) }
            }
        }
        @if rows.is_empty() { p.muted #no-transfers { (t(l, "no_transfers")) } }
        @if !rows.is_empty() {
            table #transfers {
                tr {
                    th { "ID" } th { (t(l, "buyer")) } th { (t(l, "status")) } th { (t(l, "cut_off")) } th { (t(l, "transfer_on")) }
                    th.num { (t(l, "loans_count")) } th.num { (t(l, "total_owed")) } th.num { (t(l, "q_price")) } th { (t(l, "package")) }
                }
                @for v in rows {
                    tr data-id=(v.transfer.transfer_id) {
                        td { code { (v.transfer.transfer_id) } }
                        td { (v.transfer.buyer) }
                        td.status { (v.transfer.status) }
                        td { (v.transfer.cut_off) }
                        td { (v.transfer.transfer_on) }
                        td.num { (v.loans) }
                        td.num { (v.transfer.currency) " " (v.total) }
                        td.num { (v.transfer.currency) " " (v.price_amount) }
                        td {
                            @if v.transfer.status == "approved" {
                                a.package href={ "/transfers/" (v.transfer.transfer_id) "/package" } { (t(l, "package")) }
                            }
                        }
                    }
                }
            }
        }
    };
    page(l, Some(u), t(l, "transfers"), flash, body)
}

async fn create_transfer(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Form(f): Form<TransferPost>,
) -> PageResult {
    u.check_csrf(&f.csrf)?;
    match service::create_transfer(&state, &u, f.form).await {
        // The id holds the request's instant, whose '+' a query would read as a space.
        Ok(id) => Ok(Redirect::to(&format!("/transfers?done={}", id.replace('+', "%2B"))).into_response()),
        Err(e @ Error::BadRequest(_)) => {
            let rows = service::transfers(&state, &u).await?;
            let l = l_of(&u);
            Ok((e.status(), transfers_page(l, &u, &rows, Some(&Flash::Error(e.to_string())))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct TransferPost {
    csrf: String,
    #[serde(flatten)]
    form: service::TransferForm,
}

async fn transfer_package(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Path(transfer_id): Path<String>,
) -> PageResult {
    let bytes = service::transfer_package(&state, &u, &transfer_id).await?;
    Ok(crate::api::zip_response(&transfer_id.replace(':', "_"), bytes))
}

async fn legal_board(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let rows = service::legal_board(&state, &u).await?;
    let l = l_of(&u);
    let flash = q.done.map(|d| Flash::Ok(format!("{} · {d}", t(l, "decided"))));
    Ok(legal_page(l, &u, &rows, flash.as_ref()).into_response())
}

fn legal_page(l: Lang, u: &User, rows: &[arrears_app::legal::LegalView], flash: Option<&Flash>) -> Markup {
    use arrears_core::legal::Stage;
    let body = html! {
        h1 { (t(l, "legal_board")) }
        @if rows.is_empty() { p.muted #no-legal-cases { (t(l, "no_legal_cases")) } }
        @else {
            table #legal-board {
                tr { th { "ID" } th { (t(l, "stage")) } th { (t(l, "deadline")) } th { (t(l, "firm")) " / " (t(l, "lawyer")) }
                     th.num { (t(l, "claim")) } th.num { (t(l, "costs")) } th.num { (t(l, "recovered")) } th { (t(l, "dishonest")) } th { (t(l, "move_to")) } }
                @for v in rows {
                    @let stage: Stage = v.case.stage.parse().unwrap_or(Stage::LawyerLetter);
                    tr.legal-case data-id=(v.case.legal_id) class=[v.overdue.then_some("overdue")] {
                        td { a href={ "/cases/" (v.case.case_id) } { (v.case.legal_id) } }
                        td.stage data-stage=(v.case.stage) { (if l == Lang::En { v.case.stage.as_str() } else { v.stage_zh }) }
                        td.deadline { (v.case.deadline.map(|d| d.to_string()).unwrap_or_else(|| "-".into()))
                            @if v.overdue { " " span.warn { (t(l, "deadline_passed")) } } }
                        td { (v.case.firm) " / " (v.case.lawyer) }
                        td.num { (money(&v.case.currency, v.case.claim_amount)) }
                        td.num { (v.costs_recoverable) " / " (v.costs_borne) }
                        td.num { (v.recovered) }
                        td { (v.case.dishonest_on.map(|d| d.to_string()).unwrap_or_default()) }
                        td {
                            @if stage != Stage::Closed {
                                form.inline method="post" action="/legal/stage" {
                                    (csrf_field(u))
                                    input type="hidden" name="legal_id" value=(v.case.legal_id);
                                    select name="to" {
                                        @for s in Stage::ALL.iter().filter(|s| s.rank() > stage.rank()) {
                                            option value=(s.as_str()) { (if l == Lang::En { s.as_str() } else { s.zh() }) }
                                        }
                                    }
                                    button type="submit" { (t(l, "move")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page(l, Some(u), t(l, "legal_board"), flash, body)
}

#[derive(Deserialize)]
struct StageForm {
    csrf: String,
    legal_id: String,
    to: String,
}

async fn legal_stage(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Form(f): Form<StageForm>,
) -> PageResult {
    u.check_csrf(&f.csrf)?;
    match service::legal_stage(&state, &u, &f.legal_id, &f.to).await {
        Ok(()) => Ok(Redirect::to(&format!("/legal?done={}", f.to)).into_response()),
        Err(e @ Error::BadRequest(_)) => {
            let rows = service::legal_board(&state, &u).await?;
            let l = l_of(&u);
            Ok((e.status(), legal_page(l, &u, &rows, Some(&Flash::Error(e.to_string())))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}
