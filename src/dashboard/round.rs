//! Rounding half away from zero, on exact integers (never on already-rounded values).

/// `num / den` rounded half away from zero to `decimals` places, as f64.
pub fn ratio(num: i128, den: i128, decimals: u32) -> f64 {
    assert!(den != 0, "a ratio needs a non-zero denominator");
    let scale = 10i128.pow(decimals);
    let (n, d) = if den < 0 {
        (-num * scale, -den)
    } else {
        (num * scale, den)
    };
    let q = (2 * n.abs() + d) / (2 * d); // |n|/d rounded half up
    let q = if n < 0 { -q } else { q };
    q as f64 / scale as f64
}

#[cfg(test)]
mod tests {
    use super::ratio;

    #[test]
    fn half_away_from_zero() {
        assert_eq!(ratio(1, 2, 0), 1.0);
        assert_eq!(ratio(-1, 2, 0), -1.0);
        assert_eq!(ratio(5, 100, 1), 0.1); // 0.05 → 0.1
        assert_eq!(ratio(-5, 100, 1), -0.1);
        assert_eq!(ratio(4, 100, 1), 0.0);
        assert_eq!(ratio(1, 3, 4), 0.3333);
        assert_eq!(ratio(2, 3, 4), 0.6667);
        assert_eq!(ratio(1, 8, 2), 0.13); // 0.125
        assert_eq!(ratio(7, -2, 0), -4.0);
    }
}
