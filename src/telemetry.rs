//! Logging: `RUST_LOG` filters (default `info`, sqlx's notices at `warn`); logs go to
//! stderr, as text (colours only on a terminal) or, with `LOG_FORMAT=json`, one JSON
//! object a line for log shippers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
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
