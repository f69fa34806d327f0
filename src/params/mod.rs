//! Every route's query parameters, and Grafana's, in one place: the query string split
//! by name (`Query`), the filters and their one matcher (`filters`), windows and ranges
//! with one validator (`window`, `range`). Every refusal names the parameter and says why.

pub mod filters;
pub mod range;
pub mod window;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::eat;
pub use filters::{
    fold, is_one_of, sql_fold, sql_keeps_cluster, sql_keeps_status, status, Filters, STATUSES,
};
pub use range::{custom_window, Bound};
use window::{Window, WindowKind};

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

/// A validated dashboard request; equal requests give equal payloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DashboardRequest {
    pub window: Window,
    pub filters: Filters,
    /// `as_of` came from the client (else it is the server clock).
    pub as_of_given: bool,
}

/// A query string split by parameter name: each single-valued parameter at most once,
/// list parameters repeated or comma-separated; a name not expected is refused. The
/// routes read their parameters from it, the common ones through the functions below.
#[derive(Debug, Default)]
pub struct Query {
    singles: HashMap<&'static str, String>,
    lists: HashMap<&'static str, Vec<String>>,
}

/// The dashboard's single-valued and list parameters (other routes add theirs).
pub const WINDOW_PARAMS: [&str; 4] = ["window", "from", "to", "as_of"];
pub const FILTER_PARAMS: [&str; 2] = ["cluster", "status"];

impl Query {
    pub fn parse(
        query: &str,
        singles: &[&'static str],
        lists: &[&'static str],
    ) -> Result<Query, ParamError> {
        let mut q = Query::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if let Some(&n) = singles.iter().find(|n| **n == name) {
                if q.singles.insert(n, value.trim().to_owned()).is_some() {
                    return Err(refuse(n, "given more than once"));
                }
            } else if let Some(&n) = lists.iter().find(|n| **n == name) {
                let items = value.split(',').map(|v| v.trim().to_owned());
                q.lists.entry(n).or_default().extend(items);
            } else {
                let expected: Vec<&str> = singles.iter().chain(lists).copied().collect();
                return Err(refuse(
                    &name,
                    format!("unknown parameter (expected {})", expected.join(", ")),
                ));
            }
        }
        Ok(q)
    }

    /// A single-valued parameter, if given.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.singles.remove(name)
    }

    /// A list parameter's items (empty ones included), in the order given.
    pub fn list(&mut self, name: &str) -> Vec<String> {
        self.lists.remove(name).unwrap_or_default()
    }

    /// `as_of` (RFC 3339), else `now`; and whether the client gave it.
    pub fn as_of(&mut self, now: DateTime<Utc>) -> Result<(DateTime<Utc>, bool), ParamError> {
        match self.take("as_of") {
            None => Ok((now, false)),
            Some(text) => eat::parse_instant(&text)
                .map(|t| (t, true))
                .map_err(|e| refuse("as_of", e)),
        }
    }

    /// A list of names from a fixed set: an empty item (`status=`, a doubled or trailing
    /// comma) names none, so it is refused as the OpenAPI document's enum says.
    pub fn names(&mut self, name: &str) -> Result<Vec<String>, ParamError> {
        let items = self.list(name);
        if items.iter().any(String::is_empty) {
            return Err(refuse(
                name,
                format!("an empty value (`{name}=`, or a doubled or trailing comma) names nothing"),
            ));
        }
        Ok(items)
    }

    /// `cluster` and `status`, normalised.
    pub fn filters(&mut self) -> Result<Filters, ParamError> {
        let cluster = self.list("cluster");
        Filters::new(cluster, self.names("status")?)
    }

    /// `window`, `from`, `to` and `as_of`, then the filters: the dashboard's request.
    pub fn request(&mut self, now: DateTime<Utc>) -> Result<DashboardRequest, ParamError> {
        let (as_of, as_of_given) = self.as_of(now)?;
        let kind = match self.take("window").as_deref() {
            None => WindowKind::Today,
            Some(w) => WindowKind::parse(w).ok_or_else(|| {
                refuse(
                    "window",
                    format!("{w:?} is not one of today, week, month, custom"),
                )
            })?,
        };
        let (from, to) = (self.take("from"), self.take("to"));
        let window = if kind == WindowKind::Custom {
            let from = from.ok_or_else(|| refuse("from", "required with window=custom"))?;
            let to = to.ok_or_else(|| refuse("to", "required with window=custom"))?;
            custom_window(("from", &from), ("to", &to), as_of)?
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
            filters: self.filters()?,
            as_of_given,
        })
    }
}

/// Parses `window`, `from`, `to`, `cluster`, `status` and `as_of` (repeatable or
/// comma-separated lists for `cluster` and `status`); `now` is the server clock.
pub fn parse(query: &str, now: DateTime<Utc>) -> Result<DashboardRequest, ParamError> {
    window_query(query, &[])?.request(now)
}

/// The query string of a route that takes the dashboard's parameters (window, bounds,
/// `as_of`, filters) plus its own single-valued ones (`extra`).
pub fn window_query(query: &str, extra: &[&'static str]) -> Result<Query, ParamError> {
    let singles: Vec<&'static str> = WINDOW_PARAMS.iter().chain(extra).copied().collect();
    Query::parse(query, &singles, &FILTER_PARAMS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        crate::eat::instant("2026-06-16T10:00:00+03:00")
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
        let r = parse("cluster=Westlands,kilimani&cluster=%20westlands%20&status=open&status=%20Pending&cluster=", now()).unwrap();
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
        // Empty values of enumerated parameters name nothing.
        for q in ["window=", "status=", "status=OPEN,", "status=OPEN,,PENDING"] {
            assert_eq!(err(q).0, q.split('=').next().unwrap(), "{q}");
        }
        assert_eq!(err("clusters=Karen").0, "clusters");
        assert_eq!(
            err("window=week&window=month"),
            ("window".into(), "given more than once".into())
        );
    }
}
