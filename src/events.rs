//! "Data changed": an import that wrote rows NOTIFYs a channel; every replica LISTENs
//! and republishes it in-process, so each drops its cache.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::broadcast;

use crate::ingest::DATA_CHANGED_CHANNEL;
use crate::metrics::Metrics;

/// An in-process "the tickets changed" signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataChanged {
    /// An import committed rows (its `import_meta` id).
    Import(i64),
    /// The LISTEN connection was lost and re-established: a notification may have been
    /// missed, so subscribers must assume the data changed.
    Reconnected,
}

#[derive(Clone)]
pub struct Events {
    sender: broadcast::Sender<DataChanged>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            sender: broadcast::channel(64).0,
        }
    }
}

impl Events {
    pub fn subscribe(&self) -> broadcast::Receiver<DataChanged> {
        self.sender.subscribe()
    }

    pub fn publish(&self, event: DataChanged) {
        // No subscriber yet is fine.
        self.sender.send(event).ok();
    }

    /// LISTENs until the process ends, re-listening after the database comes back.
    pub fn spawn_listener(
        &self,
        pool: PgPool,
        metrics: Arc<Metrics>,
    ) -> tokio::task::JoinHandle<()> {
        let events = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = events.listen(&pool, &metrics).await {
                    tracing::warn!(error = %e, "LISTEN connection lost; retrying in 1 s");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    }

    async fn listen(&self, pool: &PgPool, metrics: &Metrics) -> sqlx::Result<()> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(DATA_CHANGED_CHANNEL).await?;
        // Anything may have changed while we were not listening.
        self.publish(DataChanged::Reconnected);
        loop {
            // `try_recv` returns None when the connection was lost (it reconnects on the
            // next call): treat that as a possible missed notification.
            match listener.try_recv().await? {
                Some(n) => {
                    metrics.data_changed_events.inc();
                    let id = n.payload().parse().unwrap_or_default();
                    self.publish(DataChanged::Import(id));
                }
                None => {
                    self.publish(DataChanged::Reconnected);
                }
            }
        }
    }
}
