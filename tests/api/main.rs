//! One integration-test binary: real PostgreSQL + PostGIS, a fresh database per test.

mod bucket;
mod helpers;
mod import;
mod replicas;
mod s3;
