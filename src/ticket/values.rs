//! Parsers for single CSV values. Each returns `None` for a value it cannot read; the
//! caller turns that into a null plus a counted warning.

/// `true`/`false`, `t`/`f`, `1`/`0`, `yes`/`no`, in any case.
pub fn boolean(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "1" | "yes" => Some(true),
        "false" | "f" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Decimal hours to whole minutes, `round(hours × 60)` half away from zero, computed on
/// the exact decimal (so `10.175` h is 610.5 min and rounds to 611, which `f64` gets
/// wrong).
pub fn mttr_minutes(value: &str) -> Option<i32> {
    let value = value.trim();
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
        || int_part.len() + frac_part.len() > 30
    {
        return None;
    }
    // hours = mantissa / 10^scale; minutes = mantissa * 60 / 10^scale.
    let mantissa: u128 = format!("{int_part}{frac_part}").parse().ok()?;
    let scale = 10u128.pow(frac_part.len() as u32);
    let numerator = mantissa * 60;
    let rounded = (numerator + scale / 2) / scale; // half away from zero on the magnitude
    let minutes = i32::try_from(rounded).ok()?;
    Some(if negative { -minutes } else { minutes })
}

/// A decimal degree; refuses NaN and infinities.
pub fn coordinate(value: &str) -> Option<f64> {
    value.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_boolean_form() {
        for t in ["true", "TRUE", "True", "t", "T", "1", "yes", "YES", " Yes "] {
            assert_eq!(boolean(t), Some(true), "{t}");
        }
        for f in ["false", "FALSE", "f", "F", "0", "no", "NO", "No"] {
            assert_eq!(boolean(f), Some(false), "{f}");
        }
        for bad in ["", "y", "n", "2", "maybe", "truee"] {
            assert_eq!(boolean(bad), None, "{bad}");
        }
    }

    #[test]
    fn mttr_rounds_half_away_from_zero_on_the_exact_decimal() {
        let cases = [
            ("5.75", 345),
            ("5.78", 347),    // 346.8
            ("43.925", 2636), // 2635.5
            ("10.175", 611),  // 610.5, f64 says 610.4999…
            ("6.125", 368),   // 367.5
            ("0.2549", 15),   // 15.294
            ("0.0125", 1),    // 0.75
            ("0.025", 2),     // 1.5
            ("-0.025", -2),   // away from zero
            ("2", 120),
            ("2.", 120),
            (".5", 30),
            ("0", 0),
            (" 3.30 ", 198),
        ];
        for (hours, minutes) in cases {
            assert_eq!(mttr_minutes(hours), Some(minutes), "{hours}");
        }
    }

    #[test]
    fn mttr_refuses_non_numbers() {
        for bad in [
            "",
            ".",
            "-",
            "N/A",
            "1,5",
            "1.2.3",
            "1e3",
            "5h",
            "99999999999",
        ] {
            assert_eq!(mttr_minutes(bad), None, "{bad}");
        }
    }

    #[test]
    fn coordinates() {
        assert_eq!(coordinate("-1.2676"), Some(-1.2676));
        assert_eq!(coordinate(" 36.81 "), Some(36.81));
        assert_eq!(coordinate("NaN"), None);
        assert_eq!(coordinate("inf"), None);
        assert_eq!(coordinate("1°"), None);
    }
}
