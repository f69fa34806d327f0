#!/usr/bin/env bash
# The shipped alerting files with the real programs: promtool checks the rules and the
# example configuration and runs the rule tests (prometheus/alerts.test.yml); amtool
# checks the Alertmanager example. Then, end to end on 127.0.0.1 free ports: a
# fleettickets server whose bucket holds a good snapshot then a broken one, a real
# Prometheus scraping it with the shipped rules (IncImportFailing's `for:` shortened to
# the test's one-second schedule), a real Alertmanager with the shipped route, and a
# webhook receiver that must get IncImportFailing firing.
# FLEETTICKETS_BIN and FLEETTICKETS_GEN override the binaries (default target/debug/);
# ALERTS_TEST_PG the PostgreSQL server (default postgres://postgres@127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

echo "alerts-test: promtool and amtool on the shipped files"
promtool check rules prometheus/alerts.yml
promtool check config prometheus/prometheus.yml
(cd prometheus && promtool test rules alerts.test.yml)
amtool check-config alertmanager/alertmanager.yml

bin=${FLEETTICKETS_BIN:-target/debug/fleettickets}
gen=${FLEETTICKETS_GEN:-target/debug/fleettickets-gen}
[ -x "$bin" ] && [ -x "$gen" ] || cargo build --locked --workspace --bins
pg=${ALERTS_TEST_PG:-postgres://postgres@127.0.0.1:5432}
db=ft_alerts_$$
dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
app_port=$(free_port) prom_port=$(free_port) am_port=$(free_port) hook_port=$(free_port)
pids=()

cleanup() {
  set +e # a killed child's status must not end the clean-up early
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  psql "$pg/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "alerts-test: $1" >&2
  for log in "$dir"/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done
  exit 1
}

# Waits at most $1 seconds for the command after it to succeed.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# A good snapshot, then a broken one (no Ticket_ID column): the schedule imports the
# first and refuses the second, so the last import run failed.
inbox="$dir/bucket/automations/inc"
mkdir -p "$inbox"
"$gen" --rows 500 --seed 3 --out "$inbox/2026-06-16T071502.csv"
printf 'not,an,export\n1,2,3\n' >"$inbox/2026-06-16T081502.csv"

# The webhook receiver: each POST body appended, one per line, to hook.jsonl.
python3 - "$hook_port" "$dir/hook.jsonl" >"$dir/hook.log" 2>&1 <<'PY' &
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "a") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.end_headers()
http.server.HTTPServer(("127.0.0.1", port), Hook).serve_forever()
PY
pids+=($!)

DATABASE_URL="$pg/$db" BUCKET_DIR="$dir/bucket" LISTEN_ADDR="127.0.0.1:$app_port" \
  INGEST_CRON='* * * * * *' RUST_LOG=warn "$bin" serve >"$dir/serve.log" 2>&1 &
pids+=($!)

# The shipped configurations, pointed at this test's ports and made quick.
sed -e "s/127.0.0.1:5001/127.0.0.1:$hook_port/" -e 's/group_wait: 30s/group_wait: 1s/' \
  alertmanager/alertmanager.yml >"$dir/alertmanager.yml"
grep -q "127.0.0.1:$hook_port" "$dir/alertmanager.yml" || fail "the webhook URL was not replaced"
prometheus-alertmanager --config.file="$dir/alertmanager.yml" --storage.path="$dir/am" \
  --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= >"$dir/alertmanager.log" 2>&1 &
pids+=($!)

sed -e 's/for: 2h5m # threshold: just over 2 runs of INGEST_CRON/for: 3s/' prometheus/alerts.yml >"$dir/alerts.yml"
grep -q 'for: 3s' "$dir/alerts.yml" || fail "IncImportFailing's for: was not replaced"
sed -e 's/scrape_interval: 15s/scrape_interval: 1s/' -e 's/evaluation_interval: 15s/evaluation_interval: 1s/' \
  -e "s/127.0.0.1:9093/127.0.0.1:$am_port/" -e "s/127.0.0.1:8080/127.0.0.1:$app_port/" \
  prometheus/prometheus.yml >"$dir/prometheus.yml"
promtool check config "$dir/prometheus.yml" >/dev/null || fail "the test's Prometheus configuration is invalid"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prom" \
  --web.listen-address="127.0.0.1:$prom_port" >"$dir/prometheus.log" 2>&1 &
pids+=($!)

prom=http://127.0.0.1:$prom_port
query() { # PROMQL -> the first sample's value
  curl -fsS "$prom/api/v1/query" --data-urlencode "query=$1" \
    | python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
}
equals() { [ "$(query "$1")" = "$2" ]; }

echo "alerts-test: fleettickets :$app_port, Prometheus :$prom_port, Alertmanager :$am_port, webhook :$hook_port"
wait_for 60 equals 'up{job="fleettickets"}' 1 || fail "Prometheus does not scrape fleettickets"
wait_for 60 equals 'max(fleettickets_last_import_success)' 0 || fail "the failed import is not seen"
# Prometheus parsed the business gauges: the good snapshot's open tickets are all there.
open=$(curl -fsS "http://127.0.0.1:$app_port/api/v1/inc/dashboard" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["metrics"]["open_count"])')
[ "$open" -gt 0 ] || fail "the good snapshot has no open tickets"
wait_for 30 equals 'sum(fleettickets_open_tickets)' "$open" || fail "sum(fleettickets_open_tickets) is not $open"
delivered() {
  python3 - "$dir/hook.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    body = json.loads(line)
    if any(a["labels"]["alertname"] == "IncImportFailing" and a["status"] == "firing" for a in body["alerts"]):
        sys.exit(0)
sys.exit(1)
PY
}
wait_for 90 delivered || fail "IncImportFailing was not delivered to the webhook"
echo "alerts-test: IncImportFailing fired and reached the webhook through Alertmanager"
