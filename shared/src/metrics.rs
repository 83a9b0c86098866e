//! The operators' figures, counted in process and served as Prometheus text on a single-node
//! install (`METRICS_ADDRESS`; refused on Cloud Run, where the same figures are log-based metrics
//! in Cloud Monitoring, `terraform/modules/monitoring`).
//!
//! - `coditect_http_requests_total{method,route,status,code}`: every answer, by route template and
//!   problem code: denials (`seats_exhausted`, `license_suspended`, …) and rate-limited calls
//!   (`rate_limited`) are series of it.
//! - `coditect_http_request_duration_seconds{route}`: latency, acquire and heartbeat included.
//! - `coditect_seat_events_total{kind}`: grants, releases, expiries and denials as the cleanup task
//!   writes them to the audit trail (a denial count of N adds N), so they equal the trail.
//! - `coditect_seats_in_use{tier}`: seats held per license tier at the last cleanup run.
//!
//! One registry per process ([`global`]); counters only grow, so several services in one process
//! (the local server) add up.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The labels of one request counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RequestKey {
    method: String,
    route: String,
    status: u16,
    code: &'static str,
}

/// One route's latencies.
#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket of [`BUCKETS`], not cumulative; the `+Inf` bucket is `count`.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Figures {
    requests: HashMap<RequestKey, u64>,
    latency: HashMap<String, Histogram>,
    seat_events: BTreeMap<&'static str, u64>,
    seats_in_use: BTreeMap<String, u64>,
}

/// The process's counters.
#[derive(Debug, Default)]
pub struct Registry {
    figures: Mutex<Figures>,
}

/// The process's one registry.
pub fn global() -> &'static Registry {
    static GLOBAL: LazyLock<Registry> = LazyLock::new(Registry::default);
    &GLOBAL
}

impl Registry {
    fn figures(&self) -> std::sync::MutexGuard<'_, Figures> {
        self.figures.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one answer of `route` (its template, never the raw path) and its latency.
    pub fn request(
        &self,
        method: &str,
        route: &str,
        status: u16,
        code: Option<&'static str>,
        latency: Duration,
    ) {
        let key = RequestKey {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
            code: code.unwrap_or(""),
        };
        let seconds = latency.as_secs_f64();
        let mut figures = self.figures();
        *figures.requests.entry(key).or_default() += 1;
        let histogram = figures.latency.entry(route.to_owned()).or_default();
        if let Some(bucket) = BUCKETS.iter().position(|&bound| seconds <= bound) {
            histogram.buckets[bucket] += 1;
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    /// Adds `count` seat events of `kind` (`granted`, `released`, `expired`, `denied`).
    pub fn seat_events(&self, kind: &'static str, count: u64) {
        *self.figures().seat_events.entry(kind).or_default() += count;
    }

    /// Sets the seats in use per tier, as one cleanup run counted them (tiers it did not see are 0).
    pub fn seats_in_use(&self, by_tier: &BTreeMap<String, u64>) {
        let mut figures = self.figures();
        for held in figures.seats_in_use.values_mut() {
            *held = 0;
        }
        for (tier, held) in by_tier {
            figures.seats_in_use.insert(tier.clone(), *held);
        }
    }

    /// The figures in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let figures = self.figures();
        let mut out = String::new();
        out.push_str(
            "# HELP coditect_http_requests_total Answers by route, status and problem code.\n",
        );
        out.push_str("# TYPE coditect_http_requests_total counter\n");
        let mut requests: Vec<_> = figures.requests.iter().collect();
        requests.sort();
        for (key, count) in requests {
            let _ = writeln!(
                out,
                "coditect_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\",code=\"{}\"}} {count}",
                label(&key.method),
                label(&key.route),
                key.status,
                key.code,
            );
        }
        out.push_str("# HELP coditect_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE coditect_http_request_duration_seconds histogram\n");
        let mut latency: Vec<_> = figures.latency.iter().collect();
        latency.sort_by(|a, b| a.0.cmp(b.0));
        for (route, histogram) in latency {
            let route = label(route);
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "coditect_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "coditect_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 coditect_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 coditect_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count, histogram.sum, histogram.count
            );
        }
        out.push_str(
            "# HELP coditect_seat_events_total Seat events written to the audit trail, by kind.\n",
        );
        out.push_str("# TYPE coditect_seat_events_total counter\n");
        for (kind, count) in &figures.seat_events {
            let _ = writeln!(out, "coditect_seat_events_total{{kind=\"{kind}\"}} {count}");
        }
        out.push_str(
            "# HELP coditect_seats_in_use Seats held at the last cleanup run, by license tier.\n",
        );
        out.push_str("# TYPE coditect_seats_in_use gauge\n");
        for (tier, held) in &figures.seats_in_use {
            let _ = writeln!(
                out,
                "coditect_seats_in_use{{tier=\"{}\"}} {held}",
                label(tier)
            );
        }
        out
    }
}

/// A label value escaped as the exposition format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_render_as_prometheus_text() {
        let registry = Registry::default();
        let acquire = "/api/v1/licenses/acquire";
        registry.request("POST", acquire, 200, None, Duration::from_millis(3));
        registry.request(
            "POST",
            acquire,
            409,
            Some("seats_exhausted"),
            Duration::from_millis(40),
        );
        registry.request(
            "POST",
            acquire,
            409,
            Some("seats_exhausted"),
            Duration::from_secs(20),
        );
        registry.seat_events("denied", 7);
        registry.seat_events("denied", 3);
        registry.seats_in_use(&BTreeMap::from([("team".to_owned(), 4)]));
        registry.seats_in_use(&BTreeMap::from([("pro".to_owned(), 1)]));

        let text = registry.render();
        let has = |line: &str| assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        has(
            r#"coditect_http_requests_total{method="POST",route="/api/v1/licenses/acquire",status="409",code="seats_exhausted"} 2"#,
        );
        has(
            r#"coditect_http_requests_total{method="POST",route="/api/v1/licenses/acquire",status="200",code=""} 1"#,
        );
        has(
            r#"coditect_http_request_duration_seconds_bucket{route="/api/v1/licenses/acquire",le="0.005"} 1"#,
        );
        has(
            r#"coditect_http_request_duration_seconds_bucket{route="/api/v1/licenses/acquire",le="0.05"} 2"#,
        );
        has(
            r#"coditect_http_request_duration_seconds_bucket{route="/api/v1/licenses/acquire",le="10"} 2"#,
        );
        has(
            r#"coditect_http_request_duration_seconds_bucket{route="/api/v1/licenses/acquire",le="+Inf"} 3"#,
        );
        has(r#"coditect_http_request_duration_seconds_count{route="/api/v1/licenses/acquire"} 3"#);
        has(r#"coditect_seat_events_total{kind="denied"} 10"#);
        has(r#"coditect_seats_in_use{tier="team"} 0"#);
        has(r#"coditect_seats_in_use{tier="pro"} 1"#);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), r#"a\"b\\c\nd"#);
    }
}
