//! The frame every page shares: header with the role's navigation, language switch and
//! logout; flash messages; the error page.

use arrears_core::access::Capability;
use axum::http::StatusCode;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::auth::User;
use crate::i18n::{Lang, t};

/// The language of a page: the session's, else the `arrears_lang` cookie's, else Chinese.
pub fn lang_of(user: Option<&User>, cookie: Option<&str>) -> Lang {
    match user {
        Some(u) => Lang::from_code(&u.lang),
        None => Lang::from_code(cookie.unwrap_or("zh")),
    }
}

/// A message shown above the page's content.
pub enum Flash {
    /// Something was done.
    Ok(String),
    /// Something was refused or wrong.
    Error(String),
}

/// A whole page.
pub fn page(l: Lang, user: Option<&User>, title: &str, flash: Option<&Flash>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t(l, "app")) }
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/" { (t(l, "app")) }
                    @if let Some(u) = user {
                        nav {
                            @if u.role.can(Capability::WorkQueue) { a #nav-queue href="/queue" { (t(l, "queue")) } " " }
                            @if u.role.can(Capability::ViewCases) { a #nav-cases href="/cases" { (t(l, "cases")) } " " }
                            @if u.role.can(Capability::ViewFigures) { a #nav-dashboard href="/dashboard" { (t(l, "dashboard")) } " " }
                            @if u.role.can(Capability::Approve) { a #nav-approvals href="/approvals" { (t(l, "approvals")) } " " }
                            @if u.role.can(Capability::Approve) { a #nav-transfers href="/transfers" { (t(l, "transfers")) } " " }
                            @if u.role.can(Capability::LegalTrack) { a #nav-legal href="/legal" { (t(l, "legal_board")) } " " }
                            @if u.role.can(Capability::Audit) { a #nav-audit href="/audit" { (t(l, "audit")) } " " }
                            @if u.role.can(Capability::ManageUsers) || u.role.can(Capability::ManageStrategies) {
                                a #nav-admin href="/admin" { (t(l, "admin")) }
                            }
                        }
                    }
                    span.spacer {}
                    a #lang-switch href={ "/lang/" (if l == Lang::En { "zh" } else { "en" }) } { (t(l, "lang_switch")) }
                    @if let Some(u) = user {
                        span.muted #whoami { (u.name) " · " (u.role.as_str()) }
                        form method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(u.csrf);
                            button #logout type="submit" { (t(l, "logout")) }
                        }
                    }
                }
                main {
                    @match flash {
                        Some(Flash::Ok(m)) => div.flash.ok #flash-ok { (m) },
                        Some(Flash::Error(m)) => div.flash.error #flash-error role="alert" { (m) },
                        None => {},
                    }
                    (body)
                }
            }
        }
    }
}

/// A short page for an error (a missing session goes to the login page instead).
pub fn error_page(status: StatusCode, message: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head { meta charset="utf-8"; title { (status.as_u16()) " · arrears" } link rel="stylesheet" href="/static/app.css"; }
            body { main {
                h1 #error-status { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
                p #error-message { (message) }
                p { a href="/" { "← arrears" } }
            } }
        }
    }
}

/// The hidden CSRF field of a form.
pub fn csrf_field(u: &User) -> Markup {
    html! { input type="hidden" name="csrf" value=(u.csrf); }
}

/// Inline SVG made by [`crate::chart`] (already escaped there).
pub fn svg(s: String) -> Markup {
    PreEscaped(s)
}

/// Minor units shown in the currency's major units ("1234.50"); the bare number if the
/// currency is unknown.
pub fn money(currency: &str, minor: i64) -> String {
    arrears_core::Currency::from_code(currency)
        .map_or_else(|_| minor.to_string(), |c| arrears_core::Amount::from_minor(minor).format(c))
}

/// What a page handler answers.
pub type PageResult = Result<axum::response::Response, crate::error::PageError>;

/// The language of a logged-in user's pages.
pub fn l_of(u: &User) -> Lang {
    lang_of(Some(u), None)
}
