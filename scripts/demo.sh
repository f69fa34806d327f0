#!/usr/bin/env bash
# Command one: on a fresh Debian machine, install what is missing, create the database,
# build, migrate, import a generated sample snapshot and start the server.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --locked
command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq nodejs npm; }
npm ci --omit=dev --no-audit --no-fund --loglevel=error # the map's Leaflet, served under /vendor/
bin=target/release/fleettickets
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/fleettickets}"
$bin migrate
mkdir -p data
$bin generate --rows "${DEMO_ROWS:-21312}" --seed 1 --out data/demo-snapshot.csv
$bin import --inc-csv data/demo-snapshot.csv --apply
echo "serving on http://${LISTEN_ADDR:-127.0.0.1:8080}/ (Ctrl-C stops)"
exec $bin serve
