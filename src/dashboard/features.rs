//! The GeoJSON (RFC 7946) features of the open and closed sets. Properties borrow from
//! the rows and points serialise directly: the open set is thousands of features built
//! on every cache miss.

use chrono::{DateTime, Utc};
use geo_types::Point;
use serde::Serialize;
use utoipa::ToSchema;

use super::sla::{ClosedSla, OpenSla};
use super::{Open, Ticket};
use crate::eat::EatTime;
use crate::ticket::fields::{select_fields, ticket_struct};

/// A GeoJSON point geometry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct PointGeometry {
    #[schema(value_type = String, example = "Point")]
    pub r#type: GeoJsonType,
    /// `[longitude, latitude]`, WGS84.
    #[schema(value_type = [f64; 2])]
    #[serde(serialize_with = "lon_lat")]
    pub coordinates: Point<f64>,
}

fn lon_lat<S: serde::Serializer>(p: &Point<f64>, s: S) -> Result<S::Ok, S::Error> {
    [p.x(), p.y()].serialize(s)
}

impl PointGeometry {
    pub fn at(lon: f64, lat: f64) -> PointGeometry {
        PointGeometry {
            r#type: GeoJsonType::Point,
            coordinates: Point::new(lon, lat),
        }
    }
}

fn geometry(t: &Ticket) -> Option<PointGeometry> {
    Some(PointGeometry::at(t.longitude?, t.latitude?))
}

/// The GeoJSON object types used here.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub enum GeoJsonType {
    Point,
    Feature,
    FeatureCollection,
}

macro_rules! feature_types {
    ($feature:ident, $collection:ident, $properties:ident) => {
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $feature<'a> {
            #[schema(value_type = String, example = "Feature")]
            pub r#type: GeoJsonType,
            /// The ticket id.
            pub id: &'a str,
            /// Null for a ticket without coordinates (still listed and counted).
            pub geometry: Option<PointGeometry>,
            pub properties: $properties<'a>,
        }

        #[derive(Debug, Serialize, ToSchema)]
        pub struct $collection<'a> {
            #[schema(value_type = String, example = "FeatureCollection")]
            pub r#type: GeoJsonType,
            /// Ordered by ticket id.
            pub features: Vec<$feature<'a>>,
        }

        impl<'a> FromIterator<$feature<'a>> for $collection<'a> {
            fn from_iter<I: IntoIterator<Item = $feature<'a>>>(iter: I) -> Self {
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

ticket_struct!(props, props; [
    /// The properties every feature has, open or closed.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct TicketProperties<'a>
] {
    pub ticket_id: &'a str,
} {});

/// A property's value, borrowed from its `Ticket` field.
trait Property<'a, T> {
    fn property(&'a self) -> T;
}

impl<'a> Property<'a, Option<&'a str>> for Option<crate::ticket::Text> {
    fn property(&'a self) -> Option<&'a str> {
        self.as_deref()
    }
}

impl<'a> Property<'a, Option<EatTime>> for Option<DateTime<Utc>> {
    fn property(&'a self) -> Option<EatTime> {
        self.map(EatTime)
    }
}

macro_rules! properties_of {
    ([$({ $(#[$a:meta])* $n:ident $($decl:tt)* })*]) => {
        impl<'a> TicketProperties<'a> {
            fn of(t: &'a Ticket) -> Self {
                TicketProperties {
                    ticket_id: &t.ticket_id,
                    $($n: t.$n.property(),)*
                }
            }
        }
    };
}
select_fields!(props => properties_of! {});

#[derive(Debug, Serialize, ToSchema)]
pub struct OpenProperties<'a> {
    #[serde(flatten)]
    pub ticket: TicketProperties<'a>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub first_seen_at: Option<EatTime>,
    // The two properties that depend on `as_of` come last (see `render`).
    /// Hours since `created_at_service` (else `first_seen_at`), 1 decimal; null without a start.
    pub hours_open: Option<f64>,
    pub sla_state: OpenSla,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClosedProperties<'a> {
    #[serde(flatten)]
    pub ticket: TicketProperties<'a>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub closed_at: Option<EatTime>,
    pub mttr_minutes: Option<i32>,
    /// The source `sla_status`, mapped.
    pub sla_status: ClosedSla,
}

pub fn open<'a>(o: &Open<'a>) -> OpenFeature<'a> {
    let t = o.ticket;
    OpenFeature {
        r#type: GeoJsonType::Feature,
        id: &t.ticket_id,
        geometry: geometry(t),
        properties: OpenProperties {
            ticket: TicketProperties::of(t),
            first_seen_at: t.first_seen_at.map(EatTime),
            hours_open: o.hours_open,
            sla_state: o.state,
        },
    }
}

pub fn closed(t: &Ticket, sla_status: ClosedSla) -> ClosedFeature<'_> {
    ClosedFeature {
        r#type: GeoJsonType::Feature,
        id: &t.ticket_id,
        geometry: geometry(t),
        properties: ClosedProperties {
            ticket: TicketProperties::of(t),
            closed_at: t.closed_at.map(EatTime),
            mttr_minutes: t.mttr,
            sla_status,
        },
    }
}
