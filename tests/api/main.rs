//! One integration-test binary: real PostgreSQL + PostGIS, a fresh database per test.

mod app;
mod bucket;
mod dashboard;
mod dispatch;
mod geocode;
mod grafana;
mod helpers;
mod import;
mod replicas;
mod s3;
