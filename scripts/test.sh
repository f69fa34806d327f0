#!/usr/bin/env bash
# The test command: dependencies, formatting, lints, then every test against a real
# PostgreSQL + PostGIS and a real S3 server on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# The Python tools of .venv/ (moto, schemathesis, PyYAML, openapi-python-client).
export PATH="$PWD/.venv/bin:$PATH"
echo "test: fmt, clippy, then cargo test (a first run compiles every crate twice, for clippy and for the tests; cargo shows its progress)"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
scripts/bare-binary-test.sh # the binary copied alone into an empty folder
scripts/api-fuzz.sh         # schemathesis and generated clients against the OpenAPI document
scripts/alerts-test.sh      # promtool/amtool on the shipped alerting files; Prometheus and Alertmanager end to end
scripts/check-docker.py     # Dockerfile and compose.yaml against the README and the binary
scripts/browser-test.sh
