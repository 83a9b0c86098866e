#!/usr/bin/env bash
# Fuzzes the local server on the embedded default against the committed OpenAPI document with
# schemathesis: every check, real credentials (hooks.py), bounded in time. Zero 5xx and zero
# responses that violate the document, or it fails.
#
#   bash tests/schemathesis/run.sh [--max-time SECONDS]   (default 120)
#
# Needs `st` (pip install schemathesis) on PATH or SCHEMATHESIS_BIN, and builds `local`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
MAX_TIME=120
[[ "${1:-}" == "--max-time" ]] && MAX_TIME="$2"
ST="${SCHEMATHESIS_BIN:-st}"

bash tests/build-binaries.sh
DATA_DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# A short request timeout keeps a hung request from hiding behind schemathesis's own.
# The rate limits off: the hooks acquire a fresh lease for many cases from one machine, and the
# fuzzing is of the document, not the limiter (seats_http::rate_limits tests that).
env -i PATH="$PATH" HOME="${HOME:-/tmp}" DATA_DIR="$DATA_DIR" PORT="$PORT" LOG_LEVEL=warn \
  ACQUIRE_RATE_PER_MACHINE=0 ACQUIRE_RATE_PER_SEAT=0 RELEASE_RATE_PER_MACHINE=0 \
  "${CARGO_TARGET_DIR:-target}/debug/local" >"$DATA_DIR/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA_DIR"' EXIT
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done

export SCHEMATHESIS_BASE_URL="http://127.0.0.1:$PORT"
export SCHEMATHESIS_HOOKS=hooks
export PYTHONPATH="$PWD/tests/schemathesis${PYTHONPATH:+:$PYTHONPATH}"
status=0
# Cleanup is served by the cleanup function only (local runs it on a timer), so local is not
# asked for it. Checkout and the Billing Portal call Stripe's API, which this run has none of (they
# would answer 503 billing_not_configured); tests/tests/billing_http tests them against a fake
# Stripe API instead.
"$ST" --config-file tests/schemathesis/schemathesis.toml run docs/openapi.json \
  --url "$SCHEMATHESIS_BASE_URL" \
  --checks all \
  --exclude-path /api/v1/tasks/cleanup \
  --exclude-path /api/v1/tenants/{tenant_id}/billing/checkout \
  --exclude-path /api/v1/tenants/{tenant_id}/billing/portal \
  --max-time "$MAX_TIME" \
  --workers 2 \
  --seed 20261201 \
  --suppress-health-check too_slow \
  --request-timeout 15 || status=$?
[[ -n "${SCHEMATHESIS_SERVER_LOG:-}" ]] && cp "$DATA_DIR/server.log" "$SCHEMATHESIS_SERVER_LOG"
if grep -q '"severity":"ERROR"' "$DATA_DIR/server.log"; then
  echo "the server logged errors while fuzzed:" >&2
  grep '"severity":"ERROR"' "$DATA_DIR/server.log" | head -20 >&2
  status=1
fi
exit "$status"
