#!/usr/bin/env python3
"""Groups a `perf record` of the load generator's `server` threads by what the time is spent on:
the tables of BENCHMARKS.md, "Where the heartbeat's time goes". Usage:

    cargo build --profile profiling -p integration-tests --bin loadgen
    target/profiling/loadgen peak --phases heartbeat-only --redis-url none --duration 12 &
    sleep 4; perf record -F 1999 -p "$(pgrep -f profiling/loadgen)" -o perf.data -- sleep 6
    python3 tests/perf/group-symbols.py perf.data

A symbol counts in the first group whose rule matches it, so the order of GROUPS matters. The
symbols left in "other" are listed, so a rule that misses something shows.
"""
import collections
import re
import subprocess
import sys

# (group, rule on (shared object, symbol)), first match wins.
GROUPS = [
    ("kernel: loopback TCP, syscalls, scheduling", lambda d, s: "kernel" in d or d == "[vdso]"),
    ("malloc / free / memcpy (libc)", lambda d, s: "libc" in d),
    ("Ed25519 (curve25519, SHA-512)", lambda d, s: any(k in s for k in ("curve25519", "ed25519", "sha512"))),
    ("the lease: SHA-256, base64, JSON claims", lambda d, s: any(k in s for k in ("sha2::sha256", "base64", "LeaseClaims", "leases::verified"))),
    ("hyper and httparse (HTTP/1.1)", lambda d, s: "hyper" in s or "httparse" in s or "http::" in s[:10]),
    ("the redis client", lambda d, s: "redis::" in s),
    ("the seat store (embedded map)", lambda d, s: "seats::embedded" in s),
    ("tracing (spans, log lines)", lambda d, s: "tracing" in s),
    ("axum / tower routing and our middleware", lambda d, s: any(k in s for k in ("axum", "tower", "shared::serving", "heartbeat::"))),
    ("tokio runtime", lambda d, s: "tokio" in s),
    ("other JSON (the response)", lambda d, s: "serde" in s),
]
LINE = re.compile(r"\s+([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)")


def main(data):
    report = subprocess.run(
        ["perf", "report", "-i", data, "--comm", "server", "--sort", "dso,sym",
         "--percentage", "relative", "--stdio", "-g", "none", "--no-children"],
        capture_output=True, text=True, check=True,
    ).stdout
    shares = collections.Counter()
    other = collections.Counter()
    for line in report.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        share, dso, symbol = float(match[1]), match[2], match[3].strip()
        group = next((name for name, rule in GROUPS if rule(dso, symbol)), "other")
        shares[group] += share
        if group == "other":
            other[symbol[:90]] += share
    for name, _ in GROUPS + [("other", None)]:
        print(f"{shares[name]:5.1f} %  {name}")
    print("largest in other:", ", ".join(f"{s} {p:.1f} %" for s, p in other.most_common(6)))


if __name__ == "__main__":
    main(sys.argv[1])
