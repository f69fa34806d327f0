#!/usr/bin/env bash
# The binary alone: copied into an empty folder (no repository, no static/, no
# node_modules/ around it) and run with a bare environment, it migrates a fresh database
# and serves the map, its libraries, /docs, the OpenAPI document and the API.
# FLEETTICKETS_BIN overrides the binary (default target/debug/fleettickets);
# BARE_TEST_PG the PostgreSQL server (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${FLEETTICKETS_BIN:-target/debug/fleettickets}
[ -x "$bin" ] || cargo build --locked --bin fleettickets
pg=${BARE_TEST_PG:-postgres://postgres@127.0.0.1:5432}
db=ft_bare_$$
dir=$(mktemp -d)
cp "$bin" "$dir/fleettickets"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

cd "$dir"
# Nothing from the caller's environment (no STATIC_DIR, no RUST_LOG, no proxy).
bare=(env -i PATH=/usr/bin:/bin HOME="$dir" TZ=Africa/Nairobi DATABASE_URL="$pg/$db"
  LISTEN_ADDR="127.0.0.1:$port" INGEST_CRON=off)
"${bare[@]}" ./fleettickets migrate >"$dir/serve.log" 2>&1 || { cat "$dir/serve.log" >&2; exit 1; }
"${bare[@]}" ./fleettickets serve >>"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$base/healthz" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
  sleep 0.1
done

failures=0
# check PATH CONTENT_TYPE_PREFIX TEXT_IN_BODY
check() {
  local out status type
  out=$(curl -sS -o "$dir/body" -w '%{http_code} %{content_type}' "$base$1")
  status=${out%% *}
  type=${out#* }
  if [ "$status" != 200 ] || [[ "$type" != "$2"* ]] || ! grep -qF -- "$3" "$dir/body"; then
    echo "bare-binary: FAIL $1: HTTP $status, $type (wanted 200, $2, a body with \"$3\")" >&2
    failures=$((failures + 1))
  else
    echo "bare-binary: ok $1 ($type)"
  fi
}
check / 'text/html' 'Live INC map'
check /app.js 'text/javascript' 'window.__fleet'
check /vendor/leaflet-1.9.4/leaflet.js 'text/javascript' 'Leaflet'
check /vendor/leaflet.markercluster-1.5.3/leaflet.markercluster.js 'text/javascript' 'markerClusterGroup'
check /docs/ 'text/html' 'swagger-ui'
check /openapi.json 'application/json' '"openapi": "3.1'
check /map-config.json 'application/json' '"refresh_secs"'
check '/api/v1/inc/dashboard?window=today' 'application/json' '"metrics"'
check /readyz 'application/json' ''
# Only the binary and the local-folder bucket it creates were in the folder.
extra=$(find . -mindepth 1 -maxdepth 1 ! -name fleettickets ! -name serve.log ! -name body ! -name data)
[ -z "$extra" ] || { echo "bare-binary: unexpected files: $extra" >&2; failures=$((failures + 1)); }
[ "$failures" = 0 ] || { cat "$dir/serve.log" >&2; exit 1; }
echo "bare-binary: the copied binary alone serves the map, /docs, the OpenAPI document and the API"
