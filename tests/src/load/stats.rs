//! Latencies and error codes per endpoint.
//!
//! Every client task keeps its own [`Stats`] (no lock on the hot path) and the phase merges them at
//! the end. Latencies are kept whole, in microseconds, and sorted once for the percentiles: a run of
//! a few million requests costs a few megabytes, and no histogram rounds the tail.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

/// The problem code a full pool answers with: expected under contention, never an error of the
/// service.
pub const SEATS_EXHAUSTED: &str = coditect_license::ProblemCode::SeatsExhausted.as_str();

/// The problem code of a call a rate limit refused: expected in a storm, never an error of the
/// service.
pub const RATE_LIMITED: &str = coditect_license::ProblemCode::RateLimited.as_str();

/// The three calls a CLI makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    /// `POST /api/v1/licenses/acquire`, or the acquire script.
    Acquire,
    /// `PUT /api/v1/licenses/heartbeat`, or the heartbeat script.
    Heartbeat,
    /// `DELETE /api/v1/licenses/release`, or the release script.
    Release,
    /// `GET /healthz`, or `PING`: what a request costs with no work behind it.
    Floor,
}

impl Endpoint {
    /// All of them, in report order.
    pub const ALL: [Self; 4] = [Self::Acquire, Self::Heartbeat, Self::Release, Self::Floor];

    /// The name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Acquire => "acquire",
            Self::Heartbeat => "heartbeat",
            Self::Release => "release",
            Self::Floor => "floor",
        }
    }
}

/// One endpoint's answers.
#[derive(Debug, Default, Clone)]
pub struct EndpointStats {
    /// Latency of every answered or failed call, in µs.
    latencies_us: Vec<u32>,
    /// Calls that did not succeed, by problem code (`transport`, `http_<status>` when there was
    /// no problem body).
    errors: BTreeMap<String, u64>,
}

impl EndpointStats {
    /// Records one call that took `elapsed` and failed with `error`, if it did.
    pub fn record(&mut self, elapsed: Duration, error: Option<&str>) {
        self.latencies_us
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        if let Some(code) = error {
            *self.errors.entry(code.to_owned()).or_default() += 1;
        }
    }

    fn merge(&mut self, other: Self) {
        self.latencies_us.extend(other.latencies_us);
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
    }

    /// The figures of this endpoint over a phase that lasted `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        let at = |q: f64| -> f64 {
            if sorted.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest latency at or above the q-th fraction of calls.
            let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
            f64::from(sorted[rank - 1]) / 1000.0
        };
        Summary {
            count: sorted.len() as u64,
            per_second: sorted.len() as f64 / elapsed.as_secs_f64().max(1e-9),
            p50_ms: at(0.50),
            p90_ms: at(0.90),
            p99_ms: at(0.99),
            max_ms: sorted.last().map_or(0.0, |&us| f64::from(us) / 1000.0),
            errors: self.errors.clone(),
        }
    }
}

/// What one client (or a whole phase, merged) saw.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Acquire calls.
    pub acquire: EndpointStats,
    /// Heartbeat calls.
    pub heartbeat: EndpointStats,
    /// Release calls.
    pub release: EndpointStats,
    /// `/healthz` or `PING` calls.
    pub floor: EndpointStats,
}

impl Stats {
    /// The figures of `endpoint`.
    pub fn of(&self, endpoint: Endpoint) -> &EndpointStats {
        match endpoint {
            Endpoint::Acquire => &self.acquire,
            Endpoint::Heartbeat => &self.heartbeat,
            Endpoint::Release => &self.release,
            Endpoint::Floor => &self.floor,
        }
    }

    /// Adds another client's figures.
    pub fn merge(&mut self, other: Self) {
        self.acquire.merge(other.acquire);
        self.heartbeat.merge(other.heartbeat);
        self.release.merge(other.release);
        self.floor.merge(other.floor);
    }
}

/// One endpoint's figures over a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Calls made.
    pub count: u64,
    /// Calls per second of phase time.
    pub per_second: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest call.
    pub max_ms: f64,
    /// Failed calls by code.
    pub errors: BTreeMap<String, u64>,
}

impl Summary {
    /// Failures other than a full pool or a rate limit: anything here is a defect or an overload.
    pub fn unexpected_errors(&self) -> u64 {
        self.errors
            .iter()
            .filter(|(code, _)| ![SEATS_EXHAUSTED, RATE_LIMITED].contains(&code.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Calls answered with `code`.
    pub fn answered(&self, code: &str) -> u64 {
        self.errors.get(code).copied().unwrap_or(0)
    }

    /// The error counts as `code=n code=n`, or `-`.
    pub fn errors_text(&self) -> String {
        if self.errors.is_empty() {
            return "-".into();
        }
        self.errors
            .iter()
            .map(|(code, n)| format!("{code}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// For the `--json` lines.
    pub fn to_json(&self) -> Value {
        json!({
            "count": self.count,
            "per_second": self.per_second,
            "p50_ms": self.p50_ms,
            "p90_ms": self.p90_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "errors": self.errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_and_rates_use_phase_time() {
        let mut stats = EndpointStats::default();
        for ms in 1..=98 {
            stats.record(Duration::from_millis(ms), None);
        }
        stats.record(Duration::from_millis(99), Some(SEATS_EXHAUSTED));
        stats.record(Duration::from_millis(100), Some("unavailable"));

        let summary = stats.summary(Duration::from_secs(2));

        assert_eq!(summary.count, 100);
        assert!((summary.per_second - 50.0).abs() < 1e-9);
        assert_eq!(summary.p50_ms, 50.0);
        assert_eq!(summary.p90_ms, 90.0);
        assert_eq!(summary.p99_ms, 99.0);
        assert_eq!(summary.max_ms, 100.0);
        assert_eq!(summary.unexpected_errors(), 1);
        assert_eq!(summary.errors_text(), "seats_exhausted=1 unavailable=1");
    }
}
