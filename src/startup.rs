//! Building and running the server: migrations, metrics, the data-changed listener,
//! the ingest schedule, the listener and the router.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::Settings;
use crate::events::Events;
use crate::http::{self, AppState};
use crate::ingest::bucket::Bucket;
use crate::ingest::run::Ingester;
use crate::ingest::schedule::{self, Schedule};
use crate::metrics::Metrics;

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Migrates the database, binds the listener (port 0 picks a free one) and starts
    /// the background tasks.
    pub async fn build(settings: &Settings) -> anyhow::Result<Application> {
        let schedule = match settings.ingest.ingest_cron.trim() {
            "off" => None,
            expr => Some(Schedule::parse(expr).map_err(anyhow::Error::msg)?),
        };
        let pool = crate::db::migrate(&settings.db).await?;
        let bucket = Bucket::from_config(&settings.bucket)?;
        let metrics = Arc::new(Metrics::default());
        let events = Events::default();
        let ingester = Ingester {
            pool: pool.clone(),
            bucket,
            metrics: metrics.clone(),
            database_url: settings.db.database_url.clone(),
        };
        let listener = TcpListener::bind(&settings.http.listen_addr)
            .await
            .with_context(|| format!("cannot listen on {}", settings.http.listen_addr))?;
        events.spawn_listener(pool.clone(), metrics.clone());
        if let Some(schedule) = schedule {
            schedule::spawn(ingester.clone(), schedule, settings.ingest.ingest_on_start);
        }
        tracing::info!(bucket = ingester.bucket.description(), "ready");
        Ok(Application {
            listener,
            state: AppState {
                pool,
                metrics,
                events,
                ingester,
            },
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        tracing::info!(addr = %self.listener.local_addr()?, "listening");
        axum::serve(self.listener, http::router(self.state))
            .with_graceful_shutdown(shutdown_signal())
            .await?;
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
