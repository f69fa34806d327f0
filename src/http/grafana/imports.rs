//! The `imports` metric: one Grafana annotation per import run (`tickets.import_meta`)
//! that finished in the range, as a table whose column names are the ones Grafana maps
//! to annotation fields (`time`, `title`, `text`, `tags`).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgPool;

use super::frame::Frame;

#[derive(Debug, sqlx::FromRow)]
pub struct ImportRun {
    pub source_key: String,
    pub outcome: String,
    pub rows_read: i64,
    pub rows_kept: i64,
    pub inserted: i64,
    pub updated: i64,
    pub skipped_older: i64,
    pub warnings: i64,
    pub truncated: bool,
    pub error: Option<String>,
    pub finished_at: DateTime<Utc>,
}

/// The runs that finished in `[from, to)`, oldest first.
pub async fn runs(
    pool: &PgPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<ImportRun>> {
    sqlx::query_as(
        "SELECT source_key, outcome, rows_read, rows_kept, inserted, updated, skipped_older,
                warnings, truncated, error, finished_at
         FROM tickets.import_meta
         WHERE finished_at >= $1 AND finished_at < $2
         ORDER BY finished_at, id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

impl ImportRun {
    /// `rows read/kept, new/updated, warnings`, then the truncation and the error.
    pub fn text(&self) -> String {
        let mut text = format!(
            "{}: {} rows read, {} kept; {} new, {} updated, {} kept as newer; {} warnings",
            self.source_key,
            self.rows_read,
            self.rows_kept,
            self.inserted,
            self.updated,
            self.skipped_older,
            self.warnings,
        );
        if self.truncated {
            text.push_str("; truncated (the export ended in EXPORT STOPPED)");
        }
        if let Some(error) = &self.error {
            text.push_str("; error: ");
            text.push_str(error);
        }
        text
    }

    /// `import,<outcome>` and `truncated` when it was.
    pub fn tags(&self) -> String {
        let mut tags = format!("import,{}", self.outcome);
        if self.truncated {
            tags.push_str(",truncated");
        }
        tags
    }
}

pub fn frame(ref_id: &str, runs: &[ImportRun]) -> Frame {
    Frame::table(
        ref_id,
        &[
            ("time", "time"),
            ("title", "string"),
            ("text", "string"),
            ("tags", "string"),
        ],
        runs.iter()
            .map(|r| {
                vec![
                    json!(r.finished_at.timestamp_millis()),
                    json!(r.outcome),
                    json!(r.text()),
                    json!(r.tags()),
                ]
            })
            .collect(),
    )
}
