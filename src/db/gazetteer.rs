//! The offline gazetteer shipped with the project: cluster names, legacy codes, regions
//! and approximate centroids (`gazetteer/clusters.csv`), added to the database at every
//! migration (reference data, like the schema).

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

/// Adds the shipped clusters (and their legacy codes) that the database does not have
/// yet; rows already there, edited or not, are left alone.
pub async fn seed(conn: &mut sqlx::PgConnection) -> sqlx::Result<()> {
    let all = clusters();
    let names: Vec<&str> = all.iter().map(|c| c.cluster).collect();
    let regions: Vec<&str> = all.iter().map(|c| c.region).collect();
    let lats: Vec<f64> = all.iter().map(|c| c.lat).collect();
    let lons: Vec<f64> = all.iter().map(|c| c.lon).collect();
    sqlx::query(
        "INSERT INTO tickets.gazetteer (cluster, region, latitude, longitude)
         SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[])
         ON CONFLICT (cluster) DO NOTHING",
    )
    .bind(&names)
    .bind(&regions)
    .bind(&lats)
    .bind(&lons)
    .execute(&mut *conn)
    .await?;
    let (codes, targets): (Vec<&str>, Vec<&str>) = all
        .iter()
        .filter_map(|c| Some((c.code?, c.cluster)))
        .unzip();
    sqlx::query(
        "INSERT INTO tickets.cluster_aliases (code, cluster)
         SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (code) DO NOTHING",
    )
    .bind(&codes)
    .bind(&targets)
    .execute(conn)
    .await?;
    Ok(())
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
        // Kenya lies within 5°S–5°N, 33°E–42°E.
        assert!(all
            .iter()
            .all(|c| (-5.0..5.0).contains(&c.lat) && (33.0..42.0).contains(&c.lon)));
    }
}
