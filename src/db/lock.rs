//! The ingest lock: one writer of tickets and history at a time, across every replica
//! and every CLI process. A PostgreSQL session advisory lock on a connection of its own,
//! so a crash releases it. The write functions take `&IngestLock`, so a path that writes
//! without holding it does not compile.

use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use crate::config::{ExposeSecret, SecretString};

/// The advisory lock key ("INC" in ASCII).
const KEY: i64 = 0x494e43;

/// How often a waiting writer asks again.
const POLL: Duration = Duration::from_millis(250);

/// Held while writing tickets or history; released when dropped or closed.
#[derive(Debug)]
pub struct IngestLock {
    conn: PgConnection,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another import, backfill or retention run held the ingest lock for {0:?}; try again later (or wait longer with --wait)")]
    Busy(Duration),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl IngestLock {
    /// Waits up to `patience` for the lock; `on_busy` is called once, when the first try
    /// finds it held (so a CLI can say it is waiting).
    pub async fn acquire(
        database_url: &SecretString,
        patience: Duration,
        on_busy: impl FnOnce(),
    ) -> Result<IngestLock, LockError> {
        let conn = PgConnection::connect(database_url.expose_secret()).await?;
        Self::acquire_on(conn, patience, on_busy).await
    }

    /// `acquire` on a connection taken out of `pool` for good (closed on release).
    pub async fn acquire_from(
        pool: &sqlx::PgPool,
        patience: Duration,
        on_busy: impl FnOnce(),
    ) -> Result<IngestLock, LockError> {
        let conn = pool.acquire().await?.detach();
        Self::acquire_on(conn, patience, on_busy).await
    }

    async fn acquire_on(
        mut conn: PgConnection,
        patience: Duration,
        on_busy: impl FnOnce(),
    ) -> Result<IngestLock, LockError> {
        let deadline = Instant::now() + patience;
        let mut on_busy = Some(on_busy);
        loop {
            match try_key(&mut conn).await? {
                true => return Ok(IngestLock { conn }),
                false if Instant::now() >= deadline => {
                    conn.close().await.ok();
                    return Err(LockError::Busy(patience));
                }
                false => {
                    if let Some(say) = on_busy.take() {
                        say();
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    tokio::time::sleep(POLL.min(left)).await;
                }
            }
        }
    }

    /// Releases the lock (dropping does too, less politely).
    pub async fn release(self) {
        self.conn.close().await.ok();
    }
}

async fn try_key(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(KEY)
        .fetch_one(conn)
        .await
}
