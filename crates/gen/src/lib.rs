//! `fleettickets-gen`: realistic INC snapshots for tests, the demo and benchmarks: the columns, the messy
//! casing, the drops and the awkward values of `inc-csv.md`, for any row count and seed;
//! and hourly series of them, with the changes history capture has to follow.

use std::io::Write;

use chrono::{DateTime, Duration, Utc};

use fleettickets::db::gazetteer::{self, GazetteerCluster};
use fleettickets::eat;
use fleettickets::ticket::columns::{Column, COLUMNS};
use fleettickets::ticket::fields::{Kind, Origin};

/// The export's columns, in the order (and with the untidy names) a real file has.
const HEADER: [&str; 33] = [
    "raw_status",
    "source_type",
    "last_seen_at",
    "normalized_status",
    "service_type",
    "Created_At_Service",
    "sla_status",
    "is_actionable",
    "source_s3_key",
    "owner",
    "source_snapshot_id",
    "Ticket_ID",
    "week_start",
    "longitude",
    "Closed_At ",
    "region",
    "IS_ALARM",
    "bucket",
    "department",
    "is_auto_created",
    "assigned_team",
    "vendor_ref",
    "latitude",
    "first_seen_at",
    "location_name",
    "week_end",
    "is_auto_closed",
    "source_created_at",
    "source_s3_bucket",
    "scheduled_at",
    "source_updated_at",
    "mttr",
    " cluster",
];

const OWNERS: [&str; 8] = [
    "Samuel Kiprono",
    "Eric Onyango",
    "Victor Barasa",
    "Brian Ochieng",
    "Grace Wanjiru",
    "Faith Achieng",
    "Kevin Mutua",
    "Mercy Njeri",
];
const PLACES: [&str; 8] = [
    "Shopping Centre",
    "Stage",
    "Market",
    "Estate",
    "Road",
    "Mall",
    "Primary School",
    "Junction",
];

#[derive(Debug, Clone)]
pub struct Spec {
    pub rows: u64,
    pub seed: u64,
    /// The export time: tickets are created before it.
    pub as_of: DateTime<Utc>,
    /// End the file with the `EXPORT STOPPED` sentinel.
    pub truncated: bool,
}

/// splitmix64: small, fast and the same on every platform, so a seed is a file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// Messy casing, as the export writes vendor words.
    fn casing(&mut self, s: &str) -> String {
        match self.below(6) {
            0 => s.to_uppercase(),
            1 => s.to_lowercase(),
            2 => format!(" {s} "),
            _ => s.to_owned(),
        }
    }
    fn boolean(&mut self, b: bool) -> String {
        let forms: [&str; 5] = if b {
            ["true", "TRUE", "t", "1", "yes"]
        } else {
            ["false", "FALSE", "f", "0", "no"]
        };
        let word = if self.chance(0.7) {
            forms[0]
        } else {
            *self.pick(&forms)
        };
        self.casing(word).trim().to_owned()
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&eat::TZ)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Writes one snapshot as CSV.
pub fn write(spec: &Spec, out: impl Write) -> csv::Result<()> {
    let clusters = gazetteer::clusters();
    let mut rng = Rng(spec.seed);
    let rows = (0..spec.rows).map(|i| row(&mut rng, &clusters, spec, i));
    write_rows(rows, spec.truncated, out)
}

fn write_rows<R: AsRef<[String]>>(
    rows: impl Iterator<Item = R>,
    truncated: bool,
    out: impl Write,
) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let extra = extra_columns();
    w.write_record(HEADER.iter().copied().chain(extra.iter().map(|c| c.name)))?;
    for r in rows {
        let r = r.as_ref();
        let values = extra.iter().map(|c| extra_value(c.kind, r));
        w.write_record(r.iter().cloned().chain(values))?;
    }
    if truncated {
        let mut sentinel = vec![String::new(); HEADER.len() + extra.len()];
        sentinel[0] = "EXPORT STOPPED: row limit 50000 reached".into();
        w.write_record(&sentinel)?;
    }
    w.flush()?;
    Ok(())
}

/// The declared fields read from a snapshot that `HEADER` lacks (a field added since the
/// export above was written): written after it, each with a value of its kind, so a new
/// field reaches generated data before this file learns a realistic one.
fn extra_columns() -> Vec<&'static Column> {
    COLUMNS
        .iter()
        .filter(|c| c.origin == Origin::Csv)
        .filter(|c| !HEADER.iter().any(|h| h.trim().eq_ignore_ascii_case(c.name)))
        .collect()
}

/// A readable value of `kind` for the row `r`, varying with its ticket id.
fn extra_value(kind: Kind, r: &[String]) -> String {
    let n = r[col::TICKET_ID].bytes().map(u32::from).sum::<u32>();
    match kind {
        Kind::Text => format!("Value {}", n % 7),
        Kind::Flag => (n % 2 == 0).to_string(),
        Kind::Minutes => format!("{}.5", n % 48),
        Kind::Time => r[col::LAST_SEEN].clone(),
        Kind::Degrees => format!("-1.{}", n % 100),
    }
}

/// An hourly series of snapshots: the first is `base`, each next one an hour later with
/// `change_rate` of the tickets changed (closures, reopenings, status changes,
/// reassignments between clusters and owners) and a few new tickets. Snapshot
/// `identical_at` re-emits the one before byte for byte; snapshot `stale_at` re-sends one
/// ticket's first row (an older `source_updated_at`, other content).
#[derive(Debug, Clone)]
pub struct SeriesSpec {
    pub base: Spec,
    pub snapshots: u32,
    pub change_rate: f64,
    pub identical_at: Option<u32>,
    pub stale_at: Option<u32>,
}

/// The column positions the series changes.
mod col {
    pub const RAW_STATUS: usize = 0;
    pub const LAST_SEEN: usize = 2;
    pub const STATUS: usize = 3;
    pub const SLA: usize = 6;
    pub const CREATED: usize = 5;
    pub const ACTIONABLE: usize = 7;
    pub const OWNER: usize = 9;
    pub const TICKET_ID: usize = 11;
    pub const CLOSED_AT: usize = 14;
    pub const REGION: usize = 15;
    pub const ALARM: usize = 16;
    pub const BUCKET: usize = 17;
    pub const TEAM: usize = 20;
    pub const FIRST_SEEN: usize = 23;
    pub const UPDATED: usize = 30;
    pub const MTTR: usize = 31;
    pub const CLUSTER: usize = 32;
}

/// The series' file names (`YYYY-MM-DDTHHMMSS.csv`, EAT) and contents, in order, each
/// handed to `each` as it is made (one snapshot in memory at a time).
pub fn series(
    spec: &SeriesSpec,
    mut each: impl FnMut(String, Vec<u8>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let clusters = gazetteer::clusters();
    let mut rng = Rng(spec.base.seed);
    let mut rows: Vec<[String; 33]> = (0..spec.base.rows)
        .map(|i| row(&mut rng, &clusters, &spec.base, i))
        .collect();
    let first_rows = rows.clone();
    let mut previous: Vec<u8> = Vec::new();
    for n in 0..spec.snapshots {
        let as_of = spec.base.as_of + Duration::hours(i64::from(n));
        let name = format!(
            "{}.csv",
            as_of.with_timezone(&eat::TZ).format("%Y-%m-%dT%H%M%S")
        );
        if n > 0 && spec.identical_at == Some(n) {
            each(name, previous.clone())?;
            continue;
        }
        if n > 0 {
            // Changes fall on open tickets; a closed one picked is rarely reopened.
            let changes = (rows.len() as f64 * spec.change_rate).round() as usize;
            let (mut done, mut closed) = (0, 0);
            for _ in 0..changes * 50 {
                if done == changes {
                    break;
                }
                let i = rng.below(rows.len() as u64) as usize;
                if !is_open(&rows[i]) && !rng.chance(0.02) {
                    continue;
                }
                closed += usize::from(change(&mut rng, &clusters, &mut rows[i], as_of));
                done += 1;
            }
            // As many tickets open as close: the backlog stays about its size.
            for _ in 0..closed.max(1) {
                let i = rows.len() as u64;
                let spec_now = Spec {
                    as_of,
                    ..spec.base.clone()
                };
                let mut fresh = row(&mut rng, &clusters, &spec_now, i);
                reopen(&mut fresh, "New");
                if !fresh[col::CREATED].is_empty() && fresh[col::CREATED] != "N/A" {
                    fresh[col::CREATED] = stamp(as_of - Duration::minutes(30));
                }
                fresh[col::FIRST_SEEN] = stamp(as_of - Duration::minutes(25));
                fresh[col::UPDATED] = stamp(as_of - Duration::minutes(5));
                rows.push(fresh);
            }
        }
        for r in rows.iter_mut() {
            r[col::LAST_SEEN] = stamp(as_of);
        }
        let mut out = Vec::new();
        let stale = (spec.stale_at == Some(n)).then(|| stale_row(&rows, &first_rows));
        let emitted = rows.iter().map(|r| match &stale {
            Some((i, old)) if r[col::TICKET_ID] == rows[*i][col::TICKET_ID] => old,
            _ => r,
        });
        write_rows(emitted, spec.base.truncated, &mut out).map_err(std::io::Error::other)?;
        each(name, out.clone())?;
        previous = out;
    }
    Ok(())
}

/// A ticket whose first row differs from its current one, and that first row (whose
/// `source_updated_at` is older) with the current export bookkeeping.
fn stale_row(rows: &[[String; 33]], first: &[[String; 33]]) -> (usize, [String; 33]) {
    let i = (0..first.len())
        .find(|&i| {
            !rows[i][col::TICKET_ID].is_empty()
                && fleettickets::ticket::values::boolean(&rows[i][col::ALARM]) != Some(true)
                && rows[i][col::UPDATED] > first[i][col::UPDATED]
                && rows[i][col::STATUS] != first[i][col::STATUS]
        })
        .unwrap_or(0);
    let mut old = first[i].clone();
    old[col::LAST_SEEN] = rows[i][col::LAST_SEEN].clone();
    (i, old)
}

/// Makes a row an open ticket (a reopened or a new one).
fn reopen(r: &mut [String; 33], raw_status: &str) {
    r[col::STATUS] = "OPEN".into();
    r[col::RAW_STATUS] = raw_status.into();
    r[col::ACTIONABLE] = "true".into();
    r[col::CLOSED_AT] = String::new();
    r[col::MTTR] = String::new();
    r[col::SLA] = String::new();
    r[col::BUCKET] = "0-4h".into();
}

fn is_open(r: &[String; 33]) -> bool {
    fleettickets::ticket::values::boolean(&r[col::ACTIONABLE]) == Some(true)
}

/// One ticket changed at `as_of`: an open one is closed, moves on in its workflow, or
/// is reassigned (to another cluster or owner); a closed one is reopened. True when it
/// was closed.
fn change(
    rng: &mut Rng,
    clusters: &[GazetteerCluster],
    r: &mut [String; 33],
    as_of: DateTime<Utc>,
) -> bool {
    let at = as_of - Duration::minutes(rng.below(50) as i64 + 1);
    let closes = is_open(r) && rng.below(10) < 4;
    match (is_open(r), rng.below(6)) {
        _ if closes => {
            let hours = (rng.below(48_000) as f64 / 1000.0).max(0.05);
            r[col::STATUS] = if rng.chance(0.5) {
                "RESOLVED"
            } else {
                "CLOSED"
            }
            .into();
            r[col::RAW_STATUS] = if r[col::STATUS] == "RESOLVED" {
                "Resolved"
            } else {
                "Closed"
            }
            .into();
            r[col::ACTIONABLE] = "false".into();
            r[col::CLOSED_AT] = stamp(at);
            r[col::MTTR] = format!("{hours}");
            r[col::SLA] = if hours >= 24.0 { "Breached" } else { "Met" }.into();
            r[col::BUCKET] = "closed".into();
        }
        (true, 0..2) => {
            let (status, raw) = *rng.pick(&[
                ("OPEN", "Assigned"),
                ("IN_PROGRESS", "In Progress"),
                ("PENDING", "Pending customer"),
            ]);
            r[col::STATUS] = status.into();
            r[col::RAW_STATUS] = raw.into();
        }
        (true, 2..4) => {
            let c = rng.pick(clusters);
            r[col::CLUSTER] = c.cluster.into();
            r[col::REGION] = c.region.into();
            r[col::TEAM] = format!("FO {}", c.region.to_uppercase());
        }
        (true, _) => r[col::OWNER] = rng.pick(&OWNERS).to_string(),
        (false, _) => reopen(r, "Reopened"),
    }
    r[col::UPDATED] = stamp(at);
    closes
}

fn row(rng: &mut Rng, clusters: &[GazetteerCluster], spec: &Spec, i: u64) -> [String; 33] {
    let c = rng.pick(clusters);
    let cluster = match c.code {
        Some(code) if rng.chance(0.3) => code.to_owned(),
        _ => c.cluster.to_owned(),
    };
    // The live backlog is bounded by crew capacity (~2,600 open), not a share of history;
    // history grows at ~180 tickets a day (at least four months of it).
    let actionable = rng.chance((2600.0 / spec.rows.max(1) as f64).min(0.12));
    let history_days = (spec.rows / 180).max(120);
    let (status, raw_status) = if actionable {
        *rng.pick(&[
            ("OPEN", "Assigned"),
            ("OPEN", "New"),
            ("IN_PROGRESS", "In Progress"),
            ("IN_PROGRESS", "Work in progress"),
            ("PENDING", "Pending customer"),
            ("PENDING", "Pending vendor"),
        ])
    } else {
        *rng.pick(&[
            ("RESOLVED", "Resolved"),
            ("RESOLVED", "Resolved"),
            ("CLOSED", "Closed"),
            ("CLOSED", "Closed"),
            ("CANCELLED", "Cancelled"),
        ])
    };
    // Open tickets are recent; closed ones spread over four months.
    let age_minutes = if actionable {
        rng.below(10 * 24 * 60)
    } else {
        rng.below(history_days * 24 * 60)
    };
    let created = spec.as_of - Duration::minutes(age_minutes as i64 + 30);
    let first_seen = created + Duration::seconds(rng.below(3600) as i64);
    let mttr_hours = if actionable || status == "CANCELLED" {
        None
    } else {
        Some((rng.below(48_000) as f64 / 1000.0).max(0.05))
    };
    let closed = mttr_hours
        .map(|h| created + Duration::seconds((h * 3600.0) as i64))
        .filter(|t| *t < spec.as_of)
        .or_else(|| {
            (status == "CANCELLED").then(|| first_seen + Duration::hours(rng.below(48) as i64))
        })
        .map(|t| t.min(spec.as_of - Duration::minutes(1)));
    let updated = closed
        .unwrap_or(first_seen + Duration::minutes(rng.below(600) as i64))
        .min(spec.as_of);
    let sla = match (actionable, mttr_hours) {
        (false, Some(h)) if h >= 24.0 => "Breached",
        (false, Some(_)) => "Met",
        // Open rows carry stale values the dashboard must ignore.
        (true, _) if rng.chance(0.3) => "Met",
        _ => "",
    };
    let bucket = if !actionable {
        "closed"
    } else {
        match age_minutes / 60 {
            0..4 => "0-4h",
            4..24 => "4-24h",
            24..72 => "1-3d",
            _ => ">3d",
        }
    };
    let (lat, lon) = if rng.chance(0.14) {
        let jitter = |rng: &mut Rng| (rng.below(2000) as f64 - 1000.0) / 50_000.0;
        (
            format!("{:.6}", c.lat + jitter(rng)),
            format!("{:.6}", c.lon + jitter(rng)),
        )
    } else if rng.chance(0.005) {
        ("0".into(), "0".into())
    } else {
        (String::new(), String::new())
    };
    let ticket_id = if rng.chance(0.001) {
        String::new()
    } else {
        format!("INC{:012}", 12_000_000 + i)
    };
    let created_text = if rng.chance(0.3) {
        String::new()
    } else if rng.chance(0.003) {
        "N/A".into()
    } else {
        stamp(created)
    };
    let site = rng.below(2000);
    let code = c
        .cluster
        .chars()
        .filter(|ch| ch.is_ascii_alphabetic())
        .take(4)
        .collect::<String>()
        .to_uppercase();
    let location = format!(
        "NRB-{code}-BTS{site:04} {} {}, {}",
        c.cluster,
        rng.pick(&PLACES),
        c.cluster
    );
    let week = eat::local_date(spec.as_of);
    let is_alarm = rng.chance(0.03);
    let alarm = rng.boolean(is_alarm);
    [
        rng.casing(raw_status),
        "ITSM_EXPORT".into(),
        stamp(spec.as_of - Duration::minutes(rng.below(120) as i64)),
        status.into(),
        "Fixed Access".into(),
        created_text,
        sla.into(),
        rng.boolean(actionable),
        "itsm/inc/full/export.csv".into(),
        rng.pick(&OWNERS).to_string(),
        format!("{:016x}", spec.seed),
        ticket_id,
        week.to_string(),
        lon,
        closed.map(stamp).unwrap_or_default(),
        rng.casing(c.region),
        alarm,
        bucket.into(),
        "Field Operations".into(),
        rng.boolean(false),
        format!("FO {}", c.region.to_uppercase()),
        format!("VR-{:06}", rng.below(1_000_000)),
        lat,
        stamp(first_seen),
        location,
        week.to_string(),
        rng.boolean(false),
        stamp(first_seen + Duration::minutes(2)),
        "itsm-exports".into(),
        if rng.chance(0.4) {
            stamp(created + Duration::hours(24))
        } else {
            String::new()
        },
        stamp(updated),
        mttr_hours.map(|h| format!("{h}")).unwrap_or_default(),
        cluster,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use fleettickets::ingest::clean::{Header, RowStats};
    use fleettickets::ticket::columns::COLUMNS;
    use fleettickets::ticket::fields::Origin;

    fn generate(rows: u64, seed: u64) -> Vec<u8> {
        let spec = Spec {
            rows,
            seed,
            as_of: Utc::now(),
            truncated: true,
        };
        let mut out = Vec::new();
        write(&spec, &mut out).unwrap();
        out
    }

    #[test]
    fn the_same_seed_gives_the_same_file() {
        let spec = Spec {
            rows: 50,
            seed: 7,
            as_of: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            truncated: false,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        write(&spec, &mut a).unwrap();
        write(&spec, &mut b).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write(&Spec { seed: 8, ..spec }, &mut c).unwrap();
        assert!(a != c, "another seed gives another file");
    }

    #[test]
    fn a_field_the_export_lacks_gets_readable_values_of_its_kind() {
        let mut rng = Rng(3);
        let spec = Spec {
            rows: 1,
            seed: 3,
            as_of: DateTime::from_timestamp(1_780_000_000, 0).unwrap(),
            truncated: false,
        };
        let mut r = row(&mut rng, &gazetteer::clusters(), &spec, 0);
        r[col::TICKET_ID] = "INC42".into();
        r[col::LAST_SEEN] = "2026-06-16 10:00:00".into();
        for column in COLUMNS.iter().filter(|c| c.origin == Origin::Csv) {
            let mut clean = fleettickets::ticket::CleanRow::default();
            let value = extra_value(column.kind, &r);
            assert!(
                (column.read)(&mut clean, &value),
                "{}: {value:?}",
                column.name
            );
        }
    }

    #[test]
    fn generated_files_clean_like_real_ones() {
        let data = generate(5000, 42);
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&data[..]);
        let mut records = csv.records();
        let header = Header::parse("gen.csv", &records.next().unwrap().unwrap()).unwrap();
        let mut stats = RowStats::default();
        let mut open = 0;
        // Every declared field read from a snapshot gets a value in some generated row.
        let mut filled: BTreeSet<&str> = BTreeSet::new();
        for (i, r) in records.enumerate() {
            if let Some(row) = header.clean(&r.unwrap(), i as u64 + 2, &mut stats).unwrap() {
                open += u64::from(row.is_actionable == Some(true));
                for c in COLUMNS {
                    if (c.value)(&row).is_some() {
                        filled.insert(c.name);
                    }
                }
            }
        }
        let from_csv: BTreeSet<&str> = COLUMNS
            .iter()
            .filter(|c| c.origin == Origin::Csv)
            .map(|c| c.name)
            .collect();
        let missing: Vec<&&str> = from_csv.difference(&filled).collect();
        assert!(missing.is_empty(), "the generator never writes {missing:?}");
        assert_eq!(stats.rows_read, 5001);
        assert!(stats.truncated);
        // Rates: alarms ~3 %, empty ids ~0.1 %, open ~12 % (wide bounds, fixed seed).
        assert!((100..200).contains(&stats.dropped_alarm), "{stats:?}");
        assert!((1..20).contains(&stats.dropped_empty_id), "{stats:?}");
        assert!((450..750).contains(&open), "{open}");
        assert!(stats.warnings > 0 && stats.warnings < 50, "{stats:?}");
    }
}
