//! Distances on the WGS84 spheroid, as PostGIS `ST_Distance(geography, geography)`
//! computes them (Karney's geodesic inverse, here from `geographiclib-rs`), and the
//! cheap spherical bounds that let the nearest search skip most exact computations.

use std::sync::OnceLock;

use geographiclib_rs::{Geodesic, InverseGeodesic};

/// Metres along the WGS84 geodesic between two points (degrees).
pub fn metres(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    static WGS84: OnceLock<Geodesic> = OnceLock::new();
    let g = WGS84.get_or_init(Geodesic::wgs84);
    InverseGeodesic::<f64>::inverse(g, lat1, lon1, lat2, lon2)
}

/// The WGS84 radii of curvature bound every stretch of a path: the meridian radius at
/// the equator `a(1−e²)` from below and the polar radius `a²/b` from above. A sphere of
/// radius R over the same geodetic latitude and longitude has `ds = R·dσ`, so the
/// geodesic is at least `LOW·σ` and at most `HIGH·σ` metres, σ being the great-circle
/// angle between the two points taken as spherical coordinates.
pub const LOW_M: f64 = 6_335_439.327;
pub const HIGH_M: f64 = 6_399_593.626;

/// A point as a unit vector (geodetic latitude and longitude read as spherical ones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unit([f64; 3]);

impl Unit {
    pub fn of(lat: f64, lon: f64) -> Unit {
        let (lat, lon) = (lat.to_radians(), lon.to_radians());
        Unit([lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()])
    }

    /// The great-circle angle to `other`, in radians (stable for tiny and for
    /// antipodal angles: atan2 of the cross and dot products).
    pub fn angle(&self, other: &Unit) -> f64 {
        let [a, b, c] = self.0;
        let [x, y, z] = other.0;
        let cross = [b * z - c * y, c * x - a * z, a * y - b * x];
        let sin = (cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]).sqrt();
        sin.atan2(a * x + b * y + c * z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_geodesics() {
        // A quarter meridian and half the equator of WGS84 (GeographicLib's values).
        assert!((metres(0.0, 0.0, 90.0, 0.0) - 10_001_965.729).abs() < 1e-3);
        assert!((metres(0.0, 0.0, 0.0, 180.0) - 20_003_931.459).abs() < 1e-3);
        // One degree of longitude on the equator is a/180·π.
        assert!((metres(0.0, 36.0, 0.0, 37.0) - 111_319.491).abs() < 1e-3);
        assert_eq!(metres(-1.28, 36.82, -1.28, 36.82), 0.0);
    }

    #[test]
    fn the_sphere_bounds_the_spheroid() {
        let points = [
            (0.0, 0.0),
            (-1.2921, 36.8219),
            (-4.0435, 39.6682),
            (51.5074, -0.1278),
            (89.9, 10.0),
            (-89.0, -170.0),
            (1.2921, -143.1781),
            (0.5, -179.9),
        ];
        for &(a, b) in &points {
            for &(c, d) in &points {
                let sigma = Unit::of(a, b).angle(&Unit::of(c, d));
                let m = metres(a, b, c, d);
                assert!(LOW_M * sigma <= m + 1e-6, "{a},{b} → {c},{d}");
                assert!(m <= HIGH_M * sigma + 1e-6, "{a},{b} → {c},{d}");
            }
        }
    }
}
