//! Geocoding queries: network codes out of location names, the legacy cluster codes
//! mapped, one query text per place.

use std::collections::HashMap;

/// The legacy cluster codes (`QOA` → `Quarry Road`), from `tickets.cluster_aliases`.
#[derive(Debug, Clone, Default)]
pub struct Aliases(HashMap<String, String>);

impl Aliases {
    pub async fn load(conn: &mut sqlx::PgConnection) -> sqlx::Result<Aliases> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT upper(code), cluster FROM tickets.cluster_aliases")
                .fetch_all(conn)
                .await?;
        Ok(Aliases(rows.into_iter().collect()))
    }

    /// The name to geocode a stored cluster by.
    pub fn name_of<'a>(&'a self, cluster: &'a str) -> &'a str {
        self.0
            .get(&cluster.trim().to_uppercase())
            .map_or(cluster, String::as_str)
    }
}

/// Drops network codes (`NRB-WSTL-BTS0231`, `BTS0231`, `OLT-12`, `FDH291`, …) from a
/// location name and tidies what is left: newlines become commas, spaces collapse,
/// leading and trailing separators go.
pub fn strip_network_codes(location: &str) -> String {
    let flat = location.replace(['\r', '\n'], ", ");
    let kept: Vec<&str> = flat
        .split_whitespace()
        .filter(|token| !is_network_code(token.trim_end_matches([',', ';', ':'])))
        .collect();
    let joined = kept.join(" ");
    // A code between a comma and the text leaves ", ," or a leading comma behind.
    let mut parts: Vec<&str> = joined
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    parts.dedup();
    parts
        .join(", ")
        .trim_matches(|c: char| c == '-' || c.is_whitespace())
        .to_owned()
}

/// An upper-case token of letters, digits and hyphens with at least one digit and one
/// letter, 4 characters or more: site and equipment codes, not words or house numbers.
fn is_network_code(token: &str) -> bool {
    token.len() >= 4
        && token
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && token.chars().any(|c| c.is_ascii_digit())
        && token.chars().any(|c| c.is_ascii_uppercase())
        && !token.starts_with('-')
}

/// `"<cleaned location>, <cluster>, Kenya"`, without repeating the cluster when the
/// location already ends with it; `None` when nothing of the location is left.
pub fn location_query(location: &str, cluster: &str) -> Option<String> {
    let cleaned = strip_network_codes(location);
    if cleaned.is_empty() {
        return None;
    }
    let ends_with_cluster = cleaned
        .rsplit(',')
        .next()
        .is_some_and(|last| last.trim().eq_ignore_ascii_case(cluster.trim()));
    Some(if ends_with_cluster || cluster.trim().is_empty() {
        format!("{cleaned}, Kenya")
    } else {
        format!("{cleaned}, {}, Kenya", cluster.trim())
    })
}

/// The location query of a ticket: actionable ones without a valid feed point only.
pub fn ticket_location_query(
    actionable: bool,
    has_feed_point: bool,
    location: Option<&str>,
    cluster: Option<&str>,
    aliases: &Aliases,
) -> Option<String> {
    if !actionable || has_feed_point {
        return None;
    }
    location_query(location?, aliases.name_of(cluster.unwrap_or_default()))
}

/// `"<cluster>, <region>, Kenya"`.
pub fn cluster_query(cluster: &str, region: Option<&str>) -> String {
    match region.map(str::trim).filter(|r| !r.is_empty()) {
        Some(region) => format!("{}, {region}, Kenya", cluster.trim()),
        None => format!("{}, Kenya", cluster.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_codes_are_stripped_from_realistic_names() {
        let cases = [
            (
                "NRB-WSTL-BTS0231 Sarit Centre, Westlands",
                "Sarit Centre, Westlands",
            ),
            ("BTS0231", ""),
            ("BTS0231 Mai Mahiu Road", "Mai Mahiu Road"),
            ("OLT-12 Mirema Drive, Kasarani", "Mirema Drive, Kasarani"),
            ("NRB-EMBK-FDH060 Taj Mall", "Taj Mall"),
            ("MSA-NYLI-BTS0741 Bamburi, Nyali", "Bamburi, Nyali"),
            ("KSM-KSMU-BTS1633 Kisumu CBD, Kisumu", "Kisumu CBD, Kisumu"),
            ("CEN-THKA-BTS1075 Thika Town, Thika", "Thika Town, Thika"),
            (
                "EST-MCKS-BTS1881 Machakos Town, Machakos",
                "Machakos Town, Machakos",
            ),
            (
                "BTS1199 Yaya Centre\nBehind \"Naivas\", Kilimani",
                "Yaya Centre, Behind \"Naivas\", Kilimani",
            ),
            (
                "OLT-11 Mirema Drive, Kasarani, Gate \"B\", opp. Total petrol station",
                "Mirema Drive, Kasarani, Gate \"B\", opp. Total petrol station",
            ),
            ("Adams Arcade, Kilimani", "Adams Arcade, Kilimani"),
            ("JKIA Cargo Centre, Embakasi", "JKIA Cargo Centre, Embakasi"),
            ("EPZ Athi River, Kitengela", "EPZ Athi River, Kitengela"),
            ("Plot 12B, Mombasa Road BTS0040", "Plot 12B, Mombasa Road"),
            (
                "Sarit Centre, NRB-WSTL-BTS0231, Westlands",
                "Sarit Centre, Westlands",
            ),
            ("  Shimo la Tewa , Mtwapa  ", "Shimo la Tewa, Mtwapa"),
        ];
        for (name, cleaned) in cases {
            assert_eq!(strip_network_codes(name), cleaned, "{name:?}");
        }
    }

    #[test]
    fn queries_name_the_place_once() {
        assert_eq!(
            location_query("NRB-WSTL-BTS0231 Sarit Centre, Westlands", "Westlands").as_deref(),
            Some("Sarit Centre, Westlands, Kenya")
        );
        assert_eq!(
            location_query("BTS0568 Utawala", "Embakasi").as_deref(),
            Some("Utawala, Embakasi, Kenya")
        );
        assert_eq!(location_query("BTS0231", "Westlands"), None);
        assert_eq!(
            cluster_query("Quarry Road", Some("nairobi")),
            "Quarry Road, nairobi, Kenya"
        );
        assert_eq!(cluster_query("Karen", None), "Karen, Kenya");
        let aliases = Aliases(
            [("QOA".to_owned(), "Quarry Road".to_owned())]
                .into_iter()
                .collect(),
        );
        assert_eq!(aliases.name_of("qoa"), "Quarry Road");
        assert_eq!(
            ticket_location_query(
                true,
                false,
                Some("BTS1463 Muthurwa Market"),
                Some("QOA"),
                &aliases
            )
            .as_deref(),
            Some("Muthurwa Market, Quarry Road, Kenya")
        );
        assert_eq!(
            ticket_location_query(false, false, Some("Muthurwa"), Some("QOA"), &aliases),
            None
        );
        assert_eq!(
            ticket_location_query(true, true, Some("Muthurwa"), Some("QOA"), &aliases),
            None
        );
    }
}
