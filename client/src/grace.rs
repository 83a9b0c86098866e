//! The rules a held seat follows when a call fails, kept apart from the I/O so they can be tested
//! one by one.
//!
//! - The service answered a refusal (`seats_exhausted`, `license_suspended`, `forbidden`, …): the
//!   seat is lost at once. Offline grace never covers a "no".
//! - The service lost the seat (`session_not_found`: Redis restarted, or the laptop slept past the
//!   seat's TTL), or no longer takes the lease (`lease_expired`, `invalid_token`: it expired, or
//!   its key was retired): acquire again.
//! - The service could not be reached, or failed on its side (5xx): the program keeps running
//!   until the last verified lease's `exp` — by the trusted clock — retrying with backoff.
//! - The service asked to slow down (429): retry after `Retry-After`; not offline.

use chrono::{DateTime, Utc};
use shared::api::ProblemCode;

use crate::http::ClientError;

/// What to do after a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// The service said no: the seat is lost.
    Lose,
    /// The service no longer knows the seat or the lease: acquire again.
    Reacquire,
    /// The service is out of reach: keep running within grace and retry.
    RideOut,
    /// The service is busy: retry later, still online.
    SlowDown,
}

/// The rule for a failed heartbeat or lease refresh.
pub fn next_after(error: &ClientError) -> Next {
    match error {
        ClientError::Unreachable(_) => Next::RideOut,
        ClientError::Refused { status: 429, .. } => Next::SlowDown,
        ClientError::Refused { status, .. } if *status >= 500 => Next::RideOut,
        ClientError::Refused { .. } => match error.code() {
            Some(
                ProblemCode::SessionNotFound
                | ProblemCode::LeaseExpired
                | ProblemCode::InvalidToken,
            ) => Next::Reacquire,
            _ => Next::Lose,
        },
        // A lease that does not verify, a file that cannot be written, a sign-in gone: nothing a
        // retry fixes.
        ClientError::Protocol(_)
        | ClientError::NotSignedIn(_)
        | ClientError::Files(_)
        | ClientError::WaitedOut { .. } => Next::Lose,
    }
}

/// Whether the seat is online, and if not, until when it may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grace {
    /// The last verified lease's `exp`.
    ends_at: DateTime<Utc>,
    /// Since when the service has been out of reach.
    offline_since: Option<DateTime<Utc>>,
}

/// What a change of connection means for the host program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing new.
    Same,
    /// The service just became unreachable: running on grace until the time given.
    WentOffline {
        /// When the grace ends.
        until: DateTime<Utc>,
    },
    /// The service answers again.
    BackOnline,
    /// Grace is over: the seat is lost.
    Over {
        /// When it ended.
        at: DateTime<Utc>,
    },
}

impl Grace {
    /// Online, with the lease that ends at `ends_at`.
    pub fn online(ends_at: DateTime<Utc>) -> Self {
        Self {
            ends_at,
            offline_since: None,
        }
    }

    /// Offline since `since`, on a lease that ends at `ends_at` (a start without the service).
    pub fn offline(ends_at: DateTime<Utc>, since: DateTime<Utc>) -> Self {
        Self {
            ends_at,
            offline_since: Some(since),
        }
    }

    /// When grace ends.
    pub fn ends_at(&self) -> DateTime<Utc> {
        self.ends_at
    }

    /// Since when the service has been out of reach, if it is.
    pub fn offline_since(&self) -> Option<DateTime<Utc>> {
        self.offline_since
    }

    /// A call succeeded; `lease_ends_at` when it brought a new verified lease.
    pub fn reached(&mut self, lease_ends_at: Option<DateTime<Utc>>) -> Change {
        if let Some(ends_at) = lease_ends_at {
            self.ends_at = self.ends_at.max(ends_at);
        }
        match self.offline_since.take() {
            Some(_) => Change::BackOnline,
            None => Change::Same,
        }
    }

    /// A call could not reach the service at `now` (trusted time).
    pub fn unreachable(&mut self, now: DateTime<Utc>) -> Change {
        if now >= self.ends_at {
            return Change::Over { at: self.ends_at };
        }
        match self.offline_since {
            Some(_) => Change::Same,
            None => {
                self.offline_since = Some(now);
                Change::WentOffline {
                    until: self.ends_at,
                }
            }
        }
    }

    /// Whether grace is over at `now` (trusted time) while offline.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.offline_since.is_some() && now >= self.ends_at
    }
}

#[cfg(test)]
mod tests {
    use shared::api::ProblemDetails;

    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        "2026-12-02T12:00:00Z"
            .parse::<DateTime<Utc>>()
            .expect("time")
            + chrono::Duration::minutes(minute)
    }

    fn refused(status: u16, code: ProblemCode) -> ClientError {
        ClientError::Refused {
            status,
            problem: Some(Box::new(ProblemDetails::new(status, "x", code, "no"))),
            retry_after: None,
        }
    }

    #[test]
    fn a_refusal_loses_the_seat_at_once() {
        for code in [
            ProblemCode::SeatsExhausted,
            ProblemCode::LicenseSuspended,
            ProblemCode::LicenseExpired,
            ProblemCode::LicenseCanceled,
            ProblemCode::NoLicense,
            ProblemCode::Forbidden,
        ] {
            assert_eq!(next_after(&refused(403, code)), Next::Lose, "{code}");
        }
    }

    #[test]
    fn a_seat_the_service_lost_is_acquired_again() {
        assert_eq!(
            next_after(&refused(404, ProblemCode::SessionNotFound)),
            Next::Reacquire
        );
        assert_eq!(
            next_after(&refused(401, ProblemCode::LeaseExpired)),
            Next::Reacquire
        );
        assert_eq!(
            next_after(&refused(401, ProblemCode::InvalidToken)),
            Next::Reacquire
        );
    }

    #[test]
    fn only_unreachable_and_server_failures_are_ridden_out() {
        assert_eq!(
            next_after(&ClientError::Unreachable("refused".into())),
            Next::RideOut
        );
        assert_eq!(
            next_after(&refused(503, ProblemCode::Unavailable)),
            Next::RideOut
        );
        let proxy_page = ClientError::Refused {
            status: 502,
            problem: None,
            retry_after: None,
        };
        assert_eq!(next_after(&proxy_page), Next::RideOut);
        assert_eq!(
            next_after(&refused(429, ProblemCode::Unavailable)),
            Next::SlowDown
        );
        assert_eq!(
            next_after(&ClientError::Protocol("forged".into())),
            Next::Lose
        );
    }

    #[test]
    fn going_offline_is_told_once_with_the_end_of_grace() {
        let mut grace = Grace::online(at(60));
        assert_eq!(
            grace.unreachable(at(1)),
            Change::WentOffline { until: at(60) }
        );
        assert_eq!(grace.unreachable(at(2)), Change::Same);
        assert_eq!(grace.offline_since(), Some(at(1)));
        assert!(!grace.expired(at(59)));
        assert!(grace.expired(at(60)));
        assert_eq!(grace.unreachable(at(61)), Change::Over { at: at(60) });
    }

    #[test]
    fn reaching_the_service_again_ends_the_offline_spell_and_a_new_lease_extends_grace() {
        let mut grace = Grace::online(at(60));
        grace.unreachable(at(1));
        assert_eq!(grace.reached(None), Change::BackOnline);
        assert_eq!(grace.reached(Some(at(90))), Change::Same);
        assert_eq!(grace.ends_at(), at(90));
        assert!(!grace.expired(at(95)), "online: grace is not running");
    }

    #[test]
    fn an_older_lease_never_shortens_grace() {
        let mut grace = Grace::online(at(60));
        grace.reached(Some(at(30)));
        assert_eq!(grace.ends_at(), at(60));
    }

    #[test]
    fn a_start_without_the_service_is_offline_from_the_first_moment() {
        let grace = Grace::offline(at(60), at(0));
        assert_eq!(grace.offline_since(), Some(at(0)));
        assert!(grace.expired(at(60)));
    }
}
