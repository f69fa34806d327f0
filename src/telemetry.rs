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

/// An error and its causes on one line, each said once: a cause whose text its wrapper
/// already carries (`"database: {0}"`, sqlx repeating its message) is not repeated.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut next = Some(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("bucket: {0}")]
        Carried(#[source] std::io::Error),
        #[error("cannot read the snapshot")]
        Hidden(#[source] std::io::Error),
    }

    #[test]
    fn a_chain_says_each_cause_once() {
        let io = || std::io::Error::other("connection reset");
        assert_eq!(
            super::chain(&Outer::Carried(io())),
            "bucket: connection reset"
        );
        assert_eq!(
            super::chain(&Outer::Hidden(io())),
            "cannot read the snapshot: connection reset"
        );
    }
}
