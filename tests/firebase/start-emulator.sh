#!/usr/bin/env bash
# Starts the Firebase Auth Emulator in the background for the end-to-end identity tests
# (tests/tests/firebase_emulator.rs), waits until it answers, and prints its host (127.0.0.1:9099):
#
#   export FIREBASE_AUTH_EMULATOR_HOST="$(bash tests/firebase/start-emulator.sh)"
#   cargo nextest run -p integration-tests --test firebase_emulator
#   bash tests/firebase/stop-emulator.sh
#
# Only the auth emulator runs, which is plain Node (no Java). firebase-tools is pinned in
# package.json / package-lock.json and installed into node_modules on first use. An emulator that
# already answers on the port is reused. Its log is tests/firebase/emulator.log.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
host="127.0.0.1:9099" # Must match emulators.auth in firebase.json.
log="$here/emulator.log"
pid_file="$here/emulator.pid"

answers() {
    curl -fsS --max-time 2 "http://$host/" 2>/dev/null | grep -q '"authEmulator"'
}

if answers; then
    echo "$host"
    exit 0
fi

if [[ ! -x node_modules/.bin/firebase ]]; then
    echo "installing firebase-tools into $here/node_modules" >&2
    npm ci --no-audit --no-fund --loglevel=error >&2
fi

# Its own session, so stop-emulator.sh can end the emulator and its children together.
NO_UPDATE_NOTIFIER=1 setsid node_modules/.bin/firebase emulators:start \
    --only auth --project demo-coditect >"$log" 2>&1 </dev/null &
echo $! >"$pid_file"

# Startup waits for a remote-config fetch that cannot succeed offline: allow two minutes.
for _ in $(seq 1 120); do
    if answers; then
        echo "$host"
        exit 0
    fi
    if ! kill -0 "$(cat "$pid_file")" 2>/dev/null; then
        echo "the Firebase Auth Emulator exited; its log ($log):" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 1
done
echo "the Firebase Auth Emulator did not answer on $host within 120 s; its log ($log):" >&2
cat "$log" >&2
exit 1
