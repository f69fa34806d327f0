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
/// (`read::binary`), not by sqlx's decoders, from result rows and, the key and the
/// tracked fields, from a binary `COPY` (`read::copy`, the recorded miss): every kind
/// reads back exactly, at the edges of its range (times before PostgreSQL's 2000 epoch,
/// long and non-ASCII text, the smallest integer, signed zero), and a null of each kind
/// is `None`.
#[tokio::test]
async fn a_ticket_row_reads_back_every_kind_exactly() {
    use chrono::{DateTime, Utc};
    use fleettickets::dashboard::Ticket;
    let db = test_db().await;
    let long = "Kilimani — Ngong Road, Nairobi (Ü site 7)";
    let at = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
    let select = format!(
        "SELECT 'INC1'::text AS ticket_id, 'OPEN'::text AS normalized_status,
                '{long}'::text AS raw_status, false AS is_actionable, ''::text AS cluster,
                'nairobi'::text AS region, '{long}'::text AS location_name,
                'Team A'::text AS assigned_team, NULL::text AS owner,
                'met'::text AS sla_status, (-2147483648)::integer AS mttr,
                '1999-12-31T23:59:59.999999Z'::timestamptz AS created_at_service,
                '0001-01-01T00:00:00Z'::timestamptz AS closed_at,
                '9999-12-31T23:59:59.5Z'::timestamptz AS first_seen_at,
                '-0'::double precision AS latitude, 36.821946::double precision AS longitude,
                'feed'::text AS geo_source"
    );
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
    let nulls = format!(
        "SELECT 'INC2'::text AS ticket_id, {}",
        fleettickets::ticket::fields::typed_nulls(|f| f.map)
    );
    let only_id = Ticket {
        ticket_id: "INC2".into(),
        ..Ticket::default()
    };
    for (select, expected) in [(&select, &expected), (&nulls, &only_id)] {
        let row: Ticket = sqlx::query_as(select)
            .fetch_one(&db.pool)
            .await
            .expect("the row decodes");
        assert_eq!(&row, expected, "as a result row");
        assert!(row.latitude.is_none_or(|l| l.is_sign_negative()));
        // A recorded version: the key and the tracked fields; the others are left empty.
        let tracked = format!(
            "SELECT ticket_id, {} FROM ({select}) s",
            fleettickets::ticket::fields::names("", |f| f.tracked)
        );
        let version = Ticket {
            raw_status: None,
            location_name: None,
            latitude: None,
            longitude: None,
            geo_source: None,
            ..expected.clone()
        };
        let mut copied = Vec::new();
        fleettickets::read::copy::tickets(&db.pool, &tracked, |t| copied.push(t))
            .await
            .expect("the COPY decodes");
        assert_eq!(copied, [version], "through COPY");
    }
    // A tuple with the current rows' fields as well is refused, not read shifted.
    let err = fleettickets::read::copy::tickets(&db.pool, &select, |_| {})
        .await
        .expect_err("17 fields where 12 are read");
    assert!(matches!(err, sqlx::Error::Decode(_)), "{err}");
}

/// A `COPY` left before its end (the request's future dropped: the client went away)
/// closes its connection, whose remaining data would otherwise meet the next query: the
/// pool's one connection is replaced and answers.
#[tokio::test]
async fn a_copy_left_midway_does_not_leave_its_connection_to_the_next_query() {
    let db = test_db().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap();
    let rows = |from: &str| {
        format!(
            "SELECT 'INC' || n AS ticket_id, {} FROM {from}",
            fleettickets::ticket::fields::typed_nulls(|f| f.tracked)
        )
    };
    // Left after its 1,000th row, while PostgreSQL pauses at the 3,000th (a client does
    // not wait for data it already has, so it can only be left while waiting).
    let (seen, thousand) = tokio::sync::oneshot::channel();
    let mut seen = Some(seen);
    let mut read = 0;
    let many = rows(
        "(SELECT n, CASE WHEN n = 3000 THEN pg_sleep(5) END FROM generate_series(1, 5000) n) s",
    );
    let copy = fleettickets::read::copy::tickets(&pool, &many, |_| {
        read += 1;
        if read == 1000 {
            seen.take().map(|s| s.send(()));
        }
    });
    tokio::select! {
        ended = copy => panic!("the COPY ended before its 1,000th row was seen: {ended:?}"),
        _ = thousand => {}
    }
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
    let mut again = Vec::new();
    fleettickets::read::copy::tickets(&pool, &rows("(VALUES (9)) v(n)"), |t| {
        again.push(t.ticket_id)
    })
    .await
    .unwrap();
    assert_eq!(again, ["INC9"]);
}
