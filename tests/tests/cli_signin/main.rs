//! Signing in with the real `coditect-license` binary: `login`, `whoami`, `logout` as processes
//! with a home of their own, against the local server — with the Firebase Auth Emulator (email and
//! password, refresh, the `--no-browser` paste of an IdP redirect) and on the embedded default
//! without one (the demo sign-in). The browser sign-in in Chromium is `cli_browser_signin.rs`.
//!
//! ```sh
//! export FIREBASE_AUTH_EMULATOR_HOST="$(bash tests/firebase/start-emulator.sh)"
//! cargo nextest run -p integration-tests --test cli_signin
//! ```
//!
//! Built without `FIREBASE_AUTH_EMULATOR_HOST`, the emulator tests are ignored (the summary counts
//! them; `tests/build.rs`), except in CI, where they fail. The emulator keeps its accounts between runs, so every test signs up fresh addresses.

mod config;
mod demo;
mod password;
mod pasted;
mod refresh;
mod terminal;

use integration_tests::backends::backend_url;
use integration_tests::cli::{Cli, CliRun};
use integration_tests::server::TestServer;

const PASSWORD: &str = "correct-horse-battery";
/// Exit code: not signed in, or the sign-in was refused.
const NOT_SIGNED_IN: i32 = 77;

/// A fresh address at `domain`.
fn fresh_email(name: &str, domain: &str) -> String {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    format!("{name}.{tag}@{domain}")
}

/// The local server accepting the emulator's tokens, or `None` when the test should skip.
async fn emulator_server() -> Option<TestServer> {
    let host = backend_url("FIREBASE_AUTH_EMULATOR_HOST")?;
    Some(TestServer::embedded(&[("FIREBASE_AUTH_EMULATOR_HOST", host.as_str())]).await)
}

#[track_caller]
fn assert_exit(run: &CliRun, code: i32) {
    assert_eq!(run.code, Some(code), "exit code of {run:?}");
}

#[cfg(unix)]
#[track_caller]
fn assert_private(cli: &Cli) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(cli.files().credentials_path())
        .expect("credentials.json exists")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "credentials.json is private");
}
