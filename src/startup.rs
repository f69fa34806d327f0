//! Building and running the server: migrations, metrics, the supervised background
//! tasks (LISTEN, the open-set reload, geocoding, the ingest schedule), the listener,
//! the router, and the shutdown.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::dashboard::Rules;
use crate::events::Events;
use crate::geocode::run::{Geocoder, Trigger};
use crate::http::auth::Tokens;
use crate::http::cache::ResponseCache;
use crate::http::jobs::ImportJobs;
use crate::http::map::MapConfig;
use crate::http::{self, AppState, Surface};
use crate::ingest::bucket::Bucket;
use crate::ingest::run::Ingester;
use crate::ingest::schedule::{self, Schedule};
use crate::live::Live;
use crate::metrics::Metrics;
use crate::push::Push;
use crate::supervise::{self, Supervisor};

pub struct Application {
    listener: TcpListener,
    state: AppState,
    surface: Surface,
    grace: Duration,
}

impl Application {
    /// Migrates the database, binds the listener (port 0 picks a free one) and starts
    /// the background tasks.
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let api = &settings.api;
        let tokens = Tokens::parse(secrecy::ExposeSecret::expose_secret(&api.api_tokens))
            .map_err(anyhow::Error::msg)?;
        let cors_origins = api
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| HeaderValue::from_str(o).with_context(|| format!("CORS_ORIGINS: {o:?}")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        anyhow::ensure!(
            api.sla_target_hours > 0.0 && api.stale_after_hours > 0.0,
            "SLA_TARGET_HOURS and STALE_AFTER_HOURS must be positive"
        );
        let rules = Rules {
            sla_target_hours: api.sla_target_hours,
            stale_after: chrono::Duration::milliseconds(
                (api.stale_after_hours * 3_600_000.0) as i64,
            ),
        };
        let schedule = match settings.ingest.ingest_cron.trim() {
            "off" => None,
            expr => Some(Schedule::parse(expr).map_err(anyhow::Error::msg)?),
        };
        let standby = crate::db::read_url(&settings.db).is_some();
        let (pool, primary_up) = match crate::db::migrate(&settings.db).await {
            Ok(pool) => (pool, true),
            // A replica with a standby serves from it while the primary is down; imports
            // and LISTEN wait for the primary (their loops retry).
            Err(e) if standby && crate::db::is_unreachable(&e) => {
                tracing::warn!(
                    error = crate::telemetry::chain(e.as_ref()),
                    "the primary is unreachable: serving from DATABASE_READ_URL until it is back"
                );
                (crate::db::connect_lazy(&settings.db)?, false)
            }
            Err(e) => return Err(e),
        };
        let bucket = Bucket::from_config(&settings.bucket)?;
        let metrics = Arc::new(Metrics::default());
        let supervisor = Supervisor::new(metrics.clone());
        let events = Events::default();
        let geocode = Trigger::default();
        let ingester = Ingester {
            seal_sla_target_hours: Some(rules.sla_target_hours),
            retention_days: settings.ingest.history_retention_days,
            pool: pool.clone(),
            bucket,
            metrics: metrics.clone(),
            database_url: settings.db.database_url.clone(),
            geocode: Some(geocode.clone()),
        };
        let listener = TcpListener::bind(&settings.http.listen_addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http.listen_addr))?;
        let cache = ResponseCache::new(
            Duration::from_secs(api.cache_ttl_secs),
            api.cache_max_mb,
            metrics.clone(),
        );
        let read = crate::db::connect_read(&settings.db, &pool)?;
        let live = Live::new(read.clone(), metrics.clone(), api.recorded_memory_hours, {
            let cache = cache.clone();
            move || cache.clear()
        });
        // A standby serves once it has replayed the primary as it is now (migrations
        // included).
        let patience = Duration::from_secs(settings.db.replica_wait_secs);
        let target = if primary_up {
            crate::db::wal::primary_position(&pool).await?
        } else {
            // No position to wait for: the standby as it is, with this binary's schema.
            crate::db::check_migrated(&read).await?;
            crate::db::wal::Lsn::default()
        };
        live.expect(target);
        anyhow::ensure!(
            live.catch_up_within(patience).await?,
            "DATABASE_READ_URL has not replayed the primary's WAL after {patience:?}"
        );
        // One receiver for every run of the follower: what is announced while it is
        // down waits for its restart.
        let changes = Arc::new(tokio::sync::Mutex::new(events.subscribe()));
        supervisor.spawn(supervise::RELOAD, true, {
            let live = live.clone();
            move || {
                let (live, changes) = (live.clone(), changes.clone());
                async move { live.follow(&mut *changes.lock().await, patience).await }
            }
        });
        supervisor.spawn(supervise::LISTEN, true, {
            let (events, pool, metrics) = (events.clone(), pool.clone(), metrics.clone());
            move || {
                let (events, pool, metrics) = (events.clone(), pool.clone(), metrics.clone());
                async move { events.listen(&pool, &metrics).await }
            }
        });
        let geocoder = Geocoder {
            pool: pool.clone(),
            config: settings.geocoder.clone(),
            metrics: metrics.clone(),
            database_url: settings.db.database_url.clone(),
        };
        supervisor.spawn(supervise::GEOCODE, false, move || {
            geocoder.clone().serve(geocode.clone())
        });
        if tokens.is_open() {
            tracing::warn!("no API_TOKENS: the read API is open and admin routes are refused");
        }
        if schedule.is_some() || settings.ingest.ingest_on_start {
            let ingester = ingester.clone();
            // Only the first run ingests on start, not a restart after a panic.
            let mut on_start = settings.ingest.ingest_on_start;
            supervisor.spawn(supervise::SCHEDULE, false, move || {
                let first = std::mem::take(&mut on_start);
                schedule::run(ingester.clone(), schedule.clone(), first)
            });
        }
        tracing::info!(bucket = ingester.bucket.description(), "ready");
        let state = AppState {
            pool,
            read,
            replica_wait: patience,
            metrics,
            ingester,
            map: MapConfig {
                tile_url: api.map_tile_url.clone(),
                tile_attribution: api.map_tile_attribution.clone(),
                auth_required: !tokens.is_open(),
                refresh_secs: 60,
            },
            tokens,
            cache,
            rules,
            live,
            supervisor,
            imports: ImportJobs::default(),
            push: Push::new(api.events_max_clients),
        };
        state.supervisor.spawn(supervise::EVENTS, false, {
            let app = state.clone();
            move || http::events::emit(app.clone())
        });
        Ok(Application {
            listener,
            state,
            surface: Surface {
                layers: crate::http::layers::LayerConfig {
                    cors_origins,
                    timeout: Duration::from_secs(api.request_timeout_secs),
                },
                static_dir: api.static_dir.clone(),
            },
            grace: Duration::from_secs(settings.http.shutdown_grace_secs),
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down: the listener closes, the
    /// background tasks and import jobs stop (an import's transaction is rolled back),
    /// requests in flight get the grace to finish, and the pools close.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, "listening");
        let (supervisor, pool, read, push) = (
            self.state.supervisor.clone(),
            self.state.pool.clone(),
            self.state.read.clone(),
            self.state.push.clone(),
        );
        let router = http::router(self.state, &self.surface);
        let stop = Arc::new(tokio::sync::Notify::new());
        let server = axum::serve(self.listener, router).with_graceful_shutdown({
            let stop = stop.clone();
            async move { stop.notified().await }
        });
        let mut server = std::pin::pin!(server.into_future());
        tokio::select! {
            served = &mut server => return Ok(served?),
            () = shutdown_signal() => {}
        }
        stop.notify_one();
        // Event streams never end on their own: end them so their connections close.
        push.close();
        let grace = self.grace;
        let deadline = tokio::time::Instant::now() + grace;
        let drained = tokio::time::timeout_at(deadline, async {
            let (served, ()) = tokio::join!(&mut server, supervisor.stop());
            served
        })
        .await;
        match drained {
            Ok(served) => served?,
            Err(_) => tracing::warn!(?grace, "requests still in flight after the grace; exiting"),
        }
        tokio::time::timeout_at(deadline, async { tokio::join!(pool.close(), read.close()) })
            .await
            .ok();
        tracing::info!("stopped");
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c().await.ok();
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
