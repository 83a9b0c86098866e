//! The rate limits of acquire and release (`ACQUIRE_RATE_PER_MACHINE`, `ACQUIRE_RATE_PER_SEAT`,
//! `RELEASE_RATE_PER_MACHINE`, `RATE_LIMIT_WINDOW_SECONDS`), typed once at start-up.
//!
//! The defaults sit far above what a well-behaved CLI does (one acquire per start, one lease
//! refresh every half offline grace, 30 minutes by default, retries with backoff from 1 s to
//! 60 s) and far below a storm (issue 14 measured ~14 000 acquires/s from 50 clients). 0 turns a
//! limit off.

use std::time::Duration;

use super::{ConfigError, Vars};
use crate::seats::{AcquireLimits, Rate};

/// How often machines and licenses may call acquire and release, per window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Acquires one machine (user + fingerprint) may make per window, renewals of its own seat
    /// included (`ACQUIRE_RATE_PER_MACHINE`, default 10; 0 = no limit).
    pub acquire_per_machine: u32,
    /// Acquires per window of the license's machines that hold no seat, per seat of the license
    /// (`ACQUIRE_RATE_PER_SEAT`, default 30; 0 = no limit): a 5-seat license answers 150 per
    /// window from machines without a seat, however many machines ask.
    pub acquire_per_seat: u32,
    /// Releases of a seat that is already gone one machine may make per window
    /// (`RELEASE_RATE_PER_MACHINE`, default 10; 0 = no limit). A release that frees a seat is never
    /// limited.
    pub release_per_machine: u32,
    /// The window of all three (`RATE_LIMIT_WINDOW_SECONDS`, default 60, at least 1).
    pub window: Duration,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            acquire_per_machine: 10,
            acquire_per_seat: 30,
            release_per_machine: 10,
            window: Duration::from_secs(60),
        }
    }
}

impl RateLimits {
    /// No limit at all (benchmarks that measure the seat store, not the limits).
    pub fn off() -> Self {
        Self {
            acquire_per_machine: 0,
            acquire_per_seat: 0,
            release_per_machine: 0,
            ..Self::default()
        }
    }

    /// Reads the four variables.
    pub(crate) fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        Ok(Self {
            acquire_per_machine: vars
                .parsed("ACQUIRE_RATE_PER_MACHINE", defaults.acquire_per_machine)?,
            acquire_per_seat: vars.parsed("ACQUIRE_RATE_PER_SEAT", defaults.acquire_per_seat)?,
            release_per_machine: vars
                .parsed("RELEASE_RATE_PER_MACHINE", defaults.release_per_machine)?,
            window: vars.positive_seconds("RATE_LIMIT_WINDOW_SECONDS", 60)?,
        })
    }

    /// The limits of an acquire on a license of `max_seats` seats (a license of 0 seats counts as
    /// one, so its machines are still answered, with a denial).
    pub fn acquire(&self, max_seats: u32) -> AcquireLimits {
        AcquireLimits {
            per_machine: Rate::new(self.acquire_per_machine, self.window),
            per_license: Rate::new(
                self.acquire_per_seat.saturating_mul(max_seats.max(1)),
                self.window,
            ),
        }
    }

    /// The limit of one machine's releases of gone seats.
    pub fn release(&self) -> Option<Rate> {
        Rate::new(self.release_per_machine, self.window)
    }
}
