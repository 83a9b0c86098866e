//! The seat invariant, checked from both sides while the load runs.
//!
//! **Client side** ([`Ledger`]): a session counts as live from the moment its grant is received
//! until its client *sends* the release, sees `session_not_found`, or passes the expiry the server
//! last told it. Each bound errs toward the server: a grant is received after the server made it, a
//! release is forgotten before the server frees it, and the expiry a client knows is never later
//! than the server's. So the sessions the ledger holds were all live on the server at the instant
//! of the latest grant among them, and more of them than `max_seats` is a real violation, never an
//! artefact of timing. (Expiries are compared on this host's clock: the server's or Redis's `TIME`
//! is the same clock when they run here.)
//!
//! **Server side** ([`audit`]): every few hundred milliseconds each license's live holders are read
//! from the seat store (or the admin API of an external server) and compared with the cap.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use super::target::HolderSource;

/// Violations kept in full; beyond this only the count grows.
const KEPT_VIOLATIONS: usize = 20;

/// Live sessions per license as the clients know them, and what broke the cap.
#[derive(Debug)]
pub struct Ledger {
    /// Per license: session id → expiry (ms since the epoch) as last told by the server.
    pools: Vec<Mutex<HashMap<String, i64>>>,
    /// Per license: the cap.
    seats: Vec<u32>,
    /// Per license: the most live sessions seen at once, by either check.
    peak: Vec<AtomicU32>,
    /// Grants checked against the cap.
    grants_checked: AtomicU64,
    /// Server-side samples taken.
    audits: AtomicU64,
    /// Server-side samples that could not be read.
    audit_failures: AtomicU64,
    /// Every violation found.
    violations: AtomicU64,
    /// The first few, in words.
    examples: Mutex<Vec<String>>,
}

/// What the ledger found, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Grants checked on the client side.
    pub grants_checked: u64,
    /// License samples read from the seat store.
    pub audits: u64,
    /// Seat-store reads that failed (each sweep stops at its first failure): a run whose every
    /// read failed checked nothing on the server side, and says so.
    pub audit_failures: u64,
    /// Violations found by either side.
    pub violations: u64,
    /// The first few, in words.
    pub examples: Vec<String>,
    /// Highest live count seen on any license, and that license's cap.
    pub fullest: (u32, u32),
}

impl Verdict {
    /// Whether the invariant held throughout.
    pub fn held(&self) -> bool {
        self.violations == 0
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl Ledger {
    /// An empty ledger for licenses with these caps.
    pub fn new(seats: Vec<u32>) -> Self {
        Self {
            pools: seats.iter().map(|_| Mutex::default()).collect(),
            peak: seats.iter().map(|_| AtomicU32::new(0)).collect(),
            seats,
            grants_checked: AtomicU64::new(0),
            audits: AtomicU64::new(0),
            audit_failures: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            examples: Mutex::default(),
        }
    }

    fn pool(&self, license: usize) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        // A poisoned pool only means another client task panicked; its map is still consistent.
        self.pools[license]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A client received a grant of `session` on `license`, live until `expires_at_ms`.
    pub fn granted(&self, license: usize, session: &str, expires_at_ms: i64) {
        self.grants_checked.fetch_add(1, Ordering::Relaxed);
        let mut pool = self.pool(license);
        pool.insert(session.to_owned(), expires_at_ms);
        let cap = self.seats[license];
        if pool.len() as u32 > cap {
            // Only now is pruning worth its cost: drop what the server has certainly let lapse.
            let now = now_ms();
            pool.retain(|_, expires| *expires > now);
        }
        let live = pool.len() as u32;
        drop(pool);
        self.peak[license].fetch_max(live, Ordering::Relaxed);
        if live > cap {
            self.violation(format!(
                "client side: license #{license} has {live} live sessions after granting {session}, \
                 but only {cap} seats"
            ));
        }
    }

    /// A heartbeat of `session` answered with a new expiry.
    pub fn extended(&self, license: usize, session: &str, expires_at_ms: i64) {
        if let Some(expires) = self.pool(license).get_mut(session) {
            *expires = expires_at_ms;
        }
    }

    /// `session` is gone: its release is about to be sent, or the server no longer knows it.
    pub fn gone(&self, license: usize, session: &str) {
        self.pool(license).remove(session);
    }

    /// The seat store showed `live` holders on `license`.
    pub fn audited(&self, license: usize, live: u32) {
        self.audits.fetch_add(1, Ordering::Relaxed);
        self.peak[license].fetch_max(live, Ordering::Relaxed);
        let cap = self.seats[license];
        if live > cap {
            self.violation(format!(
                "seat store: license #{license} lists {live} live holders, but only {cap} seats"
            ));
        }
    }

    fn violation(&self, what: String) {
        let n = self.violations.fetch_add(1, Ordering::Relaxed) + 1;
        eprintln!("!!! SEAT INVARIANT VIOLATED ({n}): {what}");
        let mut examples = self
            .examples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if examples.len() < KEPT_VIOLATIONS {
            examples.push(what);
        }
    }

    /// What was found so far.
    pub fn verdict(&self) -> Verdict {
        let fullest = self
            .peak
            .iter()
            .zip(&self.seats)
            .map(|(peak, cap)| (peak.load(Ordering::Relaxed), *cap))
            .max_by_key(|(peak, cap)| (u64::from(*peak) * 1_000_000) / u64::from((*cap).max(1)))
            .unwrap_or((0, 0));
        Verdict {
            grants_checked: self.grants_checked.load(Ordering::Relaxed),
            audits: self.audits.load(Ordering::Relaxed),
            audit_failures: self.audit_failures.load(Ordering::Relaxed),
            violations: self.violations.load(Ordering::Relaxed),
            examples: self
                .examples
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            fullest,
        }
    }
}

/// Reads every license's live holders from `source` every `every` until `stop` turns true.
/// A failed read is counted ([`Verdict::audit_failures`]), reported once per sweep and skipped: the
/// audit observes, it does not judge availability (the clients' error counts do), but a run
/// whose reads failed must not pass for one that checked the seat store.
pub async fn audit(
    source: HolderSource,
    ledger: std::sync::Arc<Ledger>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        for license in 0..source.licenses() {
            match source.live(license).await {
                Ok(live) => ledger.audited(license, live),
                Err(e) => {
                    ledger.audit_failures.fetch_add(1, Ordering::Relaxed);
                    eprintln!("audit: could not read the holders of license #{license}: {e:#}");
                    break;
                }
            }
        }
        tokio::select! {
            _ = stop.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_beyond_the_cap_is_a_violation_but_lapsed_sessions_do_not_count() {
        let ledger = Ledger::new(vec![2]);
        let later = now_ms() + 60_000;
        ledger.granted(0, "lapsed", now_ms() - 1);
        ledger.granted(0, "a", later);
        ledger.granted(0, "b", later);
        assert!(ledger.verdict().held(), "the lapsed session is pruned");

        ledger.granted(0, "c", later);

        let verdict = ledger.verdict();
        assert_eq!(verdict.violations, 1);
        assert_eq!(verdict.fullest, (3, 2));
    }

    #[test]
    fn a_released_session_frees_its_place_and_audits_check_the_cap() {
        let ledger = Ledger::new(vec![1]);
        let later = now_ms() + 60_000;
        ledger.granted(0, "a", later);
        ledger.gone(0, "a");
        ledger.granted(0, "b", later);
        ledger.audited(0, 1);
        assert!(ledger.verdict().held());

        ledger.audited(0, 2);

        assert_eq!(ledger.verdict().violations, 1);
        assert_eq!(ledger.verdict().audits, 2);
    }

    #[tokio::test]
    async fn a_holders_read_that_fails_is_counted_and_ends_its_sweep() {
        // Arrange: two licenses read through an admin URL no request can be sent to.
        let source = HolderSource::Admin {
            http: reqwest::Client::new(),
            admin: "not a url".into(),
            owners: vec![
                (crate::tokens::Person::at("a.test"), uuid::Uuid::new_v4()),
                (crate::tokens::Person::at("b.test"), uuid::Uuid::new_v4()),
            ],
        };
        let ledger = std::sync::Arc::new(Ledger::new(vec![1, 1]));
        // Stopped before it starts: the audit makes its one sweep, then returns.
        let (_stop, stopped) = watch::channel(true);

        // Act
        audit(source, ledger.clone(), Duration::from_secs(60), stopped).await;

        // Assert: the first read failed and the sweep stopped there, checking nothing.
        let verdict = ledger.verdict();
        assert_eq!((verdict.audits, verdict.audit_failures), (0, 1));
        assert!(verdict.held());
    }
}
