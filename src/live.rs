//! The live open set, kept in memory: every dashboard request needs all the actionable
//! tickets whatever its window, so they are read once per data change instead of once
//! per request (the closed and created tickets of a window still come from the
//! database, by index). A change reloads the set, then bumps the generation that keys
//! the response cache, so no request can be answered from data older than its entry.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;

use crate::dashboard::freshness::ImportState;
use crate::dashboard::{render, Ticket};
use crate::db;
use crate::events::Events;

#[derive(Debug, Default)]
pub struct OpenSet {
    /// Bumped at every reload; part of every cache key.
    pub generation: u64,
    /// Shared with the payloads computed from it (see `dashboard::Payload`).
    pub tickets: Arc<[Ticket]>,
    /// Each ticket's feature serialised ahead, but for its `as_of`-dependent end.
    pub heads: Vec<String>,
}

#[derive(Clone, Default)]
pub struct Live(
    Arc<RwLock<Arc<OpenSet>>>,
    Arc<Mutex<Option<(Instant, ImportState)>>>,
);

/// How long the import state read for one payload serves the next ones. It only moves
/// when a snapshot is checked (hourly), and a payload is cached far longer anyway.
const IMPORT_STATE_FOR: Duration = Duration::from_secs(1);

impl Live {
    /// What `import_meta` says, read at most once a second (and after every reload).
    pub async fn import_state(&self, pool: &PgPool) -> sqlx::Result<ImportState> {
        if let Some((at, state)) = self.1.lock().expect("not poisoned").as_ref() {
            if at.elapsed() < IMPORT_STATE_FOR {
                return Ok(state.clone());
            }
        }
        let state = db::tickets::import_state(pool).await?;
        *self.1.lock().expect("not poisoned") = Some((Instant::now(), state.clone()));
        Ok(state)
    }

    pub fn current(&self) -> Arc<OpenSet> {
        self.0.read().expect("not poisoned").clone()
    }

    /// Reads the open set from the database and makes it current.
    pub async fn reload(&self, pool: &PgPool) -> sqlx::Result<()> {
        let tickets = db::tickets::open_tickets(pool).await?;
        let heads = tickets.iter().map(render::open_head).collect();
        let mut slot = self.0.write().expect("not poisoned");
        let generation = slot.generation + 1;
        *slot = Arc::new(OpenSet {
            generation,
            tickets: tickets.into(),
            heads,
        });
        Ok(())
    }

    /// Reloads on every data-changed event; `after` runs once the new set is current
    /// (the cache drops its entries there). A failed reload is retried every second.
    pub fn follow(&self, pool: PgPool, events: &Events, after: impl Fn() + Send + 'static) {
        let mut rx = events.subscribe();
        let live = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(tokio::sync::broadcast::error::RecvError::Closed) = rx.recv().await {
                    return;
                }
                while let Err(e) = live.reload(&pool).await {
                    tracing::warn!(error = %e, "cannot reload the open tickets; retrying in 1 s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
                after();
            }
        });
    }
}
