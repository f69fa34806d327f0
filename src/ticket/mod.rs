//! The ticket model: a ticket's typed fields, declared once (`columns`), and a snapshot
//! row as cleaning types it (`CleanRow`). Ingest fills it, history tracks its fields, the
//! readers select them.

pub mod columns;
pub mod copy;

use chrono::{DateTime, Utc};

use crate::geocode::point::FeedPoint;

/// The timestamp columns, in `CleanRow::stamps` order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    CreatedAtService,
    ScheduledAt,
    ClosedAt,
    FirstSeenAt,
    LastSeenAt,
    SourceCreatedAt,
    SourceUpdatedAt,
}

impl Stamp {
    pub fn name(self) -> &'static str {
        match self {
            Stamp::CreatedAtService => "created_at_service",
            Stamp::ScheduledAt => "scheduled_at",
            Stamp::ClosedAt => "closed_at",
            Stamp::FirstSeenAt => "first_seen_at",
            Stamp::LastSeenAt => "last_seen_at",
            Stamp::SourceCreatedAt => "source_created_at",
            Stamp::SourceUpdatedAt => "source_updated_at",
        }
    }
}

/// One kept row, typed. `raw` is its JSON text.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CleanRow {
    pub ticket_id: String,
    pub raw: String,
    pub normalized_status: Option<String>,
    pub raw_status: Option<String>,
    pub bucket: Option<String>,
    pub is_actionable: Option<bool>,
    pub cluster: Option<String>,
    pub region: Option<String>,
    pub location_name: Option<String>,
    pub assigned_team: Option<String>,
    pub owner: Option<String>,
    pub sla_status: Option<String>,
    pub mttr: Option<i32>,
    /// Indexed by `Stamp`.
    pub stamps: [Option<DateTime<Utc>>; 7],
    pub feed_lat: Option<f64>,
    pub feed_lon: Option<f64>,
    /// What geocoding asks for its location (set by the importer, which knows the
    /// cluster aliases): actionable rows without a valid feed point only.
    pub location_query: Option<String>,
}

impl CleanRow {
    pub fn stamp(&self, stamp: Stamp) -> Option<DateTime<Utc>> {
        self.stamps[stamp as usize]
    }

    /// The feed coordinates when they are usable as a point.
    pub fn feed_point(&self) -> Option<FeedPoint> {
        FeedPoint::new(self.feed_lat?, self.feed_lon?)
    }
}
