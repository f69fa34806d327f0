//! Dispatch and team attribution (`dispatch.md`): the open tickets nearest a position,
//! and who closes what. Pure functions over the dashboard's typed rows and payload.

pub mod geodesic;
pub mod nearest;
pub mod teams;
