use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    fleettickets::memory::tune_allocator();
    fleettickets::telemetry::init();
    fleettickets::cli::run(fleettickets::cli::Cli::parse()).await
}
