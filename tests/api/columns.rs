//! The ticket's typed fields are declared once (`ticket::columns::COLUMNS`); the
//! migrations and the read side must follow it, so a field added to one and not the
//! others fails here.

use std::collections::BTreeMap;

use fleettickets::ticket::columns::COLUMNS;
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

fn data_type(sql_type: &str) -> &str {
    match sql_type {
        "timestamptz" => "timestamp with time zone",
        other => other,
    }
}

#[tokio::test]
async fn the_migrations_have_every_declared_column_and_no_other_tracked_one() {
    let db = test_db().await;
    let inc = columns(&db.pool, "inc").await;
    let history = columns(&db.pool, "inc_history").await;
    for c in COLUMNS {
        assert_eq!(
            inc.get(c.name).map(String::as_str),
            Some(data_type(c.sql_type)),
            "tickets.inc.{}",
            c.name
        );
        assert_eq!(
            history.get(c.name).map(String::as_str),
            c.tracked.then(|| data_type(c.sql_type)),
            "tickets.inc_history.{} (tracked: {})",
            c.name,
            c.tracked
        );
    }
    // The history holds the tracked fields and its own bookkeeping, nothing else.
    let bookkeeping = ["ticket_id", "valid_from", "valid_to", "import_id"];
    for name in history.keys() {
        assert!(
            bookkeeping.contains(&name.as_str()) || COLUMNS.iter().any(|c| c.name == name),
            "tickets.inc_history.{name} is not declared"
        );
    }
}

#[test]
fn the_ticket_routes_show_every_declared_field() {
    let document: Value =
        serde_json::from_str(&fleettickets::http::openapi::document()).expect("JSON");
    let properties = |schema: &str| -> Vec<String> {
        document["components"]["schemas"][schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{schema} has properties"))
            .keys()
            .cloned()
            .collect()
    };
    let detail = properties("TicketDetail");
    let tracked = properties("Tracked");
    // `location_query` is the geocoder's, not the ticket's.
    for c in COLUMNS.iter().filter(|c| c.name != "location_query") {
        assert!(
            detail.contains(&c.name.to_owned()),
            "TicketDetail.{}",
            c.name
        );
        assert_eq!(
            tracked.contains(&c.name.to_owned()),
            c.tracked,
            "Tracked.{}",
            c.name
        );
    }
}
