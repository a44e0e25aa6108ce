//! The JSON API under `/api/v1`. [`ROUTES`] lists every route once: the router, the
//! OpenAPI document and the route × role test all read it.

use arrears_core::access::Capability;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{self, ApiUser, CSRF_HEADER, ClientAddr, User};
use crate::error::{ApiError, Error};
use crate::service::{self, ActionForm, ArrangementForm, UserForm};
use crate::state::AppState;

/// One API route as documented.
#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    /// GET or POST.
    pub method: &'static str,
    /// Path with `{param}` placeholders.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// What the role needs; `None` for routes open to anyone (or to any logged-in user).
    pub capability: Option<Capability>,
    /// Whether a session is needed.
    pub auth: bool,
    /// The request body's schema name in the OpenAPI document, if any.
    pub body: Option<&'static str>,
    /// The status of success.
    pub ok: u16,
}

const fn r(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    capability: Option<Capability>,
    body: Option<&'static str>,
    ok: u16,
) -> RouteDoc {
    RouteDoc { method, path, summary, capability, auth: true, body, ok }
}

/// Every API route.
pub const ROUTES: &[RouteDoc] = &[
    r(
        "POST",
        "/api/v1/payments",
        "Book a payment (service accounts, Authorization: Bearer KEY): 201 new, 200 the same again, 409 the id taken by another",
        Some(Capability::BookPayments),
        Some("Payment"),
        201,
    ),
    r(
        "POST",
        "/api/v1/payments/batch",
        "Book up to 10,000 payments all or nothing ({\"payments\": [...]}): 200 with each new or the same again; 422 or 409 listing the refused ones by index, nothing booked",
        Some(Capability::BookPayments),
        Some("PaymentBatch"),
        200,
    ),
    RouteDoc {
        method: "POST",
        path: "/api/v1/login",
        summary: "Log in: sets the session cookie, answers the CSRF token",
        capability: None,
        auth: false,
        body: Some("Login"),
        ok: 200,
    },
    r("POST", "/api/v1/logout", "Log out: ends the session", None, None, 204),
    r("GET", "/api/v1/me", "The logged-in user and the CSRF token", None, None, 200),
    r(
        "GET",
        "/api/v1/queue",
        "My queue for today, highest priority first",
        Some(Capability::WorkQueue),
        None,
        200,
    ),
    r(
        "GET",
        "/api/v1/cases",
        "Cases I may see (?status=open|closed)",
        Some(Capability::ViewCases),
        None,
        200,
    ),
    r(
        "GET",
        "/api/v1/cases/{case_id}",
        "A case: borrower (masked), loans, promises, tasks, actions, alerts",
        Some(Capability::ViewCases),
        None,
        200,
    ),
    r(
        "POST",
        "/api/v1/cases/{case_id}/actions",
        "Log a contact (contact policy and content rules first)",
        Some(Capability::WorkCases),
        Some("Action"),
        201,
    ),
    r(
        "POST",
        "/api/v1/cases/{case_id}/arrangements",
        "Request an extension, instalment plan or settlement",
        Some(Capability::WorkCases),
        Some("Arrangement"),
        201,
    ),
    r(
        "POST",
        "/api/v1/cases/{case_id}/assign",
        "Move a case to a collector",
        Some(Capability::AssignCases),
        Some("Assign"),
        200,
    ),
    r(
        "GET",
        "/api/v1/cases/{case_id}/evidence",
        "The case's evidence package (zip)",
        Some(Capability::Evidence),
        None,
        200,
    ),
    r(
        "GET",
        "/api/v1/loans/{loan_id}",
        "A loan as of a date (?date=YYYY-MM-DD), DESIGN.md's contract",
        Some(Capability::ViewCases),
        None,
        200,
    ),
    r(
        "GET",
        "/api/v1/figures",
        "Portfolio, roll rates, trends, collectors, agencies, arms, queue health",
        Some(Capability::ViewFigures),
        None,
        200,
    ),
    r("GET", "/api/v1/alerts", "Open early-warning alerts", Some(Capability::ViewAlerts), None, 200),
    r(
        "GET",
        "/api/v1/audit/verify",
        "Recompute the audit log and its checkpoints",
        Some(Capability::Audit),
        None,
        200,
    ),
    r(
        "GET",
        "/api/v1/audit/entries/{seq}",
        "An audit entry with its inclusion proof",
        Some(Capability::Audit),
        None,
        200,
    ),
    r("GET", "/api/v1/users", "Users and roles", Some(Capability::ManageUsers), None, 200),
    r("POST", "/api/v1/users", "Create a user", Some(Capability::ManageUsers), Some("User"), 201),
    r(
        "POST",
        "/api/v1/collectors",
        "Add or update a collector",
        Some(Capability::ManageUsers),
        Some("Collector"),
        200,
    ),
    r(
        "POST",
        "/api/v1/agencies",
        "Add or update an agency",
        Some(Capability::ManageUsers),
        Some("Agency"),
        200,
    ),
    r(
        "POST",
        "/api/v1/strategies/check",
        "Check (and with ?install=true install) a strategy",
        Some(Capability::ManageStrategies),
        Some("Strategy"),
        200,
    ),
    RouteDoc {
        method: "POST",
        path: "/api/v1/channels/{provider}/receipts",
        summary: "A provider's delivery receipts; authenticated by the provider's receipt token (?token=), not a session",
        capability: None,
        auth: false,
        body: None,
        ok: 200,
    },
    RouteDoc {
        method: "GET",
        path: "/api/openapi.json",
        summary: "This document",
        capability: None,
        auth: false,
        body: None,
        ok: 200,
    },
];

/// The API's routes, made from [`ROUTES`] so that nothing is routed that is not documented.
pub fn router() -> Router<AppState> {
    ROUTES.iter().fold(Router::new(), |router, r| router.route(r.path, handler(r.method, r.path)))
}

/// The handler of a documented route. A route in [`ROUTES`] without one is a programming
/// error that the first test (and the first start) reports.
fn handler(method: &str, path: &str) -> MethodRouter<AppState> {
    match (method, path) {
        ("POST", "/api/v1/login") => post(login),
        ("POST", "/api/v1/channels/{provider}/receipts") => post(receipts),
        ("POST", "/api/v1/logout") => post(logout),
        ("GET", "/api/v1/me") => get(me),
        ("GET", "/api/v1/queue") => get(queue),
        ("GET", "/api/v1/cases") => get(cases),
        ("GET", "/api/v1/cases/{case_id}") => get(case),
        ("POST", "/api/v1/cases/{case_id}/actions") => post(log_action),
        ("POST", "/api/v1/cases/{case_id}/arrangements") => post(arrangement),
        ("POST", "/api/v1/cases/{case_id}/assign") => post(assign),
        ("GET", "/api/v1/cases/{case_id}/evidence") => get(evidence),
        ("GET", "/api/v1/loans/{loan_id}") => get(loan),
        ("GET", "/api/v1/figures") => get(figures),
        ("GET", "/api/v1/alerts") => get(alerts),
        ("GET", "/api/v1/audit/verify") => get(verify),
        ("GET", "/api/v1/audit/entries/{seq}") => get(entry),
        ("GET", "/api/v1/users") => get(users),
        ("POST", "/api/v1/users") => post(add_user),
        ("POST", "/api/v1/collectors") => post(save_collector),
        ("POST", "/api/v1/agencies") => post(save_agency),
        ("POST", "/api/v1/strategies/check") => post(check_strategy),
        ("POST", "/api/v1/payments") => post(book_payment),
        // 10,000 payments of about 150 bytes each are more than axum's 2 MB default.
        ("POST", "/api/v1/payments/batch") => {
            post(book_payments).layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
        }
        ("GET", "/api/openapi.json") => get(openapi),
        _ => panic!("API route {method} {path} is documented but has no handler"),
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Changing calls carry the session's CSRF token in a header, so that a page on another
/// site cannot make the browser call us with the user's cookie.
fn csrf(user: &User, headers: &HeaderMap) -> Result<(), Error> {
    let sent = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    user.check_csrf(sent)
}

#[derive(Deserialize)]
struct LoginBody {
    name: String,
    password: String,
    #[serde(default)]
    lang: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Json(b): Json<LoginBody>,
) -> ApiResult<Response> {
    let device = auth::cookie(&headers, auth::DEVICE_COOKIE);
    let s =
        auth::login(&state, &b.name, &b.password, &client, device, b.lang.as_deref().unwrap_or("zh")).await?;
    let cookie =
        auth::set_cookie(&state, auth::SESSION_COOKIE, &s.token, state.0.config.session_hours * 3600);
    let device = auth::set_cookie(&state, auth::DEVICE_COOKIE, &s.device, 365 * 24 * 3600);
    Ok((
        axum::response::AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, device)]),
        Json(json!({ "role": s.role.as_str(), "csrf_token": s.csrf })),
    )
        .into_response())
}

/// A provider's receipts, checked as the provider signs them (a receipt token in the URL,
/// or a signature header over the URL and the form).
async fn receipts(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    headers: HeaderMap,
    body: String,
) -> ApiResult<Json<arrears_app::channels::receipts::ReceiptReport>> {
    let signature = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
    let report =
        service::receipts(&state, &provider, query.as_deref().unwrap_or(""), signature, &body).await?;
    Ok(Json(report))
}

async fn logout(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
) -> ApiResult<Response> {
    csrf(&u, &headers)?;
    auth::logout(&state, &u).await?;
    let cookie = auth::set_cookie(&state, auth::SESSION_COOKIE, "", 0);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

async fn book_payment(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    Json(p): Json<arrears_app::payments::PaymentIn>,
) -> ApiResult<Response> {
    csrf(&u, &headers)?;
    let (new, booked) = service::book_payment(&state, &u, &p).await?;
    let status = if new { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(booked)).into_response())
}

#[derive(Deserialize)]
struct PaymentBatch {
    payments: Vec<arrears_app::payments::PaymentIn>,
}

async fn book_payments(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    Json(batch): Json<PaymentBatch>,
) -> ApiResult<Response> {
    use arrears_app::payments::BookError;
    csrf(&u, &headers)?;
    match service::book_payments(&state, &u, &batch.payments).await? {
        Ok(booked) => {
            let created = booked.iter().filter(|(new, _)| *new).count();
            let payments: Vec<_> = booked
                .into_iter()
                .map(|(new, p)| json!({ "status": if new { 201 } else { 200 }, "payment": p }))
                .collect();
            let body =
                json!({ "created": created, "repeated": payments.len() - created, "payments": payments });
            Ok((StatusCode::OK, Json(body)).into_response())
        }
        Err(rejected) => {
            // A wrong field is the sender's to fix (422); only ids taken by other payments: 409.
            let conflict = rejected.iter().all(|r| matches!(r.error, BookError::Conflict { .. }));
            let (status, code) = if conflict {
                (StatusCode::CONFLICT, "conflict")
            } else {
                (StatusCode::UNPROCESSABLE_ENTITY, "bad_request")
            };
            let list: Vec<_> = rejected
                .iter()
                .map(|r| {
                    let field = match &r.error {
                        BookError::Field { field, .. } | BookError::Conflict { field, .. } => Some(*field),
                        BookError::Payment(_) => None,
                    };
                    json!({ "index": r.index, "payment_id": r.payment_id, "field": field, "message": r.error.to_string() })
                })
                .collect();
            let message = format!(
                "{} of {} payments refused; nothing was booked (批次未入账): fix them and send the batch again",
                list.len(),
                batch.payments.len()
            );
            Ok((status, Json(json!({ "error": code, "message": message, "rejected": list }))).into_response())
        }
    }
}

async fn me(ApiUser(u): ApiUser) -> Json<service::Me> {
    Json(service::me(&u))
}

async fn queue(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
) -> ApiResult<Json<Vec<arrears_store::workbench::QueueLine>>> {
    Ok(Json(service::queue(&state, &u).await?))
}

#[derive(Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

async fn cases(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    Query(q): Query<StatusQuery>,
) -> ApiResult<Json<Vec<service::CaseItem>>> {
    let status = match q.status.as_deref() {
        Some(s) => Some(
            s.parse::<arrears_core::case::CaseStatus>()
                .map_err(|_| Error::BadRequest(format!("status {s:?}: use open, closed or void")))?,
        ),
        None => None,
    };
    Ok(Json(service::cases(&state, &u, status).await?))
}

async fn case(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    Path(case_id): Path<String>,
) -> ApiResult<Json<service::CaseDetail>> {
    Ok(Json(service::case_detail(&state, &u, &case_id).await?))
}

async fn log_action(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    Path(case_id): Path<String>,
    headers: HeaderMap,
    Json(f): Json<ActionForm>,
) -> ApiResult<Response> {
    csrf(&u, &headers)?;
    let row = service::log_action(&state, &u, &case_id, f).await?;
    Ok((StatusCode::CREATED, Json(row)).into_response())
}

async fn arrangement(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    Path(case_id): Path<String>,
    headers: HeaderMap,
    Json(f): Json<ArrangementForm>,
) -> ApiResult<Response> {
    csrf(&u, &headers)?;
    let r = service::request_arrangement(&state, &u, &case_id, f).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "request_id": r.request_id, "kind": r.kind, "amount_minor": r.amount, "currency": r.currency,
                     "months": r.months, "status": r.status })),
    )
        .into_response())
}

#[derive(Deserialize)]
struct AssignBody {
    collector: String,
}

async fn assign(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    Path(case_id): Path<String>,
    headers: HeaderMap,
    Json(b): Json<AssignBody>,
) -> ApiResult<Json<serde_json::Value>> {
    csrf(&u, &headers)?;
    service::assign(&state, &u, &case_id, &b.collector).await?;
    Ok(Json(json!({ "case_id": case_id, "collector": b.collector })))
}

async fn evidence(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    Path(case_id): Path<String>,
) -> ApiResult<Response> {
    let bytes = service::evidence(&state, &u, &case_id).await?;
    Ok(zip_response(&case_id, bytes))
}

/// A zip download named after the case.
pub(crate) fn zip_response(case_id: &str, bytes: Vec<u8>) -> Response {
    let safe: String =
        case_id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"evidence-{safe}.zip\"")),
        ],
        bytes,
    )
        .into_response()
}

#[derive(Deserialize)]
struct DateQuery {
    date: Option<String>,
}

async fn loan(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    Path(loan_id): Path<String>,
    Query(q): Query<DateQuery>,
) -> ApiResult<Json<arrears_app::view::LoanView>> {
    let date = match q.date.as_deref() {
        Some(d) => Some(
            arrears_core::calendar::parse_iso_date(d)
                .ok_or_else(|| Error::BadRequest(format!("date {d:?} is not a date (YYYY-MM-DD)")))?,
        ),
        None => None::<NaiveDate>,
    };
    Ok(Json(service::loan(&state, &u, &loan_id, date).await?))
}

async fn figures(State(state): State<AppState>, ApiUser(u): ApiUser) -> ApiResult<Json<service::Figures>> {
    Ok(Json(service::figures(&state, &u).await?))
}

async fn alerts(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
) -> ApiResult<Json<Vec<arrears_store::workbench::AlertRow>>> {
    Ok(Json(service::alert_list(&state, &u).await?))
}

async fn verify(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
) -> ApiResult<Json<arrears_app::audit::VerifyReport>> {
    Ok(Json(service::verify(&state, &u).await?))
}

async fn entry(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    Path(seq): Path<String>,
) -> ApiResult<Json<arrears_app::audit::InclusionView>> {
    service::require(&u, Capability::Audit)?;
    let seq: u64 =
        seq.parse().map_err(|_| Error::BadRequest(format!("entry number {seq:?} is not a whole number")))?;
    Ok(Json(service::entry(&state, &u, seq).await?))
}

async fn users(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
) -> ApiResult<Json<Vec<arrears_app::personal::UserView>>> {
    Ok(Json(service::users(&state, &u).await?))
}

async fn add_user(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    Json(f): Json<UserForm>,
) -> ApiResult<Response> {
    csrf(&u, &headers)?;
    let made = service::add_user(&state, &u, &f).await?;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

async fn save_collector(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    Json(f): Json<service::CollectorForm>,
) -> ApiResult<Json<serde_json::Value>> {
    csrf(&u, &headers)?;
    service::save_collector(&state, &u, &f).await?;
    Ok(Json(json!({ "collector_id": f.collector_id.trim() })))
}

async fn save_agency(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    Json(f): Json<service::AgencyForm>,
) -> ApiResult<Json<serde_json::Value>> {
    csrf(&u, &headers)?;
    service::save_agency(&state, &u, &f).await?;
    Ok(Json(json!({ "agency_id": f.agency_id.trim() })))
}

#[derive(Deserialize)]
struct StrategyBody {
    text: String,
}

#[derive(Deserialize)]
struct InstallQuery {
    install: Option<bool>,
}

async fn check_strategy(
    State(state): State<AppState>,
    ApiUser(u): ApiUser,
    headers: HeaderMap,
    Query(q): Query<InstallQuery>,
    Json(b): Json<StrategyBody>,
) -> ApiResult<Json<service::StrategyCheck>> {
    csrf(&u, &headers)?;
    Ok(Json(service::check_strategy(&state, &u, &b.text, q.install.unwrap_or(false)).await?))
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}
