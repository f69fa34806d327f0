//! The shapes of the `/query` answer: time series and tables, as the plugin reads them.

use serde::Serialize;
use serde_json::Value;

use crate::dispatch::teams::Teams;

/// The `teams` table: one row per team (or owner), the columns named as the API's.
pub fn teams_table(ref_id: &str, teams: &Teams) -> Frame {
    const COLUMNS: [(&str, &str); 12] = [
        ("name", "string"),
        ("open", "number"),
        ("open_within", "number"),
        ("open_at_risk", "number"),
        ("open_breached", "number"),
        ("open_unknown", "number"),
        ("closed", "number"),
        ("closed_met", "number"),
        ("closed_breached", "number"),
        ("closed_unknown", "number"),
        ("avg_mttr_minutes", "number"),
        ("closure_rate", "number"),
    ];
    let rows = teams
        .rows
        .iter()
        .map(|r| {
            let v = serde_json::to_value(r).unwrap_or_default();
            COLUMNS.iter().map(|(c, _)| v[*c].clone()).collect()
        })
        .collect();
    Frame::table(ref_id, &COLUMNS, rows)
}

/// One element of the `/query` answer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Frame {
    Series {
        target: String,
        #[serde(rename = "refId")]
        ref_id: String,
        /// `[value, epoch milliseconds]`; a null value is a gap.
        datapoints: Vec<(Value, i64)>,
    },
    Table {
        /// Always `table`.
        #[serde(rename = "type")]
        kind: &'static str,
        #[serde(rename = "refId")]
        ref_id: String,
        columns: Vec<Column>,
        rows: Vec<Vec<Value>>,
    },
}

/// A table column: its name and Grafana field type (`time`, `number`, `string`).
#[derive(Debug, Serialize)]
pub struct Column {
    pub text: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl Frame {
    pub fn table(ref_id: &str, columns: &[(&str, &'static str)], rows: Vec<Vec<Value>>) -> Frame {
        Frame::Table {
            kind: "table",
            ref_id: ref_id.to_owned(),
            columns: columns
                .iter()
                .map(|&(text, kind)| Column {
                    text: text.to_owned(),
                    kind,
                })
                .collect(),
            rows,
        }
    }
}
