//! Import jobs: `POST /api/v1/admin/import` starts the bucket ingest in the background
//! (holding the importer's lock) and the job is polled until it is done or failed, so
//! an import is not bound by the request timeout. Jobs are kept in memory, the last
//! `KEPT` of this process.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use crate::db::lock::{IngestLock, LockError};
use crate::ingest::run::{Ingester, RunError, RunReport, RUN_PATIENCE};
use crate::supervise::Supervisor;

/// How many finished jobs are remembered.
const KEPT: usize = 20;

/// One import job as `GET /api/v1/admin/imports/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportJob {
    pub id: u64,
    #[serde(flatten)]
    pub state: JobState,
    /// RFC 3339, EAT.
    pub started_at: String,
    /// RFC 3339, EAT; once done or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// `ImportJob` as the OpenAPI document shows it: one flat object, since generated
/// clients cannot read a union flattened into an object. `status` says which of `report`
/// (done) or `error` and `detail` (failed) it carries.
#[derive(ToSchema)]
#[schema(as = ImportJob)]
pub struct ImportJobSchema {
    pub id: u64,
    pub status: JobStatus,
    /// RFC 3339, EAT.
    pub started_at: String,
    /// RFC 3339, EAT; once done or failed.
    pub finished_at: Option<String>,
    /// What happened to each pending snapshot (the report `import --from-bucket` prints).
    #[schema(value_type = Option<Object>)]
    pub report: Option<serde_json::Value>,
    pub error: Option<String>,
    pub detail: Option<String>,
}

/// Where a job is.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum JobStatus {
    Running,
    Done,
    Failed,
}

impl ImportJob {
    pub fn location(&self) -> String {
        format!("/api/v1/admin/imports/{}", self.id)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum JobState {
    Running,
    /// What happened to each pending snapshot (the report `import --from-bucket` prints).
    Done {
        report: RunReport,
    },
    /// The run stopped (the bucket or the database failed, or the server shut down):
    /// the snapshot it was on was rolled back and stays pending.
    /// (`error` and `detail` as in every error body, written out: generated clients
    /// cannot read a flattened one inside this union.)
    Failed {
        error: String,
        detail: String,
    },
}

/// What `start` did.
pub enum Started {
    Job(ImportJob),
    /// A job of this process is still running.
    AlreadyRunning(ImportJob),
    /// Another replica (or this one's schedule) holds the importer's lock.
    Locked,
}

#[derive(Clone, Default)]
pub struct ImportJobs(Arc<Mutex<Inner>>);

#[derive(Default)]
struct Inner {
    last_id: u64,
    jobs: VecDeque<ImportJob>,
}

impl ImportJobs {
    pub fn get(&self, id: u64) -> Option<ImportJob> {
        let inner = self.0.lock().expect("not poisoned");
        inner.jobs.iter().find(|j| j.id == id).cloned()
    }

    /// Starts an import job, unless one is running here or the lock is taken.
    pub async fn start(
        &self,
        ingester: &Ingester,
        supervisor: &Supervisor,
    ) -> sqlx::Result<Started> {
        if let Some(job) = self.running() {
            return Ok(Started::AlreadyRunning(job));
        }
        let lock = match IngestLock::acquire(&ingester.database_url, RUN_PATIENCE, || {}).await {
            Ok(lock) => lock,
            Err(LockError::Busy(_)) => return Ok(Started::Locked),
            Err(LockError::Database(e)) => return Err(e),
        };
        let job = self.insert();
        let id = job.id;
        let (jobs, cancelled, ingester) = (self.clone(), self.clone(), ingester.clone());
        let work = async move {
            let result = ingester.run_locked(lock).await;
            jobs.finish(id, result.map_err(|e| job_error(e).body()));
        };
        // The job's span is a child of the request's: its logs carry the request id.
        supervisor.spawn_once(
            work.instrument(tracing::info_span!("import_job", id)),
            move || {
                tracing::warn!(id, "import job cancelled by the shutdown; rolled back");
                cancelled.finish(
                    id,
                    Err(ErrorBody {
                        error: "cancelled".into(),
                        detail: "the server shut down during the import: it was rolled back \
                                 and its snapshot stays pending for the next run"
                            .into(),
                        parameter: None,
                    }),
                );
            },
        );
        Ok(Started::Job(job))
    }

    fn running(&self) -> Option<ImportJob> {
        let inner = self.0.lock().expect("not poisoned");
        let running = inner
            .jobs
            .iter()
            .find(|j| matches!(j.state, JobState::Running));
        running.cloned()
    }

    fn insert(&self) -> ImportJob {
        let mut inner = self.0.lock().expect("not poisoned");
        inner.last_id += 1;
        let job = ImportJob {
            id: inner.last_id,
            state: JobState::Running,
            started_at: crate::eat::rfc3339(Utc::now()),
            finished_at: None,
        };
        if inner.jobs.len() >= KEPT {
            inner.jobs.pop_front();
        }
        inner.jobs.push_back(job.clone());
        job
    }

    fn finish(&self, id: u64, result: Result<RunReport, ErrorBody>) {
        let mut inner = self.0.lock().expect("not poisoned");
        if let Some(job) = inner.jobs.iter_mut().find(|j| j.id == id) {
            job.state = match result {
                Ok(report) => JobState::Done { report },
                Err(e) => JobState::Failed {
                    error: e.error,
                    detail: e.detail,
                },
            };
            job.finished_at = Some(crate::eat::rfc3339(Utc::now()));
        }
    }
}

fn job_error(e: RunError) -> ApiError {
    match e {
        RunError::Database(e) => ApiError::from(e),
        RunError::Bucket(e) => ApiError::Bucket(e),
    }
}
