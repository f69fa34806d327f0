//! Logging: `RUST_LOG` filters (default `info`, sqlx at `warn`); logs go to
//! stderr, as text (colours only on a terminal) or, with `LOG_FORMAT=json`, one JSON
//! object a line for log shippers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// sqlx's slow-statement warnings (`sqlx::query`) print the whole statement: 3 KB of SQL
/// for an import's upsert, routinely over a second on a first load. Import and request
/// durations are in the logs and `/metrics` already; `RUST_LOG=...,sqlx::query=warn`
/// brings them back.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sqlx::query=error";

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match std::env::var("LOG_FORMAT").as_deref() {
        Ok("json") => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
        _ => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
