//! What a run prints: per phase and endpoint the rate, latency percentiles and errors of the
//! service and of raw Redis side by side, the service as a ratio of Redis, the invariant's
//! verdict, and the targets (printed, never asserted). Several runs fold into their medians.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::cpu::CpuUse;
use super::ledger::Verdict;
use super::run::{PhaseReport, RunReport, SideReport};
use super::scenario::Phase;
use super::stats::{Endpoint, RATE_LIMITED, SEATS_EXHAUSTED, Summary};

/// A target of issue 6: which endpoint, the least share of raw throughput, the most p99.
struct Target {
    endpoint: Endpoint,
    phase: Phase,
    min_share: f64,
    max_p99_ms: f64,
}

const TARGETS: [Target; 2] = [
    Target {
        endpoint: Endpoint::Heartbeat,
        phase: Phase::HeartbeatOnly,
        min_share: 0.50,
        max_p99_ms: 5.0,
    },
    Target {
        endpoint: Endpoint::Acquire,
        phase: Phase::AcquireOnly,
        min_share: 0.25,
        max_p99_ms: 15.0,
    },
];

/// The report of `run`, as printed; `label` says what it is (a run number, or "median of 5").
pub fn render(run: &RunReport, label: &str) -> String {
    let mut out = String::new();
    let s = &run.scenario;
    let w = &s.workload;
    let pace = if w.heartbeat_interval.is_zero() {
        "back to back".to_owned()
    } else {
        format!("every {} ms", w.heartbeat_interval.as_millis())
    };
    let per_session = w
        .heartbeats_per_session
        .map_or("held to the end".to_owned(), |n| format!("{n} per session"));
    let preset = super::scenario::Scenario::named(s.name).is_some_and(|p| p.workload == *w);
    let summary = if preset {
        s.summary
    } else {
        "the preset's fleet changed by flags, as below"
    };
    let _ = writeln!(out, "\n=== {} ({label}) — {summary}", s.name);
    let _ = writeln!(out, "    server: {}", run.target);
    let _ = writeln!(
        out,
        "    fleet: {} clients, {} licenses × {} seats, {} members each; heartbeats {pace}, \
         {per_session}; {} s per phase",
        w.clients,
        w.licenses,
        w.seats,
        w.members_per_license(),
        w.duration.as_secs_f64()
    );
    for phase in &run.phases {
        render_phase(&mut out, phase);
    }
    render_targets(&mut out, run);
    out
}

fn render_phase(out: &mut String, phase: &PhaseReport) {
    let _ = writeln!(
        out,
        "\n--- phase {} ({:.1} s)",
        phase.phase.name(),
        phase.http.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "{:<10} {:<5} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10}  errors",
        "endpoint", "side", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "vs raw"
    );
    for endpoint in Endpoint::ALL {
        let http = phase.http.of(endpoint);
        let raw = phase.raw.as_ref().map(|r| r.of(endpoint));
        if http.count == 0 && raw.is_none_or(|r| r.count == 0) {
            continue;
        }
        if let Some(raw) = raw {
            row(out, endpoint, "raw", raw, "");
        }
        let ratio = raw
            .filter(|r| r.per_second > 0.0)
            .map_or(String::new(), |r| {
                format!("{:.0} %", 100.0 * http.per_second / r.per_second)
            });
        row(out, endpoint, "http", http, &ratio);
    }
    for (side, report) in [("raw", phase.raw.as_ref()), ("http", Some(&phase.http))] {
        if let Some(report) = report {
            refusals_line(out, side, report);
        }
    }
    verdict_line(out, "http", &phase.http.verdict);
    if let Some(raw) = &phase.raw {
        verdict_line(out, "raw", &raw.verdict);
    }
    if let Some(raw) = &phase.raw {
        cpu_line(out, "raw", raw);
    }
    cpu_line(out, "http", &phase.http);
}

/// Where the CPU went: cores per side, and microseconds per request (of every endpoint). From
/// rates, so that a median report (median CPU, median rates) reads like one run.
fn cpu_line(out: &mut String, side: &str, report: &SideReport) {
    let Some(cpu) = report.cpu else {
        return;
    };
    let cores = cpu.cores(report.elapsed);
    let each = cores.per_request(report.rate());
    let mut parts = Vec::new();
    if let (Some(c), Some(e)) = (cores.server, each.server) {
        parts.push(format!("server {c:.2} cores = {e:.1} µs/request"));
    }
    parts.push(format!(
        "load generator {:.2} cores = {:.1} µs/request",
        cores.generator, each.generator
    ));
    if let (Some(c), Some(e)) = (cores.redis, each.redis) {
        parts.push(format!("redis {c:.2} cores = {e:.1} µs/request"));
    }
    let _ = writeln!(out, "cpu ({side}): {}", parts.join(", "));
}

fn row(out: &mut String, endpoint: Endpoint, side: &str, s: &Summary, ratio: &str) {
    let _ = writeln!(
        out,
        "{:<10} {:<5} {:>9.1} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10}  {}",
        endpoint.name(),
        side,
        s.per_second,
        s.p50_ms,
        s.p90_ms,
        s.p99_ms,
        s.max_ms,
        ratio,
        s.errors_text()
    );
}

/// Denied and rate-limited calls, apart from the error column, so a storm's shape reads at once.
fn refusals_line(out: &mut String, side: &str, report: &SideReport) {
    let (acquire, release) = (report.of(Endpoint::Acquire), report.of(Endpoint::Release));
    if acquire.count == 0 {
        return;
    }
    let share = |n: u64| 100.0 * n as f64 / acquire.count.max(1) as f64;
    let (denied, limited) = (
        acquire.answered(SEATS_EXHAUSTED),
        acquire.answered(RATE_LIMITED),
    );
    let _ = writeln!(
        out,
        "refusals ({side}): acquire {} calls, {denied} denied ({:.1} %), {limited} rate-limited \
         ({:.1} %); release {} rate-limited",
        acquire.count,
        share(denied),
        share(limited),
        release.answered(RATE_LIMITED)
    );
}

fn verdict_line(out: &mut String, side: &str, v: &Verdict) {
    let held = if v.held() {
        "held".to_owned()
    } else {
        format!("VIOLATED {} times", v.violations)
    };
    let _ = writeln!(
        out,
        "invariant ({side}): {held} — {} grants checked client-side, {} seat-store samples{}, \
         fullest license {}/{}",
        v.grants_checked,
        v.audits,
        if v.audit_failures > 0 {
            format!(" ({} reads FAILED)", v.audit_failures)
        } else {
            String::new()
        },
        v.fullest.0,
        v.fullest.1
    );
    for example in &v.examples {
        let _ = writeln!(out, "    {example}");
    }
}

fn render_targets(out: &mut String, run: &RunReport) {
    let clients = run.scenario.workload.clients;
    let _ = writeln!(
        out,
        "\ntargets (set for 50 closed-loop clients; this run had {clients}; printed, not asserted):"
    );
    if let Some(floor) = run.phases.iter().find(|p| p.phase == Phase::Floor) {
        let http = floor.http.of(Endpoint::Floor).per_second;
        if let Some(raw) = floor.raw.as_ref().map(|r| r.of(Endpoint::Floor).per_second)
            && raw > 0.0
        {
            let _ = writeln!(
                out,
                "  (the floor: GET /healthz reaches {:.0} % of PING, {http:.0}/s vs {raw:.0}/s: no \
                 endpoint can beat that share here)",
                100.0 * http / raw
            );
        }
    }
    for target in &TARGETS {
        let phase = run
            .phases
            .iter()
            .find(|p| p.phase == target.phase)
            .or_else(|| run.phases.iter().find(|p| p.phase == Phase::Lifecycle));
        let Some(phase) = phase else { continue };
        let http = phase.http.of(target.endpoint);
        let name = target.endpoint.name();
        match phase.raw.as_ref().map(|r| r.of(target.endpoint).per_second) {
            Some(raw) if raw > 0.0 => {
                let share = http.per_second / raw;
                let _ = writeln!(
                    out,
                    "  {name} throughput ≥ {:.0} % of raw EVALSHA: {:.0} % ({:.0}/s vs {raw:.0}/s, \
                     {} phase)  {}",
                    100.0 * target.min_share,
                    100.0 * share,
                    http.per_second,
                    phase.phase.name(),
                    verdict(share >= target.min_share)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "  {name} throughput: no raw baseline (set REDIS_URL or --redis-url)"
                );
            }
        }
        let _ = writeln!(
            out,
            "  {name} p99 ≤ {} ms: {:.2} ms  {}",
            target.max_p99_ms,
            http.p99_ms,
            verdict(http.p99_ms <= target.max_p99_ms)
        );
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "MET" } else { "MISSED" }
}

/// `runs` folded into one report whose every figure is the median of the runs' (errors and
/// violations summed, so none hides).
pub fn median(runs: &[RunReport]) -> Option<RunReport> {
    let first = runs.first()?;
    let phases = (0..first.phases.len())
        .map(|i| {
            let sides: Vec<&PhaseReport> = runs.iter().filter_map(|r| r.phases.get(i)).collect();
            let http: Vec<&SideReport> = sides.iter().map(|p| &p.http).collect();
            let raw: Vec<&SideReport> = sides.iter().filter_map(|p| p.raw.as_ref()).collect();
            PhaseReport {
                phase: first.phases[i].phase,
                http: median_side(&http),
                raw: (!raw.is_empty()).then(|| median_side(&raw)),
            }
        })
        .collect();
    Some(RunReport {
        scenario: first.scenario.clone(),
        target: first.target.clone(),
        phases,
    })
}

fn middle(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn median_side(sides: &[&SideReport]) -> SideReport {
    let endpoints = (0..sides[0].endpoints.len())
        .map(|e| {
            let all: Vec<&Summary> = sides.iter().map(|s| &s.endpoints[e]).collect();
            let of = |f: fn(&Summary) -> f64| middle(all.iter().map(|s| f(s)).collect());
            let mut errors = BTreeMap::new();
            for s in &all {
                for (code, n) in &s.errors {
                    *errors.entry(code.clone()).or_default() += n;
                }
            }
            Summary {
                count: all.iter().map(|s| s.count).sum(),
                per_second: of(|s| s.per_second),
                p50_ms: of(|s| s.p50_ms),
                p90_ms: of(|s| s.p90_ms),
                p99_ms: of(|s| s.p99_ms),
                max_ms: of(|s| s.max_ms),
                errors,
            }
        })
        .collect();
    let verdicts: Vec<&Verdict> = sides.iter().map(|s| &s.verdict).collect();
    let cpus: Vec<CpuUse> = sides.iter().filter_map(|s| s.cpu).collect();
    let optional = |f: fn(&CpuUse) -> Option<f64>| {
        let values: Vec<f64> = cpus.iter().filter_map(f).collect();
        (!values.is_empty()).then(|| middle(values))
    };
    let cpu = (!cpus.is_empty()).then(|| CpuUse {
        server: optional(|c| c.server),
        generator: middle(cpus.iter().map(|c| c.generator).collect()),
        redis: optional(|c| c.redis),
    });
    SideReport {
        elapsed: sides[0].elapsed,
        cpu,
        endpoints,
        verdict: Verdict {
            grants_checked: verdicts.iter().map(|v| v.grants_checked).sum(),
            audits: verdicts.iter().map(|v| v.audits).sum(),
            audit_failures: verdicts.iter().map(|v| v.audit_failures).sum(),
            violations: verdicts.iter().map(|v| v.violations).sum(),
            examples: verdicts.iter().flat_map(|v| v.examples.clone()).collect(),
            fullest: verdicts.iter().map(|v| v.fullest).max().unwrap_or((0, 0)),
        },
    }
}

/// One run as a JSON object, for `--json` (one line per run).
pub fn to_json(run: &RunReport) -> Value {
    let side = |s: &SideReport| {
        let mut endpoints = serde_json::Map::new();
        for endpoint in Endpoint::ALL {
            endpoints.insert(endpoint.name().into(), s.of(endpoint).to_json());
        }
        json!({
            "elapsed_s": s.elapsed.as_secs_f64(),
            "endpoints": endpoints,
            "violations": s.verdict.violations,
            "grants_checked": s.verdict.grants_checked,
            "audits": s.verdict.audits,
            "audit_failures": s.verdict.audit_failures,
            "cpu_seconds": s.cpu.map(|c| json!({
                "server": c.server, "load_generator": c.generator, "redis": c.redis,
            })),
        })
    };
    json!({
        "scenario": run.scenario.name,
        "target": run.target,
        "clients": run.scenario.workload.clients,
        "phases": run.phases.iter().map(|p| json!({
            "phase": p.phase.name(),
            "http": side(&p.http),
            "raw": p.raw.as_ref().map(side),
        })).collect::<Vec<_>>(),
    })
}
