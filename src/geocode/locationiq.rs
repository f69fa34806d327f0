//! The LocationIQ search client: one request at a time at a bounded rate, timeouts on
//! every call, `Retry-After` honoured on 429, and a stop for the run after repeated
//! failures or a quota/key refusal. The key is never logged nor put in an error.

use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use crate::config::GeocoderConfig;

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Found {
        lat: f64,
        lon: f64,
        display_name: Option<String>,
    },
    NotFound,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// This query failed (not cached; asked again on a later run).
    #[error("geocoder failed: {0}")]
    Failed(String),
    /// The answer's coordinates are no point on Earth: refused, never stored (asked again
    /// on a later run), and a failure towards the run's stop.
    #[error("geocoder answered a bad point: {0}")]
    BadAnswer(String),
    /// The client stopped for this run (repeated failures, quota, refused key).
    #[error("geocoder stopped for this run: {0}")]
    Stopped(String),
}

#[derive(Deserialize)]
struct Place {
    lat: String,
    lon: String,
    display_name: Option<String>,
}

impl Place {
    /// The answer's point: LocationIQ sends decimal strings, so "NaN", "inf", "abc" or a
    /// latitude past ±90 can arrive, and none of them is a place.
    fn point(&self) -> Option<(f64, f64)> {
        let lat: f64 = self.lat.trim().parse().ok()?;
        let lon: f64 = self.lon.trim().parse().ok()?;
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
    }
}

pub struct LocationIq {
    http: reqwest::Client,
    url: String,
    key: String,
    interval: Duration,
    next_at: Instant,
    failures: u32,
    max_failures: u32,
    stopped: Option<String>,
}

impl LocationIq {
    pub fn new(config: &GeocoderConfig, key: &str) -> Result<LocationIq, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs_f64(config.geocoder_timeout_secs))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| e.to_string())?;
        if config.geocoder_rps <= 0.0 {
            return Err("GEOCODER_RPS must be positive".into());
        }
        Ok(LocationIq {
            http,
            url: format!("{}/v1/search", config.geocoder_url.trim_end_matches('/')),
            key: key.to_owned(),
            interval: Duration::from_secs_f64(1.0 / config.geocoder_rps),
            next_at: Instant::now(),
            failures: 0,
            max_failures: config.geocoder_max_failures,
            stopped: None,
        })
    }

    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// Asks for one query, keeping to the rate; retries a 429 up to three times.
    pub async fn search(&mut self, query: &str) -> Result<Answer, AskError> {
        for _ in 0..3 {
            if let Some(why) = &self.stopped {
                return Err(AskError::Stopped(why.clone()));
            }
            tokio::time::sleep_until(self.next_at).await;
            self.next_at = Instant::now() + self.interval;
            let sent = self
                .http
                .get(&self.url)
                .query(&[
                    ("key", self.key.as_str()),
                    ("q", query),
                    ("format", "json"),
                    ("limit", "1"),
                    ("countrycodes", "ke"),
                ])
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                // Without the URL: it carries the key.
                Err(e) => return Err(self.failed(describe(&e.without_url()))),
            };
            let status = response.status().as_u16();
            match status {
                200 => {
                    let places: Vec<Place> = match response.json().await {
                        Ok(p) => p,
                        Err(e) => {
                            return Err(self.failed(format!(
                                "unreadable answer: {}",
                                describe(&e.without_url())
                            )))
                        }
                    };
                    let Some(place) = places.first() else {
                        self.failures = 0;
                        return Ok(Answer::NotFound);
                    };
                    let Some((lat, lon)) = place.point() else {
                        return Err(self.bad_answer(format!(
                            "lat {:?}, lon {:?} is not a point on Earth",
                            place.lat, place.lon
                        )));
                    };
                    self.failures = 0;
                    return Ok(Answer::Found {
                        lat,
                        lon,
                        display_name: place.display_name.clone(),
                    });
                }
                404 => {
                    self.failures = 0;
                    return Ok(Answer::NotFound);
                }
                429 => {
                    let wait = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
                        .unwrap_or(1.0)
                        .clamp(0.0, 60.0);
                    let body = response.text().await.unwrap_or_default();
                    if body.contains("Day") {
                        return Err(self.stop("the daily quota is used up".into()));
                    }
                    // Slow down for the rest of the run, after waiting as asked.
                    self.interval *= 2;
                    self.next_at =
                        Instant::now() + Duration::from_secs_f64(wait).max(self.interval);
                    tracing::info!(wait_secs = wait, "geocoder rate limited; slowing down");
                }
                401 | 403 => return Err(self.stop(format!("the key was refused (HTTP {status})"))),
                other => return Err(self.failed(format!("HTTP {other}"))),
            }
        }
        Err(self.failed("still rate limited after 3 tries".into()))
    }

    fn failed(&mut self, why: String) -> AskError {
        self.failures += 1;
        if self.failures >= self.max_failures {
            return self.stop(format!(
                "{} failures in a row, the last: {why}",
                self.failures
            ));
        }
        AskError::Failed(why)
    }

    fn bad_answer(&mut self, why: String) -> AskError {
        match self.failed(why) {
            AskError::Failed(why) => AskError::BadAnswer(why),
            stopped => stopped,
        }
    }

    fn stop(&mut self, why: String) -> AskError {
        tracing::warn!(reason = %why, "geocoding stops for this run");
        self.stopped = Some(why.clone());
        AskError::Stopped(why)
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        e.to_string()
    }
}
