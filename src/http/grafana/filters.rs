//! How the plugin's values become ticket filters, in one place: template variables
//! arrive interpolated in Grafana's regex format, ad hoc filters as `{key, operator,
//! value}`. Everything ends as one `Selection`: the dashboard's own `Filters` (positive
//! cluster and status lists, served from the shared cache) plus the predicates those
//! cannot express (region, assigned team, negations, a second list on the same key),
//! applied to the rows before the same `dashboard::compute`. A filter is either applied
//! or refused with a message; none is ignored.

use serde::Deserialize;

use super::refusal::Refusal;
use super::regex::{literal_alternatives, variable_value};
use crate::dashboard::Ticket;
use crate::params::{self, Filters};

/// A set of values: any value at all, or one of these (matched by `params::is_one_of`,
/// like the dashboard's filters).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Pattern {
    Any,
    OneOf(Vec<String>),
}

impl Pattern {
    pub fn union(self, other: Pattern) -> Pattern {
        match (self, other) {
            (Pattern::Any, _) | (_, Pattern::Any) => Pattern::Any,
            (Pattern::OneOf(mut a), Pattern::OneOf(b)) => {
                a.extend(b);
                Pattern::OneOf(a)
            }
        }
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::OneOf(list) => params::is_one_of(value, list),
        }
    }
}

/// The ticket fields a filter may name (the ad hoc filter keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Cluster,
    Status,
    Region,
    AssignedTeam,
}

impl Field {
    pub const ALL: [Field; 4] = [
        Field::Cluster,
        Field::Status,
        Field::Region,
        Field::AssignedTeam,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Field::Cluster => "cluster",
            Field::Status => "status",
            Field::Region => "region",
            Field::AssignedTeam => "assigned_team",
        }
    }

    pub fn parse(key: &str) -> Option<Field> {
        Field::ALL
            .into_iter()
            .find(|f| f.key().eq_ignore_ascii_case(key.trim()))
    }

    fn of(self, t: &Ticket) -> Option<&str> {
        match self {
            Field::Cluster => t.cluster.as_deref(),
            Field::Status => t.normalized_status.as_deref(),
            Field::Region => t.region.as_deref(),
            Field::AssignedTeam => t.assigned_team.as_deref(),
        }
    }
}

/// Keep the tickets whose field is (or, negated, is not) in the pattern. A missing value
/// is in no list, so `!=` keeps it; a negated `Any` keeps nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Predicate {
    pub field: Field,
    pub negate: bool,
    pub pattern: Pattern,
}

impl Predicate {
    pub fn keeps(&self, t: &Ticket) -> bool {
        self.pattern.matches(self.field.of(t)) != self.negate
    }
}

/// One ad hoc filter as Grafana sends it (`filters`, or `adhocFilters` from older plugin
/// versions). `values` comes with Grafana's multi-value operators `=|` and `!=|`.
#[derive(Debug, Clone, Deserialize)]
pub struct AdHocFilter {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub values: Option<Vec<String>>,
}

impl AdHocFilter {
    /// The predicate, or why the filter cannot be applied.
    pub fn predicate(&self) -> Result<Predicate, Refusal> {
        let field = Field::parse(&self.key).ok_or_else(|| Refusal::UnknownKey(self.key.clone()))?;
        let describe = || {
            format!(
                "ad hoc filter {} {} {:?}",
                field.key(),
                self.operator,
                self.value.as_deref().unwrap_or_default()
            )
        };
        let value = || {
            self.value
                .as_deref()
                .filter(|v| !v.trim().is_empty())
                .ok_or_else(|| Refusal::NoValue(describe()))
        };
        let (negate, pattern) = match self.operator.trim() {
            "=" => (false, Pattern::OneOf(vec![value()?.to_owned()])),
            "!=" => (true, Pattern::OneOf(vec![value()?.to_owned()])),
            op @ ("=~" | "!~") => (
                op == "!~",
                literal_alternatives(value()?).map_err(|why| Refusal::NotLiteral {
                    filter: describe(),
                    why,
                })?,
            ),
            op @ ("=|" | "!=|") => {
                let values = match &self.values {
                    Some(v) if !v.is_empty() => v.clone(),
                    _ => vec![value()?.to_owned()],
                };
                (op == "!=|", Pattern::OneOf(values))
            }
            other => {
                return Err(Refusal::Operator {
                    filter: describe(),
                    operator: other.to_owned(),
                })
            }
        };
        Ok(Predicate {
            field,
            negate,
            pattern,
        })
    }
}

/// Every filter of one target: the dashboard's `Filters` plus the rest as predicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Selection {
    pub filters: Filters,
    pub extra: Vec<Predicate>,
}

impl Selection {
    /// Combines (AND) the target's payload lists with the request's ad hoc filters. The
    /// first positive list on cluster and on status becomes the dashboard's filter (so
    /// the common case shares the dashboard's cache); everything else stays a predicate.
    pub fn build(
        payload: impl IntoIterator<Item = (Field, Pattern)>,
        ad_hoc: &[Predicate],
    ) -> Result<Selection, Refusal> {
        let mut all: Vec<Predicate> = payload
            .into_iter()
            .map(|(field, pattern)| Predicate {
                field,
                negate: false,
                pattern,
            })
            .chain(ad_hoc.iter().cloned())
            .filter(|p| p.negate || p.pattern != Pattern::Any)
            .collect();
        for p in &mut all {
            if let (Field::Status, Pattern::OneOf(values)) = (p.field, &mut p.pattern) {
                for v in values.iter_mut() {
                    *v = params::status(v).map_err(Refusal::Status)?;
                }
            }
        }
        let mut take = |field: Field| -> Vec<String> {
            let found = all.iter().position(|p| {
                p.field == field
                    && !p.negate
                    && matches!(&p.pattern, Pattern::OneOf(v) if v.iter().any(|x| !x.trim().is_empty()))
            });
            match found.map(|i| all.remove(i).pattern) {
                Some(Pattern::OneOf(values)) => values,
                _ => Vec::new(),
            }
        };
        let cluster = take(Field::Cluster);
        let filters = Filters::new(cluster, take(Field::Status))?;
        Ok(Selection {
            filters,
            extra: all,
        })
    }

    /// The payload's list for a field: a string or an array of strings (each in the
    /// variable form above), absent or null meaning any value.
    pub fn payload_pattern(value: Option<&serde_json::Value>) -> Result<Pattern, Refusal> {
        use serde_json::Value;
        let parse = |s: &str| {
            let t = s.trim();
            let uninterpolated = t.strip_prefix('$').is_some_and(|rest| {
                rest.starts_with(|c: char| c == '{' || c == '_' || c.is_ascii_alphabetic())
            }) && t != "$__all";
            if uninterpolated {
                return Err(Refusal::Uninterpolated(s.to_owned()));
            }
            Ok(variable_value(s))
        };
        match value {
            None | Some(Value::Null) => Ok(Pattern::Any),
            Some(Value::String(s)) => parse(s),
            Some(Value::Array(items)) => {
                let mut pattern: Option<Pattern> = None;
                for item in items {
                    let Value::String(s) = item else {
                        return Err(Refusal::NotAString(item.to_string()));
                    };
                    let p = parse(s)?;
                    pattern = Some(match pattern {
                        None => p,
                        Some(acc) => acc.union(p),
                    });
                }
                Ok(pattern.unwrap_or(Pattern::Any))
            }
            Some(other) => Err(Refusal::NotAList(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of(items: &[&str]) -> Pattern {
        Pattern::OneOf(items.iter().map(|s| s.to_string()).collect())
    }

    fn ad_hoc(key: &str, operator: &str, value: &str) -> Result<Predicate, Refusal> {
        AdHocFilter {
            key: key.into(),
            operator: operator.into(),
            value: Some(value.into()),
            values: None,
        }
        .predicate()
    }

    #[test]
    fn ad_hoc_filters_become_predicates_or_clear_refusals() {
        let p = ad_hoc("region", "!=", "coast").unwrap();
        assert_eq!((p.field, p.negate), (Field::Region, true));
        let t = |region: Option<&str>| Ticket {
            region: region.map(Into::into),
            ..Ticket::default()
        };
        assert!(!p.keeps(&t(Some("coast"))));
        assert!(p.keeps(&t(Some("nairobi"))));
        assert!(p.keeps(&t(None)), "a missing region is not coast");
        let p = ad_hoc("region", "=", "COAST").unwrap();
        assert!(p.keeps(&t(Some("coast"))), "case-insensitive");
        assert!(!p.keeps(&t(None)));
        let p = ad_hoc("region", "!~", ".*").unwrap();
        assert!(!p.keeps(&t(None)) && !p.keeps(&t(Some("coast"))));
        let p = ad_hoc("assigned_team", "=~", "FO Coast|NOC L2").unwrap();
        assert_eq!(p.pattern, one_of(&["FO Coast", "NOC L2"]));
        let multi = AdHocFilter {
            key: "cluster".into(),
            operator: "=|".into(),
            value: None,
            values: Some(vec!["Karen".into(), "Ngong".into()]),
        };
        assert_eq!(
            multi.predicate().unwrap().pattern,
            one_of(&["Karen", "Ngong"])
        );
        for (key, op, value, says) in [
            ("owner", "=", "x", "filterable keys"),
            ("cluster", ">", "x", "operator"),
            ("cluster", "=~", "West.*", "literal alternatives"),
            ("cluster", "=", " ", "no value"),
        ] {
            let e = ad_hoc(key, op, value).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn selections_use_the_dashboard_filters_where_they_can() {
        let westlands = ad_hoc("cluster", "=", "Westlands").unwrap();
        let s = Selection::build(
            [
                (Field::Cluster, Pattern::Any),
                (Field::Status, one_of(&["pending", "OPEN", "open"])),
            ],
            std::slice::from_ref(&westlands),
        )
        .unwrap();
        assert_eq!(s.filters.cluster, ["Westlands"]);
        assert_eq!(s.filters.status, ["OPEN", "PENDING"]);
        assert!(s.extra.is_empty());
        // A second list on cluster stays a predicate (AND).
        let s = Selection::build(
            [(Field::Cluster, one_of(&["Karen", "Westlands"]))],
            &[westlands, ad_hoc("status", "!=", "open").unwrap()],
        )
        .unwrap();
        assert_eq!(s.filters.cluster, ["Karen", "Westlands"]);
        assert_eq!(s.extra.len(), 2);
        assert_eq!(s.extra[1].pattern, one_of(&["OPEN"]));
        assert!(Selection::build([(Field::Status, one_of(&["DONE"]))], &[])
            .unwrap_err()
            .to_string()
            .contains("DONE"));
    }

    #[test]
    fn payload_values_are_strings_or_lists_of_strings() {
        use serde_json::json;
        let p = |v: serde_json::Value| Selection::payload_pattern(Some(&v));
        assert_eq!(
            p(json!(["(Westlands|Kilimani)", r"Quarry\ Road"])),
            Ok(one_of(&["Westlands", "Kilimani", "Quarry Road"]))
        );
        assert_eq!(p(json!([])), Ok(Pattern::Any));
        assert_eq!(p(json!(["Karen", ".*"])), Ok(Pattern::Any));
        assert_eq!(p(json!(null)), Ok(Pattern::Any));
        assert!(p(json!(["$cluster"]))
            .unwrap_err()
            .to_string()
            .contains("did not replace"));
        assert!(p(json!("${status}")).is_err());
        assert_eq!(p(json!(["$__all"])), Ok(Pattern::Any));
        assert!(p(json!(5)).is_err());
        assert!(p(json!(["Karen", 5])).is_err());
    }
}
