//! Closure attribution from the history (`history.md`, `tickets.inc_history`): who held
//! a ticket in the version in which it stopped being actionable. The history is built
//! by its own migration; until it exists, attribution falls back to the current rows.

use std::collections::HashMap;

use sqlx::PgPool;

use crate::dashboard::recent::Holder;

/// For those of `ticket_ids` that have one, the team and owner of the latest version in
/// which the ticket stopped being actionable (its previous version was actionable). A
/// ticket captured already closed (its first version) has none: its current row counts.
pub async fn closing_holders(
    pool: &PgPool,
    ticket_ids: &[&str],
) -> sqlx::Result<HashMap<String, Holder>> {
    if ticket_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT DISTINCT ON (ticket_id) ticket_id, assigned_team, owner
         FROM (SELECT ticket_id, valid_from, assigned_team, owner,
                      COALESCE(is_actionable, false) AS actionable,
                      COALESCE(lag(is_actionable) OVER (PARTITION BY ticket_id ORDER BY valid_from), false) AS was_actionable
               FROM tickets.inc_history WHERE ticket_id = ANY($1)) v
         WHERE was_actionable AND NOT actionable
         ORDER BY ticket_id, valid_from DESC",
    )
    .bind(ticket_ids)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, assigned_team, owner)| {
            (
                id,
                Holder {
                    assigned_team,
                    owner,
                },
            )
        })
        .collect())
}
