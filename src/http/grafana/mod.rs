//! The backend of Grafana's JSON datasource plugin (`simpod-json-datasource`) under
//! `/grafana`: health, the metric catalogue, payload options, queries (annotations
//! included), variables and ad hoc filter keys and values. The metrics are the
//! dashboard payload's, computed by the same code over the panel's time range (see
//! `summary`); the plugin's contract and our choices are in `docs/grafana.md`.

pub mod backlog;
pub mod catalogue;
pub mod filters;
pub mod imports;
pub mod summary;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::auth::Reader;
use super::dispatch::teams_of;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::dispatch::teams::By;
use crate::params::window::Window;
use crate::params::{self, ParamError};
use crate::read::tickets::{self, ChoiceColumn};
use catalogue::{Format, Frame, Metric};
use filters::{AdHocFilter, Field, Selection};
use summary::Summaries;

/// Every route of the datasource, with errors that carry a `message` Grafana shows.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/grafana", get(health))
        .route("/grafana/", get(health))
        .route("/grafana/metrics", post(metrics))
        .route("/grafana/metric-payload-options", post(payload_options))
        .route("/grafana/query", post(query))
        .route("/grafana/variable", post(variable))
        .route("/grafana/tag-keys", post(tag_keys))
        .route("/grafana/tag-values", post(tag_values))
        .route_layer(middleware::from_fn(with_message))
}

/// Adds `message` to the API's JSON errors (`{error, detail}`): Grafana shows
/// `data.message`. For the health check, `error` becomes `{code, message}`, which is
/// what "Save & test" prints after the status text. The error is read from the
/// response's typed `ErrorBody`, not from its bytes.
async fn with_message(request: Request, next: Next) -> Response {
    let health = request.method() == Method::GET;
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    let Some(error) = parts.extensions.remove::<ErrorBody>() else {
        return Response::from_parts(parts, body);
    };
    let message = match error.detail.as_str() {
        "" => error.error.clone(),
        detail => format!("{}: {detail}", error.error),
    };
    let mut out = json!(error);
    if health {
        out["error"] = json!({"code": parts.status.as_u16(), "message": message});
    }
    out["message"] = Value::String(message);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out.to_string()))
}

/// A JSON body. Malformed JSON, wrong types or a missing field are a 400 with a
/// message (axum's `Json` answers 400/415/422 in plain text); an empty body is `{}`;
/// unknown fields are ignored.
pub struct GrafanaJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for GrafanaJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| ApiError::BadRequest(format!("cannot read the body: {e}")))?;
        let json: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(json)
            .map(GrafanaJson)
            .map_err(|e| ApiError::BadRequest(format!("the body is not a valid request: {e}")))
    }
}

/// `GET /grafana`: "Save & test". Needs the token like every route (Grafana sends its
/// configured header here too, so a wrong token shows up at once) and a database that
/// answers.
async fn health(State(app): State<AppState>, _: Reader) -> Result<Json<Value>, ApiError> {
    sqlx::query("SELECT 1").execute(&app.read).await?;
    Ok(Json(json!({
        "status": "ok",
        "message": "fleettickets: the Grafana datasource is working",
    })))
}

/// `POST /grafana/metrics`: the catalogue, whatever the body (`{}` or `{metric, payload}`).
async fn metrics(_: Reader, GrafanaJson(_): GrafanaJson<IgnoredAny>) -> Json<Vec<Value>> {
    Json(Metric::ALL.into_iter().map(Metric::describe).collect())
}

#[derive(Debug, Deserialize)]
struct PayloadOptionsRequest {
    name: Option<String>,
}

/// `POST /grafana/metric-payload-options` `{metric, payload, name}`: the choices of the
/// `cluster` or `status` select (from the data), or of `format`.
async fn payload_options(
    State(app): State<AppState>,
    _: Reader,
    GrafanaJson(request): GrafanaJson<PayloadOptionsRequest>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let name = request.name.unwrap_or_default();
    if name == "format" {
        return Ok(Json(vec![
            json!({"label": "Time series", "value": "timeseries"}),
            json!({"label": "Table", "value": "table"}),
        ]));
    }
    let field = Field::parse(&name).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "no options for the payload field {name:?}: ask for cluster, status, region, assigned_team or format"
        ))
    })?;
    let values = values(&app, field).await?;
    Ok(Json(
        values
            .into_iter()
            .map(|v| json!({"label": v, "value": v}))
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
struct QueryRequest {
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
async fn query(
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
        .map_err(ApiError::BadRequest)?;
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
        let refuse = |why: String| ApiError::BadRequest(format!("refId {ref_id} ({name}): {why}"));
        let payload = payload(t).map_err(refuse)?;
        let format = match payload.get("format") {
            None | Some(Value::Null) => None,
            Some(Value::String(f)) if f.trim().is_empty() => None,
            Some(Value::String(f)) => Some(Format::parse(f).ok_or_else(|| {
                refuse(format!(
                    "payload.format {f:?} is neither timeseries nor table"
                ))
            })?),
            Some(other) => return Err(refuse(format!("payload.format {other} is not a string"))),
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
                    .map_err(|why| refuse(format!("payload.{}: {why}", f.key())))
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
                    By::parse(Some(by.trim())).map_err(|e| refuse(e.to_string()))?
                }
                Some(other) => return Err(refuse(format!("payload.by {other} is not a string"))),
            };
            let teams = teams_of(&app, &summary, by).await?;
            frames.push(catalogue::teams_table(ref_id, &teams));
        } else {
            frames.extend(metric.frames(format, ref_id, &summary, &window));
        }
    }
    Ok(Json(frames))
}

/// The target's payload object: `payload` (or the old `data`), possibly as JSON text;
/// absent, null or empty is `{}`.
fn payload(t: &Target) -> Result<Map<String, Value>, String> {
    match t.payload.as_ref().or(t.data.as_ref()) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Map::new()),
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(format!("the payload {s:?} is not a JSON object")),
        },
        Some(other) => Err(format!("the payload {other} is not an object")),
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

#[derive(Debug, Deserialize)]
struct VariableRequest {
    payload: Option<Value>,
    target: Option<String>,
}

/// `POST /grafana/variable` `{payload: {target}}` (or a raw JSON query with `target`):
/// `clusters`, `statuses`, `regions` or `assigned_teams` as `[{__text, __value}]`.
async fn variable(
    State(app): State<AppState>,
    _: Reader,
    GrafanaJson(request): GrafanaJson<VariableRequest>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let name = match &request.payload {
        Some(Value::Object(m)) => m.get("target").and_then(Value::as_str).map(str::to_owned),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
    .or(request.target)
    .unwrap_or_default();
    let field = match name.trim().replace('\\', "").as_str() {
        "clusters" | "cluster" => Field::Cluster,
        "statuses" | "status" => Field::Status,
        "regions" | "region" => Field::Region,
        "assigned_teams" | "assigned_team" | "teams" => Field::AssignedTeam,
        other => {
            return Err(ApiError::BadRequest(format!(
            "unknown variable query {other:?}: use clusters, statuses, regions or assigned_teams"
        )))
        }
    };
    Ok(Json(
        values(&app, field)
            .await?
            .into_iter()
            .map(|v| json!({"__text": v, "__value": v}))
            .collect(),
    ))
}

/// `POST /grafana/tag-keys`: the ad hoc filter keys.
async fn tag_keys(_: Reader, GrafanaJson(_): GrafanaJson<IgnoredAny>) -> Json<Vec<Value>> {
    Json(
        Field::ALL
            .into_iter()
            .map(|f| json!({"type": "string", "text": f.key()}))
            .collect(),
    )
}

#[derive(Debug, Deserialize)]
struct TagValuesRequest {
    key: Option<String>,
}

/// `POST /grafana/tag-values` `{key}`: the values of that key in the data.
async fn tag_values(
    State(app): State<AppState>,
    _: Reader,
    GrafanaJson(request): GrafanaJson<TagValuesRequest>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let key = request.key.unwrap_or_default();
    let field = Field::parse(&key).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "no ad hoc filter key {key:?}: the keys are cluster, status, region, assigned_team"
        ))
    })?;
    Ok(Json(
        values(&app, field)
            .await?
            .into_iter()
            .map(|v| json!({"text": v}))
            .collect(),
    ))
}

/// The values of a field that occur in the store (every ticket, not only open ones),
/// in byte order: clusters and statuses as `/api/v1/clusters` and `/statuses` list them.
async fn values(app: &AppState, field: Field) -> Result<Vec<String>, ApiError> {
    let column = match field {
        Field::Cluster => ChoiceColumn::Cluster,
        Field::Status => ChoiceColumn::Status,
        Field::Region => return distinct(app, "region").await,
        Field::AssignedTeam => return distinct(app, "assigned_team").await,
    };
    let choices = tickets::choices(&app.read, column).await?;
    Ok(choices.into_iter().map(|c| c.name).collect())
}

async fn distinct(app: &AppState, column: &'static str) -> Result<Vec<String>, ApiError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT {column} FROM tickets.inc WHERE {column} IS NOT NULL AND btrim({column}) <> ''
         GROUP BY {column} ORDER BY {column} COLLATE \"C\""
    ))
    .fetch_all(&app.read)
    .await?)
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
