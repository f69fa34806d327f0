//! Geocoding against a local stub that answers like LocationIQ (hits, 404s, 429 with
//! Retry-After, slow and failing answers, wrong-city answers), over real PostgreSQL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use fleettickets::config::{DatabaseConfig, GeocoderConfig};
use fleettickets::geocode::run::{GeocodeReport, Geocoder, Steps};
use serde_json::json;

use crate::helpers::{count, import_path, import_text, test_data, test_db, TestDb};

const KEY: &str = "pk.secret-test-key-123";
/// Nairobi CBD: within 25 km of every Nairobi cluster.
const NAIROBI: (f64, f64) = (-1.2864, 36.8172);

#[derive(Clone, Default)]
struct Stub {
    calls: Arc<Mutex<Vec<(Instant, String)>>>,
    limited_once: Arc<Mutex<bool>>,
}

#[derive(serde::Deserialize)]
struct Search {
    q: String,
    key: String,
}

async fn search(State(stub): State<Stub>, Query(s): Query<Search>) -> axum::response::Response {
    stub.calls
        .lock()
        .unwrap()
        .push((Instant::now(), s.q.clone()));
    let point = |(lat, lon): (f64, f64)| {
        axum::Json(json!([{"lat": lat.to_string(), "lon": lon.to_string(), "display_name": s.q}]))
            .into_response()
    };
    if s.key != KEY {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "Invalid key"})),
        )
            .into_response();
    }
    if s.q.contains("Nowhere") {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "Unable to geocode"})),
        )
            .into_response();
    }
    if s.q.contains("Broken") {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    if s.q.contains("Slow") {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if s.q.contains("Limited") && !std::mem::replace(&mut *stub.limited_once.lock().unwrap(), true)
    {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "1".parse().unwrap());
        return (
            StatusCode::TOO_MANY_REQUESTS,
            h,
            axum::Json(json!({"error": "Rate Limited Second"})),
        )
            .into_response();
    }
    // "BadLat<x> …": an answer whose latitude string is <x> ("NaN", "inf", "91.5", "abc").
    if let Some(rest) = s.q.split_once("BadLat").map(|(_, r)| r) {
        let lat = rest.split([' ', ',']).next().unwrap_or_default();
        return axum::Json(json!([{"lat": lat, "lon": "36.8", "display_name": s.q}]))
            .into_response();
    }
    if s.q.contains("Wrong") {
        return point((-4.0435, 39.6682)); // Mombasa: a wrong-city match for Nairobi
    }
    point(NAIROBI)
}

impl Stub {
    async fn start() -> (Stub, String) {
        let stub = Stub::default();
        let app = axum::Router::new()
            .route("/v1/search", get(search))
            .with_state(stub.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (stub, url)
    }

    fn queries(&self) -> Vec<String> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .map(|(_, q)| q.clone())
            .collect()
    }

    fn gaps(&self) -> Vec<Duration> {
        let calls = self.calls.lock().unwrap();
        calls.windows(2).map(|w| w[1].0 - w[0].0).collect()
    }
}

fn geocoder(db: &TestDb, url: &str, key: Option<&str>, rps: f64) -> Geocoder {
    Geocoder {
        pool: db.pool.clone(),
        config: GeocoderConfig {
            geocoder_url: url.into(),
            geocoder_key: key.map(Into::into),
            geocoder_rps: rps,
            geocoder_timeout_secs: 0.5,
            geocoder_max_failures: 3,
            geocoder_retry_misses_days: 30,
        },
        metrics: Default::default(),
        database_url: DatabaseConfig::new(db.url.clone()).database_url,
    }
}

async fn import(db: &TestDb, csv: &str) {
    import_text(&db.pool, csv).await;
}

async fn points(db: &TestDb) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT ticket_id, geo_source FROM tickets.inc ORDER BY ticket_id")
        .fetch_all(&db.pool)
        .await
        .unwrap()
}

const HEAD: &str = "ticket_id,is_actionable,cluster,region,location_name,latitude,longitude";

#[tokio::test]
async fn locations_are_geocoded_at_the_rate_guarded_cached_and_resolved() {
    let db = test_db().await;
    import(
        &db,
        &format!(
            "{HEAD}\n\
         INC1,true,Westlands,Nairobi,NRB-WSTL-BTS0231 Sarit Centre,,\n\
         INC2,true,Westlands,Nairobi,BTS0232 Nowhere Lane,,\n\
         INC3,true,Westlands,Nairobi,OLT-12 Wrong Town,,\n\
         INC4,true,Westlands,Nairobi,Limited Plaza,,\n\
         INC5,true,Westlands,Nairobi,Sarit Centre,,\n\
         INC6,false,Westlands,Nairobi,Closed Site,,\n\
         INC7,true,Westlands,Nairobi,Feed Site,-1.2600,36.8000\n"
        ),
    )
    .await;
    let (stub, url) = Stub::start().await;
    let report = geocoder(&db, &url, Some(KEY), 5.0)
        .run(Steps::Locations)
        .await
        .unwrap();
    // INC1 and INC5 share a query (asked once); INC6 is not open; INC7 has a feed point.
    let mut asked = stub.queries();
    asked.sort();
    assert_eq!(
        asked,
        [
            "Limited Plaza, Westlands, Kenya",
            "Limited Plaza, Westlands, Kenya",
            "Nowhere Lane, Westlands, Kenya",
            "Sarit Centre, Westlands, Kenya",
            "Wrong Town, Westlands, Kenya",
        ]
    );
    assert_eq!(
        (
            report.calls,
            report.found,
            report.not_found,
            report.rejected,
            report.failed
        ),
        (4, 2, 1, 1, 0)
    );
    // The rate: never faster than 5/s; after the 429 the client waited Retry-After (1 s)
    // and halved its rate.
    let gaps = stub.gaps();
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(195)),
        "{gaps:?}"
    );
    assert!(
        gaps.iter().any(|g| *g >= Duration::from_millis(995)),
        "Retry-After honoured: {gaps:?}"
    );
    let statuses: Vec<(String, String, Option<f64>)> = sqlx::query_as(
        "SELECT query, status, round(distance_km::numeric)::float8 FROM tickets.geo_locations ORDER BY query",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        statuses,
        vec![
            (
                "Limited Plaza, Westlands, Kenya".into(),
                "found".into(),
                Some(2.0)
            ),
            (
                "Nowhere Lane, Westlands, Kenya".into(),
                "not_found".into(),
                None
            ),
            (
                "Sarit Centre, Westlands, Kenya".into(),
                "found".into(),
                Some(2.0)
            ),
            (
                "Wrong Town, Westlands, Kenya".into(),
                "rejected".into(),
                Some(443.0)
            ),
        ]
    );
    assert_eq!(
        points(&db).await,
        vec![
            ("INC1".into(), Some("location".into())),
            ("INC2".into(), Some("cluster".into())),
            ("INC3".into(), Some("cluster".into())),
            ("INC4".into(), Some("location".into())),
            ("INC5".into(), Some("location".into())),
            ("INC6".into(), Some("cluster".into())),
            ("INC7".into(), Some("feed".into())),
        ]
    );
    assert_eq!(report.points_changed, 3);
    // Nothing is asked twice.
    let again = geocoder(&db, &url, Some(KEY), 5.0)
        .run(Steps::Both)
        .await
        .unwrap();
    assert_eq!(
        (again.calls, stub.queries().len()),
        (1, 6),
        "only the cluster is new: {again:?}"
    );
    let third = geocoder(&db, &url, Some(KEY), 5.0)
        .run(Steps::Both)
        .await
        .unwrap();
    assert_eq!((third.calls, third.points_changed), (0, 0));
}

#[tokio::test]
async fn repeated_failures_stop_the_run_and_slow_answers_time_out() {
    let db = test_db().await;
    import(
        &db,
        &format!(
            "{HEAD}\n\
         INC1,true,Karen,Nairobi,Broken One,,\n\
         INC2,true,Karen,Nairobi,Broken Two,,\n\
         INC3,true,Karen,Nairobi,Slow Three,,\n\
         INC4,true,Karen,Nairobi,Broken Four,,\n"
        ),
    )
    .await;
    let (stub, url) = Stub::start().await;
    let report = geocoder(&db, &url, Some(KEY), 20.0)
        .run(Steps::Locations)
        .await
        .unwrap();
    // Broken Four, Broken One, Broken Two (query order): 500, 500, 500 → stopped.
    assert_eq!(stub.queries().len(), 3, "{:?}", stub.queries());
    assert_eq!((report.calls, report.failed), (3, 3));
    assert!(
        report
            .stopped
            .as_deref()
            .unwrap()
            .starts_with("3 failures in a row"),
        "{report:?}"
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.geo_locations").await,
        0,
        "failures are not cached"
    );
    // A slow answer times out (0.5 s) and is not cached either.
    let db = test_db().await;
    import(
        &db,
        &format!("{HEAD}\nINC5,true,Karen,Nairobi,Slow Five,,\n"),
    )
    .await;
    let started = Instant::now();
    let (stub2, url2) = Stub::start().await;
    let slow = geocoder(&db, &url2, Some(KEY), 20.0)
        .run(Steps::Locations)
        .await
        .unwrap();
    assert!(
        slow.failed >= 1 && started.elapsed() < Duration::from_secs(10),
        "{slow:?}"
    );
    assert!(stub2.queries().iter().any(|q| q.starts_with("Slow")));
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM tickets.geo_locations WHERE query LIKE 'Slow%'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn a_refused_key_stops_at_once_and_never_shows() {
    let db = test_db().await;
    import(
        &db,
        &format!(
            "{HEAD}\nINC1,true,Karen,Nairobi,Galleria,,\nINC2,true,Karen,Nairobi,Junction,,\n"
        ),
    )
    .await;
    let (stub, url) = Stub::start().await;
    let report: GeocodeReport = geocoder(&db, &url, Some("pk.wrong-key-456"), 20.0)
        .run(Steps::Both)
        .await
        .unwrap();
    assert_eq!(stub.queries().len(), 1);
    let text = format!("{report:?} {}", serde_json::to_string(&report).unwrap());
    assert!(text.contains("the key was refused (HTTP 401)"), "{text}");
    assert!(!text.contains("pk.wrong-key-456"));
}

#[tokio::test]
async fn clusters_are_geocoded_once_per_query_after_the_alias_map() {
    let db = test_db().await;
    import(&db, &format!(
        "{HEAD}\nINC1,false,QOA,Nairobi,,,\nINC2,false,Quarry Road,nairobi,,,\nINC3,false,Nowhereville,coast,,,\nINC4,false,Kisumu,western,,,\n"
    )).await;
    let (stub, url) = Stub::start().await;
    let report = geocoder(&db, &url, Some(KEY), 20.0)
        .run(Steps::Clusters)
        .await
        .unwrap();
    let mut asked = stub.queries();
    asked.sort();
    assert_eq!(
        asked,
        [
            "Kisumu, western, Kenya",
            "Nowhereville, coast, Kenya",
            "Quarry Road, nairobi, Kenya"
        ]
    );
    // One answer serves QOA and Quarry Road; Kisumu's answer (Nairobi CBD) is 263 km
    // from its gazetteer centroid: rejected, the gazetteer point stays; Nowhereville is
    // not found and has no gazetteer entry.
    assert_eq!(
        (
            report.calls,
            report.found,
            report.rejected,
            report.not_found
        ),
        (3, 2, 1, 1)
    );
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT cluster, status FROM tickets.geo_clusters ORDER BY cluster")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![
            ("Kisumu".into(), "rejected".into()),
            ("Nowhereville".into(), "not_found".into()),
            ("QOA".into(), "found".into()),
            ("Quarry Road".into(), "found".into()),
        ]
    );
    let kisumu: (f64, f64) =
        sqlx::query_as("SELECT latitude, longitude FROM tickets.inc WHERE ticket_id = 'INC4'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(kisumu, (-0.0917, 34.768), "the gazetteer centroid");
}

#[tokio::test]
async fn points_resolve_feed_then_location_then_cluster_then_none() {
    let db = test_db().await;
    // A cached location answer exists before the import: the import resolves it itself.
    sqlx::query("INSERT INTO tickets.geo_locations (query, status, latitude, longitude, provider) VALUES ('Sarit Centre, Westlands, Kenya', 'found', -1.2612, 36.8025, 'test')")
        .execute(&db.pool)
        .await
        .unwrap();
    import(
        &db,
        &format!(
            "{HEAD}\n\
         INC1,true,Westlands,Nairobi,Sarit Centre,-1.2600,36.8000\n\
         INC2,true,Westlands,Nairobi,NRB-WSTL-BTS0231 Sarit Centre,,\n\
         INC3,true,Westlands,Nairobi,Sarit Centre,0,0\n\
         INC4,true,Westlands,Nairobi,Unknown Mall,36.8000,-1.2600\n\
         INC5,false,QOA,Nairobi,,x,y\n\
         INC6,true,Atlantis,coast,Harbour,,\n\
         INC7,true,,,Somewhere,,\n"
        ),
    )
    .await;
    type Point = (String, Option<String>, Option<f64>, Option<f64>);
    let rows: Vec<Point> = sqlx::query_as(
        "SELECT ticket_id, geo_source, latitude, longitude FROM tickets.inc ORDER BY ticket_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            ("INC1".into(), Some("feed".into()), Some(-1.26), Some(36.8)),
            (
                "INC2".into(),
                Some("location".into()),
                Some(-1.2612),
                Some(36.8025)
            ),
            (
                "INC3".into(),
                Some("location".into()),
                Some(-1.2612),
                Some(36.8025)
            ), // 0,0 is no feed
            (
                "INC4".into(),
                Some("cluster".into()),
                Some(-1.2676),
                Some(36.8108)
            ), // swapped: invalid
            (
                "INC5".into(),
                Some("cluster".into()),
                Some(-1.272),
                Some(36.833)
            ), // QOA → Quarry Road
            ("INC6".into(), None, None, None),
            ("INC7".into(), None, None, None),
        ]
    );
    // geom and geog follow latitude/longitude.
    assert_eq!(count(&db.pool, "SELECT count(*) FROM tickets.inc WHERE (geom IS NULL) <> (latitude IS NULL) OR (geog IS NULL) <> (latitude IS NULL)").await, 0);
    let x: f64 = sqlx::query_scalar("SELECT ST_X(geom) FROM tickets.inc WHERE ticket_id = 'INC1'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(x, 36.8);
    // A later snapshot without the feed point falls back to the location answer.
    import(
        &db,
        &format!("{HEAD}\nINC1,true,Westlands,Nairobi,Sarit Centre,,\n"),
    )
    .await;
    assert_eq!(
        points(&db).await[0],
        ("INC1".into(), Some("location".into()))
    );
}

/// With no key, the shipped gazetteer places every ticket whose cluster it knows.
#[tokio::test]
async fn offline_every_ticket_of_a_known_cluster_has_a_point() {
    let db = test_db().await;
    let path = test_data("inc-sample.csv");
    import_path(&db.pool, &path, fleettickets::ingest::Mode::Apply)
        .await
        .unwrap();
    let report = geocoder(&db, "http://127.0.0.1:9", None, 2.0)
        .run(Steps::Both)
        .await
        .unwrap();
    assert_eq!(
        (report.calls, report.points_changed),
        (0, 0),
        "the import placed them already"
    );
    let unplaced_known = count(
        &db.pool,
        "SELECT count(*) FROM tickets.inc i WHERE geom IS NULL AND cluster IS NOT NULL",
    )
    .await;
    assert_eq!(unplaced_known, 0);
    // 386 tickets: 53 feed points, the rest on their cluster but the one without a cluster.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM tickets.inc WHERE geo_source = 'feed'"
        )
        .await,
        53
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM tickets.inc WHERE geo_source = 'cluster'"
        )
        .await,
        332
    );
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM tickets.inc WHERE geom IS NULL"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn answers_that_are_no_point_on_earth_are_refused_and_never_stored() {
    let db = test_db().await;
    import(
        &db,
        &format!(
            "{HEAD}\n\
         INC1,true,Westlands,Nairobi,BadLatNaN Site,,\n\
         INC2,true,Westlands,Nairobi,BadLatinf Site,,\n\
         INC3,true,Westlands,Nairobi,BadLat91.5 Site,,\n\
         INC4,true,Westlands,Nairobi,BadLatabc Site,,\n"
        ),
    )
    .await;
    let (_stub, url) = Stub::start().await;
    let mut geocoder = geocoder(&db, &url, Some(KEY), 50.0);
    geocoder.config.geocoder_max_failures = 10;
    let report = geocoder.run(Steps::Locations).await.unwrap();
    assert_eq!(
        (
            report.calls,
            report.found,
            report.failed,
            report.bad_answers
        ),
        (4, 0, 4, 4),
        "{report:?}"
    );
    assert_eq!(report.stopped, None);
    let cached = "SELECT count(*) FROM tickets.geo_locations";
    assert_eq!(count(&db.pool, cached).await, 0, "nothing stored");
    // Every ticket keeps its cluster's gazetteer point, a real one.
    let bad = "SELECT count(*) FROM tickets.inc WHERE latitude IS NULL OR latitude = 'NaN'
               OR abs(latitude) > 90 OR geo_source <> 'cluster'";
    assert_eq!(count(&db.pool, bad).await, 0);
    // And the schema refuses such a point whoever writes it.
    for (lat, lon) in [
        ("'NaN'", "36.8"),
        ("'Infinity'", "36.8"),
        ("91.5", "36.8"),
        ("-1.2", "181"),
    ] {
        let sql = format!(
            "INSERT INTO tickets.geo_locations (query, status, latitude, longitude, provider)
             VALUES ('q', 'found', {lat}, {lon}, 'locationiq')"
        );
        let refused = sqlx::query(&sql).execute(&db.pool).await.unwrap_err();
        assert!(
            refused.to_string().contains("point_on_earth"),
            "{lat},{lon}: {refused}"
        );
        let sql = format!(
            "UPDATE tickets.inc SET latitude = {lat}, longitude = {lon} WHERE ticket_id = 'INC1'"
        );
        let refused = sqlx::query(&sql).execute(&db.pool).await.unwrap_err();
        assert!(
            refused.to_string().contains("inc_point_on_earth"),
            "{lat},{lon}: {refused}"
        );
    }
}
