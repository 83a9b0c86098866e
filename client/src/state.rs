//! This machine's seat file (`seat.json`) and the local processes sharing its seat.
//!
//! The service gives one user one seat per machine: a second `coditect-license run`, or the Python
//! package beside the CLI, acquiring on the same machine gets the same session back. So the seat is
//! the machine's, and only the last local holder may release it. Each holder keeps an exclusive
//! lock on its own file under `holders/` for as long as it holds the seat; a holder file nobody
//! has locked belongs to a process that died, and is removed. The lock is the operating system's
//! (released when the process ends, however it ends), so a crash never leaves a phantom holder.
//!
//! `seat.json` is read and written under `seat.lock`, so two processes never interleave their
//! updates. It holds the latest trusted time ([`crate::clock`]) and the last seat: its session,
//! lease, license, and whether its holder is offline — what `status` shows.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::api::LicenseSummary;

use crate::home::{HomeError, ServerDir};
use crate::http::ClientError;

/// What `seat.json` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeatFile {
    /// The latest trusted time (a server `Date`, a lease `iat`), advanced by the monotonic clock
    /// while a holder ran.
    #[serde(default)]
    pub trusted_time: Option<DateTime<Utc>>,
    /// The machine's seat, as its latest holder last saw it.
    #[serde(default)]
    pub seat: Option<StoredSeat>,
}

/// A seat as the file remembers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSeat {
    /// The session heartbeat and release act on.
    pub session_id: String,
    /// The latest verified lease: of the session's latest grant among this machine's holders.
    pub lease: String,
    /// That lease's grant ([`shared::leases::LeaseClaims::grant`]): only the latest grant's lease
    /// releases the seat, so a holder never replaces a later grant's lease with its own older one.
    #[serde(default)]
    pub grant: u64,
    /// The fingerprint it was acquired with.
    pub fingerprint: String,
    /// The lease's `exp`: the end of offline grace.
    pub grace_ends_at: DateTime<Utc>,
    /// When the seat frees unless a heartbeat comes first.
    pub seat_expires_at: DateTime<Utc>,
    /// The license, as the grant described it.
    pub license: LicenseSummary,
    /// When this machine acquired the seat.
    pub acquired_at: DateTime<Utc>,
    /// Since when the holder cannot reach the service; `None` while it can.
    #[serde(default)]
    pub offline_since: Option<DateTime<Utc>>,
    /// When the seat's borrow ends, if it is borrowed for offline use (the lease's `bor`): until
    /// then a program exiting leaves it held, and a program starting runs on its lease at once
    /// when the service is out of reach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrowed_until: Option<DateTime<Utc>>,
}

impl StoredSeat {
    /// Whether the seat is borrowed at `now`.
    pub fn borrowed_at(&self, now: DateTime<Utc>) -> bool {
        self.borrowed_until.is_some_and(|until| until > now)
    }
}

/// The seat file and holders of one deployment.
#[derive(Debug, Clone)]
pub struct SeatState {
    files: ServerDir,
}

/// This process's claim on the machine's seat; dropping it gives the claim up.
#[derive(Debug)]
pub struct Holder {
    path: PathBuf,
    /// Locked exclusively while this value lives.
    file: File,
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.file.unlock();
        let _ = std::fs::remove_file(&self.path);
    }
}

impl SeatState {
    /// The seat state kept in `files`.
    pub fn new(files: ServerDir) -> Self {
        Self { files }
    }

    /// The deployment's files.
    pub fn files(&self) -> &ServerDir {
        &self.files
    }

    /// The seat file as it is now.
    pub fn read(&self) -> Result<SeatFile, ClientError> {
        self.update(|file| file.clone())
    }

    /// Reads the seat file, applies `change`, and writes it back if it changed — all under the
    /// file lock.
    pub fn update<R>(&self, change: impl FnOnce(&mut SeatFile) -> R) -> Result<R, ClientError> {
        self.files.create()?;
        let lock = self.open(self.files.seat_lock_path())?;
        lock.lock()
            .map_err(|source| self.error("lock", self.files.seat_lock_path(), source))?;
        let path = self.files.seat_path();
        let before: SeatFile = match self.files.read(&path)? {
            // A damaged file is a lost seat record, not a reason to stop: start afresh.
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            None => SeatFile::default(),
        };
        let mut after = before.clone();
        let result = change(&mut after);
        if after != before {
            let bytes = serde_json::to_vec_pretty(&after)
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            self.files.write_private(&path, &bytes)?;
        }
        drop(lock);
        Ok(result)
    }

    /// Registers this process as a holder of the machine's seat.
    pub fn join(&self) -> Result<Holder, ClientError> {
        let dir = self.holders_dir();
        std::fs::create_dir_all(&dir)
            .map_err(|source| self.error("create", dir.clone(), source))?;
        let path = dir.join(format!(
            "{}-{}.lock",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let file = self.open(path.clone())?;
        file.lock()
            .map_err(|source| self.error("lock", path.clone(), source))?;
        Ok(Holder { path, file })
    }

    /// How many other live processes hold the machine's seat; removes the files of dead ones.
    pub fn other_holders(&self, me: Option<&Holder>) -> Result<usize, ClientError> {
        let dir = self.holders_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(source) => return Err(self.error("list", dir, source)),
        };
        let mut alive = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if me.is_some_and(|me| me.path == path) {
                continue;
            }
            let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) else {
                continue;
            };
            match file.try_lock() {
                Ok(()) => {
                    // Nobody holds it: its process is gone.
                    let _ = std::fs::remove_file(&path);
                    let _ = file.unlock();
                }
                Err(TryLockError::WouldBlock) => alive += 1,
                Err(TryLockError::Error(_)) => {}
            }
        }
        Ok(alive)
    }

    fn holders_dir(&self) -> PathBuf {
        self.files.dir().join("holders")
    }

    fn open(&self, path: PathBuf) -> Result<File, ClientError> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| self.error("open", path, source))
    }

    fn error(&self, action: &'static str, path: PathBuf, source: std::io::Error) -> ClientError {
        ClientError::Files(HomeError {
            action,
            path,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::home::Home;

    fn scratch() -> (Home, SeatState) {
        let home =
            Home::at(std::env::temp_dir().join(format!("coditect-state-{}", uuid::Uuid::new_v4())));
        let state = SeatState::new(home.server("http://127.0.0.1:1"));
        (home, state)
    }

    #[test]
    fn updates_persist_and_an_unchanged_file_is_not_rewritten() {
        let (home, state) = scratch();
        let now: DateTime<Utc> = "2026-12-02T12:00:00Z".parse().expect("time");
        state
            .update(|file| file.trusted_time = Some(now))
            .expect("update");
        assert_eq!(state.read().expect("read").trusted_time, Some(now));
        let written = std::fs::metadata(state.files().seat_path())
            .expect("exists")
            .modified()
            .expect("mtime");
        std::thread::sleep(std::time::Duration::from_millis(20));
        state.read().expect("read again");
        let after = std::fs::metadata(state.files().seat_path())
            .expect("exists")
            .modified()
            .expect("mtime");
        assert_eq!(written, after);
        let _ = std::fs::remove_dir_all(home.root());
    }

    #[test]
    fn a_damaged_seat_file_reads_as_empty() {
        let (home, state) = scratch();
        state
            .files()
            .write_private(&state.files().seat_path(), b"{not json")
            .expect("written");
        assert_eq!(state.read().expect("read"), SeatFile::default());
        let _ = std::fs::remove_dir_all(home.root());
    }

    #[test]
    fn holders_count_each_other_and_a_dropped_holder_no_longer_counts() {
        let (home, state) = scratch();
        let first = state.join().expect("first holder");
        let second = state.join().expect("second holder");
        assert_eq!(state.other_holders(Some(&first)).expect("count"), 1);
        drop(second);
        assert_eq!(state.other_holders(Some(&first)).expect("count"), 0);
        assert_eq!(state.other_holders(None).expect("count"), 1);
        drop(first);
        let _ = std::fs::remove_dir_all(home.root());
    }

    #[test]
    fn a_holder_file_left_by_a_dead_process_is_removed() {
        let (home, state) = scratch();
        let me = state.join().expect("holder");
        let stale = state.files().dir().join("holders").join("999999-dead.lock");
        std::fs::write(&stale, b"").expect("stale file");
        assert_eq!(state.other_holders(Some(&me)).expect("count"), 0);
        assert!(!stale.exists(), "the dead holder's file is gone");
        drop(me);
        let _ = std::fs::remove_dir_all(home.root());
    }
}
