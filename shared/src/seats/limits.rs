//! Rate limits on acquire and release: how often one machine, or the machines of one license, may
//! ask.
//!
//! The algorithm is GCRA (the generic cell rate algorithm, a token bucket kept as one number): a
//! limit of `calls` per `window` is a bucket of `calls` that refills one call every
//! `window / calls`. Each limited thing keeps its *theoretical arrival time* (TAT), in µs; a call
//! at `now` passes when `max(TAT, now) + interval - now <= window`, and then moves TAT on by one
//! interval. So `calls` may come at once, then one per interval; a call that does not pass
//! changes nothing and is told how long to wait. A TAT in the past is the same as none, so the
//! state of a limit expires by itself when its bucket is full again.
//!
//! Both seat stores run this check in the same atomic step as the seat decision it guards
//! (`rate.lua` in the acquire and release scripts on Redis, under the license's `{lic:<id>}` hash
//! tag; [`gcra`] itself in the embedded store), so a limited call costs one round trip and never
//! takes a seat or counts as a denial.

use std::time::Duration;

/// At most `calls` per `window` (a bucket of `calls` refilling one every `window / calls`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// The bucket's size: calls that may come at once.
    pub calls: u32,
    /// The time in which the bucket refills completely.
    pub window: Duration,
}

impl Rate {
    /// `calls` per `window`; `None` (no limit) when `calls` or `window` is zero.
    pub fn new(calls: u32, window: Duration) -> Option<Self> {
        (calls > 0 && !window.is_zero()).then_some(Self { calls, window })
    }

    /// The window in µs, as the stores count.
    pub fn window_us(self) -> i64 {
        i64::try_from(self.window.as_micros()).unwrap_or(i64::MAX)
    }

    /// The time one call's refill takes, in µs (at least 1).
    pub fn interval_us(self) -> i64 {
        (self.window_us() / i64::from(self.calls)).max(1)
    }
}

/// The limits an acquire is checked against (none by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AcquireLimits {
    /// Calls of one machine (user + fingerprint), whatever they lead to.
    pub per_machine: Option<Rate>,
    /// Calls of the license's machines that hold no seat (those that can cause a grant or a
    /// denial); a machine renewing its own seat is never refused by this limit, nor counted.
    pub per_license: Option<Rate>,
}

/// Which limit refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// The calling machine's own limit.
    Machine,
    /// The license's limit for machines without a seat.
    License,
}

impl LimitScope {
    /// The name the Redis scripts answer with.
    pub(super) fn parse(scope: &str) -> Option<Self> {
        match scope {
            "machine" => Some(Self::Machine),
            "license" => Some(Self::License),
            _ => None,
        }
    }
}

/// A call a limit refused: nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// The limit that refused it.
    pub scope: LimitScope,
    /// How long until a call would pass (by the store's clock, rounded up to whole µs).
    pub retry_after: Duration,
}

impl Limited {
    /// A refusal by `scope` that lasts `wait_us`.
    pub(super) fn after_us(scope: LimitScope, wait_us: i64) -> Self {
        Self {
            scope,
            retry_after: Duration::from_micros(u64::try_from(wait_us.max(1)).unwrap_or(1)),
        }
    }

    /// `Retry-After` in whole seconds, rounded up and at least 1, so a client that waits it finds
    /// the bucket refilled.
    pub fn retry_after_seconds(&self) -> u64 {
        self.retry_after.as_micros().div_ceil(1_000_000).max(1) as u64
    }
}

/// One GCRA step at `now_us` for a limit whose TAT is `tat_us` (`None` when it has none): the new
/// TAT when the call passes, or how many µs until one would.
///
/// The embedded store calls this; `rate.lua` is the same arithmetic for Redis.
pub fn gcra(tat_us: Option<i64>, rate: Rate, now_us: i64) -> Result<i64, i64> {
    let interval = rate.interval_us();
    let tat = tat_us.unwrap_or(now_us).max(now_us);
    let wait = tat + interval - now_us - rate.window_us();
    if wait > 0 {
        Err(wait)
    } else {
        Ok(tat + interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000_000_000;

    fn ten_a_minute() -> Rate {
        Rate::new(10, Duration::from_secs(60)).expect("a limit")
    }

    #[test]
    fn a_full_bucket_lets_its_size_through_at_once_then_one_per_interval() {
        let rate = ten_a_minute();
        let mut tat = None;
        for _ in 0..10 {
            tat = Some(gcra(tat, rate, NOW).expect("within the burst"));
        }
        let wait = gcra(tat, rate, NOW).expect_err("the eleventh waits");
        assert_eq!(wait, 6_000_000, "one interval: 60 s / 10");
        assert!(gcra(tat, rate, NOW + wait - 1).is_err());
        let after = gcra(tat, rate, NOW + wait).expect("one call after the interval");
        assert!(gcra(Some(after), rate, NOW + wait).is_err(), "and only one");
    }

    #[test]
    fn a_refused_call_changes_nothing_and_an_old_tat_counts_as_none() {
        let rate = ten_a_minute();
        // A full bucket: ten calls at once moved the TAT a whole window ahead.
        let mut tat = None;
        for _ in 0..10 {
            tat = Some(gcra(tat, rate, NOW).expect("within the burst"));
        }
        assert_eq!(tat, Some(NOW + 60_000_000));
        let wait = gcra(tat, rate, NOW).expect_err("the bucket is full");
        // A refusal gives no new TAT to keep, so calls after it compute from the unchanged one:
        // refused again they wait only what is left, and one interval on exactly one passes, as
        // if the refused calls had never come.
        assert_eq!(gcra(tat, rate, NOW), Err(wait));
        assert_eq!(gcra(tat, rate, NOW + 1_000), Err(wait - 1_000));
        assert_eq!(
            gcra(tat, rate, NOW + wait),
            Ok(NOW + 60_000_000 + 6_000_000)
        );

        assert_eq!(gcra(Some(NOW - 1), rate, NOW), gcra(None, rate, NOW));
        assert_eq!(gcra(None, rate, NOW), Ok(NOW + 6_000_000));
    }

    #[test]
    fn zero_calls_or_a_zero_window_is_no_limit() {
        assert_eq!(Rate::new(0, Duration::from_secs(60)), None);
        assert_eq!(Rate::new(10, Duration::ZERO), None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_and_is_never_zero() {
        let limited = |us| Limited::after_us(LimitScope::Machine, us);
        assert_eq!(limited(1).retry_after_seconds(), 1);
        assert_eq!(limited(6_000_000).retry_after_seconds(), 6);
        assert_eq!(limited(6_000_001).retry_after_seconds(), 7);
        assert_eq!(limited(0).retry_after_seconds(), 1);
    }
}
