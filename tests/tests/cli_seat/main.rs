//! The `coditect-license` binary as a person and a script use it, against the local server over
//! real HTTP: `run` (the command's exit status, signals, the seat released), a denial's sentence
//! and exit code, a server that stops (offline grace, then its end) or restarts (re-acquire),
//! `status` and `release`, and what a real terminal shows (tmux: the spinner, the sentence).
//!
//! Every test signs in through the binary itself (`login --email`, the embedded default's demo
//! sign-in) into a home of its own (`CODITECT_LICENSE_HOME`), with a fingerprint of its own
//! (`CODITECT_FINGERPRINT`) per machine.
//!
//! Layout: this file holds [`Cli`]; then `running` (run, status, release), `denial`, `outage`
//! (server stopped or restarted mid-run), `borrowing` (borrow and return), `waiting` (run --wait:
//! the queue, Ctrl-C, a timeout), `terminal` (tmux).
//!
//! Run: `cargo nextest run -p integration-tests --test cli_seat`

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use integration_tests::process::built_binary;
use integration_tests::server::{Backends, TempDir, TestServer};
use serde_json::Value;

mod borrowing;
mod denial;
mod outage;
mod running;
mod terminal;
mod usage;
mod waiting;

/// Short seats and grace, so expiry and grace show within a test.
const FAST: &[(&str, &str)] = &[
    ("SEAT_TTL_SECONDS", "4"),
    ("HEARTBEAT_INTERVAL_SECONDS", "1"),
    ("OFFLINE_GRACE_SECONDS", "6"),
    ("LICENSE_CACHE_SECONDS", "0"),
    // A six-second grace refreshes the lease every three seconds, twenty acquires a minute: far
    // above the per-machine limit a real grace (an hour) never comes near.
    ("ACQUIRE_RATE_PER_MACHINE", "0"),
];

/// The CLI of one person on one machine.
#[derive(Clone)]
struct Cli {
    binary: PathBuf,
    home: Arc<TempDir>,
    url: String,
    email: String,
    fingerprint: String,
}

impl Cli {
    /// A fresh machine of `email`, for the server at `url`, signed in.
    fn signed_in(url: &str, email: &str, machine: u32) -> Self {
        let cli = Self {
            binary: built_binary("coditect-license"),
            home: Arc::new(TempDir::new()),
            url: url.to_owned(),
            email: email.to_owned(),
            fingerprint: integration_tests::api::machine(machine),
        };
        let login = cli.run(&["login", "--email", email]);
        assert!(login.status.success(), "login: {}", text(&login));
        cli
    }

    /// The command line `args`, ready to spawn.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(args)
            .env("CODITECT_LICENSE_HOME", &self.home.0)
            .env("CODITECT_LICENSE_URL", &self.url)
            .env("CODITECT_FINGERPRINT", &self.fingerprint)
            .env_remove("NO_COLOR")
            .stdin(Stdio::null());
        command
    }

    /// Runs `args` to completion.
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the CLI runs")
    }

    /// `status --json`.
    fn status(&self) -> Value {
        let status = self.run(&["status", "--json"]);
        serde_json::from_slice(&status.stdout)
            .unwrap_or_else(|e| panic!("status --json is JSON ({e}): {}", text(&status)))
    }

    /// `run -- sleep 20`, once the service shows its seat held: a machine using its seat. Dropping
    /// it ends the run as Ctrl-C does, so neither the CLI nor its `sleep` outlives the test.
    async fn holding_the_seat(&self) -> Holding {
        let holding = self
            .command(&["run", "--", "sleep", "20"])
            .spawn()
            .expect("spawns");
        eventually(Duration::from_secs(10), "the seat held", || {
            self.holders().len() == 1
        })
        .await;
        Holding(holding, None)
    }

    /// The hostnames holding the organisation's seats (the signed-in person is its owner).
    fn holders(&self) -> Vec<String> {
        self.status()["holders"]
            .as_array()
            .expect("owners see the holders")
            .iter()
            .map(|h| h["hostname"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// A `run` holding a seat (see [`Cli::holding_the_seat`]).
struct Holding(std::process::Child, Option<std::process::ExitStatus>);

impl Holding {
    /// Ends the run as Ctrl-C does (the CLI stops its command and releases the seat) and waits
    /// for it; SIGKILL after 10 s.
    fn stop(&mut self) -> std::process::ExitStatus {
        if let Some(status) = self.1 {
            return status;
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                self.1 = Some(status);
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.0.kill();
                let status = self.0.wait().expect("reaped");
                self.1 = Some(status);
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A server on `backends` with [`FAST`] and `vars`.
async fn server(backends: Backends, vars: &[(&str, &str)]) -> Option<TestServer> {
    let mut all = FAST.to_vec();
    all.extend_from_slice(vars);
    TestServer::start(backends, &all).await
}

/// Stdout and stderr of a finished command, for assertion messages.
fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Polls `condition` every 50 ms for at most `bound`.
async fn eventually(bound: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !condition() {
        assert!(started.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
