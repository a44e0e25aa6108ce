//! arrears-server: the JSON API under `/api/v1` (with its OpenAPI document) and the
//! collector and manager workbench, both over the same use cases as the command line.
//!
//! Every request that reads or changes a case goes through [`service`], which asks
//! `arrears_core::access` whether the person may; the API and the pages only translate.
#![forbid(unsafe_code)]

pub mod api;
mod assets;
pub mod auth;
mod chart;
mod error;
pub mod i18n;
pub mod openapi;
mod pages;
mod security;
pub mod service;
mod state;

use std::net::SocketAddr;

use axum::Router;

pub use error::Error;
pub use state::{AppState, ServerConfig};

/// The whole application: API, pages, static assets and the security middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::router())
        .merge(pages::router())
        .merge(assets::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::headers))
        .with_state(state)
}

/// Serves until Ctrl-C (or SIGTERM); prints the address it listens on.
pub async fn serve(state: AppState, addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("arrears serving on http://{local}/");
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
