//! The dashboard window: today, the ISO week, the month, or a custom `[from, to)`, all in
//! Africa/Nairobi.

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::eat;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    Today,
    Week,
    Month,
    Custom,
}

impl WindowKind {
    pub fn parse(s: &str) -> Option<WindowKind> {
        match s {
            "today" => Some(WindowKind::Today),
            "week" => Some(WindowKind::Week),
            "month" => Some(WindowKind::Month),
            "custom" => Some(WindowKind::Custom),
            _ => None,
        }
    }
}

/// The longest custom window.
pub const MAX_SPAN_DAYS: i64 = 366;

/// A resolved window `[from, to)` and the "now" it was resolved at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub kind: WindowKind,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
}

impl Window {
    /// Today, week or month around `as_of` (custom windows come with their bounds).
    pub fn around(kind: WindowKind, as_of: DateTime<Utc>) -> Window {
        let day = eat::local_date(as_of);
        let (start, end): (NaiveDate, NaiveDate) = match kind {
            WindowKind::Today | WindowKind::Custom => (day, day + Days::new(1)),
            WindowKind::Week => {
                let monday = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
                (monday, monday + Days::new(7))
            }
            WindowKind::Month => {
                let first = day.with_day(1).expect("day 1 exists");
                (first, first + Months::new(1))
            }
        };
        Window {
            kind,
            from: eat::midnight(start),
            to: eat::midnight(end),
            as_of,
        }
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }

    /// Every EAT calendar day the window touches, in order.
    pub fn days(&self) -> Vec<NaiveDate> {
        let first = eat::local_date(self.from);
        let last = eat::local_date(self.to - Duration::nanoseconds(1));
        first.iter_days().take_while(|d| *d <= last).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        eat::instant(s)
    }

    /// `(as_of, from, to)` cases of a kind, as RFC 3339 (`to` empty: not checked).
    fn windows(kind: WindowKind, cases: &[(&str, &str, &str)]) {
        for (as_of, from, to) in cases {
            let w = Window::around(kind, at(as_of));
            assert_eq!(eat::rfc3339(w.from), *from, "{kind:?} around {as_of}");
            if !to.is_empty() {
                assert_eq!(eat::rfc3339(w.to), *to, "{kind:?} around {as_of}");
            }
        }
    }

    #[test]
    fn today_follows_eat_midnight_not_utc_midnight() {
        windows(
            WindowKind::Today,
            &[
                // 22:30 UTC on the 15th is already 01:30 EAT on the 16th.
                (
                    "2026-06-15T22:30:00Z",
                    "2026-06-16T00:00:00+03:00",
                    "2026-06-17T00:00:00+03:00",
                ),
                // 20:59:59 UTC is 23:59:59 EAT, still the 15th.
                ("2026-06-15T20:59:59Z", "2026-06-15T00:00:00+03:00", ""),
            ],
        );
    }

    #[test]
    fn week_starts_on_the_iso_monday() {
        windows(
            WindowKind::Week,
            &[
                // Tuesday 16 June 2026 → Monday the 15th.
                (
                    "2026-06-16T10:00:00+03:00",
                    "2026-06-15T00:00:00+03:00",
                    "2026-06-22T00:00:00+03:00",
                ),
                // Sunday belongs to the week that began six days before.
                ("2026-06-21T23:59:00+03:00", "2026-06-15T00:00:00+03:00", ""),
                // Monday 00:00 EAT starts a new week (Sunday 21:00 UTC).
                ("2026-06-21T21:00:00Z", "2026-06-22T00:00:00+03:00", ""),
                // A week across the year end.
                (
                    "2027-01-01T12:00:00+03:00",
                    "2026-12-28T00:00:00+03:00",
                    "2027-01-04T00:00:00+03:00",
                ),
            ],
        );
    }

    #[test]
    fn month_ends_december_and_leap_february() {
        windows(
            WindowKind::Month,
            &[
                (
                    "2026-12-31T23:59:59+03:00",
                    "2026-12-01T00:00:00+03:00",
                    "2027-01-01T00:00:00+03:00",
                ),
                (
                    "2028-02-29T08:00:00+03:00",
                    "2028-02-01T00:00:00+03:00",
                    "2028-03-01T00:00:00+03:00",
                ),
            ],
        );
        let days = |as_of| Window::around(WindowKind::Month, at(as_of)).days().len();
        assert_eq!(days("2028-02-29T08:00:00+03:00"), 29);
        assert_eq!(days("2026-04-10T08:00:00+03:00"), 30);
    }

    #[test]
    fn days_are_the_eat_days_touched() {
        let w = Window {
            kind: WindowKind::Custom,
            from: at("2026-06-15T00:00:00+03:00"),
            to: at("2026-06-17T00:00:00+03:00"),
            as_of: at("2026-06-20T00:00:00Z"),
        };
        let days: Vec<String> = w.days().iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-06-15", "2026-06-16"]);
        let w = Window {
            to: at("2026-06-17T00:00:01+03:00"),
            ..w
        };
        assert_eq!(w.days().len(), 3);
        let w = Window {
            from: at("2026-06-15T23:00:00+03:00"),
            to: at("2026-06-16T01:00:00+03:00"),
            ..w
        };
        assert_eq!(w.days().len(), 2);
        assert!(w.contains(at("2026-06-15T23:00:00+03:00")));
        assert!(!w.contains(at("2026-06-16T01:00:00+03:00")));
    }
}
