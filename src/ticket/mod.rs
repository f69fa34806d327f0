//! The ticket model: a ticket's fields, declared once (`fields`); the columns an import
//! writes (`columns`) and a snapshot row as cleaning types it (`CleanRow`), both derived
//! from that declaration. Ingest fills it, history tracks its fields, the readers select
//! them.

pub mod columns;
pub mod copy;
pub mod fields;
pub mod values;

use crate::geocode::point::FeedPoint;
use fields::ticket_struct;

/// A read row's text: strings of up to 24 bytes (ids, statuses, clusters, teams) are
/// held inline, so decoding, copying and dropping the 30,000 rows of a recorded miss at
/// 1M tickets allocate for the long ones only.
pub type Text = compact_str::CompactString;

ticket_struct!(stored, plain; [
    /// One kept row, typed: the fields an import writes. `raw` is its JSON text.
    #[derive(Debug, Default, Clone, PartialEq)]
    pub struct CleanRow
] {
    pub ticket_id: String,
    pub raw: String,
} {
    pub feed_lat: Option<f64>,
    pub feed_lon: Option<f64>,
});

impl CleanRow {
    /// The feed coordinates when they are usable as a point.
    pub fn feed_point(&self) -> Option<FeedPoint> {
        FeedPoint::new(self.feed_lat?, self.feed_lon?)
    }
}
