//! Two `serve` replicas reading from a real streaming hot standby (2 s replay delay) and
//! writing to its primary, behind nginx: an import reaches both once the standby has
//! replayed it, an answer never goes back to older data, equal ETags on both, and reads
//! go on while the primary is down (imports wait and resume).

use std::time::{Duration, Instant};

use fleettickets::config::{BucketConfig, DatabaseConfig};
use fleettickets::db;
use fleettickets::ingest::bucket::Bucket;
use reqwest::header;
use serde_json::Value;
use sqlx::PgPool;

use crate::bucket::HEAD;
use crate::cluster::{tail, Nginx, Replicated, Serve};
use crate::helpers::{import_text, temp_dir};

const DASHBOARD: &str = "/api/v1/inc/dashboard?window=week&as_of=2026-06-16T12:00:00%2B03:00";

/// A snapshot whose first `open` tickets (INC1, INC2, …) are open, in Karen.
fn snapshot(open: usize) -> String {
    let rows: String = (1..=open)
        .map(|i| format!("INC{i},OPEN,true,Karen,Nairobi,,2026-06-16 07:00:00\n"))
        .collect();
    format!("{HEAD}\n{rows}")
}

async fn open_count(client: &reqwest::Client, url: &str) -> (u16, Option<i64>) {
    match client.get(url).send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or_default();
            (status, body["metrics"]["open_count"].as_i64())
        }
        Err(_) => (0, None),
    }
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    let r = client.get(url).send().await.expect("an answer");
    r.json().await.expect("a JSON body")
}

/// What the balancer answered, in order: it must never go back to an older count.
struct Answers {
    newest: i64,
}

impl Answers {
    fn saw(&mut self, count: i64) {
        assert!(
            count >= self.newest,
            "an answer went back from {} to {count} open tickets",
            self.newest
        );
        self.newest = count;
    }
}

/// Polls the balancer (checking every answer) until both replicas, asked directly,
/// serve `expected` open tickets. Every answer with the new count must come from data
/// the standby has replayed: `import_meta` there already has the import.
async fn until_both_serve(
    client: &reqwest::Client,
    lb: &Nginx,
    replicas: [&Serve; 2],
    answers: &mut Answers,
    expected: i64,
    standby: &PgPool,
) -> Duration {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(40);
    let mut served = [false; 2];
    while !served.iter().all(|s| *s) {
        let (status, count) = open_count(client, &lb.url(DASHBOARD)).await;
        assert_eq!(status, 200, "the balancer answers");
        let count = count.expect("a dashboard payload");
        answers.saw(count);
        if count == expected {
            let replayed = crate::helpers::count(
                standby,
                "SELECT count(*) FROM tickets.inc WHERE is_actionable",
            )
            .await;
            assert_eq!(replayed, expected, "served only once the standby has it");
        }
        for (i, r) in replicas.iter().enumerate() {
            served[i] |= open_count(client, &r.url(DASHBOARD)).await.1 == Some(expected);
        }
        assert!(
            Instant::now() < deadline,
            "the replicas did not both serve {expected} open tickets:\n{}\n{}",
            tail(&replicas[0].log),
            tail(&replicas[1].log)
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    started.elapsed()
}

#[tokio::test]
async fn replicas_on_a_hot_standby_serve_each_import_once_replayed_and_outlive_the_primary() {
    let Some(mut cluster) = Replicated::start("2s") else {
        eprintln!("SKIPPED: no PostgreSQL server binaries (initdb, postgres, pg_basebackup) under /usr/lib/postgresql/*/bin");
        return;
    };
    let primary_url = cluster.primary.url("fleettickets");
    let standby_url = cluster.standby.url("fleettickets");
    let primary = db::migrate(&DatabaseConfig::new(&primary_url))
        .await
        .expect("migrations apply on the private primary (PostGIS installed)");
    import_text(&primary, &snapshot(2)).await;

    let bucket_dir = temp_dir();
    let env = [
        ("DATABASE_URL", primary_url.clone()),
        ("DATABASE_READ_URL", standby_url.clone()),
        ("BUCKET_DIR", bucket_dir.path().display().to_string()),
        ("INGEST_CRON", "* * * * * *".to_owned()),
        ("DB_ACQUIRE_TIMEOUT_SECS", "1".to_owned()),
    ];
    let binary = env!("CARGO_BIN_EXE_fleettickets");
    let a = Serve::spawn(binary, cluster.path().join("a.log"), &env);
    let b = Serve::spawn(binary, cluster.path().join("b.log"), &env);
    let lb = Nginx::start(&[a.port, b.port], 1);
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    // The standby has the database once it has replayed its creation.
    let deadline = Instant::now() + Duration::from_secs(20);
    let standby = loop {
        match db::connect(&DatabaseConfig::new(&standby_url)).await {
            Ok(pool) => break pool,
            Err(e) => assert!(Instant::now() < deadline, "standby: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    // Both replicas start from the standby once it has replayed the primary.
    let mut answers = Answers { newest: 0 };
    until_both_serve(&client, &lb, [&a, &b], &mut answers, 2, &standby).await;

    // An import on the primary: each replica hears of it at once, but serves it only
    // once the standby has replayed it, 2 s later.
    let report = import_text(&primary, &snapshot(3)).await;
    let took = until_both_serve(&client, &lb, [&a, &b], &mut answers, 3, &standby).await;
    eprintln!("import commit → both replicas serving it: {took:?} (2 s replay delay)");
    let finished_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT finished_at FROM tickets.import_meta WHERE id = $1")
            .bind(report.import_id)
            .fetch_one(&standby)
            .await
            .unwrap();

    // Equal bodies and ETags on both for the same data and parameters, so a client's
    // If-None-Match works on either.
    let (ra, rb) = (
        client.get(a.url(DASHBOARD)).send().await.unwrap(),
        client.get(b.url(DASHBOARD)).send().await.unwrap(),
    );
    let etag = ra.headers()[header::ETAG].clone();
    assert_eq!(etag, rb.headers()[header::ETAG], "equal ETags");
    assert_eq!(ra.bytes().await.unwrap(), rb.bytes().await.unwrap());
    let revalidated = client
        .get(b.url(DASHBOARD))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), 304, "A's ETag is current on B");

    // The primary goes down: reads go on from the standby, saying how old they are.
    cluster.primary.stop();
    assert_eq!(
        open_count(&client, &lb.url(DASHBOARD)).await,
        (200, Some(3))
    );
    let freshness = get_json(&client, &lb.url("/api/v1/freshness")).await;
    let last_import = freshness["last_import_at"].as_str().unwrap_or_default();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(last_import).map(|t| t.to_utc()),
        Ok(finished_at),
        "{freshness}"
    );
    for r in [&a, &b] {
        let ready = client.get(r.url("/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200, "a load balancer keeps sending reads");
        let ready: Value = ready.json().await.unwrap();
        assert_eq!(
            [&ready["status"], &ready["primary"], &ready["read"]],
            ["degraded", "down", "ok"],
            "{ready}"
        );
    }

    // A replica started now (a restart, a scale-out) serves from the standby too.
    let c = Serve::spawn(binary, cluster.path().join("c.log"), &env);
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_count(&client, &c.url(DASHBOARD)).await != (200, Some(3)) {
        assert!(
            Instant::now() < deadline,
            "a replica started without its primary never served:\n{}",
            tail(&cluster.path().join("c.log"))
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = get_json(&client, &c.url("/readyz")).await;
    assert_eq!(
        [&ready["status"], &ready["primary"], &ready["read"]],
        ["degraded", "down", "ok"],
        "{ready}"
    );

    // A snapshot arriving meanwhile waits in the bucket (the scheduled runs fail and are
    // retried each second), and is imported once the primary is back.
    let bucket = Bucket::from_config(&BucketConfig::local(bucket_dir.path())).unwrap();
    let name = "2026-06-16T101502.csv";
    bucket
        .put_snapshot(name, snapshot(4).into_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let pending = format!("automations/inc/{name}");
    assert!(
        bucket.keys().await.unwrap().contains(&pending),
        "still pending"
    );
    assert_eq!(
        open_count(&client, &lb.url(DASHBOARD)).await,
        (200, Some(3))
    );
    cluster.primary.start();
    until_both_serve(&client, &lb, [&a, &b], &mut answers, 4, &standby).await;
    let runs: Vec<(String, String)> =
        sqlx::query_as("SELECT source_key, outcome FROM tickets.import_meta WHERE source_key = $1")
            .bind(&pending)
            .fetch_all(&standby)
            .await
            .unwrap();
    assert_eq!(runs, [(pending, "imported".to_owned())], "imported once");
    // The replica that started without its primary hears of the import once it is back.
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_count(&client, &c.url(DASHBOARD)).await != (200, Some(4)) {
        assert!(
            Instant::now() < deadline,
            "{}",
            tail(&cluster.path().join("c.log"))
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = get_json(&client, &a.url("/readyz")).await;
        if ready["status"] == "ready" {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {ready}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
