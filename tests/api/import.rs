//! Importing snapshot files: the sample's exact counts, every cleaning rule on a small
//! handmade CSV, atomicity, idempotence and the newer-row guard.

use fleettickets::ingest::Mode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{
    count, history_checksum, import_path as import, import_text, temp_dir, test_data, test_db,
    tickets_checksum, write_file,
};

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
// tests/data/inc-sample.csv), not by this code.
#[tokio::test]
async fn the_sample_imports_to_its_known_counts() {
    let db = test_db().await;
    let report = import(&db.pool, &test_data("inc-sample.csv"), Mode::Apply)
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
        385 // 53 feed points + 332 on their cluster's gazetteer centroid
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
    // Placeholder coordinates 0,0 are no feed point: the ticket sits on its cluster.
    assert_eq!(ticket(p, "INC000012496376").await["geo_source"], "cluster");

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

const HEAD: &str = "ticket_id,raw_status,normalized_status,is_actionable,is_alarm,cluster,region,mttr,created_at_service,closed_at,source_updated_at,latitude,longitude";

#[tokio::test]
async fn bom_crlf_any_column_order_and_unknown_columns() {
    let db = test_db().await;
    let csv = "\u{feff} Region ,VENDOR_REF,Ticket_ID , department,Raw_Status\r\nCOAST,VR-1,INC1,Field Ops,in progress\r\n\"Nairobi\",\"VR, 2\",INC2,,\"Pending \"\"vendor\"\"\"\r\n";
    let report = import_text(&db.pool, csv).await;
    assert_eq!((report.stats.rows_read, report.stats.rows_kept), (2, 2));
    let one = ticket(&db.pool, "INC1").await;
    assert_eq!(
        (one["region"].as_str(), one["raw_status"].as_str()),
        (Some("coast"), Some("IN PROGRESS"))
    );
    assert_eq!(
        one["raw"],
        json!({"region": "coast", "vendor_ref": "VR-1", "ticket_id": "INC1", "raw_status": "IN PROGRESS"})
    );
    let two = ticket(&db.pool, "INC2").await;
    assert_eq!(two["raw"]["vendor_ref"], "VR, 2");
    assert_eq!(two["raw_status"], "PENDING \"VENDOR\"");
}

#[tokio::test]
async fn booleans_timestamps_mttr_and_warnings() {
    let db = test_db().await;
    let csv = format!(
        "{HEAD}\n\
         INC1,New,OPEN,YES,No,Westlands,Nairobi,,2026-06-16 07:15:02,,2026-06-16T07:20,,\n\
         INC2,Closed,CLOSED,f,0,Karen,nairobi,10.175,2026-06-15 23:59:59.5,2026-06-16 01:00,2026-06-16 01:00:00,,\n\
         INC3,Closed,CLOSED,maybe,,Karen,nairobi,2h,N/A,TBD,2026-06-16 01:00:00,x,36.8\n"
    );
    let report = import_text(&db.pool, &csv).await;
    assert_eq!(
        report.stats.warnings, 5,
        "{:?}",
        report.stats.warning_samples
    );
    type Row = (
        String,
        Option<bool>,
        Option<i32>,
        Option<String>,
        Option<String>,
    );
    let stamps: Vec<Row> = sqlx::query_as(
        "SELECT ticket_id, is_actionable, mttr,
                to_char(created_at_service AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'),
                to_char(closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
         FROM tickets.inc ORDER BY ticket_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        stamps,
        vec![
            (
                "INC1".into(),
                Some(true),
                None,
                Some("2026-06-16 04:15:02.000".into()),
                None
            ),
            (
                "INC2".into(),
                Some(false),
                Some(611),
                Some("2026-06-15 20:59:59.500".into()),
                Some("2026-06-15 22:00:00".into())
            ),
            ("INC3".into(), None, None, None, None),
        ]
    );
    // The unreadable text stays in raw.
    assert_eq!(ticket(&db.pool, "INC3").await["raw"]["closed_at"], "TBD");
}

#[tokio::test]
async fn alarms_sentinels_and_empty_ids_are_dropped_and_recorded() {
    let db = test_db().await;
    let csv = format!(
        "{HEAD}\n\
         INC1,New,OPEN,true,TRUE,Westlands,Nairobi,,,,,,\n\
         ,New,OPEN,true,false,Westlands,Nairobi,,,,,,\n\
         INC2,New,OPEN,true,f,Westlands,Nairobi,,,,,,\n\
         EXPORT STOPPED: row limit 50000 reached,,,,,,,,,,,,\n"
    );
    import_text(&db.pool, &csv).await;
    let ids: Vec<String> = sqlx::query_scalar("SELECT ticket_id FROM tickets.inc")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    assert_eq!(ids, ["INC2"]);
    let meta: (i64, i64, i64, i64, i64, bool) = sqlx::query_as(
        "SELECT rows_read, rows_kept, dropped_alarm, dropped_empty_id, dropped_sentinel, truncated FROM tickets.import_meta",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(meta, (4, 1, 1, 1, 1, true));
}

#[tokio::test]
async fn a_repeated_id_keeps_the_later_row() {
    let db = test_db().await;
    let csv = format!(
        "{HEAD}\n\
         INC1,New,OPEN,true,false,Westlands,Nairobi,,,,2026-06-16 08:00:00,,\n\
         INC1,Closed,CLOSED,false,false,Westlands,Nairobi,1.5,,2026-06-16 09:00:00,2026-06-16 08:00:00,,\n"
    );
    let report = import_text(&db.pool, &csv).await;
    assert_eq!((report.changes.tickets, report.changes.new), (1, 1));
    let t = ticket(&db.pool, "INC1").await;
    assert_eq!(
        (t["normalized_status"].as_str(), t["mttr"].as_i64()),
        (Some("CLOSED"), Some(90))
    );
}

#[tokio::test]
async fn an_older_snapshot_never_overwrites_a_newer_row_and_nothing_is_deleted() {
    let db = test_db().await;
    let newer = format!(
        "{HEAD}\n\
         INC1,Closed,CLOSED,false,false,Karen,Nairobi,2,,2026-06-16 10:00:00,2026-06-16 10:00:00,,\n\
         INC2,New,OPEN,true,false,Karen,Nairobi,,,,,,\n"
    );
    let older = format!(
        "{HEAD}\n\
         INC1,New,OPEN,true,false,Karen,Nairobi,,,,2026-06-16 08:00:00,,\n\
         INC2,Assigned,OPEN,true,false,Karen,Nairobi,,,,,,\n\
         INC3,New,OPEN,true,false,Karen,Nairobi,,,,,,\n"
    );
    import_text(&db.pool, &newer).await;
    let report = import_text(&db.pool, &older).await;
    // INC1: stored row strictly newer, kept. INC2: both null (null = oldest, not newer), updated.
    assert_eq!(
        (
            report.changes.new,
            report.changes.updated,
            report.changes.skipped_older
        ),
        (1, 1, 1)
    );
    let t = ticket(&db.pool, "INC1").await;
    assert_eq!(t["normalized_status"], "CLOSED");
    assert_eq!(ticket(&db.pool, "INC2").await["raw_status"], "ASSIGNED");
    // A snapshot without INC1 and INC2 deletes nothing.
    import_text(
        &db.pool,
        &format!("{HEAD}\nINC9,New,OPEN,true,false,Karen,Nairobi,,,,,,\n"),
    )
    .await;
    assert_eq!(count(&db.pool, "SELECT count(*) FROM tickets.inc").await, 4);
}

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing() {
    let db = test_db().await;
    let sample = test_data("inc-sample.csv");
    import(&db.pool, &sample, Mode::Apply).await.unwrap();
    let before = tickets_checksum(&db.pool).await;
    let ingested: String = sqlx::query_scalar("SELECT max(ingested_at)::text FROM tickets.inc")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let again = import(&db.pool, &sample, Mode::Apply).await.unwrap();
    assert_eq!(
        (
            again.changes.new,
            again.changes.updated,
            again.changes.unchanged
        ),
        (0, 0, 386)
    );
    assert!(!again.wrote_rows());
    assert_eq!(tickets_checksum(&db.pool).await, before);
    let after: String = sqlx::query_scalar("SELECT max(ingested_at)::text FROM tickets.inc")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(after, ingested, "unchanged rows are not rewritten");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.import_meta").await,
        2
    );
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() {
    let db = test_db().await;
    import_text(
        &db.pool,
        &format!("{HEAD}\nINC1,New,OPEN,true,false,Karen,Nairobi,,,,,,\n"),
    )
    .await;
    let before = tickets_checksum(&db.pool).await;
    let dir = temp_dir();
    let path = write_file(
        dir.path(),
        "next.csv",
        &format!("{HEAD}\nINC1,Closed,CLOSED,false,false,Karen,Nairobi,1,,,,,\nINC2,New,OPEN,true,false,Karen,Nairobi,,,,,,\n"),
    );
    let report = import(&db.pool, &path, Mode::DryRun).await.unwrap();
    assert!(!report.applied);
    assert_eq!((report.changes.new, report.changes.updated), (1, 1));
    assert_eq!(tickets_checksum(&db.pool).await, before);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.import_meta").await,
        1
    );
}

#[tokio::test]
async fn a_file_without_ticket_id_is_refused_whole() {
    let db = test_db().await;
    let dir = temp_dir();
    let path = write_file(dir.path(), "bad.csv", "id,raw_status\nINC1,New\n");
    let err = import(&db.pool, &path, Mode::Apply).await.unwrap_err();
    assert!(err.is_bad_file());
    assert_eq!(
        err.to_string(),
        format!("{}: the header has no `ticket_id` column", path.display())
    );
    assert_eq!(count(&db.pool, "SELECT count(*) FROM tickets.inc").await, 0);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.import_meta").await,
        0
    );
}

/// A file that fails after some rows were staged leaves the store exactly as it was.
#[tokio::test]
async fn a_failure_half_way_leaves_the_table_as_before() {
    let db = test_db().await;
    import(&db.pool, &test_data("inc-sample.csv"), Mode::Apply)
        .await
        .unwrap();
    let before = tickets_checksum(&db.pool).await;
    let dir = temp_dir();
    // A row of the wrong length, after good rows (the reader refuses it).
    let short = format!("{HEAD}\nINC1,New,OPEN,true,false,Karen,Nairobi,,,,,,\nINC2,New\n");
    // A NUL byte, which PostgreSQL refuses inside COPY (the database refuses it).
    let nul = format!("{HEAD}\nINC1,New,OPEN,true,false,Karen,Nairobi,,,,,,\nINC2,New,OPEN,true,false,Ka\0ren,Nairobi,,,,,,\n");
    for (name, body) in [("short.csv", short), ("nul.csv", nul)] {
        let path = write_file(dir.path(), name, &body);
        let err = import(&db.pool, &path, Mode::Apply).await.unwrap_err();
        assert!(err.is_bad_file(), "{name}: {err}");
        assert_eq!(tickets_checksum(&db.pool).await, before, "{name}");
        assert_eq!(
            count(&db.pool, "SELECT count(*) FROM tickets.import_meta").await,
            1,
            "{name}"
        );
    }
    // Bytes that are not text at all (a binary uploaded by mistake) are refused in words.
    let binary = dir.path().join("binary.csv");
    std::fs::write(
        &binary,
        [HEAD.as_bytes(), b"\nINC1,\xff\xfe\x01\n"].concat(),
    )
    .unwrap();
    let err = import(&db.pool, &binary, Mode::Apply).await.unwrap_err();
    assert!(err.is_bad_file());
    let text = err.to_string();
    assert!(
        text.contains("near line 2: field 2 is not UTF-8 text"),
        "{text}"
    );
    assert!(!text.contains("Utf8Error"), "{text}");
    assert_eq!(tickets_checksum(&db.pool).await, before);
}

/// The connection is killed while the snapshot is being written: nothing of it lands.
#[tokio::test]
async fn a_dropped_connection_leaves_the_table_as_before() {
    let db = test_db().await;
    import(&db.pool, &test_data("inc-sample.csv"), Mode::Apply)
        .await
        .unwrap();
    let before = tickets_checksum(&db.pool).await;
    let history_before = history_checksum(&db.pool).await;
    let dir = temp_dir();
    let path = dir.path().join("big.csv");
    let spec = fleettickets_gen::Spec {
        rows: 150_000,
        seed: 3,
        as_of: chrono::Utc::now(),
        truncated: false,
    };
    fleettickets_gen::write(&spec, std::fs::File::create(&path).unwrap()).unwrap();
    let pool = db.pool.clone();
    let running = tokio::spawn(async move { import(&pool, &path, Mode::Apply).await });
    let mut killed = false;
    for _ in 0..2000 {
        killed = sqlx::query_scalar(
            "SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND state = 'active' AND query LIKE 'COPY inc_staging%'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        if killed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(killed, "the import's COPY was seen and terminated");
    let err = running.await.unwrap().unwrap_err();
    assert!(
        !err.is_bad_file(),
        "a lost connection is not the file's fault: {err}"
    );
    assert_eq!(tickets_checksum(&db.pool).await, before);
    assert_eq!(history_checksum(&db.pool).await, history_before);
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM tickets.import_meta").await,
        1
    );
}

#[tokio::test]
async fn the_newest_source_update_in_the_store_is_carried_from_import_to_import() {
    let db = test_db().await;
    import_text(
        &db.pool,
        &format!("{HEAD}\nINC1,New,OPEN,true,false,Karen,Nairobi,,,,2026-06-16 10:00:00,,\n"),
    )
    .await;
    // An older snapshot writes a new ticket, but the store's newest update stays 10:00.
    import_text(
        &db.pool,
        &format!("{HEAD}\nINC2,New,OPEN,true,false,Karen,Nairobi,,,,2026-06-16 08:00:00,,\n"),
    )
    .await;
    let newest: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT to_char(content_max_updated_at AT TIME ZONE 'Africa/Nairobi', 'HH24:MI') FROM tickets.import_meta ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(newest, [Some("10:00".to_owned()), Some("10:00".to_owned())]);
}
