//! The supervisor's and manager's dashboard, the auditor's page and the admin page.

use arrears_core::access::Capability;
use axum::Router;
use axum::extract::{Form, Query, State};
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
                    label { (t(l, "role")) select name="role" { @for r in arrears_core::access::Role::ALL { option value=(r.as_str()) { (r.as_str()) } } } }
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
