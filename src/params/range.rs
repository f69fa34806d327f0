//! Time ranges from the client: each bound a date (00:00 EAT) or an RFC 3339 instant,
//! checked by one rule wherever a range arrives (the dashboard's custom window, the
//! backlog's period, Grafana's `range`).

use chrono::{DateTime, Duration, Utc};

use super::window::{Window, WindowKind, MAX_SPAN_DAYS};
use super::{refuse, ParamError};
use crate::eat;

/// A bound as the client gave it: the parameter's name, its text and its instant.
#[derive(Debug, Clone, Copy)]
pub struct Bound<'a> {
    pub param: &'a str,
    pub text: &'a str,
    pub at: DateTime<Utc>,
}

impl<'a> Bound<'a> {
    /// `text` as the bound `param`: a bare date is 00:00 EAT of that date; otherwise
    /// RFC 3339.
    pub fn parse(param: &'a str, text: &'a str) -> Result<Bound<'a>, ParamError> {
        let at = eat::parse_bound(text).map_err(|e| refuse(param, e))?;
        Ok(Bound { param, text, at })
    }
}

/// The one rule for two given bounds: `to` after `from`. A reversed or empty range blames
/// the end bound (`to`), on every route, since the end is what a client moves last; a
/// bound the client did not give is checked by the route (the backlog's `from` against
/// the clock).
pub fn ordered(from: &Bound, to: &Bound) -> Result<(), ParamError> {
    if to.at > from.at {
        return Ok(());
    }
    Err(refuse(
        to.param,
        format!(
            "{:?} is not after {} ({:?})",
            to.text, from.param, from.text
        ),
    ))
}

/// The custom window `[from, to)` from two bounds given as `(parameter, text)`, at most
/// `MAX_SPAN_DAYS` apart. The query string's `from`/`to` and Grafana's
/// `range.from`/`range.to` both end here.
pub fn custom_window(
    (from_param, from_text): (&str, &str),
    (to_param, to_text): (&str, &str),
    as_of: DateTime<Utc>,
) -> Result<Window, ParamError> {
    let from = Bound::parse(from_param, from_text)?;
    let to = Bound::parse(to_param, to_text)?;
    ordered(&from, &to)?;
    if to.at - from.at > Duration::days(MAX_SPAN_DAYS) {
        return Err(refuse(
            to_param,
            format!("the window spans more than {MAX_SPAN_DAYS} days; pick a shorter one"),
        ));
    }
    Ok(Window {
        kind: WindowKind::Custom,
        from: from.at,
        to: to.at,
        as_of,
    })
}
