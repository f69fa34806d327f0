//! `GET /api/v1/events`: the data-changed events as server-sent events, sent once this
//! replica serves the new data (after its open-set reload), so a client that fetches
//! on an event never gets the data from before it.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use chrono::Utc;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::auth::Reader;
use super::error::{ApiError, ErrorBody};
use super::input::NoParameters;
use super::AppState;
use crate::dashboard::freshness::Freshness;

/// The `data` of a `data_changed` event.
#[derive(Debug, Serialize, ToSchema)]
pub struct DataChanged {
    /// The last import that wrote rows (also the event's `id`); null before any.
    pub import_id: Option<i64>,
    /// That import's snapshot key.
    pub snapshot_key: Option<String>,
    pub freshness: Option<Freshness>,
    /// The ETags the default requests now answer with (null when they cannot be built).
    pub etags: Etags,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Etags {
    /// Of `GET /api/v1/inc/dashboard` (no parameters).
    pub dashboard: Option<String>,
    /// Of `GET /api/v1/inc/backlog` (no parameters).
    pub backlog: Option<String>,
}

/// The `data` of a `resync` event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resync {
    /// The last import this replica has sent an event for (the event's `id`).
    pub import_id: Option<i64>,
}

/// One event of the stream as an SSE parser reads it: what OpenAPI 3.1 can say of the
/// items of a stream (schemathesis checks each event received against it).
pub struct StreamEvent;

impl PartialSchema for StreamEvent {
    fn schema() -> RefOr<Schema> {
        let string = || ObjectBuilder::new().schema_type(Type::String);
        ObjectBuilder::new()
            .property(
                "event",
                string().enum_values(Some(["data_changed", "resync"])),
            )
            .required("event")
            .property("id", string().pattern(Some("^[0-9]{1,18}$")))
            .property(
                "data",
                string()
                    .content_media_type("application/json")
                    .description(Some(
                        "JSON: a `DataChanged` (data_changed) or a `Resync` (resync)",
                    )),
            )
            .required("data")
            .into()
    }
}

impl ToSchema for StreamEvent {}

/// Server-sent events (`text/event-stream`): `data_changed` each time this replica
/// serves new data, with its `id:` the import id.
///
/// Events (each an `event:` name, an `id:` and one JSON `data:` line):
/// - `data_changed` (data: `DataChanged`): the new data is served; fetch it now.
/// - `resync` (data: `Resync`): the `Last-Event-ID` sent cannot be resumed from
///   (unknown, too old, from the future, not a number): reload everything.
///
/// Reconnecting with `Last-Event-ID` replays the events missed since (the last 256
/// are kept). A comment line (`: heartbeat`) comes every 15 s. The stream ends at
/// shutdown, and when the client falls 16 events behind; reconnect then (browsers'
/// `EventSource` does after the `retry:` of 2 s). Over `EVENTS_MAX_CLIENTS` streams:
/// 503 with `Retry-After`.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received: the events after it are replayed first."),
    ),
    responses(
        (status = 200, description = "The event stream (it ends only at shutdown, or for a client 16 events behind)", content_type = "text/event-stream", body = StreamEvent,
            headers(("X-Accel-Buffering" = String, description = "`no`: nginx passes events on at once"))),
        (status = 400, description = "A query parameter (this route takes none)", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 503, description = "`EVENTS_MAX_CLIENTS` streams are open (see Retry-After)", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn events(
    State(app): State<AppState>,
    _: Reader,
    _: NoParameters,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let slot = app.push.admit().ok_or_else(|| {
        ApiError::Busy(format!(
            "this replica serves its limit of {} event streams (EVENTS_MAX_CLIENTS); retry later",
            app.push.max_clients()
        ))
    })?;
    let last = headers
        .get("last-event-id")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = Body::from_stream(app.push.stream(slot, last.as_deref()));
    let mut response = Response::new(body);
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Follows the open set's reloads and sends one `data_changed` per reload. Run by the
/// supervisor; ends only when the open set is gone.
pub async fn emit(app: AppState) -> anyhow::Result<()> {
    let mut served = app.live.served();
    served.mark_unchanged();
    // Replay covers the imports after the one served now.
    let latest = match latest_import(&app.read).await {
        Ok(latest) => {
            let id = latest.map_or(0, |(id, _)| id);
            app.push.start_at(id);
            Some(id)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the last import: Last-Event-ID resyncs until the next event");
            None
        }
    };
    let mut last_id = latest.unwrap_or_default();
    while served.changed().await.is_ok() {
        let announced = served.borrow_and_update().announced;
        let event = describe(&app).await;
        // A reload after a LISTEN reconnection that found no new import is not news.
        if !announced && event.import_id.is_none_or(|id| id == last_id) {
            continue;
        }
        // An import id that cannot be read now keeps the last one sent.
        last_id = event.import_id.unwrap_or(last_id);
        let id = last_id;
        let data = serde_json::to_string(&event)?;
        app.push.publish("data_changed", id, &data);
    }
    Ok(())
}

/// The event for the data served now. The default dashboard and backlog are built into
/// the cache on the way (their ETags are the ones clients then get), so the fetches
/// the event sets off are cache hits. A part that cannot be read is null.
async fn describe(app: &AppState) -> DataChanged {
    let now = Utc::now();
    let (import, state, dashboard, backlog) = tokio::join!(
        latest_import(&app.read),
        app.live.import_state(),
        async {
            let request = crate::params::parse("", now).ok()?;
            super::dashboard::cached(app, request)
                .await
                .ok()
                .map(|(e, _)| e)
        },
        async {
            let request = crate::history::params::parse("", now).ok()?;
            super::backlog::cached(app, request)
                .await
                .ok()
                .map(|(e, _)| e)
        },
    );
    let etag = |entry: Option<super::cache::Entry>| {
        entry.and_then(|e| e.etag().to_str().ok().map(str::to_owned))
    };
    let (import_id, snapshot_key) = match import {
        Ok(Some((id, key))) => (Some(id), Some(key)),
        Ok(None) => (None, None),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the last import for the event");
            (None, None)
        }
    };
    DataChanged {
        import_id,
        snapshot_key,
        freshness: state
            .ok()
            .map(|s| Freshness::at(&s, now, app.rules.stale_after)),
        etags: Etags {
            dashboard: etag(dashboard),
            backlog: etag(backlog),
        },
    }
}

/// The id and snapshot key of the last import that wrote rows.
async fn latest_import(read: &PgPool) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, source_key FROM tickets.import_meta
         WHERE outcome = 'imported' AND inserted + updated > 0
         ORDER BY id DESC LIMIT 1",
    )
    .fetch_optional(read)
    .await
}
