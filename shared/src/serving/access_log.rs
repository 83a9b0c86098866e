//! The access line of each request, at the severity its outcome deserves, with repeated refusals
//! aggregated so that no client can fill the log.
//!
//! - A failure of ours (5xx with an internal cause) is an `ERROR` `request failed`, with the cause.
//! - A refusal with a logged reason (a token check, a framework rejection, a body that never
//!   arrived) is a `WARNING` `request refused`: the client's fault, never an error.
//! - A routine success ([`super::Routine`]: heartbeats, probes) is `DEBUG`; any other request is
//!   an `INFO` `request served`.
//!
//! Every answer that is not a success is counted under its kind — method, route template, status
//! and problem code — and only the first [`LOGGED_PER_WINDOW`] of a kind are logged in each
//! [`WINDOW`]; the rest are counted, and one `similar requests not logged` line per kind and
//! window says how many (`count`). Each such line, and each logged line of a non-success, carries
//! `count` (1 on a single line), so a log-based metric that sums `count` is exact even when a
//! denial storm is aggregated. A 100 000-call storm of one machine thus writes about a dozen lines
//! a minute instead of 100 000.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::api::ProblemCode;

/// How long one kind's quota of logged lines lasts.
pub const WINDOW: Duration = Duration::from_secs(60);

/// How many lines of one kind are logged in full per window.
pub const LOGGED_PER_WINDOW: u32 = 10;

/// Kinds tracked at most: the kinds are bounded by routes × statuses × codes, so this only guards
/// against a mistake; a kind beyond it is logged in full.
const MAX_KINDS: usize = 4096;

/// How a request ended, as the access line tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Severity {
    /// A failure of ours, with its cause.
    Failed,
    /// The client's fault, with the reason.
    Refused,
    /// A routine success.
    Routine,
    /// Any other answer.
    Served,
}

/// What identifies repeats of one outcome.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Kind {
    pub method: String,
    /// The route template (`/api/v1/tenants/{id}/members`), or `unmatched`: never the raw path,
    /// so the kinds stay few whatever paths clients send.
    pub route: String,
    pub status: u16,
    pub code: Option<ProblemCode>,
}

/// One kind's current window.
#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
    severity: Severity,
}

/// The answer to "log this line?".
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Log it in full.
    Log,
    /// Count it only.
    Suppress,
}

/// The repeat counts of one service's access lines. Owned by its router; summaries still pending
/// are written when the router is dropped (at shutdown), and by a ticker every [`WINDOW`].
#[derive(Debug, Default)]
pub(super) struct Repeats {
    windows: Mutex<HashMap<Kind, Window>>,
}

impl Repeats {
    /// A new set of counts; inside a Tokio runtime, with a ticker writing the summaries of
    /// windows that ended (it stops when the counts are dropped).
    pub(super) fn start() -> Arc<Self> {
        let repeats = Arc::new(Self::default());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(tick(Arc::downgrade(&repeats)));
        }
        repeats
    }

    /// Whether the line of `kind` is logged, counting it either way.
    pub(super) fn admit(&self, kind: &Kind, severity: Severity, now: Instant) -> Admit {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if !windows.contains_key(kind) && windows.len() >= MAX_KINDS {
            return Admit::Log;
        }
        let window = windows.entry(kind.clone()).or_insert(Window {
            started: now,
            logged: 0,
            suppressed: 0,
            severity,
        });
        if now.duration_since(window.started) >= WINDOW {
            summarise(kind, window);
            *window = Window {
                started: now,
                logged: 0,
                suppressed: 0,
                severity,
            };
        }
        if window.logged < LOGGED_PER_WINDOW {
            window.logged += 1;
            Admit::Log
        } else {
            window.suppressed += 1;
            Admit::Suppress
        }
    }

    /// Writes the summary of every window that ended by `now` (all of them with `None`), and
    /// forgets them.
    pub(super) fn flush(&self, now: Option<Instant>) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        windows.retain(|kind, window| {
            let ended = now.is_none_or(|now| now.duration_since(window.started) >= WINDOW);
            if ended {
                summarise(kind, window);
            }
            !ended
        });
    }
}

impl Drop for Repeats {
    fn drop(&mut self) {
        self.flush(None);
    }
}

/// Writes the summaries of ended windows until the counts are gone.
async fn tick(repeats: Weak<Repeats>) {
    let mut ticks = tokio::time::interval(WINDOW);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(repeats) = repeats.upgrade() else {
            return;
        };
        repeats.flush(Some(Instant::now()));
    }
}

/// The `similar requests not logged` line of a window that suppressed any.
fn summarise(kind: &Kind, window: &Window) {
    if window.suppressed == 0 {
        return;
    }
    let (method, route, status, count) = (
        kind.method.as_str(),
        kind.route.as_str(),
        kind.status,
        window.suppressed,
    );
    let code = kind.code.map(ProblemCode::as_str).unwrap_or_default();
    let seconds = window.started.elapsed().as_secs().min(WINDOW.as_secs());
    let message = "similar requests not logged";
    match window.severity {
        Severity::Failed => {
            tracing::error!(method, route, status, code, count, seconds, "{message}");
        }
        Severity::Refused => {
            tracing::warn!(method, route, status, code, count, seconds, "{message}");
        }
        Severity::Routine => {
            tracing::debug!(method, route, status, code, count, seconds, "{message}");
        }
        Severity::Served => {
            tracing::info!(method, route, status, code, count, seconds, "{message}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(status: u16) -> Kind {
        Kind {
            method: "POST".into(),
            route: "/api/v1/licenses/acquire".into(),
            status,
            code: Some(ProblemCode::RateLimited),
        }
    }

    #[test]
    fn the_first_lines_of_a_kind_are_logged_and_the_rest_counted_per_window() {
        let repeats = Repeats::default();
        let start = Instant::now();
        let admitted = |at: Instant, status: u16| {
            (0..25)
                .filter(|_| repeats.admit(&kind(status), Severity::Refused, at) == Admit::Log)
                .count()
        };

        assert_eq!(admitted(start, 429), LOGGED_PER_WINDOW as usize);
        assert_eq!(
            admitted(start, 409),
            LOGGED_PER_WINDOW as usize,
            "another kind"
        );
        assert_eq!(admitted(start + WINDOW / 2, 429), 0, "same window");
        assert_eq!(
            admitted(start + WINDOW, 429),
            LOGGED_PER_WINDOW as usize,
            "a new window logs again"
        );
        let windows = repeats.windows.lock().expect("lock");
        assert_eq!(windows[&kind(429)].suppressed, 15, "the new window's count");
        assert_eq!(windows[&kind(409)].suppressed, 15);
    }

    #[test]
    fn flushing_forgets_only_the_windows_that_ended() {
        let repeats = Repeats::default();
        let start = Instant::now();
        repeats.admit(&kind(429), Severity::Refused, start);
        repeats.admit(&kind(409), Severity::Refused, start + WINDOW / 2);

        repeats.flush(Some(start + WINDOW));
        assert_eq!(repeats.windows.lock().expect("lock").len(), 1);
        repeats.flush(None);
        assert!(repeats.windows.lock().expect("lock").is_empty());
    }
}
