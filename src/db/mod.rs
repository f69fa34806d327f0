//! The PostgreSQL pool, the migrations (with the shipped gazetteer), the ingest lock and
//! what a database error means. The read queries are in `read`.

pub mod gazetteer;
pub mod lock;
pub mod wal;

use std::time::Duration;

use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::config::{DatabaseConfig, ExposeSecret, SecretString};

/// The ordered plain-SQL files under `migrations/`, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// What a database error means: the database's fault, the caller's value's, or ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseFault {
    /// Unreachable, shutting down, out of resources, or a statement timeout.
    Outage,
    /// A value from the client (or the snapshot) that PostgreSQL refuses (SQLSTATE
    /// class 22: a NUL byte, a number or date out of range).
    BadValue,
    /// Anything else: our bug.
    Bug,
}

pub fn fault(e: &sqlx::Error) -> DatabaseFault {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_) => DatabaseFault::Outage,
        // 08: connection exceptions; 57: operator intervention (shutdown, statement
        // timeout); 53: insufficient resources; 22: data exceptions.
        sqlx::Error::Database(db) => match db.code().as_deref().map(|c| c.get(..2)) {
            Some(Some("08" | "57" | "53")) => DatabaseFault::Outage,
            Some(Some("22")) => DatabaseFault::BadValue,
            _ => DatabaseFault::Bug,
        },
        _ => DatabaseFault::Bug,
    }
}

/// Creates the database when it does not exist yet.
pub async fn ensure_database(config: &DatabaseConfig) -> sqlx::Result<()> {
    let url = config.database_url.expose_secret();
    if !Postgres::database_exists(url).await? {
        match Postgres::create_database(url).await {
            // Another process created it in the meantime.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            other => other?,
        }
    }
    Ok(())
}

/// A pool on the primary whose connections carry the configured `statement_timeout` (and
/// `jit = off`, see `connect_options`).
pub async fn connect(config: &DatabaseConfig) -> sqlx::Result<PgPool> {
    let options = connect_options(config, config.database_url.expose_secret())?;
    match pool_options(config).connect_with(options.clone()).await {
        // The pool only says it timed out; one direct attempt tells why (refused, bad
        // password, no such database).
        Err(sqlx::Error::PoolTimedOut) => {
            use sqlx::Connection;
            Err(sqlx::PgConnection::connect_with(&options)
                .await
                .err()
                .unwrap_or(sqlx::Error::PoolTimedOut))
        }
        other => other,
    }
}

/// A pool on the primary that connects when first used: a replica started while the
/// primary is down (`startup`).
pub fn connect_lazy(config: &DatabaseConfig) -> sqlx::Result<PgPool> {
    let options = connect_options(config, config.database_url.expose_secret())?;
    Ok(pool_options(config).connect_lazy_with(options))
}

/// `DATABASE_READ_URL`, when set and not blank.
pub fn read_url(config: &DatabaseConfig) -> Option<&str> {
    let url = config.database_read_url.as_ref()?.expose_secret().trim();
    (!url.is_empty()).then_some(url)
}

/// The read path's pool: on `DATABASE_READ_URL` (never migrated: a standby is read-only
/// and gets the schema by replication), else the primary's own. It connects when first
/// used: a standby may not have replayed the database's creation yet.
pub fn connect_read(config: &DatabaseConfig, primary: &PgPool) -> sqlx::Result<PgPool> {
    match read_url(config) {
        Some(url) => Ok(pool_options(config).connect_lazy_with(connect_options(config, url)?)),
        None => Ok(primary.clone()),
    }
}

/// The database could not be reached at all (refused, no route, timed out), as opposed
/// to refusing us (password, missing database) or failing a migration.
pub fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut)
        )
    })
}

/// Every connection carries the configured `statement_timeout` and `jit = off`: the
/// service's statements are index lookups and bulk writes, where JIT compilation took
/// longer than the statement each time the planner priced one past `jit_above_cost`
/// (20-43 ms on a recorded dashboard query of a few, 0.2 s per import).
fn connect_options(config: &DatabaseConfig, url: &str) -> sqlx::Result<PgConnectOptions> {
    let options: PgConnectOptions = url.parse()?;
    let timeout_ms = (config.db_statement_timeout_secs * 1000).to_string();
    Ok(options
        .application_name("fleettickets")
        .options([("statement_timeout", timeout_ms.as_str()), ("jit", "off")]))
}

fn pool_options(config: &DatabaseConfig) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(config.db_max_connections)
        .acquire_timeout(Duration::from_secs(config.db_acquire_timeout_secs))
}

/// `host:port/database` of the configured URL, for messages (never the password).
pub fn describe(config: &DatabaseConfig) -> String {
    match config
        .database_url
        .expose_secret()
        .parse::<PgConnectOptions>()
    {
        Ok(o) => format!(
            "{}:{}/{}",
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or_default()
        ),
        Err(_) => "(DATABASE_URL does not parse)".into(),
    }
}

/// Creates the database if needed, connects, applies the migrations (a no-op when they
/// are applied already) and adds the shipped gazetteer's missing clusters.
pub async fn migrate(config: &DatabaseConfig) -> anyhow::Result<PgPool> {
    use anyhow::Context;
    let unreachable = || format!("cannot reach the database at {}", describe(config));
    ensure_database(config).await.with_context(unreachable)?;
    let pool = connect(config).await.with_context(unreachable)?;
    MIGRATOR.run(&pool).await?;
    gazetteer::seed(&mut *pool.acquire().await?).await?;
    Ok(pool)
}

/// A session advisory lock held on a connection of its own (not a pooled one) for as
/// long as the value lives: dropping or closing it releases the lock, and so does a
/// crash. `None` when another session holds it.
pub async fn try_lock(
    database_url: &SecretString,
    key: i64,
) -> sqlx::Result<Option<sqlx::PgConnection>> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url.expose_secret()).await?;
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
            .or_else(|e| match e {
                // No migrations table yet: nothing applied.
                sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => Ok(vec![]),
                e => Err(e),
            })?;
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
