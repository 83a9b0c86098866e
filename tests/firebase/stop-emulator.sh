#!/usr/bin/env bash
# Stops the Firebase Auth Emulator that start-emulator.sh started (and its children).
set -euo pipefail

pid_file="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/emulator.pid"
[[ -f "$pid_file" ]] || exit 0
pid="$(cat "$pid_file")"
rm -f "$pid_file"
# The emulator runs in its own session, whose process group id is its pid.
kill -TERM -- "-$pid" 2>/dev/null || exit 0
for _ in $(seq 1 20); do
    kill -0 -- "-$pid" 2>/dev/null || exit 0
    sleep 0.5
done
kill -KILL -- "-$pid" 2>/dev/null || true
