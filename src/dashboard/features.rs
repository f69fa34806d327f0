//! The GeoJSON (RFC 7946) features of the open and closed sets.

use geo_types::Point;
use serde::Serialize;
use utoipa::ToSchema;

use super::sla::{ClosedSla, OpenSla};
use super::Ticket;
use crate::eat::EatTime;

/// The geometry of a feature: a point `[lon, lat]` (for the schema; the value is built
/// by the `geojson` crate).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PointGeometry {
    /// Always `Point`.
    r#type: String,
    /// `[longitude, latitude]`, WGS84.
    coordinates: [f64; 2],
}

fn geometry(t: &Ticket) -> Option<geojson::Geometry> {
    let point = Point::new(t.longitude?, t.latitude?);
    Some(geojson::Geometry::new(geojson::Value::from(&point)))
}

/// Always `Feature` / `FeatureCollection`, as GeoJSON requires.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub enum GeoJsonType {
    Feature,
    FeatureCollection,
}

macro_rules! feature_types {
    ($feature:ident, $collection:ident, $properties:ident) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $feature {
            #[schema(value_type = String, example = "Feature")]
            pub r#type: GeoJsonType,
            /// The ticket id.
            pub id: String,
            /// Null for a ticket without coordinates (still listed and counted).
            #[schema(value_type = Option<PointGeometry>)]
            pub geometry: Option<geojson::Geometry>,
            pub properties: $properties,
        }

        #[derive(Debug, Serialize, ToSchema)]
        pub struct $collection {
            #[schema(value_type = String, example = "FeatureCollection")]
            pub r#type: GeoJsonType,
            /// Ordered by ticket id.
            pub features: Vec<$feature>,
        }

        impl FromIterator<$feature> for $collection {
            fn from_iter<I: IntoIterator<Item = $feature>>(iter: I) -> Self {
                $collection {
                    r#type: GeoJsonType::FeatureCollection,
                    features: iter.into_iter().collect(),
                }
            }
        }
    };
}

feature_types!(OpenFeature, OpenCollection, OpenProperties);
feature_types!(ClosedFeature, ClosedCollection, ClosedProperties);

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenProperties {
    pub ticket_id: String,
    pub normalized_status: Option<String>,
    pub raw_status: Option<String>,
    pub cluster: Option<String>,
    pub region: Option<String>,
    pub location_name: Option<String>,
    pub assigned_team: Option<String>,
    pub owner: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at_service: Option<EatTime>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_seen_at: Option<EatTime>,
    /// Hours since `created_at_service` (else `first_seen_at`), 1 decimal; null without a start.
    pub hours_open: Option<f64>,
    pub sla_state: OpenSla,
    /// `feed`, `location` or `cluster`; null without a point.
    pub geo_source: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedProperties {
    pub ticket_id: String,
    pub normalized_status: Option<String>,
    pub raw_status: Option<String>,
    pub cluster: Option<String>,
    pub region: Option<String>,
    pub location_name: Option<String>,
    pub assigned_team: Option<String>,
    pub owner: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at_service: Option<EatTime>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<EatTime>,
    pub mttr_minutes: Option<i32>,
    /// The source `sla_status`, mapped.
    pub sla_status: ClosedSla,
    pub geo_source: Option<String>,
}

pub fn open(t: &Ticket, hours_open: Option<f64>, sla_state: OpenSla) -> OpenFeature {
    OpenFeature {
        r#type: GeoJsonType::Feature,
        id: t.ticket_id.clone(),
        geometry: geometry(t),
        properties: OpenProperties {
            ticket_id: t.ticket_id.clone(),
            normalized_status: t.normalized_status.clone(),
            raw_status: t.raw_status.clone(),
            cluster: t.cluster.clone(),
            region: t.region.clone(),
            location_name: t.location_name.clone(),
            assigned_team: t.assigned_team.clone(),
            owner: t.owner.clone(),
            created_at_service: t.created_at_service.map(EatTime),
            first_seen_at: t.first_seen_at.map(EatTime),
            hours_open,
            sla_state,
            geo_source: t.geo_source.clone(),
        },
    }
}

pub fn closed(t: &Ticket, sla_status: ClosedSla) -> ClosedFeature {
    ClosedFeature {
        r#type: GeoJsonType::Feature,
        id: t.ticket_id.clone(),
        geometry: geometry(t),
        properties: ClosedProperties {
            ticket_id: t.ticket_id.clone(),
            normalized_status: t.normalized_status.clone(),
            raw_status: t.raw_status.clone(),
            cluster: t.cluster.clone(),
            region: t.region.clone(),
            location_name: t.location_name.clone(),
            assigned_team: t.assigned_team.clone(),
            owner: t.owner.clone(),
            created_at_service: t.created_at_service.map(EatTime),
            closed_at: t.closed_at.map(EatTime),
            mttr_minutes: t.mttr,
            sla_status,
            geo_source: t.geo_source.clone(),
        },
    }
}
