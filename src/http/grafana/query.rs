//! `POST /grafana/query`: each visible target's metric over the panel's range, with its
//! filters, as frames; one bad target refuses the call, naming it.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::catalogue::{Format, Metric};
use super::filters::{AdHocFilter, Field, Selection};
use super::frame::{self, Frame};
use super::refusal::Refusal;
use super::summary::Summaries;
use super::{backlog, imports, GrafanaJson};
use crate::dispatch::teams::By;
use crate::http::auth::Reader;
use crate::http::dispatch::teams_of;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::params::window::Window;
use crate::params::{self, ParamError};

#[derive(Debug, Deserialize)]
pub(super) struct QueryRequest {
    range: Option<Range>,
    targets: Option<Vec<Target>>,
    /// Grafana's ad hoc filters.
    filters: Option<Vec<AdHocFilter>>,
    /// The same, as plugin versions before 0.6.x sent them.
    #[serde(rename = "adhocFilters")]
    adhoc_filters: Option<Vec<AdHocFilter>>,
    /// Grafana's interval for the panel's width: the backlog's bucket size.
    #[serde(rename = "intervalMs")]
    interval_ms: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct Range {
    from: String,
    to: String,
}

#[derive(Debug, Deserialize)]
struct Target {
    #[serde(rename = "refId")]
    ref_id: Option<String>,
    target: Option<String>,
    hide: Option<bool>,
    payload: Option<Value>,
    /// The payload as plugin versions up to 0.2 sent it.
    data: Option<Value>,
}

/// `POST /grafana/query`: panels and annotations. Each visible target with a metric
/// gives its frames (tagged with its `refId`); one bad target refuses the whole call
/// with a message naming it.
pub(super) async fn query(
    State(app): State<AppState>,
    _: Reader,
    GrafanaJson(request): GrafanaJson<QueryRequest>,
) -> Result<Json<Vec<Frame>>, ApiError> {
    let ad_hoc = request
        .filters
        .iter()
        .chain(request.adhoc_filters.iter())
        .flatten()
        .map(AdHocFilter::predicate)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|refusal| ApiError::Refused {
            target: None,
            refusal,
        })?;
    let targets: Vec<&Target> = request
        .targets
        .iter()
        .flatten()
        .filter(|t| t.hide != Some(true))
        .filter(|t| t.target.as_deref().is_some_and(|m| !m.trim().is_empty()))
        .collect();
    if targets.is_empty() {
        return Ok(Json(Vec::new()));
    }
    let now = Utc::now();
    let window = || window(request.range.as_ref(), now);
    let mut summaries = Summaries::default();
    let mut series = backlog::Series::default();
    let mut runs = None;
    let mut frames = Vec::new();
    for t in targets {
        let ref_id = t.ref_id.as_deref().unwrap_or("A");
        let name = t.target.as_deref().unwrap_or_default().trim();
        let metric = Metric::parse(name).ok_or_else(|| {
            let known: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
            ApiError::BadRequest(format!(
                "refId {ref_id}: unknown metric {name:?}; the metrics are {}",
                known.join(", ")
            ))
        })?;
        let refuse = |refusal: Refusal| ApiError::Refused {
            target: Some(format!("refId {ref_id} ({name})")),
            refusal,
        };
        let payload = payload(t).map_err(refuse)?;
        let format = match payload.get("format") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) if f.trim().is_empty() => None,
            Some(Value::String(f)) => {
                Some(Format::parse(f).ok_or_else(|| refuse(Refusal::Format(format!("{f:?}"))))?)
            }
            Some(other) => return Err(refuse(in_payload("format", other))),
        };
        let format = metric.format(format).map_err(refuse)?;
        if !metric.filtered() {
            let window = window()?;
            if runs.is_none() {
                runs = Some(imports::runs(&app.read, window.from, window.to).await?);
            }
            frames.push(imports::frame(ref_id, runs.as_deref().unwrap_or_default()));
            continue;
        }
        let lists = Field::ALL
            .into_iter()
            .map(|f| {
                Selection::payload_pattern(payload.get(f.key()))
                    .map(|p| (f, p))
                    .map_err(|why| {
                        refuse(Refusal::InPayload {
                            field: f.key(),
                            why: Box::new(why),
                        })
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let selection = Selection::build(lists, &ad_hoc).map_err(refuse)?;
        if matches!(metric, Metric::Backlog | Metric::BacklogFlow) {
            let range = range(request.range.as_ref())?;
            let filters = backlog::filters(&selection).map_err(refuse)?;
            let asked = backlog::request(
                (&range.from, &range.to),
                request.interval_ms.as_ref(),
                filters,
                now,
            )?;
            let payload = series.get(&app, asked).await?;
            frames.extend(backlog::frames(metric, format, ref_id, &payload.points));
            continue;
        }
        let window = window()?;
        let summary = summaries.get(&app, window, &selection).await?;
        if metric == Metric::Teams {
            let by = match payload.get("by") {
                None | Some(Value::Null) => By::Team,
                Some(Value::String(by)) => {
                    By::parse(Some(by.trim())).map_err(|e| refuse(e.into()))?
                }
                Some(other) => return Err(refuse(in_payload("by", other))),
            };
            let teams = teams_of(&app, &summary, by).await?;
            frames.push(frame::teams_table(ref_id, &teams));
        } else {
            frames.extend(metric.frames(format, ref_id, &summary, &window));
        }
    }
    Ok(Json(frames))
}

/// The target's payload object: `payload` (or the old `data`), possibly as JSON text;
/// absent, null or empty is `{}`.
fn payload(t: &Target) -> Result<Map<String, Value>, Refusal> {
    match t.payload.as_ref().or(t.data.as_ref()) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Map::new()),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(Refusal::PayloadNotAnObject(format!("{s:?}"))),
        },
        Some(other) => Err(Refusal::PayloadNotAnObject(other.to_string())),
    }
}

/// A payload field that is not a string.
fn in_payload(field: &'static str, value: &Value) -> Refusal {
    Refusal::InPayload {
        field,
        why: Box::new(Refusal::NotAString(value.to_string())),
    }
}

/// The panel's time range, which every ticket metric needs.
fn range(range: Option<&Range>) -> Result<&Range, ParamError> {
    range.ok_or_else(|| {
        params::refuse(
            "range",
            "required: {\"from\", \"to\"} as RFC 3339 timestamps",
        )
    })
}

/// The panel's time range as the dashboard's custom window `[from, to)` (checked by the
/// dashboard's own `custom_window`), at `as_of = min(range.to, now)`: a panel over a
/// past range shows the tickets as they were at its end (`timetravel.md`).
fn window(range: Option<&Range>, now: DateTime<Utc>) -> Result<Window, ApiError> {
    let range = self::range(range)?;
    let window = params::custom_window(("range.from", &range.from), ("range.to", &range.to), now)?;
    Ok(Window {
        as_of: window.to.min(now),
        ..window
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(from: &str, to: &str) -> Range {
        Range {
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn ranges_become_custom_windows_or_named_refusals() {
        use crate::params::window::WindowKind;
        let now = Utc::now();
        let w = window(
            Some(&range(
                "2026-06-01T00:00:00.000Z",
                "2026-06-16T21:00:00.000Z",
            )),
            now,
        )
        .unwrap();
        assert_eq!(w.kind, WindowKind::Custom);
        assert_eq!(w.from.timestamp_millis(), 1_780_272_000_000);
        // A range that ended is seen at its end; one that ends later, at now.
        let now = crate::eat::instant("2026-06-20T00:00:00+03:00");
        let w = window(Some(&range("2026-06-01", "2026-06-16T21:00:00.000Z")), now).unwrap();
        assert_eq!(crate::eat::rfc3339(w.as_of), "2026-06-17T00:00:00+03:00");
        let w = window(Some(&range("2026-06-01", "2026-07-01")), now).unwrap();
        assert_eq!(w.as_of, now);
        let param = |r: Option<&Range>| match window(r, now).unwrap_err() {
            ApiError::BadParameter(p) => p.param,
            other => panic!("{other:?}"),
        };
        assert_eq!(param(None), "range");
        assert_eq!(param(Some(&range("now-6h", "now"))), "range.from");
        assert_eq!(
            param(Some(&range("2026-06-02T00:00:00Z", "2026-06-01T00:00:00Z"))),
            "range.to"
        );
        assert_eq!(
            param(Some(&range("2025-01-01T00:00:00Z", "2026-06-01T00:00:00Z"))),
            "range.to"
        );
    }
}
