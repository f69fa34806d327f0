//! Ticket filters: the names a filter may hold, the one case-insensitive rule, and the
//! one matcher every reader (dashboard, backlog, Grafana) applies.

use serde::Serialize;
use utoipa::ToSchema;

use super::{refuse, ParamError};

/// The `normalized_status` values a filter may name.
pub const STATUSES: [&str; 6] = [
    "OPEN",
    "IN_PROGRESS",
    "PENDING",
    "RESOLVED",
    "CLOSED",
    "CANCELLED",
];

/// The one case-insensitive rule for names (clusters), in Rust and in SQL alike: the
/// Unicode full lower-case mapping, which Rust's `to_lowercase` and PostgreSQL's `lower()`
/// under the ICU root collation both apply (`lower()` under the database's libc locale
/// maps one code point at a time, `İ` to `i`, or only ASCII under `C`).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// The one value matcher: `value` is one of `names` when its `fold` equals a name's
/// (trimmed, as every filter value is); a missing value is in no list. SQL applies the
/// same rule as `sql_fold(column) = ANY(folded names)`.
pub fn is_one_of(value: Option<&str>, names: &[String]) -> bool {
    value.is_some_and(|v| {
        let v = fold(v);
        names.iter().any(|name| fold(name.trim()) == v)
    })
}

/// `fold` of the SQL expression `expr`.
pub fn sql_fold(expr: &str) -> String {
    format!("lower(({expr}) COLLATE \"und-x-icu\")")
}

/// `Filters::keeps`' cluster test in SQL: `column` is one of `clusters` (a `text[]`
/// expression of `Filters::clusters_folded`, a bind parameter or a literal), or
/// `clusters` is empty.
pub fn sql_keeps_cluster(column: &str, clusters: &str) -> String {
    format!(
        "(cardinality({clusters}) = 0 OR {} = ANY({clusters}))",
        sql_fold(column)
    )
}

/// `Filters::keeps`' status test in SQL: `column` is one of `statuses` (a `text[]`
/// expression of `Filters::status`, upper-cased), or `statuses` is empty.
pub fn sql_keeps_status(column: &str, statuses: &str) -> String {
    format!("(cardinality({statuses}) = 0 OR upper({column}) = ANY({statuses}))")
}

/// The filters, normalised: trimmed, without duplicates (clusters compared
/// case-insensitively, the first spelling kept), sorted; statuses upper-cased.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, ToSchema)]
pub struct Filters {
    pub cluster: Vec<String>,
    pub status: Vec<String>,
}

impl Filters {
    pub fn keeps(&self, cluster: Option<&str>, status: Option<&str>) -> bool {
        (self.cluster.is_empty() || is_one_of(cluster, &self.cluster))
            && (self.status.is_empty() || is_one_of(status, &self.status))
    }

    /// The clusters folded (`fold`), for the SQL filter `sql_fold(cluster) = ANY(…)`.
    pub fn clusters_folded(&self) -> Vec<String> {
        self.cluster.iter().map(|c| fold(c)).collect()
    }

    /// The one normaliser of filter lists, for the query string and Grafana alike:
    /// values trimmed, empty ones dropped, statuses upper-cased and checked against
    /// `STATUSES`, case-insensitive duplicates dropped (the first spelling kept), sorted
    /// case-insensitively — so equal filters share a cache entry.
    pub fn new(
        cluster: impl IntoIterator<Item = String>,
        status: impl IntoIterator<Item = String>,
    ) -> Result<Filters, ParamError> {
        let status = status
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| self::status(&s))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Filters {
            cluster: normalise(cluster.into_iter().map(|c| c.trim().to_owned()).collect()),
            status: normalise(status),
        })
    }
}

/// One `normalized_status` value: trimmed, upper-cased, and one of `STATUSES`.
pub fn status(value: &str) -> Result<String, ParamError> {
    let s = value.trim().to_uppercase();
    if STATUSES.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(refuse(
            "status",
            format!("{s:?} is not one of {}", STATUSES.join(", ")),
        ))
    }
}

fn normalise(mut values: Vec<String>) -> Vec<String> {
    values.retain(|v| !v.is_empty());
    let mut seen = std::collections::HashSet::new();
    values.retain(|v| seen.insert(fold(v)));
    values.sort_by_key(|v| fold(v));
    values
}
