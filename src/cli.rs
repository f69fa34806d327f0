//! The command line: `serve`, `migrate`, `import`, `history backfill`, `openapi`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::config::{BucketConfig, DatabaseConfig, GeocoderConfig, Settings};
use crate::db::lock::IngestLock;
use crate::geocode::run::{Geocoder, Steps};
use crate::ingest::bucket::Bucket;
use crate::ingest::run::{Ingester, Outcome, RunReport};
use crate::ingest::{self, ImportReport, Mode, Source};

#[derive(Parser, Debug)]
#[command(
    name = "fleettickets",
    version,
    about = "INC tickets for the FleetOps live map and Grafana"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply the migrations, then serve the HTTP API and ingest on schedule.
    Serve(Box<Settings>),
    /// Create the database if missing and apply the migrations (idempotent).
    Migrate {
        #[command(flatten)]
        db: DatabaseConfig,
    },
    /// Import one INC snapshot. A dry run unless --apply.
    Import(Box<ImportArgs>),
    /// The ticket history: replay the archive into it.
    #[command(subcommand)]
    History(HistoryCommand),
    /// Print the OpenAPI document (as committed in openapi/openapi.json).
    Openapi,
}

#[derive(Subcommand, Debug)]
pub enum HistoryCommand {
    /// Replay the archived snapshots (automations/inc/processed/) older than the recorded
    /// history into it, oldest first. A dry run unless --apply.
    Backfill(Box<BackfillArgs>),
}

/// What a command that may write takes: whether to write, how long to wait for the
/// ingest lock, and how to print its report.
#[derive(Args, Debug, Clone, Copy)]
pub struct WriteArgs {
    /// Write to the database; without it nothing is written.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: how long to wait for a running import, backfill or the server's
    /// ingester (they write one at a time) before giving up, in seconds.
    #[arg(long = "wait", value_name = "SECS", default_value_t = 300)]
    pub wait_secs: u64,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl WriteArgs {
    fn mode(self) -> Mode {
        if self.apply {
            Mode::Apply
        } else {
            Mode::DryRun
        }
    }

    /// For an applied run, the ingest lock, waited for (saying so once) up to `--wait`;
    /// a dry run takes none.
    async fn lock(self, db: &DatabaseConfig) -> anyhow::Result<Option<IngestLock>> {
        if !self.apply {
            return Ok(None);
        }
        let patience = std::time::Duration::from_secs(self.wait_secs);
        let lock = IngestLock::acquire(&db.database_url, patience, || {
            eprintln!(
                "waiting: another import, backfill or the server's ingester is writing (up to {}s, --wait)",
                self.wait_secs
            );
        });
        Ok(Some(lock.await?))
    }
}

#[derive(Args, Debug)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub write: WriteArgs,
    #[command(flatten)]
    pub db: DatabaseConfig,
    #[command(flatten)]
    pub bucket: BucketConfig,
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct ImportFrom {
    /// Import one snapshot file.
    #[arg(long, value_name = "FILE")]
    pub inc_csv: Option<PathBuf>,
    /// Import the pending snapshots of the bucket, oldest first, and archive them.
    #[arg(long)]
    pub from_bucket: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    #[command(flatten)]
    pub from: ImportFrom,
    #[command(flatten)]
    pub write: WriteArgs,
    /// After the import, geocode the clusters that have no cached answer.
    #[arg(long, requires = "apply")]
    pub geocode_clusters: bool,
    /// After the import, geocode the open tickets' locations that have no cached answer.
    #[arg(long, requires = "apply")]
    pub geocode_locations: bool,
    #[command(flatten)]
    pub db: DatabaseConfig,
    #[command(flatten)]
    pub bucket: BucketConfig,
    #[command(flatten)]
    pub geocoder: GeocoderConfig,
}

pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Serve(settings) => serve(&settings).await,
        Command::Migrate { db } => crate::db::migrate(&db).await.map(|_| {
            println!("migrations applied");
        }),
        Command::Import(args) => import(*args).await,
        Command::History(HistoryCommand::Backfill(args)) => backfill(*args).await,
        Command::Openapi => {
            print!("{}", crate::http::openapi::document());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", crate::telemetry::chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: &Settings) -> anyhow::Result<()> {
    crate::startup::Application::build(settings)
        .await?
        .run_until_stopped()
        .await
}

async fn import(args: ImportArgs) -> anyhow::Result<()> {
    let mode = args.write.mode();
    let pool = if args.write.apply {
        crate::db::migrate(&args.db).await?
    } else {
        let pool = crate::db::connect(&args.db).await.with_context(|| {
            format!(
                "cannot reach the database at {}",
                crate::db::describe(&args.db)
            )
        })?;
        crate::db::check_migrated(&pool).await?;
        pool
    };
    let lock = args.write.lock(&args.db).await?;
    if let Some(path) = &args.from.inc_csv {
        let report =
            ingest::import_file(&pool, path, Source::local_file(path), lock.as_ref()).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        let report = report?;
        if args.write.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print!("{}", render_report(&report));
        }
    } else {
        let ingester = Ingester {
            seal_sla_target_hours: None,
            retention_days: None,
            pool: pool.clone(),
            bucket: Bucket::from_config(&args.bucket)?,
            metrics: Default::default(),
            database_url: args.db.database_url.clone(),
            geocode: None,
        };
        let run = match lock {
            Some(lock) => ingester.run_locked(lock).await?,
            None => ingester.run(Mode::DryRun).await?,
        };
        if args.write.json {
            println!("{}", serde_json::to_string_pretty(&run)?);
        } else {
            print!("{}", render_run(&run, ingester.bucket.description(), mode));
        }
    }
    let steps = match (args.geocode_clusters, args.geocode_locations) {
        (true, true) => Some(Steps::Both),
        (true, false) => Some(Steps::Clusters),
        (false, true) => Some(Steps::Locations),
        (false, false) => None,
    };
    if let Some(steps) = steps {
        let geocoder = Geocoder {
            pool,
            config: args.geocoder.clone(),
            metrics: Default::default(),
            database_url: args.db.database_url.clone(),
        };
        let report = geocoder.run(steps).await?;
        if args.write.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!(
                "geocoding {} calls: {} found, {} not found, {} rejected (over 25 km from the cluster), {} failed; {} points changed{}",
                report.calls, report.found, report.not_found, report.rejected, report.failed, report.points_changed,
                report.stopped.map(|why| format!("; stopped: {why}")).unwrap_or_default()
            );
        }
    }
    Ok(())
}

async fn backfill(args: BackfillArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let pool = crate::db::connect(&args.db)
        .await
        .context("cannot reach the database")?;
    crate::db::check_migrated(&pool).await?;
    let bucket = Bucket::from_config(&args.bucket)?;
    let lock = args.write.lock(&args.db).await?;
    let terminal = std::io::stderr().is_terminal();
    let report = crate::ingest::backfill::run(&pool, &bucket, lock.as_ref(), |step| {
        if terminal {
            crate::ingest::progress::draw(step);
        }
    })
    .await;
    if let Some(lock) = lock {
        lock.release().await;
    }
    let report = report?;
    if args.write.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!("bucket    {}", bucket.description());
    if !report.applied {
        println!("DRY RUN: nothing was written (add --apply to backfill)");
    }
    let verb = if report.applied { "added" } else { "would add" };
    println!(
        "history   {} archived snapshots replayed: {verb} {} versions; capture starts at {}",
        report.snapshots,
        report.versions,
        report
            .capture_started_at
            .map_or_else(|| "(nothing recorded)".into(), crate::eat::rfc3339)
    );
    for (key, why) in &report.skipped {
        println!("skipped   {key}: {why}");
    }
    Ok(())
}

/// The operator's summary of a bucket run.
pub fn render_run(run: &RunReport, bucket: &str, mode: Mode) -> String {
    let mut out = format!("bucket    {bucket}\n");
    if run.skipped_locked {
        out.push_str("skipped   another replica is importing right now\n");
        return out;
    }
    if mode == Mode::DryRun {
        out.push_str("DRY RUN: nothing was written or moved (add --apply to import); each snapshot is compared with the store as it is now\n");
    }
    if run.snapshots.is_empty() {
        out.push_str("no pending snapshots\n");
    }
    for s in &run.snapshots {
        out.push_str(&format!("\n== {} (etag {})\n", s.key, s.etag));
        match &s.outcome {
            Outcome::Imported { report } => out.push_str(&render_report(report)),
            Outcome::Unchanged => out.push_str(
                "unchanged: same ETag as the last imported snapshot, so no database write\n",
            ),
            Outcome::Failed { error } if mode == Mode::DryRun => out.push_str(&format!(
                "refused (would be set aside in failed/ with --apply): {error}\n"
            )),
            Outcome::Failed { error } => {
                out.push_str(&format!("refused (set aside in failed/): {error}\n"))
            }
        }
    }
    out
}

/// The operator's summary of one import (or dry run).
pub fn render_report(r: &ImportReport) -> String {
    let s = &r.stats;
    let c = &r.changes;
    let mut out = String::new();
    if !r.applied {
        out.push_str("DRY RUN: nothing was written (add --apply to import)\n");
    }
    out.push_str(&format!("snapshot  {} (etag {})\n", r.source_key, r.etag));
    if let Some(f) = &r.future_snapshot {
        out.push_str(&format!(
            "WARNING   its name says {}, after this import's clock: recorded at {} instead (is the exporter's clock or time zone wrong?)\n",
            crate::eat::rfc3339(f.named),
            crate::eat::rfc3339(f.recorded_at)
        ));
    }
    out.push_str(&format!(
        "rows      {} read, {} kept; dropped: {} alarm, {} sentinel, {} empty ticket_id\n",
        s.rows_read, s.rows_kept, s.dropped_alarm, s.dropped_sentinel, s.dropped_empty_id
    ));
    if s.truncated {
        out.push_str("truncated the export hit its row limit (EXPORT STOPPED): tickets missing from it are kept\n");
    }
    out.push_str(&format!("warnings  {}\n", s.warnings));
    for w in &s.warning_samples {
        out.push_str(&format!("          {w}\n"));
    }
    if s.warnings > s.warning_samples.len() as u64 {
        out.push_str(&format!(
            "          … and {} more\n",
            s.warnings - s.warning_samples.len() as u64
        ));
    }
    let verb = if r.applied { "" } else { "would be " };
    out.push_str(&format!(
        "tickets   {} distinct ({} repeated ids, the later row wins): {verb}{} new, {} updated, {} unchanged, {} kept because the stored row is newer\n",
        c.tickets,
        s.rows_kept as i64 - c.tickets,
        c.new,
        c.updated,
        c.unchanged,
        c.skipped_older
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::clean::RowStats;
    use crate::ingest::run::SnapshotOutcome;

    fn report(warnings: u64, samples: usize) -> ImportReport {
        ImportReport {
            source_key: "s.csv".into(),
            etag: "e".into(),
            stats: RowStats {
                warnings,
                warning_samples: (1..=samples).map(|i| format!("line {i}: w")).collect(),
                ..RowStats::default()
            },
            changes: Default::default(),
            applied: false,
            import_id: None,
            future_snapshot: None,
        }
    }

    #[test]
    fn warnings_beyond_the_samples_are_counted_not_hidden() {
        let text = render_report(&report(35, 10));
        assert!(text.contains("warnings  35\n"), "{text}");
        assert_eq!(text.matches("          line ").count(), 10);
        assert!(text.contains("          … and 25 more\n"), "{text}");
        assert!(!render_report(&report(3, 3)).contains("more"));
    }

    #[test]
    fn a_dry_run_says_what_would_be_set_aside() {
        let run = RunReport {
            skipped_locked: false,
            snapshots: vec![SnapshotOutcome {
                key: "k".into(),
                etag: "e".into(),
                outcome: Outcome::Failed {
                    error: "bad".into(),
                },
            }],
        };
        let dry = render_run(&run, "b", Mode::DryRun);
        assert!(dry.contains("refused (would be set aside in failed/ with --apply): bad"));
        let applied = render_run(&run, "b", Mode::Apply);
        assert!(applied.contains("refused (set aside in failed/): bad"));
    }
}
