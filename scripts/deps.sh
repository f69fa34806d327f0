#!/usr/bin/env bash
# Installs and starts what the service and its tests need on a Debian machine:
# PostgreSQL 15 with PostGIS 3 (trust auth on 127.0.0.1), moto's S3 server, nginx and
# wrk for the replica tests and benchmarks, and for the API fuzz run schemathesis,
# openapi-python-client and the npm packages (openapi-typescript, openapi-fetch, tsc).
# Idempotent: a machine that has everything is left as it is.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL and PostGIS.
command -v pg_lsclusters >/dev/null || apt_install postgresql-15
PG_VERSION=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
[ -f "/usr/share/postgresql/$PG_VERSION/extension/postgis.control" ] \
  || apt_install "postgresql-$PG_VERSION-postgis-3"

if ! pg_lsclusters -h | grep -q .; then
  echo "deps: creating a PostgreSQL $PG_VERSION cluster (trust auth, local only)"
  as_root pg_createcluster "$PG_VERSION" main -- --auth=trust >/dev/null
fi
read -r ver name _port status _ < <(pg_lsclusters -h | head -n 1)
if [ "$status" != online ]; then
  echo "deps: starting PostgreSQL $ver/$name"
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p 5432

# moto's S3 server for the bucket tests.
if ! python3 -c 'import moto.server' 2>/dev/null; then
  echo "deps: installing moto[server] from PyPI"
  python3 -m pip install -q 'moto[server]' 2>&1 | grep -v 'running pip as the' || true
fi

# PyYAML for scripts/check-docker.py (compose.yaml).
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "deps: installing PyYAML from PyPI"
  python3 -m pip install -q pyyaml 2>&1 | grep -v 'running pip as the' || true
fi

# scripts/api-fuzz.sh: pinned, as the run's totals in the docs are this version's.
pip_pin() { # PACKAGE==VERSION
  python3 -c "import importlib.metadata as m, sys; sys.exit(m.version('${1%%==*}') != '${1#*==}')" 2>/dev/null && return
  echo "deps: installing $1 from PyPI"
  python3 -m pip install -q "$1" 2>&1 | grep -v 'running pip as the' || true
}
pip_pin schemathesis==4.32.5
pip_pin openapi-python-client==0.29.1
command -v npm >/dev/null || apt_install nodejs npm
if [ ! node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "deps: npm ci (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# nginx balances the replicas in the standby test; wrk measures cached throughput.
command -v nginx >/dev/null || apt_install nginx
command -v wrk >/dev/null || apt_install wrk

# Prometheus (promtool) and Alertmanager for scripts/alerts-test.sh.
command -v promtool >/dev/null || apt_install prometheus
command -v prometheus-alertmanager >/dev/null || apt_install prometheus-alertmanager
