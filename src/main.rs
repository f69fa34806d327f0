use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    fleettickets::memory::return_large_blocks();
    fleettickets::telemetry::init();
    fleettickets::cli::run(fleettickets::cli::Cli::parse()).await
}
