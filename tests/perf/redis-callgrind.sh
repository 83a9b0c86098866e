#!/usr/bin/env bash
# Instructions Redis executes per EVALSHA of the seat scripts, counted by callgrind: the figure of
# BENCHMARKS.md, "The fair queue's acquire". Instruction counts do not depend on what else the
# machine is doing, so a before/after pair can be taken on a busy host. Usage:
#
#   tests/perf/redis-callgrind.sh LOADGEN LABEL LOADGEN-ARGS...
#   tests/perf/redis-callgrind.sh target/debug/loadgen denial contention --heartbeats hold \
#       --heartbeat-interval 60000 --clients 30 --duration 10
#   tests/perf/redis-callgrind.sh target/debug/loadgen grant peak --phases acquire-only \
#       --licenses 10 --clients 10 --duration 10
#
# It starts a private redis-server under callgrind (PORT, default 6390; never the shared one),
# points the load generator's raw EVALSHA baseline at it with the service on the embedded default
# (so only the baseline talks to this Redis), then prints EVALSHA calls, the inclusive instructions
# of `evalShaCommand`, their ratio, and the whole process's instructions per call.
set -euo pipefail
loadgen="$1" label="$2"; shift 2
port="${PORT:-6390}"
work="$(mktemp -d)"
trap 'redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" \
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" \
  >"$work/valgrind.log" 2>&1 &
redis_pid=$!
for _ in $(seq 120); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.5; done
redis-cli -p "$port" ping >/dev/null || { echo "redis-server under callgrind did not start" >&2; exit 1; }

"$loadgen" "$@" --backend embedded --redis-url "redis://127.0.0.1:$port" >"$work/loadgen.log" 2>&1 ||
  { echo "the load generator failed; its output:" >&2; cat "$work/loadgen.log" >&2; exit 1; }

calls="$(redis-cli -p "$port" info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait "$redis_pid" || true
[ -n "$calls" ] && [ "$calls" -gt 0 ] || { echo "no EVALSHA reached Redis" >&2; exit 1; }

annotated="$(callgrind_annotate --inclusive=yes "$work/cg.out")"
eval_ir="$(grep -m1 -E '[[:space:]][^[:space:]]*:evalShaCommand( |$)' <<<"$annotated" | awk '{gsub(",", "", $1); print $1}')"
total_ir="$(sed -n 's/^summary: *//p' "$work/cg.out" | awk '{print $1}')"
[ -n "$eval_ir" ] || { echo "evalShaCommand is not in the profile" >&2; exit 1; }
printf '%s: %s EVALSHA, %s Ir in evalShaCommand = %s Ir per call; whole process %s Ir per call\n' \
  "$label" "$calls" "$eval_ir" "$((eval_ir / calls))" "$((total_ir / calls))"
