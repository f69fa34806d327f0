//! A long run's progress as cargo shows it: done and to go, rate and ETA, redrawn in
//! place on a terminal, one line per step elsewhere.

use std::fmt;
use std::io::Write;
use std::time::Duration;

/// Where one step of `total` left the run.
#[derive(Debug, Clone)]
pub struct Step<'a> {
    pub done: usize,
    pub total: usize,
    pub elapsed: Duration,
    pub key: &'a str,
    /// What became of this step, e.g. "12 versions" or "skipped: …".
    pub note: &'a str,
}

impl Step<'_> {
    /// Steps per second so far.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.done as f64 / secs
        } else {
            0.0
        }
    }

    /// The time left at the rate so far.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.rate();
        (rate > 0.0).then(|| Duration::from_secs_f64((self.total - self.done) as f64 / rate))
    }
}

impl fmt::Display for Step<'_> {
    /// `[#####.....] 1234/8760  14.2/s  ETA 8m50s  key: note`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const WIDTH: usize = 24;
        let filled = (self.done * WIDTH).checked_div(self.total).unwrap_or(WIDTH);
        let eta = self.eta().map_or_else(|| "?".into(), clock);
        write!(
            f,
            "[{}{}] {}/{}  {:.1}/s  ETA {eta}  {}: {}",
            "#".repeat(filled),
            ".".repeat(WIDTH - filled),
            self.done,
            self.total,
            self.rate(),
            self.key,
            self.note
        )
    }
}

/// `1h02m`, `8m50s`, `12s`.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Draws a step on a terminal's stderr, in place, ending the line after the last step.
pub fn draw(step: &Step) {
    let mut err = std::io::stderr().lock();
    write!(err, "\r\x1b[2K{step}").ok();
    if step.done == step.total {
        writeln!(err).ok();
    }
    err.flush().ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_shows_done_to_go_rate_and_eta() {
        let step = Step {
            done: 100,
            total: 400,
            elapsed: Duration::from_secs(10),
            key: "k.csv",
            note: "3 versions",
        };
        assert_eq!(step.rate(), 10.0);
        assert_eq!(step.eta(), Some(Duration::from_secs(30)));
        assert_eq!(
            step.to_string(),
            "[######..................] 100/400  10.0/s  ETA 30s  k.csv: 3 versions"
        );
        assert_eq!(clock(Duration::from_secs(530)), "8m50s");
        assert_eq!(clock(Duration::from_secs(3725)), "1h02m");
        let first = Step {
            elapsed: Duration::ZERO,
            done: 0,
            ..step
        };
        assert_eq!(first.eta(), None);
        assert!(first.to_string().contains("0.0/s  ETA ?"));
    }
}
