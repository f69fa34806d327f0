//! Property tests of the cleaner over generated rows of awkward values: it never panics,
//! every row read is kept or counted as dropped, and a kept row's typed columns are
//! derivable from its `raw` (cleaning `raw` again gives the same row).

use std::sync::LazyLock;

use csv::StringRecord;
use proptest::prelude::*;

use super::clean::{Header, RowStats};
use crate::ticket::fields::Origin;
use crate::ticket::{columns, CleanRow};

/// Every kind of column: the key, the alarm flag, the feed point, every declared field
/// read from a snapshot, raw-only (`extra`) and dropped (`department`).
static COLUMNS: LazyLock<Vec<&str>> = LazyLock::new(|| {
    let declared = columns::COLUMNS
        .iter()
        .filter(|c| c.origin == Origin::Csv)
        .map(|c| c.name);
    ["ticket_id", "is_alarm", "latitude", "longitude"]
        .into_iter()
        .chain(declared)
        .chain(["extra", "department"])
        .collect()
});

/// Values the real export sends, the spec's awkward ones, and arbitrary text.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            " ",
            "N/A",
            "TBD",
            "null",
            "0000-00-00 00:00:00",
            "2026-13-45 99:00:00",
            "2026-06-16 07:15:02",
            "2026-06-16T07:15",
            "2026-02-29 10:00:00",
            "true",
            "FALSE",
            "yes",
            "0",
            "1",
            "43.925",
            "-1.2676",
            "36.8108",
            "1e309",
            "NaN",
            "-0",
            " Westlands ",
            "OPEN",
            "in progress",
            "EXPORT STOPPED",
            "INC000012495858",
            "a\"b\\c\td",
            "\u{0}",
            "\u{feff}x",
            "Mt Kenya – North",
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn record() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        8 => prop::collection::vec(value(), COLUMNS.len()),
        // The wrong field count, and the (possibly short) sentinel.
        1 => prop::collection::vec(value(), 0..COLUMNS.len() + 3),
        1 => Just(vec!["EXPORT STOPPED: row limit".to_owned()]),
    ]
}

fn header() -> Header {
    Header::parse("p.csv", &StringRecord::from(COLUMNS.clone())).unwrap()
}

/// A row of the file rebuilt from a kept row's `raw` (null → empty field).
fn from_raw(raw: &str) -> StringRecord {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw).expect("raw is a JSON object");
    COLUMNS
        .iter()
        .map(|c| match object.get(*c) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Null) | None => String::new(),
            Some(other) => panic!("{c} is not text in raw: {other}"),
        })
        .collect::<Vec<_>>()
        .into()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_row_is_kept_or_counted_and_raw_derives_the_row(
        rows in prop::collection::vec(record(), 1..20)
    ) {
        let header = header();
        let mut stats = RowStats::default();
        let mut kept: Vec<CleanRow> = Vec::new();
        for (i, fields) in rows.iter().enumerate() {
            let record = StringRecord::from(fields.clone());
            let sentinel = fields.first().is_some_and(|f| f.trim_start().starts_with("EXPORT STOPPED"));
            match header.clean(&record, i as u64 + 2, &mut stats) {
                Ok(Some(row)) => kept.push(row),
                Ok(None) => {}
                Err(e) => {
                    prop_assert!(fields.len() != COLUMNS.len() && !sentinel, "{e}");
                    // The file is refused at this row: its count stops here.
                    stats.rows_read -= 1;
                    break;
                }
            }
        }
        prop_assert_eq!(
            stats.rows_read,
            stats.rows_kept + stats.dropped_alarm + stats.dropped_sentinel + stats.dropped_empty_id
        );
        prop_assert_eq!(stats.rows_kept, kept.len() as u64);
        prop_assert!(stats.warning_samples.len() as u64 <= stats.warnings);
        for row in kept {
            prop_assert!(!row.ticket_id.is_empty());
            prop_assert!(!row.raw.contains("\"department\""), "dropped columns stay out of raw");
            let again = header.clean(&from_raw(&row.raw), 2, &mut RowStats::default());
            prop_assert_eq!(again.map_err(|e| e.to_string()), Ok(Some(row)));
        }
    }
}
