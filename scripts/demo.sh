#!/usr/bin/env bash
# Command one: on a fresh Debian machine, install what is missing, create the database,
# build, migrate, drop a generated sample snapshot into the local bucket folder and start
# the server, which imports it at once (and then on INGEST_CRON) and serves the map.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
echo "demo: building the release binary (a first build compiles every crate: see the README for how long; cargo shows its progress)"
cargo build --release --locked
bin=target/release/fleettickets
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fleettickets}"
export BUCKET_DIR="${BUCKET_DIR:-./data/bucket}"
$bin migrate
# A snapshot named as the export names them: its EAT export time.
inbox="$BUCKET_DIR/automations/inc"
mkdir -p "$inbox"
$bin generate --rows "${DEMO_ROWS:-21312}" --seed 1 --out "$inbox/$(TZ=Africa/Nairobi date +%Y-%m-%dT%H%M%S).csv"
echo "serving on http://${LISTEN_ADDR:-127.0.0.1:8080}/ (Ctrl-C stops)"
exec $bin serve --ingest-on-start
