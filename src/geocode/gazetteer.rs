//! The offline gazetteer shipped with the project: cluster names, legacy codes, regions
//! and approximate centroids (`gazetteer/clusters.csv`).

#[derive(Debug, Clone, PartialEq)]
pub struct GazetteerCluster {
    pub cluster: &'static str,
    pub code: Option<&'static str>,
    pub region: &'static str,
    pub lat: f64,
    pub lon: f64,
}

const CSV: &str = include_str!("../../gazetteer/clusters.csv");

/// Every cluster of the gazetteer, in file order.
pub fn clusters() -> Vec<GazetteerCluster> {
    CSV.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let f: Vec<&'static str> = line.split(',').map(str::trim).collect();
            let coord = |i: usize| f[i].parse().expect("the shipped gazetteer is valid");
            GazetteerCluster {
                cluster: f[0],
                code: Some(f[1]).filter(|c| !c.is_empty()),
                region: f[2],
                lat: coord(3),
                lon: coord(4),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_gazetteer_parses_and_lies_in_kenya() {
        let all = clusters();
        assert_eq!(all.len(), 28);
        let qr = all.iter().find(|c| c.cluster == "Quarry Road").unwrap();
        assert_eq!((qr.code, qr.region), (Some("QOA"), "nairobi"));
        assert!(all
            .iter()
            .all(|c| crate::geocode::point::FeedPoint::new(c.lat, c.lon).is_some()));
    }
}
