//! The collector's pages: login, my queue, case list, the case page with its forms.

use arrears_core::access::{Capability, Role};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::{Flash, PageResult, csrf_field, l_of, lang_of, money, page, svg};
use crate::auth::{self, ClientAddr, LOGIN_CSRF_COOKIE, MaybeUser, PageUser, User, cookie};
use crate::chart;
use crate::error::Error;
use crate::i18n::{Lang, t};
use crate::service::{self, ActionForm, ArrangementForm, CaseDetail};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/lang/{code}", get(switch_lang))
        .route("/queue", get(queue))
        .route("/cases", get(cases))
        .route("/cases/{case_id}", get(case))
        .route("/cases/{case_id}/actions", post(log_action))
        .route("/cases/{case_id}/arrangements", post(arrangement))
        .route("/cases/{case_id}/legal", post(open_legal))
        .route("/cases/{case_id}/write-offs", post(write_off))
        .route("/cases/{case_id}/evidence.zip", get(evidence))
}

/// Where each role starts.
fn start_page(role: Role) -> &'static str {
    match role {
        Role::Collector => "/queue",
        Role::Supervisor | Role::RiskAnalyst => "/dashboard",
        Role::Auditor => "/audit",
        Role::Admin => "/admin",
        Role::Legal => "/legal",
        Role::Agency => "/cases",
        // Never has a session: it calls the API with a key.
        Role::Service => "/login",
    }
}

async fn home(MaybeUser(u): MaybeUser) -> Redirect {
    match u {
        Some(u) => Redirect::to(start_page(u.role)),
        None => Redirect::to("/login"),
    }
}

fn login_page(l: Lang, csrf: &str, error: Option<&str>) -> Markup {
    let flash = error.map(|e| Flash::Error(e.to_string()));
    page(
        l,
        None,
        t(l, "login"),
        flash.as_ref(),
        html! {
            section.card.login {
                h1 { (t(l, "app")) }
                form.stack #login-form method="post" action="/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="name" { (t(l, "user")) }
                    input #name name="name" autocomplete="username" required autofocus;
                    label for="password" { (t(l, "password")) }
                    input #password name="password" type="password" autocomplete="current-password" required;
                    button.primary #login type="submit" { (t(l, "login")) }
                }
            }
        },
    )
}

/// The login form gets a token of its own, also set as a cookie: a form posted from
/// another site cannot know it (double-submit), so nobody can log a victim in as themselves.
async fn login_form(State(state): State<AppState>, MaybeUser(u): MaybeUser, headers: HeaderMap) -> Response {
    if let Some(u) = u {
        return Redirect::to(start_page(u.role)).into_response();
    }
    let token = auth::random_token();
    let l = lang_of(None, cookie(&headers, "arrears_lang"));
    let c = auth::set_cookie(&state, LOGIN_CSRF_COOKIE, &token, 3600);
    ([(header::SET_COOKIE, c)], login_page(l, &token, None)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    name: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let l = lang_of(None, cookie(&headers, "arrears_lang"));
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or("");
    let fail = |status: StatusCode, msg: String| {
        let token = auth::random_token();
        let c = auth::set_cookie(&state, LOGIN_CSRF_COOKIE, &token, 3600);
        (status, [(header::SET_COOKIE, c)], login_page(l, &token, Some(&msg))).into_response()
    };
    if expected.is_empty() || expected != f.csrf {
        return fail(StatusCode::FORBIDDEN, Error::Csrf.to_string());
    }
    let code = if l == Lang::En { "en" } else { "zh" };
    let device = cookie(&headers, auth::DEVICE_COOKIE);
    match auth::login(&state, f.name.trim(), &f.password, &client, device, code).await {
        Ok(s) => {
            let c =
                auth::set_cookie(&state, auth::SESSION_COOKIE, &s.token, state.0.config.session_hours * 3600);
            let clear = auth::set_cookie(&state, LOGIN_CSRF_COOKIE, "", 0);
            let device = auth::set_cookie(&state, auth::DEVICE_COOKIE, &s.device, 365 * 24 * 3600);
            let mut r = Redirect::to(start_page(s.role)).into_response();
            for c in [c, clear, device] {
                r.headers_mut().append(header::SET_COOKIE, c.parse().expect("cookie is ASCII"));
            }
            r
        }
        Err(e) => fail(e.status(), e.to_string()),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(State(state): State<AppState>, PageUser(u): PageUser, Form(f): Form<CsrfForm>) -> PageResult {
    u.check_csrf(&f.csrf)?;
    auth::logout(&state, &u).await?;
    let c = auth::set_cookie(&state, auth::SESSION_COOKIE, "", 0);
    Ok(([(header::SET_COOKIE, c)], Redirect::to("/login")).into_response())
}

#[derive(Deserialize)]
struct BackQuery {
    back: Option<String>,
}

/// Switches the language for the session (or, before login, for the browser) and goes back
/// to the page it came from (a local path only: never an open redirect).
async fn switch_lang(
    State(state): State<AppState>,
    MaybeUser(u): MaybeUser,
    Path(code): Path<String>,
    Query(q): Query<BackQuery>,
    headers: HeaderMap,
) -> PageResult {
    let code = if code == "en" { "en" } else { "zh" };
    if let Some(u) = &u {
        arrears_app::sessions::set_language(state.db(), u.token_hash(), code).await?;
    }
    let from_referer = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()));
    let back = q.back.or(from_referer).filter(|b| is_local_path(b)).unwrap_or("/".into());
    let c = auth::set_cookie(&state, "arrears_lang", code, 365 * 24 * 3600);
    Ok(([(header::SET_COOKIE, c)], Redirect::to(&back)).into_response())
}

/// Whether `back` is a path on this server and nothing else: it starts with one `/`, and
/// holds only visible ASCII without a backslash. Browsers read `/\host` and `//host` as
/// another host, and a control character cannot go in a `Location` header.
fn is_local_path(back: &str) -> bool {
    let b = back.as_bytes();
    b.first() == Some(&b'/')
        && !matches!(b.get(1), Some(b'/' | b'\\'))
        && b.iter().all(|c| c.is_ascii_graphic() && *c != b'\\')
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_back() {
        let table = [
            ("/queue", true),
            ("/cases/C-1?tab=actions#log", true),
            ("/", true),
            ("//evil.example/", false),
            ("/\\evil.example", false),
            ("/a\\b", false),
            ("/\r\nX:1", false),
            ("/a b", false),
            ("https://evil.example/", false),
            ("queue", false),
            ("", false),
            ("/案件", false),
        ];
        for (back, want) in table {
            assert_eq!(super::is_local_path(back), want, "{back:?}");
        }
    }
}

async fn queue(State(state): State<AppState>, PageUser(u): PageUser) -> PageResult {
    let items = service::queue(&state, &u).await?;
    let l = l_of(&u);
    let body = html! {
        h1 { (t(l, "queue_title")) }
        @if items.is_empty() {
            p.muted #queue-empty { (t(l, "queue_empty")) }
        } @else {
            table #queue {
                thead { tr {
                    th.num { (t(l, "priority")) } th { (t(l, "case")) } th { (t(l, "borrower")) } th.num { (t(l, "dpd")) }
                    th { (t(l, "todo")) } th { (t(l, "due_at")) } th { (t(l, "why")) }
                } }
                tbody {
                    @for q in &items {
                        tr.queue-item {
                            td.num { (q.priority) }
                            td { a.case-link href={ "/cases/" (q.case_id) } { (q.case_id) } }
                            td { (q.borrower_name) }
                            td.num { (q.max_dpd) }
                            td { (q.kind) " · " (q.step) }
                            td { (q.due_at) }
                            td.muted { (q.because) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(l, Some(&u), t(l, "queue"), None, body).into_response())
}

async fn cases(State(state): State<AppState>, PageUser(u): PageUser) -> PageResult {
    let items = service::cases(&state, &u, None).await?;
    let l = l_of(&u);
    let body = html! {
        h1 { (t(l, "cases")) }
        table #cases {
            thead { tr {
                th { (t(l, "case")) } th { (t(l, "borrower")) } th { (t(l, "opened_on")) } th.num { (t(l, "dpd")) }
                th { (t(l, "segment")) } th { (t(l, "collector")) } th { (t(l, "agency")) } th { (t(l, "hold")) }
            } }
            tbody {
                @for c in &items {
                    tr {
                        td { a.case-link href={ "/cases/" (c.case_id) } { (c.case_id) } }
                        td { (c.borrower_name) }
                        td { (c.opened_on) }
                        td.num { (c.max_dpd) }
                        td { (c.segment.as_deref().unwrap_or("-")) }
                        td { (c.collector.as_deref().unwrap_or("-")) }
                        td { (c.placed_with.as_deref().unwrap_or("-")) }
                        td { (c.hold.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
    };
    Ok(page(l, Some(&u), t(l, "cases"), None, body).into_response())
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

async fn case(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Path(case_id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> PageResult {
    let d = service::case_detail(&state, &u, &case_id).await?;
    let l = l_of(&u);
    let flash = match q.done.as_deref() {
        Some("logged") => Some(Flash::Ok(t(l, "logged").to_string())),
        Some("requested") => Some(Flash::Ok(t(l, "requested").to_string())),
        _ => None,
    };
    Ok(case_page(&u, &d, flash.as_ref(), None).into_response())
}

fn case_page(u: &User, d: &CaseDetail, flash: Option<&Flash>, form: Option<&ActionForm>) -> Markup {
    let l = l_of(u);
    let c = &d.case;
    let title = format!("{} · {}", t(l, "case"), c.case_id);
    let body = html! {
        h1 #case-title { (title) " " span.badge { (c.status) } }
        p.muted {
            (t(l, "borrower")) ": " (c.borrower_name) " (" (c.borrower_id) ") · "
            (t(l, "collector")) ": " (d.collector.as_deref().unwrap_or("-")) " · "
            (t(l, "agency")) ": " (d.placed_with.as_deref().unwrap_or("-")) " · "
            (t(l, "as_of")) ": " (d.as_of)
        }
        div.grid {
            (profile(l, d))
            section.card {
                h2 { (t(l, "dpd_history")) }
                (dpd_chart(l, d))
            }
        }
        (loans(l, d))
        @if d.may_work { (action_form(l, u, d, form)) }
        (history(l, d))
        (messages(l, d))
        div.grid {
            (promises(l, d))
            (tasks(l, d))
        }
        @if d.may_work { (arrangement_form(l, u, d)) }
        @if d.may_work && u.role.can(Capability::LegalTrack) { (legal_form(l, u, d)) }
        @if d.may_work { (write_off_form(l, u, d)) }
        @if u.role.can(Capability::Evidence) {
            p { a #evidence href={ "/cases/" (c.case_id) "/evidence.zip" } { (t(l, "evidence")) } }
        }
    };
    page(l, Some(u), &title, flash, body)
}

fn profile(l: Lang, d: &CaseDetail) -> Markup {
    html! {
        section.card #profile {
            h2 { (t(l, "profile")) }
            @if let Some(b) = &d.borrower {
                table {
                    tr { th { (t(l, "name")) } td { (b.name) " (" (b.kind) ")" } }
                    tr { th { (t(l, "national_id")) } td #national-id { (b.national_id) } }
                    tr { th { (t(l, "phone")) } td { (b.phone) } }
                    tr { th { (t(l, "email")) } td { (b.email) } }
                    tr { th { (t(l, "timezone")) } td { (b.timezone) " · " (b.language) } }
                    tr { th { (t(l, "product")) } td {
                        @for v in &d.loan_details { span.badge { (v.product) } " " }
                    } }
                }
                h2 { (t(l, "contacts")) }
                table #contacts {
                    tr { th { "id" } th { (t(l, "relation")) } th { (t(l, "name")) } th { (t(l, "phone")) } th { (t(l, "consent")) } }
                    @for ct in &b.contacts {
                        tr { td { (ct.contact_id) } td { (ct.relation) } td { (ct.name) } td { (ct.phone) }
                             td { @if ct.consent { "✓" } @else { "—" } } }
                    }
                }
            }
            @if !d.restrictions.is_empty() {
                h2 { (t(l, "restrictions")) }
                table #restrictions {
                    @for r in &d.restrictions {
                        tr { td.refused { (r.kind) @if let Some(c) = &r.contact_id { " · " (c) } } td {
                            (r.channel.as_deref().unwrap_or("")) " " (r.address.as_deref().unwrap_or(""))
                            (r.from.as_deref().map(|f| format!(" {f}–{}", r.to.as_deref().unwrap_or(""))).unwrap_or_default())
                            (r.attorney_name.as_deref().unwrap_or(""))
                            (r.cease_on.map(|d| format!(" {d}")).unwrap_or_default())
                        } td.muted { (r.recorded_on) " · " (r.note) } }
                    }
                }
            }
            @if !d.ability.is_empty() {
                h2 { (t(l, "ability")) }
                table #ability {
                    @for a in &d.ability {
                        tr { th { (if l == Lang::En { a.code } else { a.name_zh }) }
                             td.num { @match (&a.value, &a.missing) {
                                 (Some(v), _) => (v),
                                 (None, Some((zh, en))) => span.muted { (if l == Lang::En { en } else { zh }) },
                                 (None, None) => "-",
                             } }
                             td.muted { (a.formula) br; (a.inputs.join("; ")) } }
                    }
                }
            }
            h2 { (t(l, "scores_alerts")) }
            @if !d.scores.is_empty() {
                table #scores {
                    @for sc in &d.scores {
                        tr {
                            th { (if sc.kind == "roll" { t(l, "score_roll") } else { t(l, "score_ptp") }) }
                            td.num { (format!("{}.{}%", sc.probability_ppm / 10_000, (sc.probability_ppm % 10_000) / 1_000)) }
                            td.num { (sc.points) " " (t(l, "points")) }
                            td.muted { (sc.reasons) " · " (sc.business_date) }
                        }
                    }
                }
            }
            @if d.alerts.is_empty() {
                p.muted { (t(l, "none")) }
            } @else {
                table #alerts {
                    tr { th { (t(l, "rule")) } th { (t(l, "severity")) } th { (t(l, "values")) } th { (t(l, "date")) } th { (t(l, "status")) } }
                    @for a in &d.alerts {
                        tr { td { (a.rule_id) } td { span class={ "badge " (a.severity) } { (a.severity) } }
                             td { (a.values) } td { (a.raised_on) } td { (a.status) } }
                    }
                }
            }
        }
    }
}

fn dpd_chart(l: Lang, d: &CaseDetail) -> Markup {
    // Snapshots are stored on change only: carry each loan's DPD forward across the dates.
    let mut dates: Vec<chrono::NaiveDate> = d.dpd_history.iter().map(|(_, day, _)| *day).collect();
    dates.sort();
    dates.dedup();
    let mut loans: Vec<&str> = d.dpd_history.iter().map(|(loan, _, _)| loan.as_str()).collect();
    loans.dedup();
    let series: Vec<(String, Vec<i64>)> = loans
        .iter()
        .map(|loan| {
            let mut last = 0;
            let points: Vec<(chrono::NaiveDate, i64)> = d
                .dpd_history
                .iter()
                .filter(|(id, _, _)| id == loan)
                .map(|(_, day, dpd)| (*day, *dpd))
                .collect();
            let values = dates
                .iter()
                .map(|day| {
                    if let Some((_, v)) = points.iter().rev().find(|(p, _)| p <= day) {
                        last = *v;
                    }
                    last
                })
                .collect();
            (loan.to_string(), values)
        })
        .collect();
    let labels: Vec<String> = dates.iter().map(|d| d.to_string()).collect();
    svg(chart::lines("dpd-chart", t(l, "dpd_history"), &labels, &series))
}

fn loans(l: Lang, d: &CaseDetail) -> Markup {
    html! {
        section.card #loans {
            h2 { (t(l, "loans")) }
            table {
                tr { th { "loan" } th { (t(l, "product")) } th.num { (t(l, "principal")) } th.num { (t(l, "outstanding")) }
                     th.num { (t(l, "overdue")) } th.num { (t(l, "dpd")) } th { (t(l, "bucket")) } th { (t(l, "five_class")) } th { (t(l, "status")) } }
                @for v in &d.loan_details {
                    tr { td { (v.loan_id) } td { (v.product) " · " (v.method) } td.num { (v.currency) " " (v.principal) }
                         td.num { (v.outstanding_principal) } td.num { (v.overdue.total) } td.num { (v.dpd) }
                         td { (v.bucket) } td { (v.five_class) } td { (v.status) } }
                }
            }
            @for v in &d.loan_details {
                details {
                    summary { (t(l, "schedule")) " · " (v.loan_id) }
                    table.schedule {
                        tr { th.num { (t(l, "seq")) } th { (t(l, "due_on")) } th.num { (t(l, "principal")) } th.num { (t(l, "interest")) }
                             th.num { (t(l, "fee")) } th.num { (t(l, "paid")) } }
                        @for i in &v.installments {
                            tr { td.num { (i.seq) } td { (i.due_on) } td.num { (i.principal) } td.num { (i.interest) } td.num { (i.fee) }
                                 td.num { (i.paid_principal) " / " (i.paid_interest) } }
                        }
                    }
                    h2 { (t(l, "payments")) }
                    table.payments {
                        tr { th { (t(l, "date")) } th.num { (t(l, "amount")) } th { (t(l, "channel")) } }
                        @for p in &v.payments {
                            tr { td { (p.paid_on) } td.num { (p.amount) } td { (p.channel) } }
                        }
                    }
                }
            }
        }
    }
}

const CHANNELS: [&str; 6] = ["call", "sms", "email", "voice_bot", "letter", "visit"];

fn action_form(l: Lang, u: &User, d: &CaseDetail, form: Option<&ActionForm>) -> Markup {
    let chosen = |v: Option<&str>, x: &str| v == Some(x);
    html! {
        section.card #log-action {
            h2 { (t(l, "log_action")) }
            form.inline #action-form method="post" action={ "/cases/" (d.case.case_id) "/actions" } {
                (csrf_field(u))
                label { (t(l, "channel"))
                    select #channel name="channel" {
                        @for ch in CHANNELS { option value=(ch) selected[chosen(form.map(|f| f.channel.as_str()), ch)] { (ch) } }
                    }
                }
                label { (t(l, "party"))
                    select #party name="party" {
                        option value="borrower" { "borrower · " (d.case.borrower_name) }
                        @if let Some(b) = &d.borrower {
                            @for ct in &b.contacts {
                                option value=(ct.contact_id) selected[chosen(form.map(|f| f.party.as_str()), &ct.contact_id)] {
                                    (ct.relation) " · " (ct.name)
                                }
                            }
                        }
                    }
                }
                label { (t(l, "outcome"))
                    select #outcome name="outcome" {
                        @for o in arrears_app::actions::OUTCOMES { option value=(o) selected[chosen(form.map(|f| f.outcome.as_str()), o)] { (o) } }
                    }
                }
                span #ptp-fields {
                    label { (t(l, "ptp_amount")) input #ptp-amount name="ptp_amount" inputmode="decimal"; }
                    label { (t(l, "ptp_date")) input #ptp-date name="ptp_date" type="date"; }
                }
                label { (t(l, "purpose"))
                    select #purpose name="purpose" {
                        option value="" { "—" }
                        @for p in ["collect", "locate", "notice"] {
                            option value=(p) selected[chosen(form.and_then(|f| f.purpose.as_deref()), p)] { (p) }
                        }
                    }
                }
                label { (t(l, "note")) input #note name="note" size="40" value=(form.map_or("", |f| f.note.as_str())); }
                label { (t(l, "at_optional"))
                    input #at name="at" size="26" placeholder="2026-11-30T10:15:00+08:00"
                        value=(form.and_then(|f| f.at.as_deref()).unwrap_or(""));
                }
                button.primary #save-action type="submit" { (t(l, "save")) }
            }
        }
    }
}

fn history(l: Lang, d: &CaseDetail) -> Markup {
    html! {
        section.card {
            h2 { (t(l, "history")) }
            table #history {
                tr { th { (t(l, "at")) } th { (t(l, "channel")) } th { (t(l, "party")) } th { (t(l, "outcome")) }
                     th { (t(l, "collector")) } th { (t(l, "note")) } th { (t(l, "policy")) } }
                @for a in d.case.actions.iter().rev() {
                    tr.action {
                        td { (a.at) } td { (a.channel) } td { (a.party) } td.outcome { (a.outcome.as_deref().unwrap_or("")) }
                        td { (a.actor) } td { (a.note) }
                        td { @if a.allowed { (t(l, "allowed")) } @else { span.refused { (a.policy) } } }
                    }
                }
            }
        }
    }
}

fn messages(l: Lang, d: &CaseDetail) -> Markup {
    html! {
        section.card {
            h2 { (t(l, "messages")) }
            table #messages {
                tr { th { (t(l, "at")) } th { (t(l, "channel")) } th { (t(l, "template")) } th { (t(l, "status")) }
                     th { (t(l, "delivered_at")) } th { (t(l, "text")) } th { (t(l, "reason")) } }
                @for m in d.case.messages.iter().rev() {
                    tr.message {
                        td { (m.sent_at.as_deref().unwrap_or(&m.send_at)) } td { (m.channel) } td { (m.template) }
                        td.status { (m.status.as_str()) } td { (m.delivered_at.as_deref().unwrap_or("")) }
                        td { (m.body) } td { (m.error) }
                    }
                }
            }
        }
    }
}

fn promises(l: Lang, d: &CaseDetail) -> Markup {
    html! {
        section.card {
            h2 { (t(l, "promises")) }
            table #promises {
                tr { th { (t(l, "date")) } th { (t(l, "due_on")) } th.num { (t(l, "amount")) } th { (t(l, "status")) } }
                @for p in &d.case.ptps {
                    tr { td { (p.promised_on) } td { (p.due_on) } td.num { (p.currency) " " (p.amount) } td { (p.status) } }
                }
            }
            @if !d.arrangements.is_empty() {
                h2 { (t(l, "arrangement")) }
                table #arrangements {
                    @for r in &d.arrangements {
                        tr { td { (r.kind) } td.num { (r.currency) " " (money(&r.currency, r.amount)) } td { (r.months.map_or(String::new(), |m| m.to_string())) } td { (r.status) } td { (r.note) } }
                    }
                }
            }
        }
    }
}

fn tasks(l: Lang, d: &CaseDetail) -> Markup {
    html! {
        section.card {
            h2 { (t(l, "tasks")) }
            table #tasks {
                tr { th { (t(l, "date")) } th { (t(l, "step")) } th { (t(l, "kind")) } th { (t(l, "status")) } th { (t(l, "collector")) } }
                @for tk in d.case.tasks.iter().take(30) {
                    tr { td { (tk.created_on) } td { (tk.step) } td { (tk.kind) } td { (tk.status) } td { (tk.collector_id.as_deref().unwrap_or("-")) } }
                }
            }
        }
    }
}

fn arrangement_form(l: Lang, u: &User, d: &CaseDetail) -> Markup {
    html! {
        section.card {
            h2 { (t(l, "arrangement")) }
            form.inline #arrangement-form method="post" action={ "/cases/" (d.case.case_id) "/arrangements" } {
                (csrf_field(u))
                label { (t(l, "kind"))
                    select name="kind" { @for k in arrears_app::arrangements::KINDS { option value=(k) { (k) } } }
                }
                label { (t(l, "amount")) input name="amount" inputmode="decimal" required; }
                label { (t(l, "months")) input name="months" inputmode="numeric"; }
                label { (t(l, "note")) input name="note" size="30"; }
                button.primary type="submit" { (t(l, "request")) }
            }
        }
    }
}

fn legal_form(l: Lang, u: &User, d: &CaseDetail) -> Markup {
    html! {
        section.card {
            h2 { (t(l, "refer_to_legal")) }
            form.inline #legal-form method="post" action={ "/cases/" (d.case.case_id) "/legal" } {
                (csrf_field(u))
                label { (t(l, "firm")) input #firm name="firm" required; }
                label { (t(l, "lawyer")) input #lawyer name="lawyer" required; }
                button.primary #open-legal type="submit" { (t(l, "refer_to_legal")) }
            }
        }
    }
}

fn write_off_form(l: Lang, u: &User, d: &CaseDetail) -> Markup {
    html! {
        section.card {
            h2 { (t(l, "write_off_request")) }
            form.inline #write-off-form method="post" action={ "/cases/" (d.case.case_id) "/write-offs" } {
                (csrf_field(u))
                label { (t(l, "loan"))
                    select name="loan" { @for lv in &d.case.loans { option value=(lv.loan_id) { (lv.loan_id) } } }
                }
                label { (t(l, "amount_all_if_blank")) input name="amount" inputmode="decimal"; }
                label { input type="checkbox" name="reverse" value="1"; " " (t(l, "reverse_write_off")) }
                label { (t(l, "note")) input name="note" size="30" required; }
                button.primary #request-write-off type="submit" { (t(l, "request")) }
            }
        }
    }
}

#[derive(Deserialize)]
struct WriteOffPost {
    csrf: String,
    #[serde(flatten)]
    form: service::WriteOffForm,
}

async fn write_off(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Path(case_id): Path<String>,
    Form(p): Form<WriteOffPost>,
) -> PageResult {
    u.check_csrf(&p.csrf)?;
    match service::request_write_off(&state, &u, &case_id, p.form).await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{case_id}?done=requested")).into_response()),
        Err(e @ Error::BadRequest(_)) => {
            let d = service::case_detail(&state, &u, &case_id).await?;
            Ok((e.status(), case_page(&u, &d, Some(&Flash::Error(e.to_string())), None)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct LegalPost {
    csrf: String,
    firm: String,
    lawyer: String,
}

async fn open_legal(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Path(case_id): Path<String>,
    Form(p): Form<LegalPost>,
) -> PageResult {
    u.check_csrf(&p.csrf)?;
    match service::open_legal(&state, &u, &case_id, p.firm.trim(), p.lawyer.trim()).await {
        Ok(id) => Ok(Redirect::to(&format!("/legal?done={id}")).into_response()),
        Err(e @ Error::BadRequest(_)) => {
            let d = service::case_detail(&state, &u, &case_id).await?;
            Ok((e.status(), case_page(&u, &d, Some(&Flash::Error(e.to_string())), None)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ActionPost {
    csrf: String,
    #[serde(flatten)]
    form: ActionForm,
}

async fn log_action(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Path(case_id): Path<String>,
    Form(p): Form<ActionPost>,
) -> PageResult {
    u.check_csrf(&p.csrf)?;
    let form = p.form.clone();
    match service::log_action(&state, &u, &case_id, p.form).await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{case_id}?done=logged")).into_response()),
        Err(e @ (Error::Refused { .. } | Error::BadRequest(_))) => {
            let l = l_of(&u);
            let msg = match &e {
                Error::Refused { .. } => format!("{}\n{e}", t(l, "refused_title")),
                _ => e.to_string(),
            };
            let d = service::case_detail(&state, &u, &case_id).await?;
            Ok((e.status(), case_page(&u, &d, Some(&Flash::Error(msg)), Some(&form))).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
struct ArrangementPost {
    csrf: String,
    #[serde(flatten)]
    form: ArrangementForm,
}

async fn arrangement(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Path(case_id): Path<String>,
    Form(p): Form<ArrangementPost>,
) -> PageResult {
    u.check_csrf(&p.csrf)?;
    match service::request_arrangement(&state, &u, &case_id, p.form).await {
        Ok(_) => Ok(Redirect::to(&format!("/cases/{case_id}?done=requested")).into_response()),
        Err(e @ Error::BadRequest(_)) => {
            let d = service::case_detail(&state, &u, &case_id).await?;
            Ok((e.status(), case_page(&u, &d, Some(&Flash::Error(e.to_string())), None)).into_response())
        }
        Err(e) => Err(e.into()),
    }
}

async fn evidence(
    State(state): State<AppState>,
    PageUser(u): PageUser,
    Path(case_id): Path<String>,
) -> PageResult {
    let bytes = service::evidence(&state, &u, &case_id).await?;
    Ok(crate::api::zip_response(&case_id, bytes))
}
