//! One geocoding run: clusters, then precise locations, then every ticket's point
//! resolved again. Answers, misses and wrong-city rejections are cached, so a query is
//! asked once; one replica geocodes at a time. A failure never fails an import.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;
use sqlx::{Connection, PgPool};

use super::locationiq::{Answer, AskError, LocationIq};
use super::names::cluster_query;
use super::point::{distance_km, WRONG_CITY_KM};
use super::resolve::{self, CENTROID_JOINS};
use crate::config::GeocoderConfig;
use crate::db::lock::{IngestLock, LockError};
use crate::metrics::Metrics;

/// The advisory lock key of the geocoder ("GEO").
const LOCK_KEY: i64 = 0x47454f;

/// How long the points' write waits for an import (whose statements time out at 15 min).
const INGEST_PATIENCE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Which cache an answer goes to.
#[derive(Debug, Clone, Copy)]
enum Cache<'a> {
    /// `geo_clusters`, keyed by the cluster as stored.
    Cluster(&'a str),
    /// `geo_locations`, keyed by the query.
    Location,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Steps {
    Clusters,
    Locations,
    Both,
}

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct GeocodeReport {
    /// Requests sent to the provider.
    pub calls: u32,
    pub found: u32,
    pub not_found: u32,
    /// Answers farther than 25 km from the cluster centroid.
    pub rejected: u32,
    /// Failed requests (not cached; asked again next run).
    pub failed: u32,
    /// Of the failed: answers whose coordinates are no point on Earth (NaN, infinite,
    /// unparsable, out of range), refused and never stored.
    pub bad_answers: u32,
    /// Why the provider was given up on for this run, if it was.
    pub stopped: Option<String>,
    /// Tickets whose point changed when resolved again.
    pub points_changed: u64,
    /// Another replica was geocoding: this run did nothing.
    pub skipped_locked: bool,
}

#[derive(Clone)]
pub struct Geocoder {
    pub pool: PgPool,
    pub config: GeocoderConfig,
    pub metrics: Arc<Metrics>,
    pub database_url: crate::config::SecretString,
}

/// Asks the supervised geocoding task for a run; asks made before it starts the run
/// are one run.
#[derive(Clone, Default)]
pub struct Trigger(Arc<tokio::sync::Notify>);

impl Trigger {
    pub fn ask(&self) {
        self.0.notify_one();
    }
}

/// "No key" is said once per process, not once per run.
static SAID_OFFLINE: AtomicBool = AtomicBool::new(false);

impl Geocoder {
    /// The supervised task: one run per ask. A failed run is asked for again before the
    /// task ends with its error, so it is retried once the supervisor restarts it.
    pub async fn serve(self, trigger: Trigger) -> anyhow::Result<()> {
        loop {
            trigger.0.notified().await;
            if let Err(e) = self.run(Steps::Both).await {
                trigger.ask();
                return Err(anyhow::Error::new(e).context("geocoding after an import failed"));
            }
        }
    }

    #[tracing::instrument(name = "geocode", skip(self), fields(calls, found, points_changed))]
    pub async fn run(&self, steps: Steps) -> sqlx::Result<GeocodeReport> {
        let Some(lock) = crate::db::try_lock(&self.database_url, LOCK_KEY).await? else {
            return Ok(GeocodeReport {
                skipped_locked: true,
                ..GeocodeReport::default()
            });
        };
        let mut report = GeocodeReport::default();
        let key = self
            .config
            .geocoder_key
            .as_ref()
            .map(|k| secrecy::ExposeSecret::expose_secret(k).trim())
            .filter(|k| !k.is_empty());
        match key {
            None => {
                if !SAID_OFFLINE.swap(true, Ordering::Relaxed) {
                    tracing::info!("no GEOCODER_KEY: cluster centroids come from the gazetteer; locations are not geocoded");
                }
            }
            Some(key) => {
                let mut client = LocationIq::new(&self.config, key)
                    .map_err(|e| sqlx::Error::Configuration(e.into()))?;
                if steps != Steps::Locations {
                    self.clusters(&mut client, &mut report).await?;
                }
                if steps != Steps::Clusters {
                    self.locations(&mut client, &mut report).await?;
                }
                report.stopped = client.stopped().map(str::to_owned);
            }
        }
        // Only the points' write waits for an import: the provider's calls do not.
        let ingest = IngestLock::acquire(&self.database_url, INGEST_PATIENCE, || {
            tracing::info!("waiting for the import to finish before writing the points");
        });
        match ingest.await {
            Ok(ingest) => {
                let mut tx = self.pool.begin().await?;
                report.points_changed = resolve::resolve_all(&mut tx, &ingest).await?;
                tx.commit().await?;
                ingest.release().await;
            }
            Err(LockError::Database(e)) => return Err(e),
            Err(busy @ LockError::Busy(_)) => {
                tracing::warn!(error = %busy, "points not resolved; the next run does");
                report.stopped = Some(busy.to_string());
            }
        }
        if report.points_changed > 0 {
            crate::events::notify(
                &mut *self.pool.acquire().await?,
                crate::events::NOT_AN_IMPORT,
            )
            .await;
        }
        lock.close().await.ok();
        let span = tracing::Span::current();
        span.record("calls", report.calls);
        span.record("found", report.found);
        span.record("points_changed", report.points_changed);
        tracing::info!(?report, "geocoding run done");
        Ok(report)
    }

    /// Every stored cluster without a cached answer: `"<cluster>, <region>, Kenya"`
    /// (legacy codes mapped first). A query several clusters share is asked once.
    async fn clusters(
        &self,
        client: &mut LocationIq,
        report: &mut GeocodeReport,
    ) -> sqlx::Result<()> {
        // (cluster as stored, name to geocode, commonest region, gazetteer centroid)
        type Pending = (String, String, Option<String>, Option<f64>, Option<f64>);
        let pending: Vec<Pending> = sqlx::query_as(
            "SELECT i.cluster, COALESCE(ca.cluster, i.cluster), mode() WITHIN GROUP (ORDER BY i.region),
                    gz.latitude, gz.longitude
             FROM tickets.inc i
             LEFT JOIN tickets.cluster_aliases ca ON upper(ca.code) = upper(i.cluster)
             LEFT JOIN tickets.gazetteer gz ON lower(gz.cluster) = lower(COALESCE(ca.cluster, i.cluster))
             WHERE i.cluster IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM tickets.geo_clusters g WHERE g.cluster = i.cluster
                 AND (g.status = 'found' OR g.asked_at > now() - make_interval(days => $1)))
             GROUP BY i.cluster, ca.cluster, gz.latitude, gz.longitude
             ORDER BY i.cluster",
        )
        .bind(self.config.geocoder_retry_misses_days as i32)
        .fetch_all(&self.pool)
        .await?;
        let mut asked: HashMap<String, Option<Answer>> = HashMap::new();
        for (cluster, name, region, lat, lon) in pending {
            let query = cluster_query(&name, region.as_deref());
            let answer = match asked.get(&query) {
                Some(a) => a.clone(),
                None => {
                    let a = self.ask(client, &query, report).await?;
                    asked.insert(query.clone(), a.clone());
                    a
                }
            };
            let Some(answer) = answer else { continue };
            let centroid = lat.zip(lon);
            self.store(Cache::Cluster(&cluster), &query, &answer, centroid, report)
                .await?;
        }
        Ok(())
    }

    /// Every distinct location query of an actionable ticket without a cached answer,
    /// judged against its cluster's centroid.
    async fn locations(
        &self,
        client: &mut LocationIq,
        report: &mut GeocodeReport,
    ) -> sqlx::Result<()> {
        let pending: Vec<(String, Option<f64>, Option<f64>)> = sqlx::query_as(&format!(
            "SELECT DISTINCT ON (x.location_query) x.location_query,
                    COALESCE(gc.latitude, gz.latitude), COALESCE(gc.longitude, gz.longitude)
             FROM tickets.inc x {CENTROID_JOINS}
             WHERE x.is_actionable AND x.location_query IS NOT NULL AND NOT EXISTS (
                 SELECT 1 FROM tickets.geo_locations g WHERE g.query = x.location_query
                 AND (g.status = 'found' OR g.asked_at > now() - make_interval(days => $1)))
             ORDER BY x.location_query"
        ))
        .bind(self.config.geocoder_retry_misses_days as i32)
        .fetch_all(&self.pool)
        .await?;
        for (query, lat, lon) in pending {
            let Some(answer) = self.ask(client, &query, report).await? else {
                continue;
            };
            self.store(Cache::Location, &query, &answer, lat.zip(lon), report)
                .await?;
        }
        Ok(())
    }

    /// One provider call; `None` when it failed (or the client has stopped).
    async fn ask(
        &self,
        client: &mut LocationIq,
        query: &str,
        report: &mut GeocodeReport,
    ) -> sqlx::Result<Option<Answer>> {
        if client.stopped().is_some() {
            return Ok(None);
        }
        report.calls += 1;
        match client.search(query).await {
            Ok(answer) => Ok(Some(answer)),
            Err(e) => {
                report.failed += 1;
                Metrics::outcome(&self.metrics.geocoder_calls, "failed");
                match &e {
                    AskError::Failed(why) => tracing::warn!(%query, %why, "geocoder call failed"),
                    AskError::BadAnswer(why) => {
                        report.bad_answers += 1;
                        tracing::warn!(%query, %why, "geocoder answer refused");
                    }
                    AskError::Stopped(_) => {}
                }
                Ok(None)
            }
        }
    }

    /// Caches an answer: found (within 25 km of the centroid, when one is known),
    /// rejected (farther: a wrong-city match) or not found.
    async fn store(
        &self,
        cache: Cache<'_>,
        query: &str,
        answer: &Answer,
        centroid: Option<(f64, f64)>,
        report: &mut GeocodeReport,
    ) -> sqlx::Result<()> {
        let (status, lat, lon, name, distance) = match answer {
            Answer::NotFound => ("not_found", None, None, None, None),
            Answer::Found {
                lat,
                lon,
                display_name,
            } => {
                let distance = centroid.map(|c| distance_km(c, (*lat, *lon)));
                if distance.is_some_and(|d| d > WRONG_CITY_KM) {
                    ("rejected", None, None, display_name.clone(), distance)
                } else {
                    (
                        "found",
                        Some(*lat),
                        Some(*lon),
                        display_name.clone(),
                        distance,
                    )
                }
            }
        };
        match status {
            "found" => report.found += 1,
            "rejected" => report.rejected += 1,
            _ => report.not_found += 1,
        }
        Metrics::outcome(&self.metrics.geocoder_calls, status_label(status));
        let (table, cluster) = match cache {
            Cache::Cluster(cluster) => ("geo_clusters", Some(cluster)),
            Cache::Location => ("geo_locations", None),
        };
        let (key_columns, key_values, conflict) = match cluster {
            Some(_) => ("cluster, query", "$7, $1", "cluster"),
            None => ("query", "$1", "query"),
        };
        let sql = format!(
            "INSERT INTO tickets.{table} ({key_columns}, status, latitude, longitude, display_name, distance_km, provider)
             VALUES ({key_values}, $2, $3, $4, $5, $6, 'locationiq')
             ON CONFLICT ({conflict}) DO UPDATE SET status = EXCLUDED.status, latitude = EXCLUDED.latitude,
                 longitude = EXCLUDED.longitude, display_name = EXCLUDED.display_name,
                 distance_km = EXCLUDED.distance_km, asked_at = now()"
        );
        let mut q = sqlx::query(&sql)
            .bind(query)
            .bind(status)
            .bind(lat)
            .bind(lon)
            .bind(name)
            .bind(distance);
        if let Some(cluster) = cluster {
            q = q.bind(cluster);
        }
        q.execute(&self.pool).await?;
        Ok(())
    }
}

fn status_label(status: &str) -> &'static str {
    match status {
        "found" => "found",
        "rejected" => "rejected",
        _ => "not_found",
    }
}
