//! Exponential backoff with jitter, honouring `Retry-After`.
//!
//! The n-th retry waits a random time in `[d/2, d]` where `d = min(cap, base · 2ⁿ)` ("equal
//! jitter": never less than half the step, so a herd of clients that failed together spreads out
//! without any of them hammering). A `Retry-After` from the service is a floor: the wait is never
//! shorter than what the service asked for, bounded by [`MAX_RETRY_AFTER`] so a hostile or broken
//! header cannot park the client for days.

use std::time::Duration;

use rand::Rng;

/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// A backoff sequence.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The first step.
    base: Duration,
    /// The longest step.
    cap: Duration,
    /// Retries so far.
    attempt: u32,
}

impl Backoff {
    /// A sequence starting at `base`, doubling up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap: cap.max(base),
            attempt: 0,
        }
    }

    /// How long to wait before the next try, with `retry_after` from the last answer.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let unit = rand::thread_rng().gen_range(0.0..=1.0);
        let delay = delay(self.base, self.cap, self.attempt, retry_after, unit);
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// Retries so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Starts over (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// The wait before retry number `attempt` (0-based), for a random `unit` in `[0, 1]`.
pub fn delay(
    base: Duration,
    cap: Duration,
    attempt: u32,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    let step = base
        .checked_mul(2u32.saturating_pow(attempt.min(30)))
        .unwrap_or(cap)
        .min(cap.max(base));
    let jittered = step.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0));
    match retry_after {
        Some(asked) => jittered.max(asked.min(MAX_RETRY_AFTER)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(1);
    const CAP: Duration = Duration::from_secs(60);

    #[test]
    fn each_step_doubles_within_half_and_whole_of_it() {
        for attempt in 0..6 {
            let step = BASE * 2u32.pow(attempt);
            assert_eq!(delay(BASE, CAP, attempt, None, 0.0), step / 2);
            assert_eq!(delay(BASE, CAP, attempt, None, 1.0), step);
        }
    }

    #[test]
    fn the_step_stops_growing_at_the_cap_even_after_many_retries() {
        assert_eq!(delay(BASE, CAP, 6, None, 1.0), CAP);
        assert_eq!(delay(BASE, CAP, 40, None, 1.0), CAP);
        assert_eq!(delay(BASE, CAP, u32::MAX, None, 0.0), CAP / 2);
    }

    #[test]
    fn random_waits_stay_in_their_bounds() {
        let mut backoff = Backoff::new(BASE, CAP);
        for attempt in 0..12u32 {
            let step = (BASE * 2u32.pow(attempt)).min(CAP);
            let wait = backoff.next_delay(None);
            assert!(
                wait >= step / 2 && wait <= step,
                "retry {attempt}: {wait:?}"
            );
        }
        assert_eq!(backoff.attempts(), 12);
        backoff.reset();
        assert!(backoff.next_delay(None) <= BASE);
    }

    #[test]
    fn retry_after_is_a_floor_that_outlasts_a_short_step() {
        let asked = Duration::from_secs(30);
        assert_eq!(delay(BASE, CAP, 0, Some(asked), 1.0), asked);
        // A longer step than asked is kept: Retry-After never shortens a wait.
        assert_eq!(delay(BASE, CAP, 6, Some(Duration::from_secs(2)), 1.0), CAP);
    }

    #[test]
    fn a_huge_retry_after_is_bounded() {
        let wait = delay(BASE, CAP, 0, Some(Duration::from_secs(86_400 * 30)), 0.5);
        assert_eq!(wait, MAX_RETRY_AFTER);
    }
}
