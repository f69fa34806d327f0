//! Realistic INC snapshots for tests, the demo and benchmarks: the columns, the messy
//! casing, the drops and the awkward values of `inc-csv.md`, for any row count and seed.

use std::io::Write;

use chrono::{DateTime, Duration, Utc};

use crate::eat;
use crate::geocode::gazetteer::{self, GazetteerCluster};

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
    let mut w = csv::Writer::from_writer(out);
    w.write_record(HEADER)?;
    let mut record: Vec<String> = Vec::with_capacity(HEADER.len());
    for i in 0..spec.rows {
        record.clear();
        record.extend(row(&mut rng, &clusters, spec, i));
        w.write_record(&record)?;
    }
    if spec.truncated {
        let mut sentinel = vec![String::new(); HEADER.len()];
        sentinel[0] = "EXPORT STOPPED: row limit 50000 reached".into();
        w.write_record(&sentinel)?;
    }
    w.flush()?;
    Ok(())
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
    use crate::ingest::clean::{Header, RowStats};

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
    fn generated_files_clean_like_real_ones() {
        let data = generate(5000, 42);
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&data[..]);
        let mut records = csv.records();
        let header = Header::parse("gen.csv", &records.next().unwrap().unwrap()).unwrap();
        let mut stats = RowStats::default();
        let mut open = 0;
        for (i, r) in records.enumerate() {
            if let Some(row) = header.clean(&r.unwrap(), i as u64 + 2, &mut stats).unwrap() {
                open += u64::from(row.is_actionable == Some(true));
            }
        }
        assert_eq!(stats.rows_read, 5001);
        assert!(stats.truncated);
        // Rates: alarms ~3 %, empty ids ~0.1 %, open ~12 % (wide bounds, fixed seed).
        assert!((100..200).contains(&stats.dropped_alarm), "{stats:?}");
        assert!((1..20).contains(&stats.dropped_empty_id), "{stats:?}");
        assert!((450..750).contains(&open), "{open}");
        assert!(stats.warnings > 0 && stats.warnings < 50, "{stats:?}");
    }
}
