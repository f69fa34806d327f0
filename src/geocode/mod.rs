//! Geocoding: every ticket gets a point from its feed coordinates, a precise location
//! or its cluster's centroid.

pub mod locationiq;
pub mod names;
pub mod point;
pub mod resolve;
pub mod run;
