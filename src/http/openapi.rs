//! The OpenAPI 3.1 document, generated from the handlers and types. The same document
//! is committed as `openapi/openapi.json` (`fleettickets openapi > openapi/openapi.json`
//! rewrites it; a test fails when they differ).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{admin, backlog, dashboard, dispatch, events, health, map, schemas, tickets};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "fleettickets",
        description = "INC tickets of the field-ops fleet for the FleetOps live map, Grafana and API clients. \
            Every timestamp is RFC 3339 in East Africa Time (+03:00). Errors are JSON `{error, detail}`. \
            With API_TOKENS configured, send `Authorization: Bearer <token>`."
    ),
    paths(
        dashboard::dashboard,
        dispatch::nearest,
        dispatch::teams,
        backlog::backlog,
        tickets::ticket,
        tickets::ticket_history,
        tickets::freshness,
        tickets::clusters,
        tickets::statuses,
        events::events,
        admin::import,
        admin::import_job,
        health::healthz,
        health::readyz,
        health::metrics,
        map::map_config,
    ),
    components(schemas(
        schemas::StatusParam,
        schemas::Instant,
        schemas::Bound,
        schemas::Text,
        schemas::Segment,
        events::StreamEvent,
        events::DataChanged,
        events::Resync
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "dashboard", description = "The FleetOps live map's payload"),
        (name = "dispatch", description = "Nearest open tickets and team closure attribution"),
        (name = "history", description = "The backlog over time, from the captured history"),
        (name = "tickets", description = "Single tickets"),
        (name = "filters", description = "Choices for the cluster and status pickers"),
        (name = "events", description = "Server-sent events: the data changed"),
        (name = "admin", description = "Operator actions (admin token)"),
        (name = "operations", description = "Health, readiness, Prometheus metrics"),
        (name = "map", description = "The built-in live INC map page"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document as served and committed (pretty JSON, trailing newline).
pub fn document() -> String {
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the document serialises");
    json.push('\n');
    json
}
