//! One integration-test binary: real PostgreSQL + PostGIS, a fresh database per test.

mod app;
mod bucket;
mod dashboard;
mod geocode;
mod grafana;
mod helpers;
mod history;
mod import;
mod replicas;
mod s3;
mod series;
