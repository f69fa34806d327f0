//! The live open set, kept in memory: every dashboard request needs all the actionable
//! tickets whatever its window, so they are read once per data change instead of once
//! per request. The tickets closed or created since the earliest week or month window
//! around the data's time are read with them (`dashboard::recent`); an older window's
//! still come from the database, by index. A change reloads the set, then bumps the
//! generation that keys the response cache, so no request can be answered from data
//! older than its entry.
//!
//! On a hot standby a change becomes readable only once the standby has replayed it: a
//! change is first *pending* at the primary's WAL position it was announced with, and
//! the set is reloaded (and the cache dropped) only once the read database has replayed
//! that far. Until then the old set and the old cache are served, never a new generation
//! built from old data. Requests check too, so a replica that hears of the replay later
//! than another still answers no older than it once the standby has the change.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch};

use chrono::Utc;

use crate::dashboard::freshness::ImportState;
use crate::dashboard::recent::{self, Recent};
use crate::dashboard::render::{self, RecordedFeatures};
use crate::dashboard::replay::{self, HistorySpan, Replay};
use crate::dashboard::versions::{Horizon, RecentVersions};
use crate::dashboard::{Rows, SharedRows};
use crate::db::wal::{self, Lsn};
use crate::events::DataChanged;
use crate::history;
use crate::metrics::Metrics;
use crate::params::DashboardRequest;
use crate::read;

#[derive(Debug, Default)]
pub struct OpenSet {
    /// Bumped at every reload; part of every cache key.
    pub generation: u64,
    /// Shared with the payloads computed from it (see `dashboard::Payload`).
    pub tickets: SharedRows,
    /// Each ticket's feature serialised ahead, but for its `as_of`-dependent end.
    pub heads: render::Pieces,
    /// Capture start and the newest history time, read with the set: they choose the
    /// mode of a payload at `as_of` (`dashboard::replay`).
    pub history: HistorySpan,
    /// The tickets closed or created lately, read with the set.
    pub recent: Arc<Recent>,
    /// The current rows' untracked fields that recorded payloads of this generation
    /// have read (filled as they need them).
    pub places: read::places::Places,
    /// The features that recorded payloads of this generation have written.
    pub recorded: RecordedFeatures,
    /// The recent history (`dashboard::versions`), read after the first recorded request
    /// inside its horizon; `None` when it holds too many versions.
    pub versions: OnceLock<Option<Arc<RecentVersions>>>,
    /// The recent history is being read (or has been).
    pub holding: AtomicBool,
}

/// A change announced but not loaded yet.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The read database must have replayed this far.
    wal: Lsn,
    /// When the oldest change not loaded yet was heard of.
    since: Instant,
    /// A change was announced (not only assumed after a LISTEN reconnection).
    announced: bool,
}

/// A reloaded set, once it is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Served {
    pub generation: u64,
    /// It loads an announced change (else only what a LISTEN reconnection may have missed).
    pub announced: bool,
}

#[derive(Clone)]
pub struct Live(Arc<Inner>);

struct Inner {
    /// The read pool (`DATABASE_READ_URL`, else the primary's).
    read: PgPool,
    open: RwLock<Arc<OpenSet>>,
    import_state: Mutex<Option<(Instant, ImportState)>>,
    pending: Mutex<Option<Pending>>,
    /// One replay check and reload at a time, the follower's or a request's.
    reloading: tokio::sync::Mutex<()>,
    /// How many hours before the newest history time are held in memory (0: none).
    recorded_memory_hours: u32,
    /// Runs once a new set is current (the response cache drops its entries there).
    on_reload: Box<dyn Fn() + Send + Sync>,
    /// Sent once `on_reload` has run (the event stream's cue).
    served: watch::Sender<Served>,
    metrics: Arc<Metrics>,
}

/// The most versions the recent history holds (~1.1 KB each with their text, head and
/// closed feature, measured on the bench's stores): past it, its instants query the
/// history.
pub const MOST_HELD: usize = 100_000;

/// How long the import state read for one payload serves the next ones. It only moves
/// when a snapshot is checked (hourly), and a payload is cached far longer anyway.
const IMPORT_STATE_FOR: Duration = Duration::from_secs(1);

/// How often the read database's replay is checked while a change is pending: often
/// at first, then (past the patience) once a second.
const POLL: Duration = Duration::from_millis(20);
const POLL_SLOW: Duration = Duration::from_secs(1);

impl Live {
    /// An empty set (generation 0): call `expect` and `catch_up_within` before serving.
    pub fn new(
        read: PgPool,
        metrics: Arc<Metrics>,
        recorded_memory_hours: u32,
        on_reload: impl Fn() + Send + Sync + 'static,
    ) -> Live {
        Live(Arc::new(Inner {
            read,
            recorded_memory_hours,
            open: RwLock::default(),
            import_state: Mutex::default(),
            pending: Mutex::default(),
            reloading: tokio::sync::Mutex::default(),
            on_reload: Box::new(on_reload),
            served: watch::channel(Served::default()).0,
            metrics,
        }))
    }

    /// Changes once a reloaded set is served.
    pub fn served(&self) -> watch::Receiver<Served> {
        self.0.served.subscribe()
    }

    /// What `import_meta` says, read at most once a second (and after every reload).
    pub async fn import_state(&self) -> sqlx::Result<ImportState> {
        if let Some((at, state)) = self.0.import_state.lock().expect("not poisoned").as_ref() {
            if at.elapsed() < IMPORT_STATE_FOR {
                return Ok(state.clone());
            }
        }
        let state = read::tickets::import_state(&self.0.read).await?;
        *self.0.import_state.lock().expect("not poisoned") = Some((Instant::now(), state.clone()));
        Ok(state)
    }

    /// The set as loaded, without looking at the read database.
    pub fn current(&self) -> Arc<OpenSet> {
        self.0.open.read().expect("not poisoned").clone()
    }

    /// The set to answer a request with: when a change is pending and the read database
    /// has replayed it, it is loaded first (a failed check serves the current set).
    pub async fn fresh(&self) -> Arc<OpenSet> {
        if self.pending().is_some() {
            if let Err(e) = self.catch_up().await {
                tracing::debug!(error = %e, "cannot check the read database's replay");
            }
        }
        self.current()
    }

    /// The rows of a payload at a recorded instant (`dashboard::replay`): from the recent
    /// history when its horizon covers the request and it is read, else queried (and the
    /// recent history read in the background, so no request waits for it).
    pub async fn recorded(
        &self,
        open: &Arc<OpenSet>,
        request: &DashboardRequest,
        replay: Replay,
    ) -> sqlx::Result<Rows> {
        let horizon = open
            .history
            .history_until
            .and_then(|h| Horizon::before(h, self.0.recorded_memory_hours))
            .filter(|horizon| horizon.covers(&request.window));
        let held = match (horizon, open.versions.get()) {
            (Some(_), Some(held)) => held.clone(),
            (Some(horizon), None) => {
                self.hold(open, horizon);
                None
            }
            (None, _) => None,
        };
        let family = &self.0.metrics.recorded_reads;
        if let Some(held) = held {
            Metrics::outcome(family, "memory");
            let picked = held.at(request);
            return Ok(replay::held(held, picked, replay));
        }
        Metrics::outcome(family, "database");
        let rows = read::tickets::recorded_tickets(&self.0.read, request, &open.places).await?;
        Ok(replay::rows(rows, replay))
    }

    /// Reads the recent history of `open` in the background, unless it is being read
    /// (after a failure the next recorded request tries again).
    fn hold(&self, open: &Arc<OpenSet>, horizon: Horizon) {
        if open.holding.swap(true, Ordering::AcqRel) {
            return;
        }
        let (open, pool) = (open.clone(), self.0.read.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let read = read::versions::recent(&pool, horizon, &open.places, MOST_HELD).await;
            match read {
                Ok(held) => {
                    let (versions, bytes) =
                        held.as_ref().map_or((0, 0), |h| (h.len(), h.heap_bytes()));
                    let _ = open.versions.set(held.map(Arc::new));
                    tracing::info!(versions, bytes, took = ?started.elapsed(), "recent history held");
                }
                Err(e) => {
                    open.holding.store(false, Ordering::Release);
                    tracing::warn!(error = %e, "cannot read the recent history; recorded misses query the history meanwhile");
                }
            }
        });
    }

    /// A change was committed at or before `wal`.
    pub fn expect(&self, wal: Lsn) {
        self.pend(wal, false);
    }

    /// A data-changed event makes a change pending.
    fn heard(&self, event: DataChanged) {
        self.pend(event.wal(), matches!(event, DataChanged::Import { .. }));
    }

    fn pend(&self, wal: Lsn, announced: bool) {
        let mut pending = self.0.pending.lock().expect("not poisoned");
        *pending = Some(match *pending {
            Some(p) => Pending {
                wal: p.wal.max(wal),
                since: p.since,
                announced: p.announced || announced,
            },
            None => Pending {
                wal,
                since: Instant::now(),
                announced,
            },
        });
    }

    fn pending(&self) -> Option<Pending> {
        *self.0.pending.lock().expect("not poisoned")
    }

    /// A change has been pending for longer than `patience` (the standby lags).
    pub fn lagging(&self, patience: Duration) -> bool {
        self.pending().is_some_and(|p| p.since.elapsed() > patience)
    }

    /// Loads the set if a change is pending and the read database has replayed it.
    /// True when nothing is pending any more.
    pub async fn catch_up(&self) -> sqlx::Result<bool> {
        let _one = self.0.reloading.lock().await;
        let Some(target) = self.pending() else {
            return Ok(true);
        };
        if let Some(replayed) = wal::replayed(&self.0.read).await? {
            let behind = target.wal.0.saturating_sub(replayed.0);
            self.0
                .metrics
                .replica_lag_bytes
                .set(i64::try_from(behind).unwrap_or(i64::MAX));
            if behind > 0 {
                return Ok(false);
            }
        }
        // Replay only moves forward: what is read now includes the change.
        self.reload().await?;
        let mut pending = self.0.pending.lock().expect("not poisoned");
        let mut announced = target.announced;
        // A change announced during the reload may be beyond what was read: it stays.
        if let Some(p) = pending.filter(|p| p.wal <= target.wal) {
            announced |= p.announced;
            *pending = None;
        }
        drop(pending);
        self.0
            .metrics
            .replica_wait_seconds
            .observe(target.since.elapsed().as_secs_f64());
        (self.0.on_reload)();
        self.0.served.send_replace(Served {
            generation: self.current().generation,
            announced,
        });
        Ok(self.pending().is_none())
    }

    /// Polls `catch_up` for at most `patience` (a standby that does not have the
    /// database yet fails meanwhile); true when nothing is pending any more.
    pub async fn catch_up_within(&self, patience: Duration) -> sqlx::Result<bool> {
        let started = Instant::now();
        loop {
            match self.catch_up().await {
                Ok(true) => return Ok(true),
                Err(e) if started.elapsed() >= patience => return Err(e),
                Ok(false) if started.elapsed() >= patience => return Ok(false),
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Reads the open set and the recent tickets from the read database and makes them
    /// current. The recent tickets start at the windows around the newest snapshot's
    /// time (the clock's, if earlier), so requests at the data's time are covered too.
    async fn reload(&self) -> sqlx::Result<()> {
        let pool = &self.0.read;
        let state = read::tickets::import_state(pool).await?;
        let now = Utc::now();
        let since = recent::since(state.snapshot_at.map_or(now, |t| t.min(now)));
        let (tickets, history, recent_rows) = tokio::try_join!(
            read::tickets::open_tickets(pool),
            history::read::span(pool),
            read::tickets::recent_tickets(pool, since),
        )?;
        let closed: Vec<&str> = recent_rows
            .iter()
            .filter(|t| t.closed_at.is_some())
            .map(|t| t.ticket_id.as_str())
            .collect();
        let closing = read::attribution::closing_holders(pool, &closed).await?;
        let heads = render::open_heads(&tickets);
        let recent = Recent::new(since, recent_rows, closing);
        *self.0.import_state.lock().expect("not poisoned") = None;
        let mut slot = self.0.open.write().expect("not poisoned");
        let generation = slot.generation + 1;
        *slot = Arc::new(OpenSet {
            generation,
            tickets: Arc::new(tickets),
            heads,
            history,
            recent: Arc::new(recent),
            places: Default::default(),
            recorded: Default::default(),
            versions: OnceLock::new(),
            holding: AtomicBool::new(false),
        });
        Ok(())
    }

    /// Follows the data-changed events: each makes a change pending, loaded as soon as
    /// the read database has replayed it. Past `patience` the wait is logged and the
    /// check slows down; the old data is served meanwhile. Run by the supervisor: a
    /// failed reload ends it with the error (it is restarted with backoff); `events`
    /// outlives it, so what was announced meanwhile is still read.
    pub async fn follow(
        &self,
        events: &mut broadcast::Receiver<DataChanged>,
        patience: Duration,
    ) -> anyhow::Result<()> {
        let mut warned = false;
        loop {
            loop {
                match events.try_recv() {
                    Ok(event) => self.heard(event),
                    // The events kept are the latest, so the highest positions.
                    Err(TryRecvError::Lagged(_)) => {}
                    Err(TryRecvError::Closed) => return Ok(()),
                    Err(TryRecvError::Empty) => break,
                }
            }
            if self.pending().is_none() {
                warned = false;
                match events.recv().await {
                    Ok(event) => self.heard(event),
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return Ok(()),
                }
                continue;
            }
            let slow = self.lagging(patience);
            if self.catch_up().await? {
                continue;
            }
            if slow && !warned {
                warned = true;
                tracing::warn!(?patience, "the read database has not replayed the last change yet; serving the data before it");
            }
            tokio::time::sleep(if slow { POLL_SLOW } else { POLL }).await;
        }
    }
}
