//! Time as the client trusts it.
//!
//! A person can set the wall clock back to stretch offline grace. [`TrustedTime`] keeps the latest
//! time it has reason to believe — the service's `Date` header, a verified lease's `iat` — and
//! advances it by a monotonic clock, which no one sets. Its "now" is the later of the wall clock
//! and that trusted time, so setting the clock back, before or during a run, gains nothing;
//! setting it forward only shortens the grace. The trusted time is saved in the seat file, so a
//! clock set back between runs is caught too.
//!
//! [`Clock`] is injectable: tests move the wall clock back and forth and the monotonic clock on.

use std::fmt::Debug;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// The two clocks the client reads.
pub trait Clock: Send + Sync + Debug {
    /// Wall-clock time (a person may set it).
    fn wall(&self) -> DateTime<Utc>;
    /// Time since an arbitrary start in this process; never goes back.
    fn monotonic(&self) -> Duration;
}

/// The operating system's clocks.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    /// Clocks starting now.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn wall(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn monotonic(&self) -> Duration {
        self.start.elapsed()
    }
}

/// The latest trusted time, advancing with the monotonic clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedTime {
    /// The latest trusted time seen…
    latest: Option<DateTime<Utc>>,
    /// …and the monotonic reading when it was seen.
    seen_at: Duration,
}

impl TrustedTime {
    /// Nothing trusted yet.
    pub fn none() -> Self {
        Self {
            latest: None,
            seen_at: Duration::ZERO,
        }
    }

    /// Resumes from a time saved by an earlier run (`None` when there was none).
    pub fn resume(saved: Option<DateTime<Utc>>, clock: &dyn Clock) -> Self {
        Self {
            latest: saved,
            seen_at: clock.monotonic(),
        }
    }

    /// The trusted time now, without the wall clock: what to save.
    pub fn trusted_now(&self, clock: &dyn Clock) -> Option<DateTime<Utc>> {
        let elapsed = clock.monotonic().saturating_sub(self.seen_at);
        self.latest
            .map(|latest| latest + chrono::Duration::from_std(elapsed).unwrap_or_default())
    }

    /// Now: the wall clock, unless it is behind the trusted time.
    pub fn now(&self, clock: &dyn Clock) -> DateTime<Utc> {
        let wall = clock.wall();
        match self.trusted_now(clock) {
            Some(trusted) if trusted > wall => trusted,
            _ => wall,
        }
    }

    /// Whether the wall clock is behind the trusted time by more than `tolerance` (set back).
    pub fn wall_clock_is_behind(&self, clock: &dyn Clock, tolerance: Duration) -> bool {
        let tolerance = chrono::Duration::from_std(tolerance).unwrap_or_default();
        self.trusted_now(clock)
            .is_some_and(|trusted| clock.wall() + tolerance < trusted)
    }

    /// Takes `seen` (a server `Date`, a lease `iat`) into account.
    pub fn observe(&mut self, seen: DateTime<Utc>, clock: &dyn Clock) {
        let current = self.trusted_now(clock);
        if current.is_none_or(|current| seen > current) {
            self.latest = Some(seen);
            self.seen_at = clock.monotonic();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Clocks a test moves by hand.
    #[derive(Debug)]
    pub(crate) struct ManualClock {
        state: Mutex<(DateTime<Utc>, Duration)>,
    }

    impl ManualClock {
        pub(crate) fn at(wall: DateTime<Utc>) -> Self {
            Self {
                state: Mutex::new((wall, Duration::ZERO)),
            }
        }

        /// Time passes: both clocks move on.
        pub(crate) fn pass(&self, by: Duration) {
            let mut state = self.state.lock().expect("lock");
            state.0 += chrono::Duration::from_std(by).expect("small");
            state.1 += by;
        }

        /// A person sets the wall clock; the monotonic clock does not move.
        pub(crate) fn set_wall(&self, wall: DateTime<Utc>) {
            self.state.lock().expect("lock").0 = wall;
        }
    }

    impl Clock for ManualClock {
        fn wall(&self) -> DateTime<Utc> {
            self.state.lock().expect("lock").0
        }
        fn monotonic(&self) -> Duration {
            self.state.lock().expect("lock").1
        }
    }

    fn noon() -> DateTime<Utc> {
        "2026-12-02T12:00:00Z".parse().expect("a time")
    }

    #[test]
    fn without_a_trusted_time_now_is_the_wall_clock() {
        let clock = ManualClock::at(noon());
        assert_eq!(TrustedTime::none().now(&clock), noon());
    }

    #[test]
    fn a_clock_set_back_during_a_run_does_not_turn_time_back() {
        let clock = ManualClock::at(noon());
        let mut trusted = TrustedTime::none();
        trusted.observe(noon(), &clock);
        clock.pass(Duration::from_secs(600));
        clock.set_wall(noon() - chrono::Duration::days(1));
        assert_eq!(trusted.now(&clock), noon() + chrono::Duration::minutes(10));
        assert!(trusted.wall_clock_is_behind(&clock, Duration::from_secs(60)));
    }

    #[test]
    fn a_clock_set_back_between_runs_is_floored_by_the_saved_time() {
        let first = ManualClock::at(noon());
        let mut trusted = TrustedTime::none();
        trusted.observe(noon() + chrono::Duration::minutes(5), &first);
        let saved = trusted.trusted_now(&first);

        let second = ManualClock::at(noon() - chrono::Duration::hours(3));
        let resumed = TrustedTime::resume(saved, &second);
        assert_eq!(resumed.now(&second), noon() + chrono::Duration::minutes(5));
    }

    #[test]
    fn a_wall_clock_ahead_of_the_trusted_time_is_used() {
        let clock = ManualClock::at(noon() + chrono::Duration::hours(1));
        let mut trusted = TrustedTime::none();
        trusted.observe(noon(), &clock);
        assert_eq!(trusted.now(&clock), noon() + chrono::Duration::hours(1));
        assert!(!trusted.wall_clock_is_behind(&clock, Duration::ZERO));
    }

    #[test]
    fn an_older_observation_never_moves_the_trusted_time_back() {
        let clock = ManualClock::at(noon());
        let mut trusted = TrustedTime::none();
        trusted.observe(noon(), &clock);
        trusted.observe(noon() - chrono::Duration::hours(2), &clock);
        assert_eq!(trusted.trusted_now(&clock), Some(noon()));
    }
}
