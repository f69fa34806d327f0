//! fleettickets: INC tickets in PostgreSQL + PostGIS, served to the FleetOps live map,
//! Grafana and OpenAPI clients.

pub mod cli;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod dispatch;
pub mod eat;
pub mod events;
pub mod gauges;
pub mod geocode;
pub mod history;
pub mod http;
pub mod ingest;
pub mod live;
pub mod memory;
pub mod metrics;
pub mod params;
pub mod push;
pub mod read;
pub mod startup;
pub mod supervise;
pub mod telemetry;
pub mod ticket;
