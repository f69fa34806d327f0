//! The supervised background tasks: a lost LISTEN connection is restarted (and counted),
//! and while it is down `/readyz` says the data may be stale.

use serde_json::{json, Value};
use std::time::Duration;

use crate::app::{spawn_app, spawn_app_with_primary_behind_proxy, TestApp};
use crate::helpers::test_data;

/// The backend of the app's LISTEN connection, once there is one other than `not`.
async fn listen_backend(app: &TestApp, not: Option<i32>) -> i32 {
    loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
             AND query LIKE 'LISTEN %' AND pid IS DISTINCT FROM $1",
        )
        .bind(not)
        .fetch_optional(&app.db.pool)
        .await
        .unwrap();
        if let Some(pid) = pid {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `/readyz` once `until` holds for it.
async fn readiness_once(app: &TestApp, until: impl Fn(&Value) -> bool) -> Value {
    loop {
        let (status, body) = app.get_json("/readyz").await;
        assert_eq!(status, 200, "{body}");
        if until(&body) {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_terminated_listen_connection_is_restarted_and_hears_the_next_import() {
    let app = spawn_app().await;
    let first = listen_backend(&app, None).await;
    let (_, ready) = app.get_json("/readyz").await;
    assert_eq!(
        ready["tasks"]["listen"],
        json!({"state": "up", "restarts": 0})
    );
    assert_eq!(
        ready["tasks"]["reload"],
        json!({"state": "up", "restarts": 0})
    );
    assert_eq!(ready["tasks"]["geocode"]["state"], "up");
    assert_eq!(ready["data"], "current");
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(terminated);
    readiness_once(&app, |r| {
        r["tasks"]["listen"] == json!({"state": "up", "restarts": 1})
    })
    .await;
    // The restarted run's connection (sqlx does not reconnect by itself).
    listen_backend(&app, Some(first)).await;
    assert_eq!(
        app.metric("fleettickets_task_restarts_total{task=\"listen\"}")
            .await,
        1.0
    );
    assert_eq!(
        app.metric("fleettickets_task_up{task=\"listen\"}").await,
        1.0
    );
    // The new connection hears the next import's NOTIFY: the app serves it.
    app.import(&test_data("inc-sample.csv")).await;
    let (_, ready) = app.get_json("/readyz").await;
    assert_eq!(
        (ready["status"].as_str(), ready["data"].as_str()),
        (Some("ready"), Some("current"))
    );
}

#[tokio::test]
async fn while_listen_is_down_readiness_says_the_data_may_be_stale() {
    let (app, proxy) = spawn_app_with_primary_behind_proxy().await;
    readiness_once(&app, |r| r["status"] == "ready").await;
    proxy.cut();
    let down = readiness_once(&app, |r| r["tasks"]["listen"]["state"] == "restarting").await;
    assert_eq!(down["status"], "degraded");
    assert_eq!(down["data"], "may_be_stale");
    assert_eq!(down["primary"], "down");
    assert_eq!(down["read"], "ok", "reads are still served");
    assert_eq!(down["tasks"]["reload"]["state"], "up");
    // Each restart is up for as long as its connection attempt takes.
    while app.metric("fleettickets_task_up{task=\"listen\"}").await != 0.0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        app.metric("fleettickets_task_restarts_total{task=\"listen\"}")
            .await
            >= 1.0
    );
    proxy.restore();
    let back = readiness_once(&app, |r| r["status"] == "ready").await;
    assert_eq!(back["data"], "current");
    assert_eq!(back["tasks"]["listen"]["state"], "up");
}
