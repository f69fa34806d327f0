//! Building and running the server: migrations, the listener and the router.

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::{DatabaseConfig, HttpConfig};
use crate::http::{self, AppState};

pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Migrates the database and binds the listener (port 0 picks a free one).
    pub async fn build(db: &DatabaseConfig, http: &HttpConfig) -> anyhow::Result<Application> {
        let pool = crate::db::migrate(db).await?;
        let listener = TcpListener::bind(&http.listen_addr)
            .await
            .with_context(|| format!("cannot listen on {}", http.listen_addr))?;
        Ok(Application {
            listener,
            state: AppState { pool },
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn pool(&self) -> &PgPool {
        &self.state.pool
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
