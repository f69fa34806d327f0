//! Grafana's regex form of template variables and `=~` filters, read as what the server
//! supports: a list of literal values. The server evaluates no regular expression.

use super::filters::Pattern;

/// Why a regex is more than a list of literal values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotLiteral {
    #[error("it ends with a lone backslash")]
    LoneBackslash,
    #[error("the escape \\{0} is not a literal character")]
    Escape(char),
    #[error("the unescaped {0:?} makes it more than a list of literal values")]
    Syntax(char),
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
pub fn literal_alternatives(regex: &str) -> Result<Pattern, NotLiteral> {
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
fn literal(escaped: &str) -> Result<String, NotLiteral> {
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                None => return Err(NotLiteral::LoneBackslash),
                Some(n) if n.is_ascii_alphanumeric() => return Err(NotLiteral::Escape(n)),
                Some(n) => out.push(n),
            },
            '^' | '$' | '*' | '+' | '?' | '.' | '(' | ')' | '[' | ']' | '{' | '}' | '|' => {
                return Err(NotLiteral::Syntax(c))
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
}
