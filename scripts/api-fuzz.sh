#!/usr/bin/env bash
# The API against its OpenAPI document: a server on a free port with a fresh database and
# a local bucket holding a generated snapshot, then schemathesis (every phase, a bounded
# number of examples per operation; tests/api-fuzz/hooks.py makes schema-valid cases obey
# the rules between parameters that their descriptions state), then the Python and
# TypeScript clients generated from the document (tests/clients/).
# FLEETTICKETS_BIN and FLEETTICKETS_GEN override the binaries (default target/debug/);
# API_FUZZ_PG the PostgreSQL server (default postgres://postgres@127.0.0.1:5432);
# API_FUZZ_EXAMPLES the examples per operation (default 300), API_FUZZ_SEED the seed (1).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.venv/bin:$PATH" # schemathesis and openapi-python-client (scripts/deps.sh)
bin=${FLEETTICKETS_BIN:-target/debug/fleettickets}
gen=${FLEETTICKETS_GEN:-target/debug/fleettickets-gen}
[ -x "$bin" ] && [ -x "$gen" ] || cargo build --locked --workspace --bins
pg=${API_FUZZ_PG:-postgres://postgres@127.0.0.1:5432}
db=ft_fuzz_$$
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

export DATABASE_URL="$pg/$db" BUCKET_DIR="$dir/bucket" LISTEN_ADDR="127.0.0.1:$port"
export INGEST_CRON=off RUST_LOG=warn
inbox="$BUCKET_DIR/automations/inc"
mkdir -p "$inbox"
"$bin" migrate >"$dir/serve.log" 2>&1 || { cat "$dir/serve.log" >&2; exit 1; }
"$gen" --rows 2000 --seed 7 --out "$inbox/$(TZ=Africa/Nairobi date +%Y-%m-%dT%H%M%S).csv"
"$bin" import --from-bucket --apply >>"$dir/serve.log" 2>&1 || { cat "$dir/serve.log" >&2; exit 1; }
"$bin" serve >>"$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/serve.log" >&2; exit 1; }
  sleep 0.1
done

# A ticket that exists, for the hooks to ask for.
ticket=$(curl -fsS "$base/api/v1/inc/nearest?lat=0&lon=37&limit=1" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["features"][0]["properties"]["ticket_id"])')
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_schema_conformance,positive_data_acceptance,negative_data_rejection
echo "api-fuzz: schemathesis against $base/openapi.json"
# Run from the temporary folder: schemathesis keeps its example database in the working one.
# Both Python tools run as modules, so that no PATH set-up (pyenv shims, ~/.local/bin) matters.
status=0
(
  cd "$dir"
  export API_FUZZ_TICKET_ID=$ticket SCHEMATHESIS_HOOKS="$root/tests/api-fuzz/hooks.py"
  python3 -m schemathesis.cli --config-file "$root/tests/api-fuzz/schemathesis.toml" \
    run "$base/openapi.json" \
    --checks "$checks" --max-examples "${API_FUZZ_EXAMPLES:-300}" --seed "${API_FUZZ_SEED:-1}" --no-color \
    --report json --report-json-path "$dir/report.json"
) || status=$?
python3 tests/api-fuzz/summary.py "$dir/report.json" "$checks" || status=1
if [ "$status" != 0 ]; then
  tail -n 50 "$dir/serve.log" >&2
  # A server that went away: say how (a signal is 128 + its number).
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" && code=0 || code=$?
    pid=
    echo "api-fuzz: the server exited with status $code" >&2
  fi
  exit 1
fi

# The clients generated from the served document, each calling the dashboard with typed
# arguments. Generated under target/ (ignored by git) so that node_modules resolves.
mkdir -p target
gen_dir=$(mktemp -d -p target api-clients.XXXXXX)
trap 'cleanup; rm -rf "$gen_dir"' EXIT
curl -fsS -o "$gen_dir/openapi.json" "$base/openapi.json"
python3 -m openapi_python_client generate --path "$gen_dir/openapi.json" --meta none --fail-on-warning \
  --output-path "$gen_dir/py/fleettickets_client" >/dev/null
python3 tests/clients/python_client.py "$base" "$gen_dir/py"
npx openapi-typescript "$gen_dir/openapi.json" -o "$gen_dir/ts/api.d.ts" >/dev/null
cp tests/clients/ts_client.ts tests/clients/tsconfig.json "$gen_dir/ts/"
npx tsc -p "$gen_dir/ts/tsconfig.json"
node "$gen_dir/ts/out/ts_client.js" "$base"
