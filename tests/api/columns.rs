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
