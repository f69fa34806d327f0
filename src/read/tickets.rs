//! The read path's queries. Each returns typed rows; the payloads are built in Rust.

use std::sync::{Arc, LazyLock, Mutex};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{Column, FromRow, PgPool, Row};
use utoipa::ToSchema;

use super::binary;
use super::places::{self, Places};
use crate::dashboard::freshness::ImportState;
use crate::dashboard::{self, Ticket};
use crate::eat;
use crate::params::{sql_fold, DashboardRequest};
use crate::ticket::fields::{join, names, select_fields, ticket_struct, Field};

/// The `Ticket` columns as a select list: the key and the history's tracked fields
/// prefixed with `tracked`, the others with `other`.
fn ticket_select(tracked: &str, other: &str) -> String {
    let each = |f: &Field| format!("{}{}", if f.tracked { tracked } else { other }, f.name);
    format!("{tracked}ticket_id, {}", join(|f| f.map, each))
}

/// `Ticket` decoded by position, in `ticket_select`'s order (the key, then the map view's
/// fields as declared), not by name, each value by its kind (`binary`): a recorded miss
/// at 1M tickets decodes 30,000 rows of 17 columns. Debug builds check each column's name.
macro_rules! decode_ticket {
    ([$({ $(#[$a:meta])* $n:ident $k:ident $($decl:tt)* })*]) => {
        impl<'r> FromRow<'r, PgRow> for Ticket {
            fn from_row(row: &'r PgRow) -> sqlx::Result<Ticket> {
                let mut at = 0;
                let mut next = |name: &str| {
                    at += 1;
                    debug_assert_eq!(row.columns().get(at).map(|c| c.name()), Some(name));
                    at
                };
                debug_assert_eq!(row.columns().first().map(|c| c.name()), Some("ticket_id"));
                Ok(Ticket {
                    ticket_id: row.try_get(0)?,
                    $($n: binary::$k(row, next(stringify!($n)))?,)*
                })
            }
        }
    };
}
select_fields!(map => decode_ticket! {});

/// The current rows' columns.
static TICKET_COLUMNS: LazyLock<String> = LazyLock::new(|| ticket_select("", ""));

/// The history's tracked fields, with the key.
static TRACKED_COLUMNS: LazyLock<String> =
    LazyLock::new(|| format!("h.ticket_id, {}", crate::ticket::columns::list("h.", true)));

/// A version of span class `k` (migration 0009) valid at `$5`: it started in one short
/// range before `$5` (the current ones, class -1, and the longest at any time before).
const VALID_BY_SPAN: &str = "tickets.history_span_class(valid_from, valid_to) = k
    AND valid_from <= $5
    AND valid_from > COALESCE($5 - (tickets.history_spans())[k + 1], '-infinity')
    AND (valid_to IS NULL OR valid_to > $5)";

/// The tracked fields a version returned by the created branch alone carries (migration
/// 0010's index): what the payload reads of a ticket that is neither open nor closed in
/// the window (the daily series' times, the filters' cluster and status).
const CREATED_CARRIED: [&str; 4] = [
    "normalized_status",
    "cluster",
    "created_at_service",
    "closed_at",
];

/// `TRACKED_COLUMNS` for the created branch: the carried fields of `c`, typed nulls (`z`)
/// for the others.
static CREATED_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    let each = |f: &Field| {
        let from = if CREATED_CARRIED.contains(&f.name) {
            "c"
        } else {
            "z"
        };
        format!("{from}.{}", f.name)
    };
    format!("c.ticket_id, {}", join(|f| f.tracked, each))
});

/// A version's tracked fields (`h`) over its current row's other fields (`i`).
static RECORDED_COLUMNS: LazyLock<String> = LazyLock::new(|| ticket_select("h.", "i."));

/// Every live (actionable) ticket.
pub async fn open_tickets(pool: &PgPool) -> sqlx::Result<Vec<Ticket>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM tickets.inc WHERE is_actionable ORDER BY ticket_id COLLATE \"C\"",
        *TICKET_COLUMNS
    ))
    .fetch_all(pool)
    .await
}

/// Every ticket closed or created at or after `since` (`dashboard::recent`); each branch
/// is served by its own index.
pub async fn recent_tickets(pool: &PgPool, since: DateTime<Utc>) -> sqlx::Result<Vec<Ticket>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM tickets.inc WHERE closed_at >= $1 OR created_at_service >= $1",
        *TICKET_COLUMNS
    ))
    .bind(since)
    .fetch_all(pool)
    .await
}

/// The tickets closed or created in the request's window (the daily series counts the
/// latter), after the filters; each branch is served by its own index.
pub async fn window_tickets(pool: &PgPool, req: &DashboardRequest) -> sqlx::Result<Vec<Ticket>> {
    let sql = format!(
        "SELECT {} FROM tickets.inc
         WHERE ((closed_at >= $1 AND closed_at < $2)
                OR (created_at_service >= $1 AND created_at_service < $2))
           AND (cardinality($3::text[]) = 0 OR {cluster} = ANY($3))
           AND (cardinality($4::text[]) = 0 OR upper(normalized_status) = ANY($4))",
        *TICKET_COLUMNS,
        cluster = sql_fold("cluster"),
    );
    let mut rows = Vec::new();
    for_request(pool, &sql, req, None, &mut rows).await?;
    Ok(rows)
}

/// The tickets as recorded at the request's `as_of` (`timetravel.md`): each version
/// valid then that is actionable or closed or created in the window, after the filters
/// (on the version's fields), with its current row's other fields (from `places`), by
/// ticket id, each ticket once (a ticket's versions do not overlap). The payload's rows:
/// `dashboard::replay::rows`.
///
/// Each branch is one index's pages: the actionable versions per span class, each class
/// a short range of `valid_from` (migration 0009); those closed in the window by
/// `closed_at`, carrying their fields (0009), but the actionable ones (the first branch
/// has those); those created in the window that neither branch returns, per creation
/// day and span class (0010), with only the fields the payload reads of them
/// (`CREATED_CARRIED`; the others null). The branches are disjoint: no dedup. The
/// current rows' fields are typed nulls here, filled in from `places`.
pub async fn recorded_tickets(
    pool: &PgPool,
    req: &DashboardRequest,
    places: &Places,
) -> sqlx::Result<Arc<[Ticket]>> {
    let sql = format!(
        "WITH at_t AS (
             SELECT {tracked} FROM generate_series(-1, cardinality(tickets.history_spans())) k
             CROSS JOIN LATERAL (
                 SELECT * FROM tickets.inc_history
                 WHERE is_actionable AND {VALID_BY_SPAN}) h
             UNION ALL
             SELECT {tracked} FROM tickets.inc_history h
             WHERE closed_at >= $1 AND closed_at < $2 AND is_actionable IS NOT TRUE
               AND valid_from <= $5 AND (valid_to IS NULL OR valid_to > $5)
             UNION ALL
             SELECT {created} FROM generate_series(tickets.history_day($1), tickets.history_day($2)) d
             CROSS JOIN generate_series(-1, cardinality(tickets.history_spans())) k
             CROSS JOIN LATERAL (
                 SELECT * FROM tickets.inc_history
                 WHERE is_actionable IS NOT TRUE
                   AND tickets.history_day(created_at_service) = d AND {VALID_BY_SPAN}
                   AND created_at_service >= $1 AND created_at_service < $2
                   AND (closed_at IS NULL OR closed_at < $1 OR closed_at >= $2)) c
             CROSS JOIN (SELECT (NULL::tickets.inc_history).*) z)
         SELECT {} FROM at_t h CROSS JOIN ({nulls}) i
         WHERE (cardinality($3::text[]) = 0 OR {cluster} = ANY($3))
           AND (cardinality($4::text[]) = 0 OR upper(h.normalized_status) = ANY($4))",
        *RECORDED_COLUMNS,
        tracked = *TRACKED_COLUMNS,
        created = *CREATED_COLUMNS,
        nulls = *places::NULLS,
        cluster = sql_fold("h.cluster"),
    );
    // Without JIT (the pool's connections have it off, see `db::connect_options`): its
    // compilation took 40 ms of a query of a few.
    let mut versions = std::mem::take(&mut *FETCHED.lock().expect("not poisoned"));
    for_request(pool, &sql, req, Some(req.window.as_of), &mut versions).await?;
    let mut versions = places.complete(pool, versions).await?;
    let rows = by_id(&mut versions);
    versions.clear();
    let mut spare = FETCHED.lock().expect("not poisoned");
    if versions.capacity() > spare.capacity() {
        *spare = versions;
    }
    Ok(rows)
}

/// The buffer recorded misses fetch their versions into, kept for the next one: a new
/// one each time (10 MB at 1M tickets) was faulted in page by page again, since the
/// allocator hands blocks of 1 MiB or more back to the system when they are freed
/// (`memory.rs`). It holds the largest miss's capacity, empty.
static FETCHED: Mutex<Vec<Ticket>> = Mutex::new(Vec::new());

/// `rows` in ticket id order: the payload reads them in that order, and at 1M tickets
/// (30,000 rows) reading them scattered cost more in cache misses (compute and JSON 20 ms
/// slower) than the sort. The rows are moved once, by a sorted permutation, not swapped
/// about by the sort (320 bytes each), straight into the payload's shared slice (a
/// `Vec` made into an `Arc` would be copied again: 10 MB at 1M, in fresh pages).
fn by_id(rows: &mut [Ticket]) -> Arc<[Ticket]> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_unstable_by(|&a, &b| dashboard::by_id(&rows[a], &rows[b]));
    order
        .into_iter()
        .map(|i| std::mem::take(&mut rows[i]))
        .collect()
}

/// The current rows of `ids` (those that have one).
pub(super) async fn current_rows(pool: &PgPool, ids: &[&str]) -> sqlx::Result<Vec<Ticket>> {
    sqlx::query_as(&format!(
        "SELECT {} FROM tickets.inc WHERE ticket_id = ANY($1)",
        *TICKET_COLUMNS
    ))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// `sql` over the request's window (`$1`, `$2`), filters (`$3` folded clusters, `$4`
/// statuses) and, if given, an instant (`$5`), its rows appended to `rows`.
async fn for_request<'e>(
    db: impl sqlx::PgExecutor<'e>,
    sql: &str,
    req: &DashboardRequest,
    at: Option<DateTime<Utc>>,
    rows: &mut Vec<Ticket>,
) -> sqlx::Result<()> {
    let query = sqlx::query_as(sql)
        .bind(req.window.from)
        .bind(req.window.to)
        .bind(req.filters.clusters_folded())
        .bind(&req.filters.status);
    let query = match at {
        Some(at) => query.bind(at),
        None => query,
    };
    let mut fetched = query.fetch(db);
    while let Some(row) = fetched.try_next().await? {
        rows.push(row);
    }
    Ok(())
}

/// What `import_meta` says about the data's freshness.
pub async fn import_state(pool: &PgPool) -> sqlx::Result<ImportState> {
    sqlx::query_as(
        "SELECT (SELECT max(finished_at) FROM tickets.import_meta
                 WHERE outcome = 'imported' AND inserted + updated > 0) AS last_import_at,
                l.finished_at AS last_checked_at, l.source_key, l.etag AS source_etag,
                l.snapshot_at, l.truncated,
                (SELECT max(content_max_updated_at) FROM tickets.import_meta) AS content_max_updated_at
         FROM (SELECT 1) one
         LEFT JOIN LATERAL (SELECT * FROM tickets.import_meta
                            WHERE outcome IN ('imported', 'unchanged')
                            ORDER BY finished_at DESC, id DESC LIMIT 1) l ON true",
    )
    .fetch_one(pool)
    .await
}

ticket_struct!(detail, serial; [
    /// One ticket with its source row.
    #[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
    pub struct TicketDetail
] {
    pub ticket_id: String,
} {
    /// When this ticket's content last changed in the store.
    #[serde(serialize_with = "eat::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub ingested_at: DateTime<Utc>,
    /// Every column of the source row (the source of truth), as text.
    #[schema(value_type = Object)]
    pub raw: serde_json::Value,
});

pub async fn ticket(pool: &PgPool, ticket_id: &str) -> sqlx::Result<Option<TicketDetail>> {
    sqlx::query_as(&format!(
        "SELECT ticket_id, {}, ingested_at, raw FROM tickets.inc WHERE ticket_id = $1",
        names("", |f| f.detail)
    ))
    .bind(ticket_id)
    .fetch_optional(pool)
    .await
}

/// A filter choice with how many tickets carry it.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Choice {
    pub name: String,
    /// Open (actionable) tickets.
    pub open: i64,
    pub total: i64,
}

/// The clusters (as stored) or statuses that occur, in byte order.
pub async fn choices(pool: &PgPool, column: ChoiceColumn) -> sqlx::Result<Vec<Choice>> {
    let col = match column {
        ChoiceColumn::Cluster => "cluster",
        ChoiceColumn::Status => "normalized_status",
    };
    sqlx::query_as(&format!(
        "SELECT {col} AS name, count(*) FILTER (WHERE is_actionable) AS open, count(*) AS total
         FROM tickets.inc WHERE {col} IS NOT NULL
         GROUP BY {col} ORDER BY {col} COLLATE \"C\""
    ))
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChoiceColumn {
    Cluster,
    Status,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_id_orders_the_rows_by_ticket_id_bytes_and_keeps_each() {
        let row = |id: &str, cluster: &str| Ticket {
            ticket_id: id.into(),
            cluster: Some(cluster.into()),
            ..Ticket::default()
        };
        let mut rows = vec![
            row("INC3", "c"),
            row("INC10", "a"),
            row("inc1", "d"),
            row("INC2", "b"),
        ];
        let sorted = by_id(&mut rows);
        let got: Vec<(&str, &str)> = sorted
            .iter()
            .map(|t| (t.ticket_id.as_str(), t.cluster.as_deref().unwrap()))
            .collect();
        assert_eq!(
            got,
            [("INC10", "a"), ("INC2", "b"), ("INC3", "c"), ("inc1", "d")]
        );
        assert!(by_id(&mut []).is_empty());
    }
}
