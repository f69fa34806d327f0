//! How the plugin's values become ticket filters, in one place: template variables
//! arrive interpolated in Grafana's regex format, ad hoc filters as `{key, operator,
//! value}`. Everything ends as one `Selection`: the dashboard's own `Filters` (positive
//! cluster and status lists, served from the shared cache) plus the predicates those
//! cannot express (region, assigned team, negations, a second list on the same key),
//! applied to the rows before the same `dashboard::compute`. A filter is either applied
//! or refused with a message; none is ignored.

use serde::Deserialize;

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
    fn union(self, other: Pattern) -> Pattern {
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

/// A template-variable value as the plugin sends it (builder mode and `target`: Grafana's
/// `regex` format). `(a|b)` is a list whose items are regex-escaped, one value is escaped
/// alone (`Quarry\ Road`), and "All" arrives as `.*`, `(.*)`, `All`, `$__all` or empty.
/// A value that is not valid in that form (a code-mode payload with a plain string such
/// as `St. Mary's`) is taken literally, after removing backslash escapes.
pub fn variable_value(raw: &str) -> Pattern {
    let s = raw.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("all") || s == "$__all" {
        return Pattern::Any;
    }
    literal_alternatives(s).unwrap_or_else(|_| Pattern::OneOf(vec![unescape(s)]))
}

/// A regex that is only literal alternatives: `a`, `a|b`, `(a|b)`, `(?:a|b)`, optionally
/// anchored with `^…$`, items regex-escaped; `.*` as an alternative means any value.
/// Anything else (classes, quantifiers, wildcards inside a value) is refused: the server
/// does not evaluate regular expressions.
pub fn literal_alternatives(regex: &str) -> Result<Pattern, String> {
    let mut s = regex.trim();
    s = s.strip_prefix('^').unwrap_or(s);
    if s.ends_with('$') && !ends_escaped(&s[..s.len() - 1]) {
        s = &s[..s.len() - 1];
    }
    if let Some(inner) = s
        .strip_prefix("(?:")
        .or_else(|| s.strip_prefix('('))
        .and_then(|i| i.strip_suffix(')'))
    {
        if !ends_escaped(inner) {
            s = inner;
        }
    }
    let mut items = Vec::new();
    for alternative in split_unescaped(s, '|') {
        if alternative == ".*" {
            return Ok(Pattern::Any);
        }
        items.push(literal(alternative)?);
    }
    Ok(Pattern::OneOf(items))
}

/// `s` split on the occurrences of `sep` that are not escaped.
fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let (mut parts, mut start, mut escaped) = (Vec::new(), 0, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

/// One regex-escaped literal value, unescaped; refused if it holds regex syntax.
fn literal(escaped: &str) -> Result<String, String> {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                None => return Err("it ends with a lone backslash".into()),
                Some(n) if n.is_ascii_alphanumeric() => {
                    return Err(format!("the escape \\{n} is not a literal character"))
                }
                Some(n) => out.push(n),
            },
            '^' | '$' | '*' | '+' | '?' | '.' | '(' | ')' | '[' | ']' | '{' | '}' | '|' => {
                return Err(format!(
                    "the unescaped {c:?} makes it more than a list of literal values"
                ))
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// `s` ends with an odd number of backslashes (its next character would be escaped).
fn ends_escaped(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

/// Removes regex escapes: `\X` becomes `X`.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
                continue;
            }
        }
        out.push(c);
    }
    out
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
    pub fn predicate(&self) -> Result<Predicate, String> {
        let field = Field::parse(&self.key).ok_or_else(|| {
            format!(
                "ad hoc filter on {:?}: filterable keys are cluster, status, region, assigned_team",
                self.key
            )
        })?;
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
                .ok_or_else(|| format!("{} has no value", describe()))
        };
        let (negate, pattern) = match self.operator.trim() {
            "=" => (false, Pattern::OneOf(vec![value()?.to_owned()])),
            "!=" => (true, Pattern::OneOf(vec![value()?.to_owned()])),
            op @ ("=~" | "!~") => (
                op == "!~",
                literal_alternatives(value()?).map_err(|why| {
                    format!(
                        "{}: only literal alternatives such as a|b or (a|b) are supported ({why})",
                        describe()
                    )
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
                return Err(format!(
                    "{}: the operator {other:?} is not supported (use =, !=, =~, !~, =| or !=|)",
                    describe()
                ))
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
    ) -> Result<Selection, String> {
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
                    *v = params::status(v).map_err(|e| format!("status {}", e.detail))?;
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
        let filters = Filters::new(cluster, take(Field::Status)).map_err(|e| e.to_string())?;
        Ok(Selection {
            filters,
            extra: all,
        })
    }

    /// The payload's list for a field: a string or an array of strings (each in the
    /// variable form above), absent or null meaning any value.
    pub fn payload_pattern(value: Option<&serde_json::Value>) -> Result<Pattern, String> {
        use serde_json::Value;
        let parse = |s: &str| {
            let t = s.trim();
            let uninterpolated = t.strip_prefix('$').is_some_and(|rest| {
                rest.starts_with(|c: char| c == '{' || c == '_' || c.is_ascii_alphabetic())
            }) && t != "$__all";
            if uninterpolated {
                return Err(format!(
                    "{s:?} is a variable Grafana did not replace (does the dashboard define it?)"
                ));
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
                        return Err(format!("{item} is not a string"));
                    };
                    let p = parse(s)?;
                    pattern = Some(match pattern {
                        None => p,
                        Some(acc) => acc.union(p),
                    });
                }
                Ok(pattern.unwrap_or(Pattern::Any))
            }
            Some(other) => Err(format!("{other} is neither a string nor a list of strings")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of(items: &[&str]) -> Pattern {
        Pattern::OneOf(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn variables_in_regex_form_become_lists() {
        assert_eq!(
            variable_value("(Westlands|Kilimani)"),
            one_of(&["Westlands", "Kilimani"])
        );
        assert_eq!(variable_value(r"Quarry\ Road"), one_of(&["Quarry Road"]));
        assert_eq!(
            variable_value(r"(Industrial\ Area|Quarry\ Road)"),
            one_of(&["Industrial Area", "Quarry Road"])
        );
        assert_eq!(variable_value(r"St\.\ Mary's"), one_of(&["St. Mary's"]));
        assert_eq!(
            variable_value("Westlands|Karen"),
            one_of(&["Westlands", "Karen"])
        );
        assert_eq!(variable_value("IN_PROGRESS"), one_of(&["IN_PROGRESS"]));
        for all in [
            ".*", "(.*)", "All", "all", "$__all", "", "  ", "^.*$", "(a|.*)",
        ] {
            assert_eq!(variable_value(all), Pattern::Any, "{all:?}");
        }
        // Not regex form: taken literally (code mode with plain strings).
        assert_eq!(variable_value("Quarry Road"), one_of(&["Quarry Road"]));
        assert_eq!(variable_value("St. Mary's"), one_of(&["St. Mary's"]));
        assert_eq!(variable_value("Foo (Bar)"), one_of(&["Foo (Bar)"]));
    }

    #[test]
    fn only_literal_regexes_are_accepted() {
        assert_eq!(
            literal_alternatives("^(?:coast|nairobi)$"),
            Ok(one_of(&["coast", "nairobi"]))
        );
        assert_eq!(
            literal_alternatives(r"FO\ Coast"),
            Ok(one_of(&["FO Coast"]))
        );
        assert_eq!(literal_alternatives(r"a\$"), Ok(one_of(&["a$"])));
        for bad in ["West.*", "[ab]", r"\d+", "a?", "(a|b", r"a\", "x{2}"] {
            assert!(literal_alternatives(bad).is_err(), "{bad}");
        }
    }

    fn ad_hoc(key: &str, operator: &str, value: &str) -> Result<Predicate, String> {
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
            region: region.map(str::to_owned),
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
            let e = ad_hoc(key, op, value).unwrap_err();
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
            .contains("did not replace"));
        assert!(p(json!("${status}")).is_err());
        assert_eq!(p(json!(["$__all"])), Ok(Pattern::Any));
        assert!(p(json!(5)).is_err());
        assert!(p(json!(["Karen", 5])).is_err());
    }
}
