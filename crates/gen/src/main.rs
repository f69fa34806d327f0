//! `fleettickets-gen`: realistic generated INC snapshots for tests, demos and benchmarks
//! (test tooling, kept out of the operator's `fleettickets` binary).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Parser;
use fleettickets_gen::{self as generate, SeriesSpec, Spec};

#[derive(Parser, Debug)]
#[command(
    name = "fleettickets-gen",
    version,
    about = "Write realistic generated INC snapshots"
)]
struct Args {
    /// Data rows to write (the sentinel, if any, comes on top).
    #[arg(long, default_value_t = 21_312)]
    rows: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Export time (RFC 3339) of the (first) snapshot; tickets are created before it.
    /// Default: now.
    #[arg(long)]
    as_of: Option<DateTime<Utc>>,
    /// End with the `EXPORT STOPPED` sentinel.
    #[arg(long)]
    truncated: bool,
    /// Output file (default: standard output). Not with --series.
    #[arg(long, value_name = "FILE", conflicts_with = "series")]
    out: Option<PathBuf>,
    /// Write an hourly series of this many snapshots into --out-dir, named as the
    /// export names them.
    #[arg(long, value_name = "N", requires = "out_dir")]
    series: Option<u32>,
    /// The folder the series goes to (e.g. a bucket folder's automations/inc/).
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
    /// The share of tickets changed each hour in a series.
    #[arg(long, default_value_t = 0.03)]
    change_rate: f64,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let spec = Spec {
        rows: args.rows,
        seed: args.seed,
        as_of: args.as_of.unwrap_or_else(Utc::now),
        truncated: args.truncated,
    };
    if let (Some(snapshots), Some(dir)) = (args.series, &args.out_dir) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let series = SeriesSpec {
            base: spec,
            snapshots,
            change_rate: args.change_rate,
            identical_at: None,
            stale_at: None,
        };
        return generate::series(&series, |name, body| std::fs::write(dir.join(name), body))
            .context("cannot write the series");
    }
    match &args.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            generate::write(&spec, std::io::BufWriter::new(file))?;
        }
        None => generate::write(&spec, std::io::stdout().lock())?,
    }
    Ok(())
}
