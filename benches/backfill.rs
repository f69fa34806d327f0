//! Backfill benchmark: `cargo bench --bench backfill -- --snapshots 120 --rows 21312 --rate 0.02`
//!
//! Writes an archive of `--snapshots` hourly exports of the generator's series
//! (`--rows` tickets, `--rate` of them changing each hour) into a local bucket, then in one
//! run replays it into an empty store twice: with `history backfill` (cleaned and diffed
//! in memory, versions by COPY) and with the replay it replaced (each snapshot staged by
//! COPY and diffed by the import's own statements over temporary tables, rolled back),
//! checks that both record the same number of versions, and prints snapshots/s, their
//! ratio, the year (8,760 snapshots) at that rate and this process's peak RSS. Uses the
//! database `ft_bench_backfill` on `TEST_DATABASE_URL` (default
//! postgres://postgres@127.0.0.1:5432), dropped after.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use common::{arg, drop_store, peak_rss_mb};
use fleettickets::config::{BucketConfig, DatabaseConfig};
use fleettickets::geocode::names::Aliases;
use fleettickets::history::capture::{self, Store};
use fleettickets::ingest::backfill;
use fleettickets::ingest::bucket::Bucket;
use fleettickets::ingest::clean::Cleaning;
use fleettickets::ingest::upsert;

use fleettickets::ingest::{self, Mode};
use fleettickets::ticket::columns::{self, TRACKED};
use fleettickets_gen::{self as generate, SeriesSpec, Spec};
use sqlx::{Connection, PgPool};

/// The replaced replay's store: the guard's columns and a history of its own.
const REPLAY: Store = Store {
    tickets: "replay_inc",
    history: "replay_history",
};

/// The replay `history backfill` had before: per snapshot, staging, the guard and the
/// capture statements of `ingest::upsert` over temporary tables. Returns the versions.
async fn sql_replay(pool: &PgPool, bucket: &Bucket) -> anyhow::Result<i64> {
    let aliases = Aliases::load(&mut *pool.acquire().await?).await?;
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    ingest::writer_settings(&mut tx).await?;
    sqlx::raw_sql(&format!(
        "CREATE TEMP TABLE replay_inc ON COMMIT DROP AS
             SELECT ticket_id, row_hash, source_updated_at, {tracked} FROM tickets.inc WITH NO DATA;
         ALTER TABLE replay_inc ADD PRIMARY KEY (ticket_id);
         CREATE TEMP TABLE replay_history (LIKE tickets.inc_history INCLUDING ALL) ON COMMIT DROP;",
        tracked = *TRACKED
    ))
    .execute(&mut *tx)
    .await?;
    let sql = format!(
        "{classified},
         w AS (INSERT INTO replay_inc AS t (ticket_id, row_hash, source_updated_at, {tracked})
               SELECT ticket_id, row_hash, source_updated_at, {tracked} FROM c
               WHERE change IN ('new', 'updated')
               ON CONFLICT (ticket_id) DO UPDATE SET row_hash = EXCLUDED.row_hash,
                   source_updated_at = EXCLUDED.source_updated_at, {set_tracked}
               RETURNING t.ticket_id),
         {capture}
         SELECT count(*) FROM added",
        classified = upsert::classified(REPLAY),
        capture = capture::capture(REPLAY, "(SELECT c.* FROM c JOIN w USING (ticket_id))", true),
        tracked = *TRACKED,
        set_tracked = columns::set_excluded(true),
    );
    for snapshot in bucket.archived().await? {
        let file = tempfile::NamedTempFile::new()?;
        bucket.download(&snapshot.key, file.path()).await?;
        ingest::staging::stage(
            &mut tx,
            file.path(),
            &snapshot.key,
            aliases.clone(),
            Mode::Apply,
        )
        .await?;
        let at = capture::history_time(&mut tx, REPLAY, snapshot.snapshot_at).await?;
        sqlx::query_scalar::<_, i64>(&sql)
            .bind(at)
            .bind(None::<i64>)
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("DROP TABLE inc_staging")
            .execute(&mut *tx)
            .await?;
    }
    let versions = sqlx::query_scalar("SELECT count(*) FROM replay_history")
        .fetch_one(&mut *tx)
        .await?;
    tx.rollback().await?;
    Ok(versions)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let snapshots: u32 = arg("--snapshots", 120);
    let rows: u64 = arg("--rows", 21_312);
    let rate: f64 = arg("--rate", 0.02);
    // `--baseline false` skips the SQL replay (to profile the backfill alone).
    let baseline: bool = arg("--baseline", true);
    let server = common::server_url();

    let dir = tempfile::tempdir()?;
    let archive = dir.path().join("automations/inc/processed");
    std::fs::create_dir_all(&archive)?;
    let end: DateTime<Utc> = "2026-06-16T12:00:00+03:00".parse()?;
    let series = SeriesSpec {
        base: Spec {
            rows,
            seed: 1,
            as_of: end - Duration::hours(i64::from(snapshots)),
            truncated: false,
        },
        snapshots,
        change_rate: rate,
        identical_at: None,
        stale_at: None,
    };
    let t = Instant::now();
    generate::series(&series, |name, body| {
        std::fs::write(archive.join(name), body)
    })?;
    println!(
        "archive: {snapshots} hourly snapshots of {rows} rows at {:.1} % change/hour, written in {:.0} s",
        rate * 100.0,
        t.elapsed().as_secs_f64()
    );
    let bucket = Bucket::from_config(&BucketConfig::local(dir.path()))?;
    drop_store(&server, "ft_bench_backfill").await?;
    let db = DatabaseConfig::new(format!("{server}/ft_bench_backfill"));
    let pool = fleettickets::db::migrate(&db).await?;

    // Where a snapshot's time goes: reading and cleaning alone, one at a time.
    let sample: Vec<_> = bucket.archived().await?.into_iter().take(10).collect();
    let t = Instant::now();
    for s in &sample {
        let file = tempfile::NamedTempFile::new()?;
        bucket.download(&s.key, file.path()).await?;
        let mut kept = 0;
        ingest::read_rows(file.path(), &s.key, Cleaning::Typed, |_| {
            kept += 1;
            true
        })?;
        std::hint::black_box(kept);
    }
    println!(
        "reading: {:.0} ms a snapshot (download, CSV, typed cleaning; one thread)",
        t.elapsed().as_secs_f64() * 1000.0 / sample.len() as f64
    );

    let rss_before = peak_rss_mb();
    let t = Instant::now();
    let lock = common::writer_lock(&pool).await?;
    let mut replayed = 0.0;
    let report = backfill::run(&pool, &bucket, Some(&lock), |step| {
        replayed = step.elapsed.as_secs_f64();
        fleettickets::ingest::progress::draw(step)
    })
    .await?;
    lock.release().await;
    let secs = t.elapsed().as_secs_f64();
    let rss = peak_rss_mb();
    let rate_new = f64::from(u32::try_from(report.snapshots)?) / secs;

    println!(
        "backfill:   {} snapshots, {} versions in {secs:.1} s = {rate_new:.2} snapshots/s; a year (8,760) in {:.1} min; peak RSS {rss:.0} MB (before: {rss_before:.0} MB)",
        report.snapshots,
        report.versions,
        8760.0 / rate_new / 60.0,
    );
    println!(
        "backfill's split: {replayed:.1} s reading and diffing the snapshots, {:.1} s writing the versions (COPY's end, the seam, the insert)",
        secs - replayed
    );
    if baseline {
        let t = Instant::now();
        let versions_sql = sql_replay(&pool, &bucket).await?;
        let secs_sql = t.elapsed().as_secs_f64();
        let rate_sql = f64::from(snapshots) / secs_sql;
        anyhow::ensure!(
            versions_sql == report.versions,
            "the replays disagree: {versions_sql} versions by SQL, {} by backfill",
            report.versions
        );
        println!(
            "SQL replay: {snapshots} snapshots, {versions_sql} versions in {secs_sql:.1} s = {rate_sql:.2} snapshots/s; a year in {:.1} min",
            8760.0 / rate_sql / 60.0,
        );
        println!("ratio: {:.1}x the SQL replay's rate", rate_new / rate_sql);
    }
    pool.close().await;
    drop_store(&server, "ft_bench_backfill").await?;
    Ok(())
}
