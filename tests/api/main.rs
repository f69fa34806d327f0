//! One integration-test binary: real PostgreSQL + PostGIS, a fresh database per test.

mod helpers;
mod import;
