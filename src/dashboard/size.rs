//! What a payload keeps alive on the heap, for the response cache's weigher (an entry
//! holds its payload beside its bytes, and the cache's bound counts both).

use std::mem::size_of;

use super::replay::ReplayMode;
use super::sla::ClosedSla;
use super::{OpenEntry, Payload, Ticket, WindowRows};
use crate::ticket::Text;

impl Payload {
    /// Bytes this payload alone keeps alive: its queried window rows, its set entries
    /// and, at a recorded instant, its open rows (unless the recent history's). Live and
    /// clock payloads share the live open set's rows (and its recent tickets), which the
    /// cache does not own. The metrics' few rows per cluster and day are left out
    /// (kilobytes against the rows' megabytes).
    pub fn heap_bytes(&self) -> usize {
        let owned_open = match (self.replay.mode, &self.window_rows) {
            // The recent history's, shared like the live set's.
            (ReplayMode::Recorded, WindowRows::Held(..)) => 0,
            (ReplayMode::Recorded, _) => rows_bytes(&self.open_rows),
            (ReplayMode::Live | ReplayMode::Clock, _) => 0,
        };
        let owned_window = match &self.window_rows {
            WindowRows::Queried(rows) => {
                rows_bytes(rows) + (rows.capacity() - rows.len()) * size_of::<Ticket>()
            }
            // The live set's recent tickets, shared like its open rows; or the open rows.
            WindowRows::Recent(_) | WindowRows::Open(_) => 0,
            WindowRows::Held(_, picked) => picked.capacity() * size_of::<usize>(),
        };
        owned_open
            + owned_window
            + self.open.capacity() * size_of::<OpenEntry>()
            + self.closed.capacity() * size_of::<(usize, ClosedSla)>()
    }
}

pub(super) fn rows_bytes(rows: &[Ticket]) -> usize {
    rows.iter().map(ticket_bytes).sum()
}

/// The heap bytes of a text (short text is inline, in the struct that holds it).
pub(super) fn text_bytes(s: &Option<Text>) -> usize {
    s.as_ref().map_or(0, heap)
}

fn heap(s: &Text) -> usize {
    if s.is_heap_allocated() {
        s.capacity()
    } else {
        0
    }
}

/// A ticket's size with the text it points to.
fn ticket_bytes(t: &Ticket) -> usize {
    size_of::<Ticket>()
        + heap(&t.ticket_id)
        + [
            &t.normalized_status,
            &t.raw_status,
            &t.cluster,
            &t.region,
            &t.location_name,
            &t.assigned_team,
            &t.owner,
            &t.sla_status,
            &t.geo_source,
        ]
        .into_iter()
        .map(text_bytes)
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ticket_weighs_its_struct_and_its_text() {
        let t = Ticket {
            ticket_id: "INC1".into(),
            cluster: Some("Nairobi".into()),
            ..Ticket::default()
        };
        assert_eq!(ticket_bytes(&t), size_of::<Ticket>());
        let long = "Westlands, Nairobi: the long site name";
        let t = Ticket {
            location_name: Some(long.into()),
            ..t
        };
        let heap = t.location_name.as_ref().unwrap().capacity();
        assert!(heap >= long.len());
        assert_eq!(ticket_bytes(&t), size_of::<Ticket>() + heap);
        assert_eq!(
            rows_bytes(&[t.clone(), t]),
            2 * (size_of::<Ticket>() + heap)
        );
    }
}
