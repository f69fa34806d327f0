#!/usr/bin/env bash
# Installs and starts what the service and its tests need on a Debian machine:
# PostgreSQL 15 with PostGIS 3 (trust auth on 127.0.0.1), moto's S3 server, nginx and
# wrk for the replica tests and benchmarks, and for the API fuzz run schemathesis,
# openapi-python-client and the npm packages (openapi-typescript, openapi-fetch, tsc).
# Idempotent: a machine that has everything is left as it is.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
fail() { echo "deps: $*" >&2; exit 1; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq || fail "apt-get update failed (are Debian's package servers reachable?)"
    apt_updated=1
  fi
  echo "deps: installing $* (Debian packages)"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null \
    || fail "apt-get install $* failed; run scripts/deps.sh again once apt works"
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

# The Python tools live in a virtual environment of their own, .venv/ (Debian's python3
# refuses pip installs outside one, PEP 668); scripts/test.sh puts .venv/bin first on
# PATH, and the tests find .venv/bin/python3 themselves.
command -v python3 >/dev/null || apt_install python3
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
venv="$PWD/.venv"
if [ ! -x "$venv/bin/python3" ]; then
  echo "deps: creating the Python virtual environment .venv/"
  python3 -m venv "$venv" \
    || fail "python3 -m venv .venv failed; on Debian install python3-venv (apt-get install python3-venv) and run again"
fi
py="$venv/bin/python3"

# PACKAGE==VERSION (pinned: the API fuzz run's totals in the docs are these versions'),
# or PACKAGE and the module that proves it is installed.
pip_install() {
  echo "deps: installing $1 from PyPI into .venv/"
  "$py" -m pip install -q --disable-pip-version-check "$1" \
    || fail "pip could not install $1 into .venv/ (is PyPI reachable?); run scripts/deps.sh again once it is"
}
pip_module() { # PACKAGE MODULE
  "$py" -c "import $2" 2>/dev/null || pip_install "$1"
}
pip_pin() { # PACKAGE==VERSION
  "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('${1%%==*}') != '${1#*==}')" 2>/dev/null \
    || pip_install "$1"
}
pip_module 'moto[server]' moto.server # the S3 server of the bucket tests
pip_module pyyaml yaml                # scripts/check-docker.py reads compose.yaml
pip_pin schemathesis==4.32.5          # scripts/api-fuzz.sh
pip_pin openapi-python-client==0.29.1
command -v npm >/dev/null || apt_install nodejs npm
if [ ! node_modules/.package-lock.json -nt package-lock.json ]; then
  echo "deps: npm ci (package-lock.json)"
  npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed (is the npm registry reachable?)"
fi

# nginx balances the replicas in the standby test; wrk measures cached throughput.
command -v nginx >/dev/null || apt_install nginx
command -v wrk >/dev/null || apt_install wrk

# Prometheus (promtool) and Alertmanager for scripts/alerts-test.sh.
command -v promtool >/dev/null || apt_install prometheus
command -v prometheus-alertmanager >/dev/null || apt_install prometheus-alertmanager
