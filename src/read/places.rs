//! The current rows' untracked fields (location, raw status, point, geocode source) that
//! a recorded ticket takes from today's row (`timetravel.md`), kept for one generation of
//! the live open set. A recorded miss reads its versions from index pages alone; probing
//! `tickets.inc` for each of its ~5,000 tickets cost more than the rest of the miss, and
//! the next instants (a slider) need almost the same tickets. A new generation (every
//! data change) starts empty, so no answer mixes a version with an older current row
//! than the live payload of the same generation would.

use std::collections::HashMap;
use std::sync::Mutex;

use sqlx::PgPool;

use super::tickets;
use crate::dashboard::Ticket;

/// The fields a recorded ticket takes from its current row: `Ticket`'s untracked ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    raw_status: Option<String>,
    location_name: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    geo_source: Option<String>,
}

impl Place {
    /// A one-row relation of its fields as typed nulls, for a query that leaves them to
    /// `Places::complete` (a constant subquery: the planner folds it, no join runs).
    pub const NULLS: &str = "SELECT NULL::text AS raw_status, NULL::text AS location_name,
        NULL::float8 AS latitude, NULL::float8 AS longitude, NULL::text AS geo_source";

    fn of(t: Ticket) -> Place {
        Place {
            raw_status: t.raw_status,
            location_name: t.location_name,
            latitude: t.latitude,
            longitude: t.longitude,
            geo_source: t.geo_source,
        }
    }

    /// `version` (its tracked fields) over this current row.
    fn apply(&self, version: &mut Ticket) {
        version.raw_status.clone_from(&self.raw_status);
        version.location_name.clone_from(&self.location_name);
        version.latitude = self.latitude;
        version.longitude = self.longitude;
        version.geo_source.clone_from(&self.geo_source);
    }
}

/// The places read so far in this generation; `None` for a ticket without a current row.
#[derive(Debug, Default)]
pub struct Places(Mutex<HashMap<String, Option<Place>>>);

impl Places {
    /// `versions` with their current rows' untracked fields, read for the tickets not
    /// known yet; a version whose ticket has no current row is dropped (as a join would).
    pub async fn complete(
        &self,
        pool: &PgPool,
        mut versions: Vec<Ticket>,
    ) -> sqlx::Result<Vec<Ticket>> {
        let missing: Vec<&str> = {
            let known = self.0.lock().expect("not poisoned");
            versions
                .iter()
                .map(|v| v.ticket_id.as_str())
                .filter(|id| !known.contains_key(*id))
                .collect()
        };
        if !missing.is_empty() {
            let rows = tickets::current_rows(pool, &missing).await?;
            let mut found: HashMap<String, Option<Place>> = missing
                .into_iter()
                .map(|id| (id.to_owned(), None))
                .collect();
            for row in rows {
                found.insert(row.ticket_id.clone(), Some(Place::of(row)));
            }
            self.0.lock().expect("not poisoned").extend(found);
        }
        let known = self.0.lock().expect("not poisoned");
        versions.retain_mut(|v| match known.get(&v.ticket_id) {
            Some(Some(place)) => {
                place.apply(v);
                true
            }
            _ => false,
        });
        Ok(versions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::columns::COLUMNS;

    #[test]
    fn a_place_is_the_tickets_untracked_fields() {
        let untracked: Vec<&str> = tickets::TICKET_FIELDS
            .into_iter()
            .filter(|name| !COLUMNS.iter().any(|c| c.tracked && c.name == *name))
            .filter(|name| *name != "ticket_id")
            .collect();
        // `Place`'s fields, in `Ticket`'s order.
        let place = [
            "raw_status",
            "location_name",
            "latitude",
            "longitude",
            "geo_source",
        ];
        assert_eq!(untracked, place);
        for name in place {
            assert!(Place::NULLS.contains(&format!(" AS {name}")), "{name}");
        }
    }

    #[test]
    fn a_version_takes_only_the_untracked_fields_of_its_place() {
        let current = Ticket {
            ticket_id: "INC1".into(),
            normalized_status: Some("CLOSED".into()),
            raw_status: Some("Closed".into()),
            location_name: Some("Site A".into()),
            latitude: Some(-1.5),
            longitude: Some(36.8),
            geo_source: Some("feed".into()),
            ..Ticket::default()
        };
        let mut version = Ticket {
            ticket_id: "INC1".into(),
            normalized_status: Some("OPEN".into()),
            is_actionable: true,
            ..Ticket::default()
        };
        Place::of(current).apply(&mut version);
        assert_eq!(version.normalized_status.as_deref(), Some("OPEN"));
        assert!(version.is_actionable);
        assert_eq!(version.raw_status.as_deref(), Some("Closed"));
        assert_eq!(version.location_name.as_deref(), Some("Site A"));
        assert_eq!(
            (version.latitude, version.longitude),
            (Some(-1.5), Some(36.8))
        );
        assert_eq!(version.geo_source.as_deref(), Some("feed"));
    }
}
