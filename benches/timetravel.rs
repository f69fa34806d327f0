//! Time-travel benchmark: `cargo bench --bench timetravel -- --rows 21312 --days 365
//! --rate 0.02 --big-rows 1000000 --big-open 25000 --big-days 30 --big-rate 0.002`.
//!
//! Two stores, one after the other: `--rows` generated tickets, and `--big-rows` of which
//! `--big-open` are made open as in the nearest bench (`--rows 0`, `--big-rows 0` skip one). Each is
//! imported (so `tickets.inc` holds real rows), then its history is replaced, with
//! set-based SQL as in the history bench, by `--days` (`--big-days`) of hourly versions
//! where `--rate` (`--big-rate`) of the tickets change each hour; the share of actionable
//! versions is the store's open share (12 % for the small store); a version that closes
//! an open ticket carries its `closed_at`; each ticket's creation time is drawn once over
//! the period and the 3 days before it (for the big store over the generator's span,
//! rows / 180 days, so its week holds the generator's rate of creations, not a month's
//! history's). Then, against the real
//! server (`fleettickets serve`), in one run: the uncached week dashboard at a recorded
//! instant (3 days before the newest history time, and at live's hour of the week a week
//! before, whose week spans as many hours as live's) beside the live one on the same
//! store (identity encoding, each request its own `as_of`, so a miss); the miss path's
//! split (query, compute, serialisation), timed in-process through the same functions
//! (the first miss of a generation, which reads its tickets' current rows, apart); the
//! SQL a DBA would write for the recorded open set (the versions valid at `t` joined to
//! the current rows, as JSON); and a slider sweep of 168 hourly steps (a week), cold then
//! warm, with its cache hits. The recorded instant is inside the recent history held in
//! memory (`RECORDED_MEMORY_HOURS`); a second server without it gives the queried path's
//! figure in the same run. The databases `ft_bench_timetravel` and
//! `ft_bench_timetravel_big` on `TEST_DATABASE_URL` are dropped after (kept with
//! `--keep`); `--reuse` measures a kept store again instead of building it (migrated to
//! this build), `--no-sweep` leaves out the slider sweep.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use common::{arg, drop_store, fresh_store, percentile, reopen, write_snapshot};
use fleettickets::config::DatabaseConfig;
use fleettickets::dashboard::freshness::{Freshness, ImportState};
use fleettickets::dashboard::render::{self, RecordedFeatures};
use fleettickets::dashboard::replay::{self, HistorySpan, Replay};
use fleettickets::dashboard::versions::{Horizon, RecentVersions};
use fleettickets::dashboard::{self, Rules};
use fleettickets::live;
use fleettickets::params;
use fleettickets::read;
use fleettickets::read::places::Places;
use sqlx::{Connection, PgPool};

const END: &str = "2026-06-16T00:00:00+03:00";

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn enc(t: DateTime<Utc>) -> String {
    fleettickets::eat::rfc3339(t).replace('+', "%2B")
}

/// Median and p95 of `v`.
fn summary(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (percentile(&v, 0.5), percentile(&v, 0.95))
}

/// A store to measure on.
struct Shape {
    name: &'static str,
    rows: u64,
    /// Open tickets to make (else the generator's backlog).
    open: Option<u64>,
    days: i64,
    rate: f64,
    /// Creation times are drawn over this many days before the end.
    created_days: i64,
}

/// Replaces the history by `days` of hourly versions of the stored tickets.
async fn build_history(pool: &PgPool, shape: &Shape) -> anyhow::Result<(i64, f64)> {
    let end = DateTime::parse_from_rfc3339(END)?.with_timezone(&Utc);
    let begin = end - Duration::days(shape.days);
    let created_from = end - Duration::days(shape.created_days);
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inc")
        .fetch_one(pool)
        .await?;
    let t = Instant::now();
    // One connection, no statement timeout: building a year takes minutes.
    let mut conn = pool.acquire().await?;
    sqlx::query("SET statement_timeout = 0")
        .execute(&mut *conn)
        .await?;
    sqlx::raw_sql(&format!(
        "SET work_mem = '256MB';
         TRUNCATE tickets.inc_history, tickets.backlog_hourly;
         UPDATE tickets.history_capture SET started_at = '{begin}';
         -- Each ticket's creation, spread over `created_days`; the actionable share of
         -- versions is the store's open share.
         CREATE TEMP TABLE ids AS
         SELECT (row_number() OVER (ORDER BY ticket_id) - 1)::int AS k, ticket_id, cluster,
                '{created_from}'::timestamptz
                    + random() * ('{end}'::timestamptz - '{created_from}'::timestamptz) AS created
         FROM tickets.inc;
         CREATE TEMP TABLE changes AS
         SELECT DISTINCT (random() * ({tickets} - 1))::int AS k, h
         FROM generate_series(1, {hours}) h, generate_series(1, {per_hour}) n;
         INSERT INTO tickets.inc_history (ticket_id, valid_from, valid_to, normalized_status,
             is_actionable, cluster, region, assigned_team, owner, created_at_service,
             first_seen_at, closed_at)
         SELECT ids.ticket_id, vf, lead(vf) OVER w, s.status, s.open, ids.cluster, 'nairobi',
                'Team ' || (c.h % 5), 'Owner ' || (c.h % 8), ids.created, ids.created,
                -- A closing time on a version that closes an open ticket.
                CASE WHEN NOT s.open AND lag(s.open) OVER w THEN vf END
         FROM (SELECT k, 0 AS h, '{begin}'::timestamptz AS vf FROM generate_series(0, {tickets} - 1) k
               UNION ALL
               SELECT k, h, '{begin}'::timestamptz + h * interval '1 hour' FROM changes) c
         JOIN ids ON ids.k = c.k
         CROSS JOIN LATERAL (SELECT x.status, x.status IN ('OPEN', 'IN_PROGRESS', 'PENDING') AS open
                             FROM (SELECT CASE WHEN random() < {open_share}
                                          THEN (ARRAY['OPEN', 'IN_PROGRESS', 'PENDING'])[1 + (random() * 2)::int]
                                          ELSE (ARRAY['RESOLVED', 'CLOSED', 'CANCELLED'])[1 + (random() * 2)::int] END
                                          || repeat('', c.h) AS status) x) s
         WINDOW w AS (PARTITION BY c.k ORDER BY vf);",
        hours = shape.days * 24,
        per_hour = (tickets as f64 * shape.rate).round() as i64,
        open_share = shape.open.map_or(0.12, |o| o as f64 / shape.rows as f64),
    ))
    .execute(&mut *conn)
    .await?;
    // As autovacuum would: the visibility map lets the recorded branches read index
    // pages only.
    for table in ["tickets.inc_history", "tickets.inc"] {
        sqlx::query(&format!("VACUUM ANALYZE {table}"))
            .execute(&mut *conn)
            .await?;
    }
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inc_history")
        .fetch_one(pool)
        .await?;
    Ok((versions, t.elapsed().as_secs_f64()))
}

/// One uncached week dashboard at each of `as_ofs` through the server: times and bytes.
async fn through_server(
    client: &reqwest::Client,
    base: &str,
    as_ofs: &[DateTime<Utc>],
    mode: &str,
) -> anyhow::Result<(Vec<f64>, usize)> {
    let mut times = Vec::new();
    let mut bytes = 0;
    for &t in as_ofs {
        let url = format!("{base}/api/v1/inc/dashboard?window=week&as_of={}", enc(t));
        let started = Instant::now();
        let body = client
            .get(&url)
            .header("accept-encoding", "identity")
            .send()
            .await?
            .bytes()
            .await?;
        times.push(ms(started));
        let json: serde_json::Value = serde_json::from_slice(&body)?;
        anyhow::ensure!(json["replay"]["mode"] == mode, "{url}: {}", json["replay"]);
        bytes = body.len();
    }
    Ok((times, bytes))
}

/// The recorded miss path in-process, split: reading the rows (the history queried, or
/// picked from `held`, the recent history in memory), the computation, the JSON. The
/// current rows come from `places` and the features from `recorded` as far as they have
/// them (one generation's).
async fn split_ms(
    pool: &PgPool,
    (places, recorded): (&Places, &RecordedFeatures),
    held: Option<&Arc<RecentVersions>>,
    t: DateTime<Utc>,
) -> anyhow::Result<(f64, f64, f64, usize)> {
    let query = format!("window=week&as_of={}", enc(t));
    let request = params::parse(&query, Utc::now())?;
    let rules = Rules {
        sla_target_hours: 24.0,
        stale_after: Duration::hours(3),
    };
    let span = HistorySpan {
        capture_started_at: Some(t - Duration::days(1)),
        history_until: Some(t + Duration::days(1)),
    };
    let replay = Replay::at(t, span);
    let started = Instant::now();
    let (rows, n) = match held {
        Some(held) => {
            let picked = held.at(&request);
            let n = picked.len();
            (replay::held(held.clone(), picked, replay), n)
        }
        None => {
            let rows = read::tickets::recorded_tickets(pool, &request, places).await?;
            let n = rows.len();
            (replay::rows(rows, replay), n)
        }
    };
    let queried = ms(started);
    let started = Instant::now();
    let freshness = Freshness::at(&ImportState::default(), t, rules.stale_after);
    let payload = dashboard::compute(rows, &request, freshness, &rules);
    let computed = ms(started);
    let started = Instant::now();
    // As the route writes a recorded miss.
    let json = match held {
        Some(held) => render::write_json(&payload, &held.heads, None)?,
        None => {
            let closed = recorded.closed(&payload);
            render::write_json(&payload, &recorded.open_heads(&payload), Some(&closed))?
        }
    };
    let serialised = ms(started);
    std::hint::black_box(json);
    Ok((queried, computed, serialised, n))
}

/// `samples` recorded misses in-process a millisecond apart from `t`: the medians of
/// their parts.
async fn split_medians(
    pool: &PgPool,
    generation: (&Places, &RecordedFeatures),
    held: Option<&Arc<RecentVersions>>,
    t: DateTime<Utc>,
    samples: usize,
) -> anyhow::Result<String> {
    let mut parts = (Vec::new(), Vec::new(), Vec::new());
    let mut n = 0;
    for i in 0..samples as i64 {
        let at = t + Duration::milliseconds(i + 1);
        let (q, c, s, rows) = split_ms(pool, generation, held, at).await?;
        parts.0.push(q);
        parts.1.push(c);
        parts.2.push(s);
        n = rows;
    }
    Ok(format!(
        "rows {:.1} ms ({n} rows), compute {:.1} ms, serialise {:.1} ms",
        summary(parts.0).0,
        summary(parts.1).0,
        summary(parts.2).0,
    ))
}

/// What a DBA would write for the recorded open set at `t`: the versions valid then,
/// actionable, joined to the current rows, as one JSON array.
async fn dba_ms(pool: &PgPool, t: DateTime<Utc>) -> anyhow::Result<(f64, i64)> {
    let started = Instant::now();
    let (n, _json): (i64, Option<String>) = sqlx::query_as(
        "SELECT count(*), json_agg(r ORDER BY r.ticket_id)::text FROM (
            SELECT i.ticket_id, h.normalized_status, i.raw_status, h.cluster, h.region,
                   i.location_name, h.assigned_team, h.owner, h.created_at_service,
                   h.first_seen_at, i.latitude, i.longitude, i.geo_source,
                   extract(epoch FROM $1 - COALESCE(h.created_at_service, h.first_seen_at)) / 3600 AS hours_open
            FROM tickets.inc_history h JOIN tickets.inc i ON i.ticket_id = h.ticket_id
            WHERE h.is_actionable AND h.valid_from <= $1
              AND (h.valid_to IS NULL OR h.valid_to > $1)) r",
    )
    .bind(t)
    .fetch_one(pool)
    .await?;
    Ok((ms(started), n))
}

async fn cache_total(client: &reqwest::Client, base: &str, outcome: &str) -> anyhow::Result<f64> {
    counter(client, base, "dashboard_cache", outcome).await
}

/// The counter `fleettickets_{name}_total` of `outcome`.
async fn counter(
    client: &reqwest::Client,
    base: &str,
    name: &str,
    outcome: &str,
) -> anyhow::Result<f64> {
    let text = client
        .get(format!("{base}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let prefix = format!("fleettickets_{name}_total{{outcome=\"{outcome}\"}}");
    Ok(text
        .lines()
        .find(|l| l.starts_with(&prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let days = arg::<i64>("--days", 365);
    let small = Shape {
        name: "ft_bench_timetravel",
        rows: arg::<u64>("--rows", 21_312),
        open: None,
        days,
        rate: arg::<f64>("--rate", 0.02),
        created_days: days + 3,
    };
    let big_rows = arg::<u64>("--big-rows", 1_000_000);
    let big = Shape {
        name: "ft_bench_timetravel_big",
        rows: big_rows,
        open: Some(arg::<u64>("--big-open", 25_000)),
        days: arg::<i64>("--big-days", 30),
        rate: arg::<f64>("--big-rate", 0.002),
        // As the generator spreads them (`fleettickets-gen`): ~1,300 a week at 1M.
        created_days: (big_rows / 180).max(120) as i64,
    };
    let samples = arg::<usize>("--samples", 21);
    let server_url = common::server_url();
    if small.rows > 0 {
        run(&server_url, &small, samples).await?;
    }
    if big.rows > 0 {
        run(&server_url, &big, samples).await?;
    }
    Ok(())
}

/// With `--reuse`, the store a `--keep` run left (migrated to this build), as it is.
async fn kept_store(server_url: &str, name: &str) -> anyhow::Result<Option<(String, PgPool)>> {
    if !std::env::args().any(|a| a == "--reuse") {
        return Ok(None);
    }
    let mut admin = sqlx::PgConnection::connect(&format!("{server_url}/postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut admin)
            .await?;
    if !exists {
        return Ok(None);
    }
    let url = format!("{server_url}/{name}");
    let pool = fleettickets::db::migrate(&DatabaseConfig::new(url.clone())).await?;
    println!("{name}: the kept store, reused");
    Ok(Some((url, pool)))
}

/// A store of `shape` made anew: imported, reopened, its history built.
async fn build_store(
    server_url: &str,
    shape: &Shape,
    dir: &std::path::Path,
) -> anyhow::Result<(String, PgPool)> {
    let end = DateTime::parse_from_rfc3339(END)?.with_timezone(&Utc);
    let path = dir.join("2026-06-16T000000.csv");
    write_snapshot(&path, shape.rows, 1, end)?;
    let (db_url, pool, secs) = fresh_store(server_url, shape.name, &path).await?;
    if let Some(open) = shape.open {
        reopen(&db_url, open).await?;
    }
    let (versions, built) = build_history(&pool, shape).await?;
    let open_now: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets.inc WHERE is_actionable")
        .fetch_one(&pool)
        .await?;
    println!(
        "{} generated tickets ({open_now} open) imported in {secs:.1} s; {} days of hourly history at {:.2} % change/hour: {versions} versions built in {built:.0} s",
        shape.rows,
        shape.days,
        shape.rate * 100.0
    );
    Ok((db_url, pool))
}

async fn run(server_url: &str, shape: &Shape, samples: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (db_url, pool) = match kept_store(server_url, shape.name).await? {
        Some(kept) => kept,
        None => build_store(server_url, shape, dir.path()).await?,
    };
    let (total, timetravel): (i64, i64) = sqlx::query_as(
        "SELECT pg_total_relation_size('tickets.inc_history'),
                (SELECT sum(pg_relation_size(('tickets.' || name)::regclass))::bigint
                 FROM unnest(ARRAY['inc_history_open_span_idx', 'inc_history_closed_cover_idx',
                                   'inc_history_created_cover_idx']) name)",
    )
    .fetch_one(&pool)
    .await?;
    println!(
        "tickets.inc_history with its indexes: {:.0} MB, of which the time-travel indexes (migrations 0009, 0010) {:.0} MB",
        total as f64 / 1e6,
        timetravel as f64 / 1e6
    );

    // Entries live 10 minutes, so the warm sweep finds the cold one's. The second server
    // holds no recent history: every recorded miss queries the history.
    let cached = [("CACHE_TTL_SECS", "600")];
    let bucket = dir.path().join("bucket");
    let (server, client) = common::Server::start_with(&db_url, &bucket, &cached).await?;
    let no_memory = [cached[0], ("RECORDED_MEMORY_HOURS", "0")];
    let (queried, _) = common::Server::start_with(&db_url, &bucket, &no_memory).await?;
    let base = server.base.clone();
    let until: DateTime<Utc> =
        sqlx::query_scalar("SELECT max(valid_from) FROM tickets.inc_history")
            .fetch_one(&pool)
            .await?;
    // Alternated, each request its own as_of (a miss): live after H, recorded 3 days
    // before (inside the default horizon of 192 hours), from memory and queried; and
    // recorded at live's hour of the week a week before, whose week window spans the same
    // hours as live's (3 days before, it spans four days more of closures).
    let recorded_at = until - Duration::days(3);
    let live_at = until + Duration::hours(1);
    let same_hour = live_at - Duration::days(7);
    // The first recorded miss in the horizon is queried and has the recent history read
    // in the background; the next are answered from it once it is held.
    let (rss_before, _) = common::memory_mb(server.pid());
    let started = Instant::now();
    through_server(&client, &base, &[recorded_at], "recorded").await?;
    let first = ms(started);
    let mut step = 0;
    while counter(&client, &base, "dashboard_recorded_reads", "memory").await? == 0.0 {
        anyhow::ensure!(
            step < 1200,
            "the recent history was not held within a minute"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        step += 1;
        let t = recorded_at - Duration::milliseconds(step);
        through_server(&client, &base, &[t], "recorded").await?;
    }
    let held_after = ms(started);
    let (rss_after, _) = common::memory_mb(server.pid());
    println!(
        "the generation's first recorded miss in the horizon (queried): {first:.0} ms; the recent history held {held_after:.0} ms after it; server VmRSS {rss_before:.0} -> {rss_after:.0} MB"
    );
    let (mut live, mut memory, mut database, mut dba) = (vec![], vec![], vec![], vec![]);
    let mut same_week = vec![];
    let (mut live_bytes, mut recorded_bytes, mut same_bytes, mut open_at) = (0, 0, 0, 0);
    for i in 0..samples as i64 {
        let offset = Duration::milliseconds(i + 1);
        let (t, b) = through_server(&client, &base, &[live_at + offset], "live").await?;
        live.extend(t);
        live_bytes = b;
        let (t, b) = through_server(&client, &base, &[recorded_at + offset], "recorded").await?;
        memory.extend(t);
        recorded_bytes = b;
        let (t, b) = through_server(&client, &base, &[same_hour + offset], "recorded").await?;
        same_week.extend(t);
        same_bytes = b;
        let (t, _) =
            through_server(&client, &queried.base, &[recorded_at + offset], "recorded").await?;
        database.extend(t);
        let (t, n) = dba_ms(&pool, recorded_at + offset).await?;
        dba.push(t);
        open_at = n;
    }
    let (l, lp) = summary(live);
    let (r, rp) = summary(memory);
    let (w, wp) = summary(same_week);
    let (q, qp) = summary(database);
    let (d, dp) = summary(dba);
    println!("uncached week dashboard, identity, median / p95 over {samples} requests:");
    println!(
        "  live      {l:>7.1} / {lp:>7.1} ms ({} KB)",
        live_bytes / 1024
    );
    println!(
        "  recorded  {r:>7.1} / {rp:>7.1} ms ({} KB) = {:.2}x live (target at most 2x, 25 ms)",
        recorded_bytes / 1024,
        r / l
    );
    println!(
        "  recorded a week before live, its week as long as live's {w:>7.1} / {wp:>7.1} ms ({} KB) = {:.2}x live",
        same_bytes / 1024,
        w / l
    );
    println!(
        "  recorded, queried (RECORDED_MEMORY_HOURS=0, as before it and beyond the horizon) {q:>7.1} / {qp:>7.1} ms = {:.2}x live; from memory {:.2}x of it",
        q / l,
        r / q
    );
    println!("  DBA SQL for the recorded open set ({open_at} tickets, JSON): {d:.1} / {dp:.1} ms");
    drop(queried);

    // A generation's first miss reads its tickets' current rows and writes their heads;
    // the next find them.
    let generation = (&Places::default(), &RecordedFeatures::default());
    let (first, _, first_json, _) = split_ms(&pool, generation, None, recorded_at).await?;
    println!("  recorded miss in-process, the generation's first: query {first:.1} ms, serialise {first_json:.1} ms");
    let medians = split_medians(&pool, generation, None, recorded_at, samples).await?;
    println!("  recorded miss in-process, queried, median: {medians}");
    let started = Instant::now();
    let horizon = Horizon::before(until, 192).expect("a horizon");
    let held = read::versions::recent(&pool, horizon, generation.0, live::MOST_HELD)
        .await?
        .map(Arc::new)
        .ok_or_else(|| anyhow::anyhow!("more recent versions than are held"))?;
    println!(
        "  the recent history (192 hours): {} versions read in {:.0} ms, holding {:.1} MB",
        held.len(),
        ms(started),
        held.heap_bytes() as f64 / 1e6
    );
    let medians = split_medians(&pool, generation, Some(&held), recorded_at, samples).await?;
    println!("  recorded miss in-process, from memory, median: {medians}");

    // The slider: a week of hourly steps before H, cold then warm.
    let sweeps: &[&str] = if std::env::args().any(|a| a == "--no-sweep") {
        &[]
    } else {
        &["cold", "warm"]
    };
    let steps: Vec<DateTime<Utc>> = (1..=168).map(|h| until - Duration::hours(h)).collect();
    for pass in sweeps {
        let hits = cache_total(&client, &base, "hit").await?;
        let started = Instant::now();
        through_server(&client, &base, &steps, "recorded").await?;
        let total = ms(started);
        println!(
            "slider sweep, 168 hourly steps, {pass}: {total:.0} ms in all ({:.1} ms a step), {} cache hits",
            total / 168.0,
            cache_total(&client, &base, "hit").await? - hits
        );
    }
    drop(server);
    pool.close().await;
    // `--keep`: leave the store for EXPLAIN (drop it by hand).
    if !std::env::args().any(|a| a == "--keep") {
        drop_store(server_url, shape.name).await?;
    }
    Ok(())
}
