//! History capture (`history.md`): the versions the import records (`ingest::upsert`),
//! the backlog over time computed from them, the archive backfill and retention.

pub mod backlog;
pub mod capture;
pub mod params;
pub mod read;
pub mod retention;
pub mod sealed;
pub mod timeline;

#[cfg(test)]
mod invariant_tests;

use serde::Serialize;
use utoipa::ToSchema;

use crate::eat::EatTime;
use crate::params::Filters;
use backlog::{Interval, Point};

/// The payload of `GET /api/v1/inc/backlog`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Backlog {
    pub interval: Interval,
    #[schema(value_type = String, format = DateTime)]
    pub from: EatTime,
    #[schema(value_type = String, format = DateTime)]
    pub to: EatTime,
    pub filters: Filters,
    /// The first instant the history knows; null before anything was recorded.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub capture_started_at: Option<EatTime>,
    pub points: Vec<Point>,
}
