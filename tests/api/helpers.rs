//! Test plumbing: a fresh migrated database per test (cloned from a template that is
//! migrated once per run), files in a temporary folder, row checksums.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use fleettickets::config::DatabaseConfig;
use fleettickets::db;
use fleettickets::db::lock::IngestLock;
use fleettickets::ingest::{import_file, ImportError, ImportReport, Mode, Source};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

/// The server the tests use (trust auth); override with `TEST_DATABASE_URL`.
fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static NEXT: AtomicU32 = AtomicU32::new(0);

/// A template named after the migrations' checksums, so a changed migration gets a new one.
async fn template() -> &'static str {
    TEMPLATE
        .get_or_init(|| async {
            let mut hash = 0u64;
            for m in db::MIGRATOR.iter() {
                for b in m.checksum.iter() {
                    hash = hash.wrapping_mul(31).wrapping_add(u64::from(*b));
                }
            }
            let name = format!("ft_tpl_{:x}", hash & 0xffff_ffff_ffff);
            let mut admin = admin().await;
            // One process at a time builds it; leftovers of earlier runs are dropped.
            sqlx::query("SELECT pg_advisory_lock(727001)").execute(&mut admin).await.unwrap();
            let stale: Vec<String> = sqlx::query_scalar(
                "SELECT datname FROM pg_database WHERE datname LIKE 'ft\\_test\\_%'
                 AND datname NOT IN (SELECT datname FROM pg_stat_activity WHERE datname IS NOT NULL)",
            )
            .fetch_all(&mut admin)
            .await
            .unwrap();
            for db in stale {
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{db}\""))
                    .execute(&mut admin)
                    .await
                    .ok();
            }
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut admin)
                    .await
                    .unwrap();
            if !exists {
                let config = DatabaseConfig::new(format!("{}/{name}", server_url()));
                let pool = db::migrate(&config).await.expect("migrations apply");
                pool.close().await;
            }
            sqlx::query("SELECT pg_advisory_unlock(727001)").execute(&mut admin).await.unwrap();
            name
        })
        .await
}

async fn admin() -> PgConnection {
    PgConnection::connect(&format!("{}/postgres", server_url()))
        .await
        .expect("PostgreSQL is running on 127.0.0.1:5432 (scripts/deps.sh starts it)")
}

pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
}

/// A new database with every migration applied, for one test.
pub async fn test_db() -> TestDb {
    let template = template().await;
    let name = format!(
        "ft_test_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = admin().await;
    sqlx::query(&format!(
        "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
    ))
    .execute(&mut admin)
    .await
    .expect("create the test database");
    let config = DatabaseConfig::new(format!("{}/{name}", server_url()));
    let pool = db::connect(&config)
        .await
        .expect("connect to the test database");
    TestDb {
        pool,
        url: secrecy::ExposeSecret::expose_secret(&config.database_url).to_owned(),
    }
}

/// `tests/data/<name>`: the spec's sample data, committed with the tests.
pub fn test_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A temporary folder removed at drop.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

pub fn write_file(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

/// A checksum of every ticket row (all columns but `ingested_at`), in ticket order.
pub async fn tickets_checksum(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT md5(COALESCE(string_agg(r::text, '|' ORDER BY r.ticket_id), ''))
         FROM (SELECT ticket_id, raw, normalized_status, raw_status, bucket, is_actionable,
                      cluster, region, location_name, assigned_team, owner, sla_status, mttr,
                      created_at_service, scheduled_at, closed_at, first_seen_at, last_seen_at,
                      source_created_at, source_updated_at, latitude, longitude, geo_source,
                      ST_AsText(geom), ST_AsText(geog::geometry)
               FROM tickets.inc) r",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A checksum of the history and its capture start.
pub async fn history_checksum(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT md5(COALESCE(string_agg(h::text, '|' ORDER BY h.ticket_id, h.valid_from), '')
                    || COALESCE((SELECT started_at::text FROM tickets.history_capture), ''))
         FROM tickets.inc_history h",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Imports a local file as `fleettickets import --inc-csv FILE [--apply]` does: applied
/// under the ingest lock.
pub async fn import_path(
    pool: &PgPool,
    path: &Path,
    mode: Mode,
) -> Result<ImportReport, ImportError> {
    let lock = match mode {
        Mode::Apply => Some(writer_lock(pool).await),
        Mode::DryRun => None,
    };
    let report = import_file(pool, path, Source::local_file(path), lock.as_ref()).await;
    if let Some(lock) = lock {
        lock.release().await;
    }
    report
}

/// The ingest lock, as a writer takes it (waiting up to a minute).
pub async fn writer_lock(pool: &PgPool) -> IngestLock {
    IngestLock::acquire_from(pool, std::time::Duration::from_secs(60), || {})
        .await
        .expect("the ingest lock within a minute")
}

/// Applies a handmade CSV (named as a bucket snapshot of 2026-06-16 07:15:02 EAT).
pub async fn import_text(pool: &PgPool, csv: &str) -> ImportReport {
    let dir = temp_dir();
    let path = write_file(dir.path(), "2026-06-16T071502.csv", csv);
    import_path(pool, &path, Mode::Apply)
        .await
        .expect("import succeeds")
}

/// Polls `done` every 10 ms for at most `limit`; panics naming `what` after it.
pub async fn eventually<F: std::future::Future<Output = bool>>(
    limit: std::time::Duration,
    what: &str,
    mut done: impl FnMut() -> F,
) {
    let deadline = std::time::Instant::now() + limit;
    while !done().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within {limit:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
