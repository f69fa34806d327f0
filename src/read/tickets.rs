//! The read path's queries. Each returns typed rows; the payloads are built in Rust.

use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::error::BoxDynError;
use sqlx::postgres::PgRow;
use sqlx::{Column, FromRow, PgPool, Row};
use utoipa::ToSchema;

use super::places::Places;
use super::{binary, copy};
use crate::dashboard::freshness::ImportState;
use crate::dashboard::{self, SharedRows, Ticket};
use crate::eat;
use crate::params::{sql_keeps_cluster, sql_keeps_status, DashboardRequest};
use crate::ticket::fields::{join, names, select_fields, ticket_struct, Field};

/// `Ticket` decoded by position, in `TICKET_COLUMNS`' order (the key, then the map view's
/// fields as declared), not by name, each value by its kind (`binary`). Debug builds
/// check each column's name.
macro_rules! decode_ticket {
    ([$({ $(#[$a:meta])* $n:ident $($decl:tt)* })*]) => {
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
                    $($n: binary::column(row, next(stringify!($n)))?,)*
                })
            }
        }
    };
}
select_fields!(map => decode_ticket! {});

/// A version decoded from a binary `COPY` tuple (`copy`), in `TRACKED_COLUMNS`' order
/// (the key, then the tracked fields as declared), each value by its kind (`binary`);
/// the other fields empty, for `Places::fill`. A recorded miss at 1M tickets decodes
/// 30,000 of them; sending its current rows' fields as typed nulls as well took
/// PostgreSQL 15 % longer.
macro_rules! decode_version {
    ([$({ $(#[$a:meta])* $n:ident $($decl:tt)* })*]) => {
        impl Ticket {
            pub(super) fn from_copy(fields: &mut copy::Fields) -> Result<Ticket, BoxDynError> {
                Ok(Ticket {
                    ticket_id: fields.field()?.ok_or("a null ticket_id")?,
                    $($n: fields.field()?,)*
                    ..Ticket::default()
                })
            }
        }
    };
}
select_fields!(tracked => decode_version! {});

/// The current rows' columns.
static TICKET_COLUMNS: LazyLock<String> =
    LazyLock::new(|| format!("ticket_id, {}", names("", |f| f.map)));

/// The key and the history's tracked fields, of `h`, as `Ticket::from_copy` reads them.
pub(super) static TRACKED_COLUMNS: LazyLock<String> =
    LazyLock::new(|| format!("h.ticket_id, {}", names("h.", |f| f.tracked)));

/// A version of span class `k` (migration 0009) valid at `at` (a literal): it started
/// in one short range before `at` (the current ones, class -1, and the longest at any
/// time before).
fn valid_by_span(at: &str) -> String {
    format!(
        "tickets.history_span_class(valid_from, valid_to) = k
    AND valid_from <= {at}
    AND valid_from > COALESCE({at} - (tickets.history_spans())[k + 1], '-infinity')
    AND (valid_to IS NULL OR valid_to > {at})"
    )
}

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
           AND {} AND {}",
        *TICKET_COLUMNS,
        sql_keeps_cluster("cluster", "$3::text[]"),
        sql_keeps_status("normalized_status", "$4::text[]"),
    );
    sqlx::query_as(&sql)
        .bind(req.window.from)
        .bind(req.window.to)
        .bind(req.filters.clusters_folded())
        .bind(&req.filters.status)
        .fetch_all(pool)
        .await
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
/// current rows' fields are not sent: they are filled in from `places`.
pub async fn recorded_tickets(
    pool: &PgPool,
    req: &DashboardRequest,
    places: &Places,
) -> sqlx::Result<SharedRows> {
    let sql = recorded_select(req);
    // Filled in as they arrive (while PostgreSQL sends the next, so the buffer's fresh
    // pages are faulted in while the miss waits on the database anyway), those of
    // tickets not met yet in this generation after.
    let mut versions = Vec::new();
    let mut unknown = Vec::new();
    copy::tickets(pool, &sql, |mut version| match places.fill(&mut version) {
        Some(true) => versions.push(version),
        Some(false) => {}
        None => unknown.push(version),
    })
    .await?;
    versions.extend(places.complete(pool, unknown).await?);
    by_id(&mut versions);
    // The payload keeps them in the response cache, which weighs its length.
    versions.shrink_to_fit();
    Ok(Arc::new(versions))
}

/// `recorded_tickets`' query, its values as literals (it runs as a `COPY`). Without JIT
/// (the pool's connections have it off, see `db::connect_options`): its compilation took
/// 40 ms of a query of a few.
fn recorded_select(req: &DashboardRequest) -> String {
    let (from, to) = (copy::time(req.window.from), copy::time(req.window.to));
    let at = copy::time(req.window.as_of);
    let valid = valid_by_span(&at);
    format!(
        "WITH at_t AS (
             SELECT {tracked} FROM generate_series(-1, cardinality(tickets.history_spans())) k
             CROSS JOIN LATERAL (
                 SELECT * FROM tickets.inc_history
                 WHERE is_actionable AND {valid}) h
             UNION ALL
             SELECT {tracked} FROM tickets.inc_history h
             WHERE closed_at >= {from} AND closed_at < {to} AND is_actionable IS NOT TRUE
               AND valid_from <= {at} AND (valid_to IS NULL OR valid_to > {at})
             UNION ALL
             SELECT {created} FROM generate_series(tickets.history_day({from}), tickets.history_day({to})) d
             CROSS JOIN generate_series(-1, cardinality(tickets.history_spans())) k
             CROSS JOIN LATERAL (
                 SELECT * FROM tickets.inc_history
                 WHERE is_actionable IS NOT TRUE
                   AND tickets.history_day(created_at_service) = d AND {valid}
                   AND created_at_service >= {from} AND created_at_service < {to}
                   AND (closed_at IS NULL OR closed_at < {from} OR closed_at >= {to})) c
             CROSS JOIN (SELECT (NULL::tickets.inc_history).*) z)
         SELECT {tracked} FROM at_t h
         WHERE {clusters} AND {statuses}",
        tracked = *TRACKED_COLUMNS,
        created = *CREATED_COLUMNS,
        clusters = sql_keeps_cluster("h.cluster", &copy::texts(&req.filters.clusters_folded())),
        statuses = sql_keeps_status("h.normalized_status", &copy::texts(&req.filters.status)),
    )
}

/// Sorts `rows` by ticket id: the payload reads them in that order, and at 1M tickets
/// (30,000 rows) reading them scattered cost more in cache misses (compute and JSON 20 ms
/// slower) than the sort. A sorted permutation is applied along its cycles, each row
/// swapped into place once, not about by the sort (over 300 bytes each). The permutation is
/// sorted on each id's first 16 bytes as one number, zero-padded (the order of the
/// bytes: a shorter id that is a prefix of another is padded with bytes below any
/// other's), then on the whole ids: half the time of comparing them each time.
fn by_id(rows: &mut [Ticket]) {
    let prefix = |t: &Ticket| {
        let mut key = [0; 16];
        let id = t.ticket_id.as_bytes();
        let n = id.len().min(16);
        key[..n].copy_from_slice(&id[..n]);
        u128::from_be_bytes(key)
    };
    let mut order: Vec<(u128, usize)> = rows.iter().map(prefix).zip(0..).collect();
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| dashboard::by_id(&rows[a.1], &rows[b.1]))
    });
    // `order[k].1`: the row that belongs at `k`; set to `k` once it is there.
    for start in 0..order.len() {
        let mut k = start;
        while order[k].1 != start {
            let next = order[k].1;
            rows.swap(k, next);
            order[k].1 = k;
            k = next;
        }
        order[k].1 = k;
    }
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
    use proptest::strategy::Strategy;

    #[test]
    fn by_id_orders_the_rows_by_ticket_id_bytes_and_keeps_each() {
        let row = |id: &str, cluster: &str| Ticket {
            ticket_id: id.into(),
            cluster: Some(cluster.into()),
            ..Ticket::default()
        };
        // Ids of 16 bytes and more share their first 16 bytes; a shorter one is a prefix.
        let mut rows = vec![
            row("INC3", "c"),
            row("INC00000000000002", "g"),
            row("INC10", "a"),
            row("inc1", "d"),
            row("INC000000000000", "e"),
            row("INC0000000000000", "f"),
            row("INC2", "b"),
            row("INC00000000000001x", "h"),
            row("INC00000000000001", "i"),
        ];
        by_id(&mut rows);
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|t| (t.ticket_id.as_str(), t.cluster.as_deref().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                ("INC000000000000", "e"),
                ("INC0000000000000", "f"),
                ("INC00000000000001", "i"),
                ("INC00000000000001x", "h"),
                ("INC00000000000002", "g"),
                ("INC10", "a"),
                ("INC2", "b"),
                ("INC3", "c"),
                ("inc1", "d")
            ]
        );
        by_id(&mut []);
    }

    proptest::proptest! {
        /// Any arrangement (any cycles of the permutation) ends sorted, each row once.
        #[test]
        fn by_id_sorts_every_arrangement(
            ids in proptest::sample::subsequence((0..300).collect::<Vec<u32>>(), 0..300)
                .prop_shuffle()
        ) {
            let mut rows: Vec<Ticket> = ids
                .iter()
                .map(|i| Ticket { ticket_id: format!("INC{i:05}").into(), ..Ticket::default() })
                .collect();
            by_id(&mut rows);
            let got: Vec<String> = rows.iter().map(|t| t.ticket_id.to_string()).collect();
            let mut want: Vec<String> = ids.iter().map(|i| format!("INC{i:05}")).collect();
            want.sort();
            proptest::prop_assert_eq!(got, want);
        }
    }
}
