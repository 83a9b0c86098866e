//! The real `coditect-license` binary as a process, with a home directory of its own
//! (`CODITECT_LICENSE_HOME`) and `--server` at a test server: what a person or a script runs.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use coditect_license::signin::Credentials;
use coditect_license::{Home, ServerDir};
use tokio::io::AsyncWriteExt;

use crate::server::TempDir;

/// How long one CLI run may take before the test fails.
const RUN_BOUND: Duration = Duration::from_secs(120);

/// The CLI for one person on one machine, pointed at one server.
pub struct Cli {
    /// `--server`.
    pub server: String,
    /// `CODITECT_LICENSE_HOME`, removed with the test.
    pub home: TempDir,
    /// Extra variables of every run.
    pub env: Vec<(String, String)>,
}

/// What one run did.
#[derive(Debug)]
pub struct CliRun {
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl CliRun {
    /// Stdout as one JSON value (`--json`).
    ///
    /// # Panics
    /// When stdout is not one JSON value.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is one JSON value ({e}): {self:?}"))
    }
}

/// The built binary, built once per test process.
pub fn binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| crate::process::built_binary("coditect-license"))
}

impl Cli {
    /// The CLI in a fresh home, for `server`.
    pub fn new(server: &str) -> Self {
        Self {
            server: server.to_owned(),
            home: TempDir::new(),
            env: Vec::new(),
        }
    }

    /// The client's files for this server, as the binary finds them.
    pub fn files(&self) -> ServerDir {
        Home::at(&self.home.0).server(&self.server)
    }

    /// The stored sign-in.
    ///
    /// # Panics
    /// When there is none or it does not parse.
    #[track_caller]
    pub fn credentials(&self) -> Credentials {
        Credentials::read(&self.files())
            .expect("credentials.json reads")
            .expect("credentials.json exists")
    }

    /// Runs `coditect-license --server <server> <args…>` with `stdin` written to its stdin (then
    /// closed), within two minutes.
    ///
    /// # Panics
    /// When it cannot start or takes longer.
    pub async fn run(&self, args: &[&str], stdin: &str) -> CliRun {
        let mut command = tokio::process::Command::new(binary());
        command
            .arg("--server")
            .arg(&self.server)
            .args(args)
            .env_remove("CODITECT_LICENSE_URL")
            .env_remove("BROWSER")
            .env("CODITECT_LICENSE_HOME", &self.home.0)
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("coditect-license starts");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.as_bytes())
            .await
            .expect("stdin written");
        drop(input);
        let output = tokio::time::timeout(RUN_BOUND, child.wait_with_output())
            .await
            .unwrap_or_else(|_| {
                panic!("coditect-license {args:?} did not finish within {RUN_BOUND:?}")
            })
            .expect("coditect-license runs");
        CliRun {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
