//! The background tasks (LISTEN, the open-set reload, the ingest schedule, geocoding)
//! run under one supervisor: a task that returns an error or panics is logged with its
//! name and cause, counted, and restarted after an exponential backoff, while `/readyz`
//! and `/metrics` say it is down. At shutdown every task (and every import job) is
//! stopped: its future is dropped, so an import's transaction is rolled back.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::metrics::{Metrics, TaskLabels};

/// The LISTEN connection to the primary (data-changed events).
pub const LISTEN: &str = "listen";
/// The open set's reload after each data change.
pub const RELOAD: &str = "reload";
/// The ingest schedule (`INGEST_CRON`).
pub const SCHEDULE: &str = "schedule";
/// Geocoding after an import that wrote rows.
pub const GEOCODE: &str = "geocode";
/// The `data_changed` server-sent events after each reload.
pub const EVENTS: &str = "events";

/// A task that ran this long without failing was healthy: its backoff starts over.
const HEALTHY_AFTER: Duration = Duration::from_secs(30);

/// The wait before restarting a task after `failures` failed runs in a row: 250 ms,
/// doubling, at most 5 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(250u64 << failures.min(5)).min(Duration::from_secs(5))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    /// Running.
    Up,
    /// It failed and waits for its restart.
    Restarting,
    /// It ended on its own (a schedule without a next run) or at shutdown.
    Ended,
}

/// One task as `/readyz` shows it.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct TaskStatus {
    pub state: TaskState,
    /// Restarts since the process started.
    pub restarts: u64,
    /// While it is down the data served may be stale (LISTEN and the reload).
    #[serde(skip)]
    pub keeps_data_current: bool,
}

#[derive(Clone)]
pub struct Supervisor(Arc<Inner>);

struct Inner {
    metrics: Arc<Metrics>,
    tasks: Mutex<BTreeMap<&'static str, TaskStatus>>,
    stop: watch::Sender<bool>,
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Supervisor {
    pub fn new(metrics: Arc<Metrics>) -> Supervisor {
        Supervisor(Arc::new(Inner {
            metrics,
            tasks: Mutex::default(),
            stop: watch::channel(false).0,
            handles: Mutex::default(),
        }))
    }

    /// Runs `make()`'s future until it ends; an error or a panic restarts it (a new
    /// `make()`) after the backoff. `Ok(())` ends the task for good.
    pub fn spawn<F, Fut>(&self, name: &'static str, keeps_data_current: bool, mut make: F)
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        // Listed (as up) from now on, not from the task's first poll.
        self.set(name, TaskState::Up, keeps_data_current);
        let this = self.clone();
        let task = async move {
            let mut failures = 0;
            loop {
                let started = Instant::now();
                let attempt = tokio::spawn(make().instrument(tracing::info_span!("task", name)));
                let Some(outcome) = this.unless_stopped(attempt).await else {
                    break;
                };
                let cause = match outcome {
                    Ok(Ok(())) => break,
                    Ok(Err(e)) => crate::telemetry::chain(e.as_ref()),
                    Err(join) => panic_message(join),
                };
                if started.elapsed() > HEALTHY_AFTER {
                    failures = 0;
                }
                let wait = backoff(failures);
                failures += 1;
                this.failed(name);
                tracing::error!(task = name, %cause, retry_in = ?wait, "a background task failed; restarting it");
                if this.sleep_unless_stopped(wait).await.is_none() {
                    break;
                }
                this.set(name, TaskState::Up, keeps_data_current);
            }
            this.set(name, TaskState::Ended, keeps_data_current);
        };
        self.track(tokio::spawn(task));
    }

    /// Runs `work` once, stopped at shutdown: `on_stop` runs instead of the rest of it.
    pub fn spawn_once<W, S>(&self, work: W, on_stop: S)
    where
        W: Future<Output = ()> + Send + 'static,
        S: FnOnce() + Send + 'static,
    {
        let this = self.clone();
        self.track(tokio::spawn(
            async move {
                if this.unless_stopped(tokio::spawn(work)).await.is_none() {
                    on_stop();
                }
            }
            .in_current_span(),
        ));
    }

    /// Every task as it is now, by name.
    pub fn tasks(&self) -> BTreeMap<&'static str, TaskStatus> {
        self.0.tasks.lock().expect("not poisoned").clone()
    }

    /// False while LISTEN or the reload is not running: a change may not be served.
    pub fn data_current(&self) -> bool {
        self.tasks()
            .values()
            .all(|t| !t.keeps_data_current || t.state == TaskState::Up)
    }

    /// Stops every task and waits until each has dropped its work.
    pub async fn stop(&self) {
        self.0.stop.send_replace(true);
        let handles = std::mem::take(&mut *self.0.handles.lock().expect("not poisoned"));
        for handle in handles {
            handle.await.ok();
        }
    }

    fn track(&self, handle: JoinHandle<()>) {
        let mut handles = self.0.handles.lock().expect("not poisoned");
        handles.retain(|h| !h.is_finished());
        handles.push(handle);
    }

    /// The attempt's result, or `None` (the attempt aborted and dropped) at shutdown.
    async fn unless_stopped<T>(
        &self,
        mut attempt: JoinHandle<T>,
    ) -> Option<Result<T, tokio::task::JoinError>> {
        tokio::select! {
            outcome = &mut attempt => Some(outcome),
            () = self.stopped() => {
                attempt.abort();
                attempt.await.ok();
                None
            }
        }
    }

    async fn sleep_unless_stopped(&self, wait: Duration) -> Option<()> {
        tokio::select! {
            () = tokio::time::sleep(wait) => Some(()),
            () = self.stopped() => None,
        }
    }

    async fn stopped(&self) {
        let mut stop = self.0.stop.subscribe();
        if stop.wait_for(|stopped| *stopped).await.is_err() {
            // The sender lives as long as `self`: never reached.
            std::future::pending::<()>().await;
        }
    }

    fn set(&self, name: &'static str, state: TaskState, keeps_data_current: bool) {
        let mut tasks = self.0.tasks.lock().expect("not poisoned");
        let task = tasks.entry(name).or_insert(TaskStatus {
            state,
            restarts: 0,
            keeps_data_current,
        });
        task.state = state;
        let labels = TaskLabels { task: name };
        let up = i64::from(state == TaskState::Up);
        self.0.metrics.task_up.get_or_create(&labels).set(up);
        // Exported at 0 from the start, not from the first restart.
        self.0
            .metrics
            .task_restarts
            .get_or_create(&labels)
            .inc_by(0);
    }

    fn failed(&self, name: &'static str) {
        let mut tasks = self.0.tasks.lock().expect("not poisoned");
        if let Some(task) = tasks.get_mut(name) {
            task.state = TaskState::Restarting;
            task.restarts += 1;
        }
        let labels = TaskLabels { task: name };
        self.0.metrics.task_up.get_or_create(&labels).set(0);
        self.0.metrics.task_restarts.get_or_create(&labels).inc();
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            format!("panic: {message}")
        }
        Err(join) => join.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        let waits: Vec<u64> = (0..8).map(|n| backoff(n).as_millis() as u64).collect();
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    }

    #[tokio::test]
    async fn a_failing_or_panicking_task_is_restarted_counted_and_stopped() {
        let metrics = Arc::new(Metrics::default());
        let supervisor = Supervisor::new(metrics.clone());
        let runs = Arc::new(AtomicU32::new(0));
        let (done_tx, mut done) = tokio::sync::mpsc::channel(1);
        supervisor.spawn(RELOAD, true, {
            let runs = runs.clone();
            move || {
                let (runs, done_tx) = (runs.clone(), done_tx.clone());
                async move {
                    match runs.fetch_add(1, Ordering::SeqCst) {
                        0 => anyhow::bail!("the first run fails"),
                        1 => panic!("the second run panics"),
                        _ => {
                            done_tx.send(()).await.ok();
                            std::future::pending().await
                        }
                    }
                }
            }
        });
        done.recv().await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let task = supervisor.tasks()[RELOAD];
        assert_eq!((task.state, task.restarts), (TaskState::Up, 2));
        assert!(supervisor.data_current());
        let text = metrics.render();
        assert!(
            text.contains("fleettickets_task_restarts_total{task=\"reload\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("fleettickets_task_up{task=\"reload\"} 1"),
            "{text}"
        );
        supervisor.stop().await;
        assert_eq!(supervisor.tasks()[RELOAD].state, TaskState::Ended);
        assert!(
            !supervisor.data_current(),
            "a stopped reload keeps nothing current"
        );
        assert!(metrics
            .render()
            .contains("fleettickets_task_up{task=\"reload\"} 0"));
    }

    #[tokio::test]
    async fn work_run_once_is_dropped_at_stop() {
        let supervisor = Supervisor::new(Arc::new(Metrics::default()));
        let (stopped_tx, stopped) = tokio::sync::oneshot::channel();
        supervisor.spawn_once(std::future::pending(), move || {
            stopped_tx.send(()).ok();
        });
        supervisor.stop().await;
        assert_eq!(stopped.await, Ok(()));
    }
}
