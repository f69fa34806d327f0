//! `GET /api/v1/inc/nearest`: the open tickets nearest a position. The candidates (the
//! dashboard's open set with a point, filtered) are ranked by a spherical angle, which
//! bounds the spheroid's distance from both sides; exact geodesics are computed in that
//! order, once per distinct point, only until no farther candidate can still make the
//! list.

use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::geodesic::{self, Unit, LOW_M};
use crate::dashboard::features::{self, OpenProperties, PointGeometry};
use crate::dashboard::sla::OpenSla;
use crate::dashboard::{open_sla, Open, Rules, Ticket};
use crate::eat::EatTime;
use crate::params::{self, refuse, Filters, ParamError, Query};

pub const MAX_LIMIT: usize = 200;
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_KM: f64 = 20_000.0;

/// A validated nearest request.
#[derive(Debug, Clone, PartialEq)]
pub struct NearestRequest {
    pub lat: f64,
    pub lon: f64,
    pub limit: usize,
    pub max_km: Option<f64>,
    pub as_of: DateTime<Utc>,
    pub filters: NearestFilters,
}

/// The filters as applied (normalised), echoed in the answer.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NearestFilters {
    #[serde(flatten)]
    pub tickets: Filters,
    /// Empty: every state.
    pub sla_state: Vec<OpenSla>,
    pub max_km: Option<f64>,
    pub limit: usize,
}

/// Parses `lat`, `lon`, `limit`, `max_km`, `as_of`, `cluster`, `status`, `sla_state`.
pub fn parse(query: &str, now: DateTime<Utc>) -> Result<NearestRequest, ParamError> {
    let mut q = Query::parse(
        query,
        &["lat", "lon", "limit", "max_km", "as_of"],
        &["cluster", "status", "sla_state"],
    )?;
    let lat = number(&mut q, "lat", -90.0, 90.0)?
        .ok_or_else(|| refuse("lat", "required: decimal degrees, −90 to 90"))?;
    let lon = number(&mut q, "lon", -180.0, 180.0)?
        .ok_or_else(|| refuse("lon", "required: decimal degrees, −180 to 180"))?;
    let limit = match q.take("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                refuse(
                    "limit",
                    format!("{text:?} is not a whole number from 1 to {MAX_LIMIT}"),
                )
            })?,
    };
    let max_km = number(&mut q, "max_km", 0.0, MAX_KM)?;
    if max_km == Some(0.0) {
        return Err(refuse("max_km", "must be more than 0"));
    }
    let (as_of, _) = q.as_of(now)?;
    let mut sla_state = q
        .names("sla_state")?
        .into_iter()
        .map(|s| {
            OpenSla::parse(&s).ok_or_else(|| {
                refuse(
                    "sla_state",
                    format!("{s:?} is not one of within, at_risk, breached, unknown"),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    sla_state.sort();
    sla_state.dedup();
    Ok(NearestRequest {
        lat,
        lon,
        limit,
        max_km,
        as_of,
        filters: NearestFilters {
            tickets: q.filters()?,
            sla_state,
            max_km,
            limit,
        },
    })
}

/// An optional finite number within `[low, high]`.
fn number(q: &mut Query, name: &str, low: f64, high: f64) -> Result<Option<f64>, ParamError> {
    let Some(text) = q.take(name) else {
        return Ok(None);
    };
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() && (low..=high).contains(&x) => Ok(Some(x)),
        _ => Err(params::refuse(
            name,
            format!("{text:?} is not a number from {low} to {high}"),
        )),
    }
}

/// One ticket of the answer.
#[derive(Debug, Clone, Copy)]
pub struct Near<'a> {
    pub open: Open<'a>,
    /// Kilometres, rounded half away from zero to metres.
    pub distance_km: f64,
}

/// The `limit` nearest candidates, by rounded distance then ticket id in byte order.
pub fn nearest<'a>(rows: &'a [Ticket], req: &NearestRequest, rules: &Rules) -> Vec<Near<'a>> {
    let origin = Unit::of(req.lat, req.lon);
    let mut candidates: Vec<(f64, usize)> = rows
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            // The schema refuses other points; a NaN would rank at 0 m.
            t.is_open()
                && t.latitude.is_some_and(f64::is_finite)
                && t.longitude.is_some_and(f64::is_finite)
                && req
                    .filters
                    .tickets
                    .keeps(t.cluster.as_deref(), t.normalized_status.as_deref())
        })
        .filter_map(|(i, t)| {
            let sigma = origin.angle(&Unit::of(t.latitude?, t.longitude?));
            Some((sigma, i))
        })
        .collect();
    candidates.sort_by(|a, b| a.0.total_cmp(&b.0));
    // The best `limit` so far, the worst on top; ranked by (rounded metres, ticket id).
    let mut best: BinaryHeap<(u64, &'a [u8], usize)> = BinaryHeap::new();
    // Exact metres per distinct point (many tickets share their cluster's centroid).
    let mut exact: HashMap<(u64, u64), f64> = HashMap::new();
    let max_m = req.max_km.map(|km| km * 1000.0);
    for (sigma, i) in candidates {
        let bound = LOW_M * sigma;
        let full = best.len() == req.limit;
        if max_m.is_some_and(|m| bound > m)
            || (full && best.peek().is_some_and(|w| bound > w.0 as f64 + 0.5))
        {
            break;
        }
        let t = &rows[i];
        let (lat, lon) = (
            t.latitude.unwrap_or_default(),
            t.longitude.unwrap_or_default(),
        );
        let (_, state) = open_sla(t, req.as_of, rules);
        if !req.filters.sla_state.is_empty() && !req.filters.sla_state.contains(&state) {
            continue;
        }
        let metres = *exact
            .entry((lat.to_bits(), lon.to_bits()))
            .or_insert_with(|| geodesic::metres(req.lat, req.lon, lat, lon));
        if max_m.is_some_and(|max| metres > max) {
            continue;
        }
        // f64::round is half away from zero; distances are never negative.
        let entry = (metres.round() as u64, t.ticket_id.as_bytes(), i);
        if !full {
            best.push(entry);
        } else if best.peek().is_some_and(|w| entry < *w) {
            best.pop();
            best.push(entry);
        }
    }
    best.into_sorted_vec()
        .into_iter()
        .map(|(m, _, i)| {
            let t = &rows[i];
            let (hours_open, state) = open_sla(t, req.as_of, rules);
            Near {
                open: Open {
                    ticket: t,
                    index: i,
                    hours_open,
                    state,
                },
                distance_km: m as f64 / 1000.0,
            }
        })
        .collect()
}

/// The answer: a FeatureCollection of the dashboard's open features with `distance_km`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NearestAnswer<'a> {
    #[schema(value_type = String, example = "FeatureCollection")]
    pub r#type: features::GeoJsonType,
    /// Nearest first; equal distances by ticket id.
    pub features: Vec<NearFeature<'a>>,
    /// The position asked about.
    pub origin: PointGeometry,
    #[schema(value_type = String, format = DateTime)]
    pub as_of: EatTime,
    pub count: usize,
    pub filters: NearestFilters,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearFeature<'a> {
    #[schema(value_type = String, example = "Feature")]
    pub r#type: features::GeoJsonType,
    pub id: &'a str,
    pub geometry: Option<PointGeometry>,
    pub properties: NearProperties<'a>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearProperties<'a> {
    #[serde(flatten)]
    pub open: OpenProperties<'a>,
    /// Geodesic distance on the WGS84 spheroid, km, rounded to metres.
    pub distance_km: f64,
}

pub fn answer<'a>(near: &[Near<'a>], req: &NearestRequest) -> NearestAnswer<'a> {
    NearestAnswer {
        r#type: features::GeoJsonType::FeatureCollection,
        features: near
            .iter()
            .map(|n| {
                let f = features::open(&n.open);
                NearFeature {
                    r#type: f.r#type,
                    id: f.id,
                    geometry: f.geometry,
                    properties: NearProperties {
                        open: f.properties,
                        distance_km: n.distance_km,
                    },
                }
            })
            .collect(),
        origin: PointGeometry::at(req.lon, req.lat),
        as_of: EatTime(req.as_of),
        count: near.len(),
        filters: req.filters.clone(),
    }
}
