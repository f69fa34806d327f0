//! The backlog's queries: capture start and the versions that overlap a period.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use super::backlog::Version;
use crate::dashboard::params::Filters;

/// When capture started (`None`: nothing is recorded yet).
pub async fn capture_start(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT started_at FROM tickets.history_capture")
        .fetch_optional(db)
        .await
}

/// The actionable versions valid at some instant of `[from, to]` that pass the filters
/// (the rest cannot count in the backlog). `compute` applies the filters again.
pub async fn versions(
    db: impl PgExecutor<'_>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filters: &Filters,
) -> sqlx::Result<Vec<Version>> {
    sqlx::query_as(
        "SELECT ticket_id, valid_from, valid_to, true AS is_actionable, cluster,
                normalized_status, COALESCE(created_at_service, first_seen_at) AS start
         FROM tickets.inc_history
         WHERE is_actionable AND COALESCE(valid_to, 'infinity') > $1 AND valid_from <= $2
           AND (cardinality($3::text[]) = 0 OR lower(cluster) = ANY($3))
           AND (cardinality($4::text[]) = 0 OR upper(normalized_status) = ANY($4))",
    )
    .bind(from)
    .bind(to)
    .bind(filters.clusters_lower())
    .bind(&filters.status)
    .fetch_all(db)
    .await
}
