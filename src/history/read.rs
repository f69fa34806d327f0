//! The history's queries: capture start, the versions that overlap a period (the
//! backlog), the history's extent and one ticket's versions (time travel).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::backlog::Version;
use super::timeline::Recorded;
use crate::dashboard::replay::HistorySpan;
use crate::params::{sql_fold, sql_keeps_status, Filters};

/// When capture started (`None`: nothing is recorded yet).
pub async fn capture_start(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT started_at FROM tickets.history_capture")
        .fetch_optional(db)
        .await
}

/// The actionable versions valid at some instant of `[from, to]` that pass the filters
/// (the rest cannot count in the backlog). `compute` applies the filters again. With
/// clusters the query is another statement, so that its index on the cluster is used.
pub async fn versions(
    db: impl PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filters: &Filters,
) -> sqlx::Result<Vec<Version>> {
    let overlapping = format!(
        "SELECT ticket_id, valid_from, valid_to, true AS is_actionable, cluster,
                normalized_status, COALESCE(created_at_service, first_seen_at) AS start
         FROM tickets.inc_history
         WHERE is_actionable AND COALESCE(valid_to, 'infinity') > $1 AND valid_from <= $2
           AND {}",
        sql_keeps_status("normalized_status", "$3::text[]")
    );
    let by_cluster = !filters.cluster.is_empty();
    let sql = match by_cluster {
        true => format!("{overlapping} AND {} = ANY($4)", sql_fold("cluster")),
        false => overlapping,
    };
    let query = sqlx::query_as(&sql)
        .bind(from)
        .bind(to)
        .bind(&filters.status);
    match by_cluster {
        true => query.bind(filters.clusters_folded()),
        false => query,
    }
    .fetch_all(db)
    .await
}

/// Capture start and the newest version time (`timetravel.md`'s `C` and `H`).
pub async fn span(db: impl PgExecutor<'_>) -> sqlx::Result<HistorySpan> {
    sqlx::query_as(
        "SELECT (SELECT started_at FROM tickets.history_capture) AS capture_started_at,
                (SELECT max(valid_from) FROM tickets.inc_history) AS history_until",
    )
    .fetch_one(db)
    .await
}

/// A ticket's versions, oldest first.
pub async fn timeline(db: impl PgExecutor<'_>, ticket_id: &str) -> sqlx::Result<Vec<Recorded>> {
    sqlx::query_as(&format!(
        "SELECT valid_from, valid_to, import_id, {}
         FROM tickets.inc_history WHERE ticket_id = $1 ORDER BY valid_from",
        *crate::ticket::columns::TRACKED
    ))
    .bind(ticket_id)
    .fetch_all(db)
    .await
}

/// Whether the store holds the ticket (a timeline without versions is then empty, not
/// unknown).
pub async fn ticket_exists(db: impl PgExecutor<'_>, ticket_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tickets.inc WHERE ticket_id = $1)")
        .bind(ticket_id)
        .fetch_one(db)
        .await
}
