//! Cleaning one INC snapshot row by row, per `inc-csv.md`: columns matched by name,
//! drops counted, values normalised, unreadable values nulled and counted.

use csv::StringRecord;

use crate::ticket::columns::COLUMNS;
use crate::ticket::fields::Origin;
use crate::ticket::{values, CleanRow};

/// What a column of the file becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    TicketId,
    /// A declared field read from the snapshot: its index in `COLUMNS`.
    Field(usize),
    IsAlarm,
    /// The feed's point (the stored `latitude`/`longitude` are the geocoder's).
    Latitude,
    Longitude,
    /// Kept only inside `raw` (known raw-only columns and unknown extras alike).
    RawOnly,
    /// Dropped at ingest: stored nowhere.
    Dropped,
}

impl Column {
    fn from_name(name: &str) -> Column {
        match name {
            "ticket_id" => Column::TicketId,
            "is_alarm" => Column::IsAlarm,
            "latitude" => Column::Latitude,
            "longitude" => Column::Longitude,
            "week_start" | "week_end" | "source_s3_bucket" | "source_s3_key"
            | "source_snapshot_id" | "department" | "source_type" => Column::Dropped,
            _ => COLUMNS
                .iter()
                .position(|c| c.origin == Origin::Csv && c.name == name)
                .map_or(Column::RawOnly, Column::Field),
        }
    }
}

/// Why a whole file is refused. Nothing of a refused file is written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("{file}: the header has no `{column}` column")]
    MissingColumn { file: String, column: &'static str },
    #[error("{file}: line {line} has {found} fields where the header has {expected}")]
    FieldCount {
        file: String,
        line: u64,
        found: usize,
        expected: usize,
    },
    #[error("{file}: unreadable CSV near line {line}: {reason}")]
    Malformed {
        file: String,
        line: u64,
        reason: String,
    },
    #[error("{file}: the file is empty (no header)")]
    Empty { file: String },
}

/// The header of a snapshot: which column is what.
#[derive(Debug)]
pub struct Header {
    file: String,
    columns: Vec<Column>,
    /// `"name":` pre-encoded for `raw`, `None` for dropped columns.
    json_keys: Vec<Option<String>>,
}

impl Header {
    pub fn parse(file: &str, record: &StringRecord) -> Result<Header, FileError> {
        let names: Vec<String> = record
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').trim().to_lowercase())
            .collect();
        let columns: Vec<Column> = names.iter().map(|n| Column::from_name(n)).collect();
        if !columns.contains(&Column::TicketId) {
            return Err(FileError::MissingColumn {
                file: file.to_owned(),
                column: "ticket_id",
            });
        }
        let json_keys = names
            .iter()
            .zip(&columns)
            .map(|(name, col)| {
                (*col != Column::Dropped).then(|| {
                    let mut key = serde_json::to_string(name).expect("a string serialises");
                    key.push(':');
                    key
                })
            })
            .collect();
        Ok(Header {
            file: file.to_owned(),
            columns,
            json_keys,
        })
    }

    /// Cleans one data row; `line` is its line number in the file, for errors.
    pub fn clean(
        &self,
        record: &StringRecord,
        line: u64,
        stats: &mut RowStats,
    ) -> Result<Option<CleanRow>, FileError> {
        self.clean_as(record, line, stats, Cleaning::Full)
    }

    /// `clean`, with `raw` built or (`Cleaning::Typed`) left empty.
    pub fn clean_as(
        &self,
        record: &StringRecord,
        line: u64,
        stats: &mut RowStats,
        cleaning: Cleaning,
    ) -> Result<Option<CleanRow>, FileError> {
        let with_raw = cleaning == Cleaning::Full;
        stats.rows_read += 1;
        // The sentinel may be a short line, so it is recognised before the length check.
        if record
            .get(0)
            .is_some_and(|f| f.trim_start().starts_with("EXPORT STOPPED"))
        {
            stats.dropped_sentinel += 1;
            stats.truncated = true;
            return Ok(None);
        }
        if record.len() != self.columns.len() {
            return Err(FileError::FieldCount {
                file: self.file.clone(),
                line,
                found: record.len(),
                expected: self.columns.len(),
            });
        }
        let mut row = CleanRow::default();
        let mut is_alarm = None;
        // Warnings count only for rows that are kept.
        let mut warnings: Vec<(&'static str, String)> = Vec::new();
        let mut raw = String::new();
        if with_raw {
            raw.reserve(record.as_slice().len() + 24 * self.columns.len());
            raw.push('{');
        }
        for ((value, col), key) in record.iter().zip(&self.columns).zip(&self.json_keys) {
            let Some(key) = key else { continue };
            // A column kept only in `raw` is all text and no rule: nothing to do without it.
            if !with_raw && *col == Column::RawOnly {
                continue;
            }
            let text = non_empty(value);
            let stored: Option<String> = match (*col, text) {
                (_, None) => None,
                (Column::TicketId, Some(v)) => Some(v.trim().to_owned()),
                (Column::Field(i), Some(v)) => Some(COLUMNS[i].clean.apply(v)),
                (_, Some(v)) => Some(v.to_owned()),
            };
            if with_raw {
                if raw.len() > 1 {
                    raw.push(',');
                }
                raw.push_str(key);
                match &stored {
                    Some(v) => push_json_string(&mut raw, v),
                    None => raw.push_str("null"),
                }
            }
            let Some(v) = stored else { continue };
            let mut warn = |what: &'static str| warnings.push((what, v.clone()));
            match *col {
                Column::TicketId => row.ticket_id = v,
                Column::Field(i) => {
                    let column = &COLUMNS[i];
                    if !(column.read)(&mut row, &v) {
                        warn(column.name);
                    }
                }
                Column::IsAlarm => {
                    is_alarm = values::boolean(&v);
                    if is_alarm.is_none() {
                        warn("is_alarm");
                    }
                }
                Column::Latitude | Column::Longitude => {
                    let parsed = values::coordinate(&v);
                    if parsed.is_none() {
                        warn(if *col == Column::Latitude {
                            "latitude"
                        } else {
                            "longitude"
                        });
                    }
                    if *col == Column::Latitude {
                        row.feed_lat = parsed;
                    } else {
                        row.feed_lon = parsed;
                    }
                }
                Column::RawOnly | Column::Dropped => {}
            }
        }
        if with_raw {
            raw.push('}');
        }
        row.raw = raw;
        if row.ticket_id.is_empty() {
            stats.dropped_empty_id += 1;
            return Ok(None);
        }
        if is_alarm == Some(true) {
            stats.dropped_alarm += 1;
            return Ok(None);
        }
        stats.rows_kept += 1;
        for (column, value) in warnings {
            stats.warn(line, column, &value);
        }
        Ok(Some(row))
    }
}

/// What cleaning a row builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleaning {
    /// Everything the import stores, `raw` included.
    Full,
    /// The typed fields only (`raw` left empty): the backfill, which stores no row.
    Typed,
}

fn non_empty(value: &str) -> Option<&str> {
    (!value.trim().is_empty()).then_some(value)
}

/// Appends `value` as a JSON string literal (RFC 8259 escapes).
fn push_json_string(out: &mut String, value: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in value.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&value[start..i]);
        if escaped.is_empty() {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push_str(escaped);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&value[start..]);
    out.push('"');
}

/// Counts of one file's rows. Warnings keep a few samples for the operator.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowStats {
    pub rows_read: u64,
    pub rows_kept: u64,
    pub dropped_alarm: u64,
    pub dropped_sentinel: u64,
    pub dropped_empty_id: u64,
    pub warnings: u64,
    pub truncated: bool,
    pub warning_samples: Vec<String>,
}

impl RowStats {
    const SAMPLES: usize = 10;

    fn warn(&mut self, line: u64, column: &str, value: &str) {
        self.warnings += 1;
        if self.warning_samples.len() < Self::SAMPLES {
            self.warning_samples.push(format!(
                "line {line}: {column} {value:?} is not readable; stored as null"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cols: &[&str]) -> Header {
        Header::parse("t.csv", &StringRecord::from(cols.to_vec())).unwrap()
    }

    fn clean(h: &Header, fields: &[&str], stats: &mut RowStats) -> Option<CleanRow> {
        h.clean(&StringRecord::from(fields.to_vec()), 2, stats)
            .unwrap()
    }

    #[test]
    fn every_declared_column_is_read_from_its_header() {
        use crate::ticket::fields::Kind;
        // `location_query` is computed by the importer, not read from the file.
        for column in COLUMNS.iter().filter(|c| c.origin == Origin::Csv) {
            let sample = match column.kind {
                Kind::Flag => "true",
                Kind::Minutes => "42",
                Kind::Time => "2026-06-16 10:00:00",
                Kind::Text | Kind::Degrees => "Some Text",
            };
            let h = header(&["ticket_id", column.name]);
            let row = clean(&h, &["INC1", sample], &mut RowStats::default()).unwrap();
            let read = (column.value)(&row).is_some();
            assert!(read, "the header {:?} fills no field", column.name);
        }
    }

    #[test]
    fn header_names_match_case_insensitively_and_trimmed_with_a_bom() {
        let h = header(&["\u{feff}Raw_Status", " TICKET_ID ", "Closed_At "]);
        let mut stats = RowStats::default();
        let row = clean(&h, &["Resolved", "INC1", "2026-06-16 10:00:00"], &mut stats).unwrap();
        assert_eq!(row.ticket_id, "INC1");
        assert_eq!(row.raw_status.as_deref(), Some("RESOLVED"));
        assert_eq!(
            row.closed_at.map(|t| t.to_rfc3339()),
            Some("2026-06-16T07:00:00+00:00".into())
        );
    }

    #[test]
    fn a_header_without_ticket_id_is_refused_naming_file_and_column() {
        let err =
            Header::parse("snap.csv", &StringRecord::from(vec!["id", "raw_status"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "snap.csv: the header has no `ticket_id` column"
        );
    }

    #[test]
    fn normalises_text_and_builds_raw_without_dropped_columns() {
        let h = header(&[
            "ticket_id",
            "raw_status",
            "normalized_status",
            "region",
            "cluster",
            "department",
            "week_start",
            "vendor_ref",
            "location_name",
            "owner",
        ]);
        let mut stats = RowStats::default();
        let row = clean(
            &h,
            &[
                " INC7 ",
                " pending customer ",
                " pending ",
                " Rift Valley ",
                "  Langata",
                "Field Operations",
                "2026-06-15",
                "VR-1",
                "BTS1 \"Mall\", Karen",
                "",
            ],
            &mut stats,
        )
        .unwrap();
        assert_eq!(row.raw_status.as_deref(), Some("PENDING CUSTOMER"));
        assert_eq!(row.normalized_status.as_deref(), Some("PENDING"));
        assert_eq!(row.region.as_deref(), Some("rift valley"));
        assert_eq!(row.cluster.as_deref(), Some("Langata"));
        assert_eq!(row.location_name.as_deref(), Some("BTS1 \"Mall\", Karen"));
        assert_eq!(row.owner, None);
        let raw: serde_json::Value = serde_json::from_str(&row.raw).unwrap();
        assert_eq!(
            raw,
            serde_json::json!({
                "ticket_id": "INC7", "raw_status": "PENDING CUSTOMER",
                "normalized_status": "PENDING", "region": "rift valley", "cluster": "Langata",
                "vendor_ref": "VR-1", "location_name": "BTS1 \"Mall\", Karen", "owner": null
            })
        );
        assert_eq!(stats.warnings, 0);
    }

    #[test]
    fn drops_alarms_sentinels_and_empty_ids_and_counts_them() {
        let h = header(&["raw_status", "ticket_id", "is_alarm"]);
        let mut stats = RowStats::default();
        assert!(clean(&h, &["New", "INC1", "TRUE"], &mut stats).is_none());
        assert!(clean(&h, &["New", "INC2", "yes"], &mut stats).is_none());
        assert!(clean(&h, &["New", "  ", "false"], &mut stats).is_none());
        assert!(clean(
            &h,
            &["EXPORT STOPPED: row limit 50000 reached", "", ""],
            &mut stats
        )
        .is_none());
        // A sentinel line may be short.
        let short = StringRecord::from(vec!["EXPORT STOPPED: row limit"]);
        assert!(h.clean(&short, 9, &mut stats).unwrap().is_none());
        assert!(clean(&h, &["New", "INC3", "no"], &mut stats).is_some());
        assert!(clean(&h, &["New", "INC4", ""], &mut stats).is_some());
        assert_eq!(
            (
                stats.rows_read,
                stats.rows_kept,
                stats.dropped_alarm,
                stats.dropped_empty_id,
                stats.dropped_sentinel
            ),
            (7, 2, 2, 1, 2)
        );
        assert!(stats.truncated);
    }

    #[test]
    fn unreadable_values_become_null_and_count_as_warnings() {
        let h = header(&[
            "ticket_id",
            "created_at_service",
            "closed_at",
            "mttr",
            "is_actionable",
            "latitude",
            "longitude",
        ]);
        let mut stats = RowStats::default();
        let row = clean(
            &h,
            &["INC1", "N/A", "TBD", "5h", "maybe", "x", "36.8"],
            &mut stats,
        )
        .unwrap();
        assert_eq!(row.created_at_service, None);
        assert_eq!(row.closed_at, None);
        assert_eq!(
            (row.mttr, row.is_actionable, row.feed_lat, row.feed_lon),
            (None, None, None, Some(36.8))
        );
        assert_eq!(stats.warnings, 5);
        assert_eq!(
            stats.warning_samples[0],
            "line 2: created_at_service \"N/A\" is not readable; stored as null"
        );
        // The text stays in raw.
        let raw: serde_json::Value = serde_json::from_str(&row.raw).unwrap();
        assert_eq!(raw["closed_at"], "TBD");
        assert_eq!(stats.rows_kept, 1);
    }

    #[test]
    fn json_strings_are_escaped_as_serde_does() {
        for s in [
            "plain",
            "q\"uote",
            "back\\slash",
            "tab\tnl\ncr\r",
            "ctl\u{1}\u{1f}",
            "ünï ✓",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap());
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
    }

    #[test]
    fn a_row_of_the_wrong_length_refuses_the_file() {
        let h = header(&["ticket_id", "raw_status"]);
        let mut stats = RowStats::default();
        let err = h
            .clean(&StringRecord::from(vec!["INC1"]), 5, &mut stats)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.csv: line 5 has 1 fields where the header has 2"
        );
    }
}
