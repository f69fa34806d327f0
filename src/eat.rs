//! East Africa Time: every timestamp in the feed and in the payload is EAT
//! (Africa/Nairobi, UTC+3, no DST).

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Timelike,
    Utc,
};

/// EAT as the spec defines it: UTC+3 at every date. (The tz database's Africa/Nairobi
/// has other offsets before 1942, which would contradict "+03:00 everywhere".)
pub const TZ: FixedOffset = match FixedOffset::east_opt(3 * 3600) {
    Some(tz) => tz,
    None => panic!("+03:00 is a valid offset"),
};
pub const TZ_NAME: &str = "Africa/Nairobi";

/// Parses a naive EAT timestamp as the feed writes it: `YYYY-MM-DD HH:MM:SS`, a `T`
/// separator, optional fractional seconds, or no seconds at all. Hand-written: it runs
/// seven times per row on the import's hot path.
pub fn parse_local(value: &str) -> Option<DateTime<Utc>> {
    let b = value.trim().as_bytes();
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let sep = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(sep(4, b"-") && sep(7, b"-") && sep(10, b" T") && sep(13, b":")) {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)?;
    let (hour, minute) = (num(11..13)?, num(14..16)?);
    let (second, nanos) = match b.len() {
        16 => (0, 0),
        19 if sep(16, b":") => (num(17..19)?, 0),
        n if n > 20 && n <= 29 && sep(16, b":") && sep(19, b".") => {
            let frac = num(20..n)?;
            (num(17..19)?, frac * 10u32.pow(9 - (n - 20) as u32))
        }
        _ => return None,
    };
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    from_local(NaiveDateTime::new(date, time))
}

/// A naive EAT wall-clock time as an instant (EAT has no gaps or folds).
pub fn from_local(naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    TZ.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// 00:00 EAT of a calendar date. Dates outside chrono's range saturate at its ends;
/// client dates are checked against [`FIRST_DAY`]..=[`LAST_DAY`] before they get here.
pub fn midnight(date: NaiveDate) -> DateTime<Utc> {
    from_local(date.and_time(chrono::NaiveTime::MIN)).unwrap_or(if date.year_ce().0 {
        DateTime::<Utc>::MAX_UTC
    } else {
        DateTime::<Utc>::MIN_UTC
    })
}

/// The first and last days a client may name (`from`, `to`, `as_of`, a Grafana range),
/// as written (in the text's own offset, so that a pattern in the OpenAPI document says
/// exactly which texts are accepted): any offset moves them by less than a day in EAT,
/// so every window around them (a month at most) still prints as RFC 3339 with a
/// four-digit year, and every difference between them fits the SLA arithmetic.
pub const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(d) => d,
    None => panic!("0001-01-01 exists"),
};
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9998, 12, 31) {
    Some(d) => d,
    None => panic!("9998-12-31 exists"),
};

/// A written date within the range, or why not: in words, for a 400's `detail`.
fn in_range(text: &str, written: NaiveDate) -> Result<(), String> {
    if (FIRST_DAY..=LAST_DAY).contains(&written) {
        Ok(())
    } else {
        Err(format!(
            "{text:?} is outside the supported range {FIRST_DAY} to {LAST_DAY}"
        ))
    }
}

/// RFC 3339 (section 5.6) as the OpenAPI document's pattern says: a `T` (or `t`)
/// between date and time, and no leap second (chrono also takes a space and `:60`).
fn rfc3339_text(text: &str) -> Option<DateTime<FixedOffset>> {
    let t = DateTime::parse_from_rfc3339(text).ok()?;
    let separator = matches!(text.as_bytes().get(10), Some(b'T' | b't'));
    (separator && t.nanosecond() < 1_000_000_000).then_some(t)
}

/// A client's RFC 3339 instant, within the supported range.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, String> {
    let t = rfc3339_text(text).ok_or_else(|| format!("{text:?} is not an RFC 3339 timestamp"))?;
    in_range(text, t.date_naive())?;
    Ok(t.with_timezone(&Utc))
}

/// A client's period bound: `YYYY-MM-DD` (00:00 EAT of that day) or an RFC 3339 instant,
/// within the supported range.
pub fn parse_bound(text: &str) -> Result<DateTime<Utc>, String> {
    let digits = |r: std::ops::Range<usize>| text.as_bytes()[r].iter().all(u8::is_ascii_digit);
    let shaped = text.len() == 10 && digits(0..4) && digits(5..7) && digits(8..10);
    if let Some(date) = shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
    {
        in_range(text, date)?;
        return Ok(midnight(date));
    }
    let t = rfc3339_text(text)
        .ok_or_else(|| format!("{text:?} is neither YYYY-MM-DD nor an RFC 3339 timestamp"))?;
    in_range(text, t.date_naive())?;
    Ok(t.with_timezone(&Utc))
}

/// The EAT calendar date of an instant.
pub fn local_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&TZ).date_naive()
}

/// RFC 3339 with the `+03:00` offset, as every timestamp in the payload; fractional
/// seconds only when not zero (3 digits for whole milliseconds, else 6 or 9).
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.with_timezone(&TZ)
        .to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// `rfc3339` into a stack buffer, digit by digit (not through `fmt`): it runs twice per
/// feature on every dashboard miss. `None` outside years 0–9999.
fn write_rfc3339(t: DateTime<Utc>, buf: &mut [u8; 40]) -> Option<&str> {
    use chrono::{Datelike, Timelike};
    let local = t.with_timezone(&TZ).naive_local();
    let year = u32::try_from(local.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = local.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    let mut len = 0;
    let mut put = |value: u32, width: u32, before: &[u8]| {
        buf[len..len + before.len()].copy_from_slice(before);
        len += before.len();
        for place in (0..width).rev() {
            buf[len] = b'0' + (value / 10u32.pow(place) % 10) as u8;
            len += 1;
        }
    };
    put(year, 4, b"");
    put(local.month(), 2, b"-");
    put(local.day(), 2, b"-");
    put(local.hour(), 2, b"T");
    put(local.minute(), 2, b":");
    put(local.second(), 2, b":");
    match nanos {
        0 => {}
        n if n % 1_000_000 == 0 => put(n / 1_000_000, 3, b"."),
        n if n % 1000 == 0 => put(n / 1000, 6, b"."),
        n => put(n, 9, b"."),
    }
    buf[len..len + 6].copy_from_slice(b"+03:00");
    std::str::from_utf8(&buf[..len + 6]).ok()
}

/// An instant that serialises as RFC 3339 with the `+03:00` offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EatTime(pub DateTime<Utc>);

impl serde::Serialize for EatTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match write_rfc3339(self.0, &mut [0; 40]) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&rfc3339(self.0)),
        }
    }
}

/// `#[serde(serialize_with = "eat::serialize")]` for `DateTime<Utc>` fields.
pub fn serialize<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*t))
}

/// `#[serde(serialize_with = "eat::serialize_opt")]` for `Option<DateTime<Utc>>` fields.
pub fn serialize_opt<S: serde::Serializer>(
    t: &Option<DateTime<Utc>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize(t, s),
        None => s.serialize_none(),
    }
}

/// An RFC 3339 instant, for tests.
#[cfg(test)]
pub fn instant(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("a test's instant")
        .to_utc()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_feed_form_as_eat() {
        let want = instant("2026-06-16T04:15:02Z");
        assert_eq!(parse_local("2026-06-16 07:15:02"), Some(want));
        assert_eq!(parse_local("2026-06-16T07:15:02"), Some(want));
        assert_eq!(parse_local(" 2026-06-16 07:15:02 "), Some(want));
        assert_eq!(
            parse_local("2026-06-16 07:15:02.250"),
            Some(instant("2026-06-16T04:15:02.250Z"))
        );
        assert_eq!(
            parse_local("2026-06-16 07:15"),
            Some(instant("2026-06-16T04:15:00Z"))
        );
    }

    #[test]
    fn refuses_what_is_not_a_timestamp() {
        for bad in [
            "",
            "N/A",
            "TBD",
            "2026-02-30 10:00:00",
            "16/06/2026 07:15",
            "2026-06-16",
        ] {
            assert_eq!(parse_local(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_fast_formatter_agrees_with_chrono() {
        for s in [
            "2026-06-15T21:00:00Z",
            "2026-06-16T07:15:02.250Z",
            "2026-06-16T07:15:02.250001Z",
            "2026-06-16T07:15:02.123456789Z",
            "2026-12-31T22:59:59Z",
            "2028-02-28T21:30:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T20:59:59.999Z",
            // Year 10000 in EAT: chrono's form.
            "9999-12-31T21:00:00Z",
        ] {
            let t = instant(s);
            assert_eq!(
                serde_json::to_string(&EatTime(t)).unwrap(),
                format!("\"{}\"", rfc3339(t)),
                "{s}"
            );
        }
    }

    #[test]
    fn client_times_outside_the_range_are_refused_in_words() {
        for bad in [
            "0000-12-31",
            "9999-01-01",
            "9999-12-31T23:59:59Z",
            "0000-12-31T23:59:59-05:00",
        ] {
            let e = parse_bound(bad).unwrap_err();
            assert!(e.contains("outside the supported range"), "{bad}: {e}");
        }
        assert!(parse_instant("9999-01-01T00:00:00+14:00").is_err());
        assert!(parse_instant("2026-06-16")
            .unwrap_err()
            .contains("not an RFC 3339"));
        // Only what the document's pattern says: no other date shapes, no space for
        // the `T`, no leap second.
        for bad in [
            "16/06/2026",
            "2026-6-16",
            "-262143-01-01",
            "+262142-12-31",
            "2026-06-16 10:00:00Z",
            "2026-06-30T23:59:60Z",
        ] {
            assert!(parse_bound(bad).unwrap_err().contains("neither"), "{bad}");
        }
        assert!(parse_bound("2026-06-16t10:00:00.5z").is_ok());
        // The edges as written are accepted, whatever the offset, and a month around
        // them still prints with four digits.
        assert_eq!(
            parse_bound("0001-01-01").unwrap(),
            instant("0000-12-31T21:00:00Z")
        );
        let first = parse_instant("0001-01-01T00:00:00+23:59").unwrap();
        assert_eq!(rfc3339(first), "0000-12-31T03:01:00+03:00");
        let last = parse_bound("9998-12-31T23:59:59-23:59").unwrap();
        assert_eq!(rfc3339(last), "9999-01-02T02:58:59+03:00");
        assert_eq!(midnight(NaiveDate::MIN), DateTime::<Utc>::MIN_UTC);
    }

    #[test]
    fn formats_with_the_eat_offset() {
        assert_eq!(
            rfc3339(instant("2026-06-15T21:00:00Z")),
            "2026-06-16T00:00:00+03:00"
        );
        assert_eq!(
            local_date(instant("2026-06-15T21:00:00Z")).to_string(),
            "2026-06-16"
        );
        assert_eq!(
            local_date(instant("2026-06-15T20:59:59Z")).to_string(),
            "2026-06-15"
        );
    }
}
