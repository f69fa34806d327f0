//! The read path's queries: typed rows for the readers (the dashboard's tickets and
//! freshness, the ticket routes, team attribution). The payloads are built in Rust from
//! them (`dashboard`, `dispatch`); nothing here writes.

pub mod attribution;
mod binary;
pub mod copy;
pub mod places;
pub mod tickets;
pub mod versions;
