#!/usr/bin/env bash
# The Stripe interop test: starts the local server (built by cargo) with a webhook secret on a
# free port, and has Stripe's official Node library (npm `stripe`, pinned in package.json and
# package-lock.json, installed into node_modules on first use) sign deliveries for it
# (interop.mjs). Run from anywhere: `bash tests/stripe/run.sh`. Its server log is
# tests/stripe/server.log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ ! -d "$here/node_modules/stripe" ]]; then
    echo "installing stripe-node into $here/node_modules" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

(cd "$root" && bash tests/build-binaries.sh)
target_dir="$(cd "$root" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
binary="$target_dir/debug/local"

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
data_dir="$(mktemp -d)"
log="$here/server.log"
# Two secrets, as while one rolls: interop.mjs signs with the last.
secret="whsec_old_interop,whsec_$(python3 -c 'import secrets; print(secrets.token_hex(16))')"

# Only billing's own variables and the embedded default: nothing of the caller's environment
# (DATABASE_URL, REDIS_URL in CI) leaks into this server.
env -i PATH="$PATH" HOME="${HOME:-/tmp}" PORT="$port" DATA_DIR="$data_dir" \
    STRIPE_WEBHOOK_SECRET="$secret" STRIPE_PRICE_TIERS="price_interop=PRO" \
    LICENSE_CACHE_SECONDS=0 LOG_LEVEL=warn \
    "$binary" >"$log" 2>&1 &
server=$!
cleanup() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -rf "$data_dir"
}
trap cleanup EXIT

for _ in $(seq 1 60); do
    if curl -fsS --max-time 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$server" 2>/dev/null; then
        echo "the local server exited; its log ($log):" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.5
done

BASE_URL="http://127.0.0.1:$port" STRIPE_WEBHOOK_SECRET="$secret" node "$here/interop.mjs"
if grep -q "whsec_" "$log"; then
    echo "the server log contains a webhook secret" >&2
    exit 1
fi
