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
