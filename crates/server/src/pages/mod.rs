//! The HTML workbench: server-rendered pages with plain forms (each carrying the session's
//! CSRF token), inline SVG charts and one small script.

pub mod layout;
mod manage;
mod work;

use axum::Router;

use crate::state::AppState;

/// Every page route.
pub fn router() -> Router<AppState> {
    work::router().merge(manage::router()).merge(manage::resolutions())
}
