#!/usr/bin/env bash
# The live map's browser tests: Debian's headless Chromium driven by playwright-core
# (no browser download) against real servers on a fresh database with the sample data.
# Installs what is missing first; idempotent. Run as root or with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq "$@" >/dev/null \
    || { as_root apt-get update -qq && as_root apt-get install -y -qq "$@" >/dev/null; }
}

scripts/deps.sh # PostgreSQL + PostGIS
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "browser-test: installing chromium and chromium-driver"
  apt_install chromium chromium-driver
fi
command -v npm >/dev/null || apt_install nodejs npm
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "browser-test: playwright-core needs Node.js 20 or later, found $(node --version)" >&2
  exit 1
fi

npm ci --no-audit --no-fund --loglevel=error
[ -x target/debug/fleettickets ] || cargo build --locked
node --test tests/browser/
