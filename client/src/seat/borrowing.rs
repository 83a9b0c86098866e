//! Borrowing this machine's seat for offline use ([`borrow`]) and giving it back early
//! ([`give_back`]): one call each, no background task; the seat file keeps the borrowed lease.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Grant, SeatOptions, grant, unix};
use crate::clock::TrustedTime;
use crate::http::ClientError;
use crate::keys::PinnedKeys;
use crate::state::{SeatState, StoredSeat};

/// A seat borrowed for offline use ([`borrow`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Borrowed {
    /// What the grant said.
    pub grant: Grant,
    /// When the borrow ends: the seat is held until then without heartbeats, and programs on
    /// this machine run on its lease, offline if need be.
    pub until: DateTime<Utc>,
}

/// Borrows this machine's seat for `period` (at most what the license's policy allows): one
/// acquire, its lease verified and kept in the seat file, no background task. Programs started
/// on this machine afterwards use the seat; their exit leaves it held; [`give_back`] returns it.
pub async fn borrow(options: &SeatOptions, period: Duration) -> Result<Borrowed, ClientError> {
    let state = SeatState::new(options.files.clone());
    let keys = PinnedKeys::new(options.files.clone(), options.client.clone());
    let stored = state.read()?;
    let mut trusted = TrustedTime::resume(stored.trusted_time, &*options.clock);
    let first = grant(options, &keys, &mut trusted, Some(period)).await?;
    let until = first.grant.claims.bor.map(unix).ok_or_else(|| {
        ClientError::Protocol("the service granted the seat without borrowing it".into())
    })?;
    let now = trusted.now(&*options.clock);
    let seat = StoredSeat {
        session_id: first.grant.session_id.clone(),
        lease: first.lease.clone(),
        grant: first.grant.claims.grant,
        fingerprint: options.fingerprint.clone(),
        grace_ends_at: first.grace.ends_at(),
        seat_expires_at: first.seat_expires_at,
        license: first.grant.license.clone(),
        acquired_at: now,
        offline_since: None,
        borrowed_until: Some(until),
    };
    let trusted_now = trusted.trusted_now(&*options.clock);
    state.update(|file| {
        if trusted_now > file.trusted_time {
            file.trusted_time = trusted_now;
        }
        let acquired_at = file
            .seat
            .as_ref()
            .filter(|old| old.session_id == seat.session_id)
            .map_or(seat.acquired_at, |old| old.acquired_at);
        file.seat = Some(StoredSeat {
            acquired_at,
            ..seat
        });
    })?;
    Ok(Borrowed {
        grant: first.grant,
        until,
    })
}

/// Returns this machine's borrowed seat before its borrow ends (a seat that is not borrowed is
/// released): the session given back, or `None` when the machine holds no seat.
pub async fn give_back(options: &SeatOptions) -> Result<Option<String>, ClientError> {
    let state = SeatState::new(options.files.clone());
    let Some(seat) = state.read()?.seat else {
        return Ok(None);
    };
    options.client.give_back(&seat.lease).await?;
    let session = seat.session_id.clone();
    state.update(|file| {
        if file.seat.as_ref().is_some_and(|s| s.session_id == session) {
            file.seat = None;
        }
    })?;
    Ok(Some(seat.session_id))
}
