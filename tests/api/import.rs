//! Importing snapshot files: the sample's exact counts, every cleaning rule on a small
//! handmade CSV, atomicity, idempotence and the newer-row guard.

use fleettickets::ingest::{import_file, ImportError, ImportReport, Mode, Source};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{count, shared_data, temp_dir, test_db, tickets_checksum, write_file};

async fn import(
    pool: &PgPool,
    path: &std::path::Path,
    mode: Mode,
) -> Result<ImportReport, ImportError> {
    import_file(pool, path, Source::local_file(path), mode).await
}

async fn import_text(pool: &PgPool, csv: &str) -> ImportReport {
    let dir = temp_dir();
    let path = write_file(dir.path(), "2026-06-16T071502.csv", csv);
    import(pool, &path, Mode::Apply)
        .await
        .expect("import succeeds")
}

async fn ticket(pool: &PgPool, id: &str) -> serde_json::Value {
    sqlx::query_scalar(
        "SELECT to_jsonb(t) - 'geom' - 'geog' - 'ingested_at' FROM tickets.inc t WHERE ticket_id = $1",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .unwrap()
}

// Expected values worked out from the file itself (a throwaway Python script over
// ../shared/data/inc-sample.csv), not by this code.
#[tokio::test]
async fn the_sample_imports_to_its_known_counts() {
    let db = test_db().await;
    let report = import(&db.pool, &shared_data("inc-sample.csv"), Mode::Apply)
        .await
        .unwrap();
    let s = &report.stats;
    assert_eq!((s.rows_read, s.rows_kept), (401, 387));
    assert_eq!(
        (s.dropped_alarm, s.dropped_sentinel, s.dropped_empty_id),
        (12, 1, 1)
    );
    // On kept rows: N/A twice, TBD, 0000-00-00 twice, 2026-13-45 once.
    assert_eq!(s.warnings, 6);
    assert!(s.truncated);
    assert_eq!(
        (
            report.changes.tickets,
            report.changes.new,
            report.changes.updated
        ),
        (386, 386, 0)
    );

    let p = &db.pool;
    assert_eq!(count(p, "SELECT count(*) FROM tickets.inc").await, 386);
    assert_eq!(
        count(p, "SELECT count(*) FROM tickets.inc WHERE is_actionable").await,
        39
    );
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM tickets.inc WHERE closed_at IS NOT NULL"
        )
        .await,
        341
    );
    assert_eq!(
        count(p, "SELECT count(*) FROM tickets.inc WHERE mttr IS NOT NULL").await,
        314
    );
    assert_eq!(count(p, "SELECT sum(mttr) FROM tickets.inc").await, 239_779);
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM tickets.inc WHERE geo_source = 'feed'"
        )
        .await,
        53
    );
    assert_eq!(
        count(p, "SELECT count(*) FROM tickets.inc WHERE geog IS NOT NULL").await,
        53
    );
    assert_eq!(
        count(p, "SELECT count(DISTINCT cluster) FROM tickets.inc").await,
        30
    );
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM tickets.inc WHERE region = 'nairobi'"
        )
        .await,
        285
    );
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM tickets.inc WHERE normalized_status = 'PENDING'"
        )
        .await,
        18
    );
    assert_eq!(
        count(
            p,
            "SELECT count(*) FROM tickets.inc WHERE raw_status <> upper(raw_status)"
        )
        .await,
        0
    );
    // 43.925 h = 2635.5 min, half away from zero.
    assert_eq!(ticket(p, "INC000012495858").await["mttr"], 2636);
    // The id repeated in the file: the later (resolved) row won.
    let repeated = ticket(p, "INC000012497195").await;
    assert_eq!(
        (
            repeated["normalized_status"].as_str(),
            repeated["is_actionable"].as_bool()
        ),
        (Some("RESOLVED"), Some(false))
    );
    // Placeholder coordinates 0,0 give no point.
    assert_eq!(
        ticket(p, "INC000012496376").await["geo_source"],
        serde_json::Value::Null
    );

    // The sample's file name carries no export time, so the snapshot time is unknown.
    let meta: (String, i64, i64, bool, bool, String) = sqlx::query_as(
        "SELECT outcome, rows_read, duplicate_ids, truncated, snapshot_at IS NULL, etag FROM tickets.import_meta",
    )
    .fetch_one(p)
    .await
    .unwrap();
    assert_eq!(
        meta,
        ("imported".into(), 401, 1, true, true, report.etag.clone())
    );
    assert_eq!(report.etag.len(), 32, "the content MD5 in hex");
}
