//! What a cached response depends on. A key's variant decides what its entry holds
//! (`Cached`): only `ResponseCache::typed` inserts under a dashboard or backlog key (its
//! `Typed` impl pairs the key with the value), only `ResponseCache::json` under the rest.

use chrono::{DateTime, Utc};

use crate::dispatch::teams::By;
use crate::history::backlog::Interval;
use crate::params::window::WindowKind;
use crate::params::{DashboardRequest, Filters};
use crate::read::tickets::ChoiceColumn;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    Dashboard(DashboardKey),
    Backlog(BacklogKey),
    Json(JsonKey),
}

/// What a dashboard payload depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DashboardKey {
    /// The open set's generation (see `live`).
    pub generation: u64,
    pub kind: WindowKind,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Only when the client fixed it; otherwise the payload is "now" within the TTL.
    pub as_of: Option<DateTime<Utc>>,
    pub filters: Filters,
}

impl DashboardKey {
    pub fn of(request: &DashboardRequest, generation: u64) -> DashboardKey {
        DashboardKey {
            generation,
            kind: request.window.kind,
            from: request.window.from,
            to: request.window.to,
            as_of: request.as_of_given.then_some(request.window.as_of),
            filters: request.filters.clone(),
        }
    }
}

/// What a backlog series depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BacklogKey {
    pub generation: u64,
    /// `None` where the bound follows the server clock.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub interval: Interval,
    pub filters: Filters,
}

/// The answers cached as bytes alone: nothing else reads their typed value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JsonKey {
    /// The teams table over the dashboard payload of that key.
    Teams(By, DashboardKey),
    Choices {
        /// The open set's generation: the choices are as fresh as it.
        generation: u64,
        column: ChoiceColumn,
    },
    /// A ticket's timeline.
    Timeline { generation: u64, ticket_id: String },
}
