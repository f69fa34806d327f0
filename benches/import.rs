//! Import benchmark: `cargo bench --bench import -- --rows 21312` (any row count).
//!
//! Generates a snapshot, then in one run times (1) a plain `COPY` of the file into an
//! unlogged table of text columns, the floor, and (2) the real import of the same file
//! into an empty store, then (3) the same import again (every row unchanged). Prints
//! rows/s, the ratio import / COPY and this process's peak RSS. Uses the database
//! `ft_bench` on `TEST_DATABASE_URL` (default postgres://postgres@127.0.0.1:5432),
//! dropped and recreated each run.

#[path = "common/mod.rs"]
mod common;

use std::time::Instant;

use common::peak_rss_mb;
use fleettickets::config::DatabaseConfig;
use fleettickets_gen as generate;
use sqlx::{Connection, PgConnection};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let rows: u64 = arg("--rows").map_or(Ok(21_312), |r| r.parse())?;
    let server = common::server_url();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("2026-06-16T071502.csv");

    let t = Instant::now();
    let spec = generate::Spec {
        rows,
        seed: 1,
        as_of: chrono::Utc::now(),
        truncated: false,
    };
    generate::write(
        &spec,
        std::io::BufWriter::new(std::fs::File::create(&path)?),
    )?;
    let bytes = std::fs::metadata(&path)?.len();
    println!(
        "generated {rows} rows, {:.1} MB, in {:.2} s",
        bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // Parse, clean and encode alone (no database): the Rust share of the import.
    let t = Instant::now();
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(&path)?;
    let mut record = csv::StringRecord::new();
    csv.read_record(&mut record)?;
    let header = fleettickets::ingest::clean::Header::parse("bench", &record)?;
    let mut stats = fleettickets::ingest::clean::RowStats::default();
    let mut buf = Vec::new();
    let mut ord = 0;
    while csv.read_record(&mut record)? {
        if let Some(row) = header.clean(&record, 0, &mut stats)? {
            ord += 1;
            fleettickets::ingest::staging::encode_row(ord, &row, &mut buf);
        }
        if buf.len() > 1 << 20 {
            buf.clear();
        }
    }
    let clean = t.elapsed().as_secs_f64();

    let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
    sqlx::query("DROP DATABASE IF EXISTS ft_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    let config = DatabaseConfig::new(format!("{server}/ft_bench"));
    let pool = fleettickets::db::migrate(&config).await?;

    // The floor: the file as it is, COPYed into an unlogged table of text columns.
    let mut conn = pool.acquire().await?;
    let columns: Vec<String> = (0..33).map(|i| format!("c{i} text")).collect();
    sqlx::query(&format!(
        "CREATE UNLOGGED TABLE copy_floor ({})",
        columns.join(", ")
    ))
    .execute(&mut *conn)
    .await?;
    let t = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY copy_floor FROM STDIN (FORMAT csv, HEADER true)")
        .await?;
    copy.read_from(tokio::fs::File::open(&path).await?).await?;
    copy.finish().await?;
    let floor = t.elapsed().as_secs_f64();
    drop(conn);

    let t = Instant::now();
    let report = common::apply(&pool, &path).await?;
    let first = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = common::apply(&pool, &path).await?;
    let second = t.elapsed().as_secs_f64();

    println!(
        "parse + clean + encode only (no database): {:.3} s, {:.0} rows/s",
        clean,
        rows as f64 / clean
    );
    println!(
        "plain COPY into an unlogged table (floor): {:.3} s, {:.0} rows/s",
        floor,
        rows as f64 / floor
    );
    println!(
        "import into an empty store:  {:.3} s, {:.0} rows/s, {:.2}x the COPY time ({} new)",
        first,
        rows as f64 / first,
        first / floor,
        report.changes.new
    );
    println!(
        "same file again (unchanged): {:.3} s, {:.0} rows/s, {:.2}x the COPY time ({} unchanged)",
        second,
        rows as f64 / second,
        second / floor,
        again.changes.unchanged
    );
    println!("peak RSS of this process: {:.1} MB", peak_rss_mb());
    pool.close().await;
    sqlx::query("DROP DATABASE IF EXISTS ft_bench WITH (FORCE)")
        .execute(&mut admin)
        .await?;
    Ok(())
}
