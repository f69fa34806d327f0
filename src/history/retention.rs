//! `HISTORY_RETENTION_DAYS`: versions closed more than that many days ago are dropped,
//! and capture start moves to the last instant they covered (before it, the history is
//! no longer complete; from it on, every version valid is kept).

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::db::lock::IngestLock;

/// Drops the versions closed before `now − days`, and the sealed hours that start before
/// the new capture start; returns how many versions. Tells every replica when it
/// dropped any (their cached answers showed the dropped past).
#[tracing::instrument(name = "retention", skip(pool, _lock), fields(dropped))]
pub async fn apply(
    pool: &PgPool,
    _lock: &IngestLock,
    days: u32,
    now: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let mut tx = pool.begin().await?;
    let dropped = sqlx::query_scalar(
        "WITH dropped AS (DELETE FROM tickets.inc_history WHERE valid_to < $1 RETURNING valid_to),
              moved AS (UPDATE tickets.history_capture
                        SET started_at = GREATEST(started_at, (SELECT max(valid_to) FROM dropped))
                        WHERE EXISTS (SELECT 1 FROM dropped) RETURNING 1)
         SELECT count(*) FROM dropped",
    )
    .bind(now - Duration::days(i64::from(days)))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM tickets.backlog_hourly
         WHERE hour_end - interval '1 hour' < (SELECT started_at FROM tickets.history_capture)",
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::Span::current().record("dropped", dropped);
    if dropped > 0 {
        crate::events::notify(&mut *pool.acquire().await?, crate::events::NOT_AN_IMPORT).await;
        tracing::info!(dropped, days, "history retention: old versions dropped");
    }
    Ok(dropped)
}
