//! One integration-test binary: real PostgreSQL + PostGIS, a fresh database per test.

mod app;
mod bucket;
mod cluster;
mod dashboard;
mod dispatch;
mod faults;
mod faults_db;
mod geocode;
mod grafana;
mod grafana_backlog;
mod helpers;
mod history;
mod import;
mod jobs;
mod map;
mod proxy;
mod replicas;
mod s3;
mod secrets;
mod series;
mod shutdown;
mod standby;
mod tasks;
mod timetravel;
mod writers;
