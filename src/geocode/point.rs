//! Which coordinates are a usable point on the map.

/// Kenya's bounding box, padded by about 10 km: feed coordinates outside it are typos
/// (swapped lat/lon, a missing minus sign) rather than tickets abroad.
const LAT_MIN: f64 = -4.8;
const LAT_MAX: f64 = 5.1;
const LON_MIN: f64 = 33.8;
const LON_MAX: f64 = 42.0;

/// Valid feed coordinates: inside Kenya's bounding box and not the 0,0 placeholder.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeedPoint {
    pub lat: f64,
    pub lon: f64,
}

impl FeedPoint {
    pub fn new(lat: f64, lon: f64) -> Option<FeedPoint> {
        let inside = (LAT_MIN..=LAT_MAX).contains(&lat) && (LON_MIN..=LON_MAX).contains(&lon);
        (inside && !(lat == 0.0 && lon == 0.0)).then_some(FeedPoint { lat, lon })
    }
}

/// An answer farther than this from its cluster's centroid is a wrong-city match.
pub const WRONG_CITY_KM: f64 = 25.0;

/// Great-circle distance in km (haversine, mean Earth radius).
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0088 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_25_km_guard() {
        // Due north of the Westlands centroid: 1° of latitude is 111.195 km.
        let centroid = (-1.2676, 36.8108);
        let north = |km: f64| (centroid.0 + km / 111.195_08, centroid.1);
        assert!((distance_km(centroid, north(24.9)) - 24.9).abs() < 0.01);
        assert!(distance_km(centroid, north(24.9)) <= WRONG_CITY_KM);
        assert!(distance_km(centroid, north(25.1)) > WRONG_CITY_KM);
        // Nairobi to Mombasa is about 440 km.
        assert!((distance_km((-1.2921, 36.8219), (-4.0435, 39.6682)) - 440.0).abs() < 10.0);
    }

    #[test]
    fn accepts_points_in_kenya() {
        assert!(FeedPoint::new(-1.2676, 36.8108).is_some()); // Westlands
        assert!(FeedPoint::new(0.5143, 35.2698).is_some()); // Eldoret, north of the equator
        assert!(FeedPoint::new(-4.316, 39.569).is_some()); // Diani
    }

    #[test]
    fn refuses_placeholders_swaps_and_points_abroad() {
        assert!(FeedPoint::new(0.0, 0.0).is_none());
        assert!(FeedPoint::new(36.8108, -1.2676).is_none()); // swapped
        assert!(FeedPoint::new(1.2676, -36.8108).is_none()); // signs lost
        assert!(FeedPoint::new(-6.8, 39.28).is_none()); // Dar es Salaam
        assert!(FeedPoint::new(0.3476, 32.5825).is_none()); // Kampala
    }
}
