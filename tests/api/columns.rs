//! A ticket's fields are declared once (`ticket::fields`); the migrations and every
//! derived struct must follow it, so a field added to one and not the others fails here.

use std::collections::BTreeMap;

use fleettickets::ticket::fields::{Field, Kind, FIELDS};
use serde_json::Value;

use crate::helpers::test_db;

/// `column → data_type` of a table, as the migrations left it.
async fn columns(pool: &sqlx::PgPool, table: &str) -> BTreeMap<String, String> {
    sqlx::query_as::<_, (String, String)>(
        "SELECT column_name::text, data_type::text FROM information_schema.columns
         WHERE table_schema = 'tickets' AND table_name = $1",
    )
    .bind(table)
    .fetch_all(pool)
    .await
    .expect("information_schema answers")
    .into_iter()
    .collect()
}

/// `information_schema`'s name for a kind's type.
fn data_type(kind: Kind) -> &'static str {
    match kind.sql() {
        "timestamptz" => "timestamp with time zone",
        other => other,
    }
}

/// The names of a table's columns that are not declared fields.
fn undeclared(table: &BTreeMap<String, String>) -> Vec<&str> {
    table
        .keys()
        .map(String::as_str)
        .filter(|name| !FIELDS.iter().any(|f| f.name == *name))
        .collect()
}

#[tokio::test]
async fn the_migrations_have_every_declared_field_and_no_other() {
    let db = test_db().await;
    let inc = columns(&db.pool, "inc").await;
    let history = columns(&db.pool, "inc_history").await;
    for f in FIELDS {
        assert_eq!(
            inc.get(f.name).map(String::as_str),
            Some(data_type(f.kind)),
            "tickets.inc.{}",
            f.name
        );
        assert_eq!(
            history.get(f.name).map(String::as_str),
            f.tracked.then(|| data_type(f.kind)),
            "tickets.inc_history.{} (tracked: {})",
            f.name,
            f.tracked
        );
    }
    // Beside the fields, each table holds only its own bookkeeping.
    assert_eq!(
        undeclared(&inc),
        [
            "geog",
            "geom",
            "ingested_at",
            "raw",
            "row_hash",
            "ticket_id"
        ]
    );
    assert_eq!(
        undeclared(&history),
        ["import_id", "ticket_id", "valid_from", "valid_to"]
    );
}

/// A schema's property names, sorted.
fn properties(document: &Value, schema: &str) -> Vec<String> {
    let mut names: Vec<String> = document["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{schema} has properties"))
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

/// The declared fields of a view, with a struct's own leading and trailing ones, sorted.
fn view(keep: fn(&Field) -> bool, own: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = FIELDS
        .iter()
        .filter(|f| keep(f))
        .map(|f| f.name.to_owned())
        .chain(own.iter().map(|s| (*s).to_owned()))
        .collect();
    names.sort();
    names
}

#[test]
fn the_ticket_routes_show_each_views_fields_and_no_other() {
    let document: Value =
        serde_json::from_str(&fleettickets::http::openapi::document()).expect("JSON");
    assert_eq!(
        properties(&document, "TicketDetail"),
        view(|f| f.detail, &["ticket_id", "ingested_at", "raw"])
    );
    assert_eq!(properties(&document, "Tracked"), view(|f| f.tracked, &[]));
    assert_eq!(
        properties(&document, "TicketProperties"),
        view(|f| f.props, &["ticket_id"])
    );
}

/// The dashboard's rows are decoded from PostgreSQL's binary format by each field's kind
/// (`read::binary`), not by sqlx's decoders: every kind reads back exactly, at the edges
/// of its range (times before PostgreSQL's 2000 epoch, long and non-ASCII text, the
/// smallest integer, signed zero), and a null of each kind is `None`.
#[tokio::test]
async fn a_ticket_row_reads_back_every_kind_exactly() {
    use chrono::{DateTime, Utc};
    use fleettickets::dashboard::Ticket;
    let db = test_db().await;
    let long = "Kilimani — Ngong Road, Nairobi (Ü site 7)";
    let at = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
    let row: Ticket = sqlx::query_as(
        "SELECT 'INC1'::text AS ticket_id, 'OPEN'::text AS normalized_status,
                $1::text AS raw_status, false AS is_actionable, ''::text AS cluster,
                'nairobi'::text AS region, $1::text AS location_name,
                'Team A'::text AS assigned_team, NULL::text AS owner,
                'met'::text AS sla_status, (-2147483648)::integer AS mttr,
                '1999-12-31T23:59:59.999999Z'::timestamptz AS created_at_service,
                '0001-01-01T00:00:00Z'::timestamptz AS closed_at,
                '9999-12-31T23:59:59.5Z'::timestamptz AS first_seen_at,
                '-0'::double precision AS latitude, 36.821946::double precision AS longitude,
                'feed'::text AS geo_source",
    )
    .bind(long)
    .fetch_one(&db.pool)
    .await
    .expect("the row decodes");
    let expected = Ticket {
        ticket_id: "INC1".into(),
        normalized_status: Some("OPEN".into()),
        raw_status: Some(long.into()),
        is_actionable: Some(false),
        cluster: Some("".into()),
        region: Some("nairobi".into()),
        location_name: Some(long.into()),
        assigned_team: Some("Team A".into()),
        owner: None,
        sla_status: Some("met".into()),
        mttr: Some(i32::MIN),
        created_at_service: at("1999-12-31T23:59:59.999999Z"),
        closed_at: at("0001-01-01T00:00:00Z"),
        first_seen_at: at("9999-12-31T23:59:59.5Z"),
        latitude: Some(-0.0),
        longitude: Some(36.821946),
        geo_source: Some("feed".into()),
    };
    assert_eq!(row, expected);
    assert!(row.latitude.unwrap().is_sign_negative());
    let nulls: Ticket = sqlx::query_as(&format!(
        "SELECT 'INC2'::text AS ticket_id, {}",
        fleettickets::ticket::fields::typed_nulls(|f| f.map)
    ))
    .fetch_one(&db.pool)
    .await
    .expect("nulls decode");
    assert_eq!(
        nulls,
        Ticket {
            ticket_id: "INC2".into(),
            ..Ticket::default()
        }
    );
}
