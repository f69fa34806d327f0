//! The recent history's versions (`dashboard::versions`), read once per generation of
//! the live open set.

use sqlx::PgPool;

use super::copy;
use super::places::Places;
use super::tickets::TRACKED_COLUMNS;
use crate::dashboard::versions::{Horizon, RecentVersions, Version};
use crate::dashboard::Ticket;

/// What `horizon` holds, each version over its current row's untracked fields (from
/// `places`, which keeps them for the generation's recorded misses of older instants);
/// `None` when it holds more than `most` versions (those instants query the history).
///
/// Three disjoint branches, each by its index: the actionable versions by their end
/// (migration 0004), the others closed since `since` by `closed_at` (0009), the others
/// created since `since` and not closed since then by creation day (0010).
pub async fn recent(
    pool: &PgPool,
    horizon: Horizon,
    places: &Places,
    most: usize,
) -> sqlx::Result<Option<RecentVersions>> {
    let (start, since) = (copy::time(horizon.start), copy::time(horizon.since));
    let sql = format!(
        "SELECT h.valid_from, h.valid_to, {tracked} FROM (
             SELECT * FROM tickets.inc_history
             WHERE is_actionable AND COALESCE(valid_to, 'infinity') > {start}
             UNION ALL
             SELECT * FROM tickets.inc_history
             WHERE closed_at >= {since} AND is_actionable IS NOT TRUE
               AND (valid_to IS NULL OR valid_to > {start})
             UNION ALL
             SELECT * FROM tickets.inc_history
             WHERE tickets.history_day(created_at_service) >= tickets.history_day({since})
               AND created_at_service >= {since} AND is_actionable IS NOT TRUE
               AND (closed_at IS NULL OR closed_at < {since})
               AND (valid_to IS NULL OR valid_to > {start})) h
         LIMIT {limit}",
        tracked = *TRACKED_COLUMNS,
        limit = most + 1,
    );
    let mut versions = Vec::new();
    let decode = |fields: &mut copy::Fields| {
        Ok(Version {
            valid_from: fields.field()?.ok_or("a null valid_from")?,
            valid_to: fields.field()?,
            ticket: Ticket::from_copy(fields)?,
        })
    };
    copy::rows(pool, &sql, decode, |v| versions.push(v)).await?;
    if versions.len() > most {
        tracing::warn!(
            most,
            start = %horizon.start,
            "the recent history holds more versions than are kept in memory; its instants query the history"
        );
        return Ok(None);
    }
    let versions = places.complete(pool, versions).await?;
    Ok(Some(RecentVersions::new(horizon, versions)))
}
