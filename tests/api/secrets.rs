//! No secret (the database password, the geocoder key, the S3 secret, an API token)
//! reaches `--help`, `Debug` output, the logs at any level, or an error body.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fleettickets::config::Settings;
use fleettickets::ingest::bucket::Bucket;

use crate::bucket::HEAD;
use crate::helpers::test_db;
use crate::s3;

const DB_PASSWORD: &str = "pw-Zq81-database";
const GEOCODER_KEY: &str = "geo-Zq81-key-value";
const S3_SECRET: &str = "s3-Zq81-secret-value";
const TOKEN: &str = "tok-Zq81-reader-0123456789";

fn assert_no_secret(what: &str, text: &str) {
    for secret in [DB_PASSWORD, GEOCODER_KEY, S3_SECRET, TOKEN] {
        assert!(!text.contains(secret), "{what} holds {secret}");
    }
}

/// `postgres://postgres:<password>@host/db`: trust auth ignores the password.
fn with_password(url: &str) -> String {
    url.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{DB_PASSWORD}@"),
        1,
    )
}

fn secret_env(database_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", with_password(database_url)),
        ("GEOCODER_KEY", GEOCODER_KEY.into()),
        ("S3_ACCESS_KEY_ID", "test".into()),
        ("S3_SECRET_ACCESS_KEY", S3_SECRET.into()),
        ("API_TOKENS", format!("ops:reader:{TOKEN}")),
    ]
}

#[test]
fn help_and_debug_output_hold_no_secret() {
    let env = secret_env("postgres://postgres@127.0.0.1:5432/x");
    for args in [
        &["serve", "--help"][..],
        &["import", "--help"],
        &["migrate", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fleettickets"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains("DATABASE_URL"),
            "{args:?} documents its settings"
        );
        assert_no_secret(&format!("{args:?}"), &text);
    }
    let flags: Vec<String> = env
        .iter()
        .flat_map(|(k, v)| {
            [
                format!("--{}", k.to_lowercase().replace('_', "-")),
                v.clone(),
            ]
        })
        .collect();
    let settings = Settings::from_flags(&flags).unwrap();
    let debug = format!("{settings:?}");
    assert!(debug.contains("REDACTED"), "{debug}");
    assert_no_secret("Debug of the settings", &debug);
}

#[tokio::test]
async fn logs_at_trace_level_and_error_bodies_hold_no_secret() {
    let db = test_db().await;
    let config = s3::new_bucket(s3::shared_endpoint()).await;
    let bucket = Bucket::from_config(&config).unwrap();
    // A cluster no gazetteer knows, so the geocoder is asked (and fails: nothing listens).
    let body = format!("{HEAD}\nINC1,OPEN,true,Zq81ville,Nairobi,,2026-06-16 07:00:00\n");
    bucket
        .put_snapshot("2026-06-16T071502.csv", body.into_bytes())
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fleettickets"))
        .arg("serve")
        .envs(secret_env(&db.url))
        .env("S3_ENDPOINT", config.s3_endpoint.as_deref().unwrap())
        .env("S3_BUCKET", &config.s3_bucket)
        .env("GEOCODER_URL", "http://127.0.0.1:9")
        .env("GEOCODER_TIMEOUT_SECS", "1")
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("INGEST_CRON", "0 0 1 1 *")
        .env("INGEST_ON_START", "true")
        .env("RUST_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let mut port = None;
    let mut geocoded = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while (port.is_none() || !geocoded) && Instant::now() < deadline {
        let Ok(line) = lines.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if port.is_none() && line.contains("listening") {
            port = line.rsplit("127.0.0.1:").next().and_then(|p| {
                p.trim_matches(|c: char| !c.is_ascii_digit())
                    .parse::<u16>()
                    .ok()
            });
        }
        geocoded |= line.contains("geocoding run done");
        log.push_str(&line);
        log.push('\n');
    }
    let port = port.expect("the server said where it listens");
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let mut bodies = String::new();
    for (path, token) in [
        ("/api/v1/inc/dashboard", None),
        ("/api/v1/inc/dashboard", Some("wrong-token-wrong-token")),
        ("/api/v1/inc/dashboard?cluster=%00", Some(TOKEN)),
        ("/api/v1/inc/tickets/INC1", Some(TOKEN)),
    ] {
        let mut request = client.get(url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let r = request.send().await.unwrap();
        bodies.push_str(&r.text().await.unwrap());
    }
    let r = client
        .post(url("/api/v1/admin/import"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a reader token is no admin token");
    bodies.push_str(&r.text().await.unwrap());
    child.kill().ok();
    child.wait().ok();
    reader.join().ok();
    log.extend(lines.try_iter().map(|l| l + "\n"));
    assert!(
        log.contains("Zq81ville"),
        "the import and the geocoding ran and were logged"
    );
    assert!(log.lines().count() > 50, "trace logging was on");
    assert_no_secret("the trace log", &log);
    assert_no_secret("the error bodies", &bodies);
}

#[test]
fn an_unreachable_database_is_named_with_its_cause_and_no_password() {
    for args in [&["migrate"][..], &["import", "--inc-csv", "x.csv"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_fleettickets"))
            .args(args)
            .env(
                "DATABASE_URL",
                format!("postgres://postgres:{DB_PASSWORD}@127.0.0.1:9/x"),
            )
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.starts_with("error: cannot reach the database at 127.0.0.1:9/x: ")
                && stderr.contains("Connection refused"),
            "{args:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert_no_secret("the error", &stderr);
    }
}
