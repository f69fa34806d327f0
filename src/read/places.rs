//! The current rows' untracked fields (location, raw status, point, geocode source) that
//! a recorded ticket takes from today's row (`timetravel.md`), kept for one generation of
//! the live open set. A recorded miss reads its versions from index pages alone; probing
//! `tickets.inc` for each of its ~5,000 tickets cost more than the rest of the miss, and
//! the next instants (a slider) need almost the same tickets. A new generation (every
//! data change) starts empty, so no answer mixes a version with an older current row
//! than the live payload of the same generation would.

use std::collections::HashMap;
use std::sync::Mutex;

use foldhash::fast::RandomState;
use sqlx::PgPool;

use super::tickets;
use crate::dashboard::Ticket;
use crate::ticket::fields::{select_fields, ticket_struct};
use crate::ticket::Text;

ticket_struct!(place, read; [
    /// The fields a recorded ticket takes from its current row: `Ticket`'s untracked ones.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Place
] {} {});

macro_rules! place_impl {
    ([$({ $(#[$a:meta])* $n:ident $($decl:tt)* })*]) => {
        impl Place {
            fn of(t: Ticket) -> Place {
                Place { $($n: t.$n),* }
            }

            /// `version` (its tracked fields) over this current row.
            fn apply(&self, version: &mut Ticket) {
                $(version.$n.clone_from(&self.$n);)*
            }
        }
    };
}
select_fields!(place => place_impl! {});

/// The places read so far in this generation; `None` for a ticket without a current row.
/// (Keyed with foldhash, not SipHash: 30,000 lookups a miss at 1M tickets, of ids read
/// from our own store.)
#[derive(Debug, Default)]
pub struct Places(Mutex<HashMap<Text, Option<Place>, RandomState>>);

impl Places {
    /// `versions` with their current rows' untracked fields, read for the tickets not
    /// known yet; a version whose ticket has no current row is dropped (as a join would).
    pub async fn complete<V: AsRef<Ticket> + AsMut<Ticket>>(
        &self,
        pool: &PgPool,
        mut versions: Vec<V>,
    ) -> sqlx::Result<Vec<V>> {
        let missing: Vec<&str> = {
            let known = self.0.lock().expect("not poisoned");
            versions
                .iter()
                .map(|v| v.as_ref().ticket_id.as_str())
                .filter(|id| !known.contains_key(*id))
                .collect()
        };
        if !missing.is_empty() {
            let rows = tickets::current_rows(pool, &missing).await?;
            let mut found: HashMap<Text, Option<Place>> =
                missing.into_iter().map(|id| (id.into(), None)).collect();
            for row in rows {
                found.insert(row.ticket_id.clone(), Some(Place::of(row)));
            }
            self.0.lock().expect("not poisoned").extend(found);
        }
        versions.retain_mut(|v| self.fill(v.as_mut()) == Some(true));
        Ok(versions)
    }

    /// `version` with its current row's untracked fields if its place is known:
    /// `Some(true)` filled, `Some(false)` its ticket has no current row, `None` not read
    /// yet (`complete`).
    pub fn fill(&self, version: &mut Ticket) -> Option<bool> {
        let known = self.0.lock().expect("not poisoned");
        let place = known.get(version.ticket_id.as_str())?;
        if let Some(place) = place {
            place.apply(version);
        }
        Some(place.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            is_actionable: Some(true),
            ..Ticket::default()
        };
        Place::of(current).apply(&mut version);
        assert_eq!(version.normalized_status.as_deref(), Some("OPEN"));
        assert!(version.is_open());
        assert_eq!(version.raw_status.as_deref(), Some("Closed"));
        assert_eq!(version.location_name.as_deref(), Some("Site A"));
        assert_eq!(
            (version.latitude, version.longitude),
            (Some(-1.5), Some(36.8))
        );
        assert_eq!(version.geo_source.as_deref(), Some("feed"));
    }
}
