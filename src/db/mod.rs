//! The PostgreSQL pool, the migrations and the read queries.

pub mod attribution;
pub mod tickets;

use std::time::Duration;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::config::DatabaseConfig;

/// The ordered plain-SQL files under `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates the database when it does not exist yet.
pub async fn ensure_database(config: &DatabaseConfig) -> sqlx::Result<()> {
    if !Postgres::database_exists(&config.database_url).await? {
        match Postgres::create_database(&config.database_url).await {
            // Another process created it in the meantime.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            other => other?,
        }
    }
    Ok(())
}

/// A pool whose connections carry the configured `statement_timeout`.
pub async fn connect(config: &DatabaseConfig) -> sqlx::Result<PgPool> {
    let options: PgConnectOptions = config.database_url.parse()?;
    let timeout_ms = (config.db_statement_timeout_secs * 1000).to_string();
    let options = options
        .application_name("fleettickets")
        .options([("statement_timeout", timeout_ms.as_str())]);
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(Duration::from_secs(config.db_acquire_timeout_secs))
        .connect_with(options)
        .await
}

/// Creates the database if needed, connects, applies the migrations (a no-op when they
/// are applied already) and adds the shipped gazetteer's missing clusters.
pub async fn migrate(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    ensure_database(config).await?;
    let pool = connect(config).await?;
    MIGRATOR.run(&pool).await?;
    crate::geocode::gazetteer::seed(&mut *pool.acquire().await?).await?;
    Ok(pool)
}

/// A session advisory lock held on a connection of its own (not a pooled one) for as
/// long as the value lives: dropping or closing it releases the lock, and so does a
/// crash. `None` when another session holds it.
pub async fn try_lock(database_url: &str, key: i64) -> sqlx::Result<Option<sqlx::PgConnection>> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url).await?;
    let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut conn)
        .await?;
    Ok(got.then_some(conn))
}

/// Fails with a clear message when the schema is missing or behind this binary.
pub async fn check_migrated(pool: &PgPool) -> anyhow::Result<()> {
    let applied: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    let missing = MIGRATOR
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .count();
    anyhow::ensure!(
        missing == 0,
        "the database schema is missing {missing} migration(s): run `fleettickets migrate`"
    );
    Ok(())
}
