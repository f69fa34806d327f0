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

#[cfg(test)]
mod tests {
    use super::*;

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
