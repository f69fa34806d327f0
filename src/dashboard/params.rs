//! The dashboard's query string: parsed, validated and normalised. Every refusal names
//! the parameter and says why.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::window::{Window, WindowKind, MAX_SPAN_DAYS};
use crate::eat;

/// The `normalized_status` values a filter may name.
pub const STATUSES: [&str; 6] = [
    "OPEN",
    "IN_PROGRESS",
    "PENDING",
    "RESOLVED",
    "CLOSED",
    "CANCELLED",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid parameter `{param}`: {detail}")]
pub struct ParamError {
    pub param: String,
    pub detail: String,
}

pub fn refuse(param: &str, detail: impl Into<String>) -> ParamError {
    ParamError {
        param: param.to_owned(),
        detail: detail.into(),
    }
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
        let cluster_ok = self.cluster.is_empty()
            || cluster.is_some_and(|c| {
                let c = c.to_lowercase();
                self.cluster.iter().any(|f| f.to_lowercase() == c)
            });
        let status_ok = self.status.is_empty()
            || status.is_some_and(|s| self.status.iter().any(|f| f.eq_ignore_ascii_case(s)));
        cluster_ok && status_ok
    }

    /// Lower-cased clusters, for the SQL filter.
    pub fn clusters_lower(&self) -> Vec<String> {
        self.cluster.iter().map(|c| c.to_lowercase()).collect()
    }
}

/// A validated dashboard request; equal requests give equal payloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DashboardRequest {
    pub window: Window,
    pub filters: Filters,
    /// `as_of` came from the client (else it is the server clock).
    pub as_of_given: bool,
}

/// Parses `window`, `from`, `to`, `cluster`, `status` and `as_of` (repeatable or
/// comma-separated lists for the last three but `as_of`); `now` is the server clock.
pub fn parse(query: &str, now: DateTime<Utc>) -> Result<DashboardRequest, ParamError> {
    let mut window = None;
    let mut from = None;
    let mut to = None;
    let mut as_of = None;
    let mut filter_args = FilterArgs::default();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let single = |slot: &mut Option<String>| {
            if slot.replace(value.trim().to_owned()).is_some() {
                Err(refuse(&name, "given more than once"))
            } else {
                Ok(())
            }
        };
        match name.as_ref() {
            "window" => single(&mut window)?,
            "from" => single(&mut from)?,
            "to" => single(&mut to)?,
            "as_of" => single(&mut as_of)?,
            name if filter_args.take(name, &value) => {}
            other => {
                return Err(refuse(
                    other,
                    "unknown parameter (expected window, from, to, cluster, status, as_of)",
                ))
            }
        }
    }
    let as_of_given = as_of.is_some();
    let as_of = match as_of {
        None => now,
        Some(text) => DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| refuse("as_of", format!("{text:?} is not an RFC 3339 timestamp")))?,
    };
    let kind = match window.as_deref() {
        None | Some("") => WindowKind::Today,
        Some(w) => WindowKind::parse(w).ok_or_else(|| {
            refuse(
                "window",
                format!("{w:?} is not one of today, week, month, custom"),
            )
        })?,
    };
    let window = if kind == WindowKind::Custom {
        let from_text = from.ok_or_else(|| refuse("from", "required with window=custom"))?;
        let to_text = to.ok_or_else(|| refuse("to", "required with window=custom"))?;
        let from = bound("from", &from_text)?;
        let to = bound("to", &to_text)?;
        if to <= from {
            return Err(refuse(
                "to",
                format!("{to_text:?} is not after from ({from_text:?})"),
            ));
        }
        if to - from > Duration::days(MAX_SPAN_DAYS) {
            return Err(refuse(
                "to",
                format!("the window spans more than {MAX_SPAN_DAYS} days"),
            ));
        }
        Window {
            kind,
            from,
            to,
            as_of,
        }
    } else {
        if from.is_some() {
            return Err(refuse("from", "only allowed with window=custom"));
        }
        if to.is_some() {
            return Err(refuse("to", "only allowed with window=custom"));
        }
        Window::around(kind, as_of)
    };
    Ok(DashboardRequest {
        window,
        as_of_given,
        filters: filter_args.finish()?,
    })
}

/// The `cluster` and `status` values as given (each repeated or comma-separated).
#[derive(Debug, Default)]
pub struct FilterArgs {
    clusters: Vec<String>,
    statuses: Vec<String>,
}

impl FilterArgs {
    /// Takes the parameter when it is `cluster` or `status`; false for any other.
    pub fn take(&mut self, name: &str, value: &str) -> bool {
        match name {
            "cluster" => self
                .clusters
                .extend(value.split(',').map(|c| c.trim().to_owned())),
            "status" => self
                .statuses
                .extend(value.split(',').map(|s| s.trim().to_uppercase())),
            _ => return false,
        }
        true
    }

    pub fn finish(self) -> Result<Filters, ParamError> {
        filters(self.clusters, self.statuses)
    }
}

/// Validated, normalised filters.
fn filters(clusters: Vec<String>, statuses: Vec<String>) -> Result<Filters, ParamError> {
    if let Some(bad) = statuses
        .iter()
        .find(|s| !s.is_empty() && !STATUSES.contains(&s.as_str()))
    {
        return Err(refuse(
            "status",
            format!("{bad:?} is not one of {}", STATUSES.join(", ")),
        ));
    }
    Ok(Filters {
        cluster: normalise(clusters),
        status: normalise(statuses),
    })
}

/// A window bound: a bare date is 00:00 EAT of that date; otherwise RFC 3339.
pub fn bound(param: &str, text: &str) -> Result<DateTime<Utc>, ParamError> {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(eat::midnight(date));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            refuse(
                param,
                format!("{text:?} is neither YYYY-MM-DD nor an RFC 3339 timestamp"),
            )
        })
}

fn normalise(mut values: Vec<String>) -> Vec<String> {
    values.retain(|v| !v.is_empty());
    let mut seen = std::collections::HashSet::new();
    values.retain(|v| seen.insert(v.to_lowercase()));
    values.sort_by_key(|v| v.to_lowercase());
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-16T10:00:00+03:00")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn err(q: &str) -> (String, String) {
        let e = parse(q, now()).unwrap_err();
        (e.param, e.detail)
    }

    #[test]
    fn defaults_to_today_at_the_server_clock() {
        let r = parse("", now()).unwrap();
        assert_eq!(r.window, Window::around(WindowKind::Today, now()));
        assert_eq!(r.filters, Filters::default());
    }

    #[test]
    fn lists_repeat_or_comma_separate_and_are_normalised() {
        let r = parse("cluster=Westlands,kilimani&cluster=%20westlands%20&status=open&status=Pending,&cluster=", now()).unwrap();
        assert_eq!(r.filters.cluster, ["kilimani", "Westlands"]);
        assert_eq!(r.filters.status, ["OPEN", "PENDING"]);
        assert!(r.filters.keeps(Some("WESTLANDS"), Some("open")));
        assert!(!r.filters.keeps(None, Some("OPEN")));
        assert!(!r.filters.keeps(Some("Karen"), Some("OPEN")));
    }

    #[test]
    fn custom_windows_take_dates_or_timestamps() {
        let r = parse(
            "window=custom&from=2026-06-01&to=2026-06-16T12:00:00Z",
            now(),
        )
        .unwrap();
        assert_eq!(eat::rfc3339(r.window.from), "2026-06-01T00:00:00+03:00");
        assert_eq!(eat::rfc3339(r.window.to), "2026-06-16T15:00:00+03:00");
        // 366 days is the limit, inclusive (2028 is a leap year).
        assert!(parse("window=custom&from=2027-06-01&to=2028-06-01", now()).is_ok());
        assert_eq!(err("window=custom&from=2027-06-01&to=2028-06-02").0, "to");
        let r = parse("as_of=2025-01-01T00:00:00Z&window=week", now()).unwrap();
        assert_eq!(eat::rfc3339(r.window.from), "2024-12-30T00:00:00+03:00");
    }

    #[test]
    fn every_bad_input_names_its_parameter() {
        assert_eq!(
            err("window=year"),
            (
                "window".into(),
                "\"year\" is not one of today, week, month, custom".into()
            )
        );
        assert_eq!(err("window=custom&to=2026-06-02").0, "from");
        assert_eq!(err("window=custom&from=2026-06-02").0, "to");
        assert_eq!(err("window=custom&from=2026-06-31&to=2026-07-02").0, "from");
        assert_eq!(err("window=custom&from=2026-06-02&to=yesterday").0, "to");
        assert_eq!(
            err("window=custom&from=2026-06-02&to=2026-06-02"),
            (
                "to".into(),
                "\"2026-06-02\" is not after from (\"2026-06-02\")".into()
            )
        );
        assert_eq!(err("window=custom&from=2026-06-03&to=2026-06-02").0, "to");
        assert_eq!(
            err("from=2026-06-02"),
            ("from".into(), "only allowed with window=custom".into())
        );
        assert_eq!(err("window=week&to=2026-06-02").0, "to");
        assert_eq!(err("as_of=now").0, "as_of");
        assert_eq!(err("as_of=2026-06-16").0, "as_of");
        assert_eq!(err("status=OPNE").0, "status");
        assert_eq!(err("clusters=Karen").0, "clusters");
        assert_eq!(
            err("window=week&window=month"),
            ("window".into(), "given more than once".into())
        );
    }
}
