//! The backend of Grafana's JSON datasource plugin (`simpod-json-datasource`) under
//! `/grafana`: health, the metric catalogue, payload options, queries (annotations
//! included), variables and ad hoc filter keys and values. The metrics are the
//! dashboard payload's, computed by the same code over the panel's time range (see
//! `summary`); the plugin's contract and our choices are in `docs/grafana.md`.

pub mod backlog;
pub mod catalogue;
pub mod filters;
pub mod frame;
pub mod imports;
mod query;
pub mod refusal;
pub mod regex;
pub mod summary;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Reader;
use super::error::{ApiError, ErrorBody};
use super::AppState;
use crate::read::tickets::{self, ChoiceColumn};
use catalogue::Metric;
use filters::Field;

/// Every route of the datasource, with errors that carry a `message` Grafana shows.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/grafana", get(health))
        .route("/grafana/", get(health))
        .route("/grafana/metrics", post(metrics))
        .route("/grafana/metric-payload-options", post(payload_options))
        .route("/grafana/query", post(query::query))
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
