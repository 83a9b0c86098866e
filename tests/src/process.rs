//! The function binaries as separate processes: built once, started with an environment of the
//! test's choosing, and killed if the test fails before it stops them.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A spawned binary, killed on drop unless the test waited for it.
pub struct Service(pub Child);

impl Service {
    /// Sends SIGTERM.
    ///
    /// # Panics
    /// When `kill` cannot be run.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "SIGTERM is delivered");
    }

    /// Waits (off the async runtime) at most `bound` for the process to exit; its status.
    ///
    /// # Panics
    /// When it has not exited by then.
    pub async fn exited_within(mut self, bound: Duration) -> std::process::ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                started.elapsed() < bound,
                "the process did not exit within {bound:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Every binary a test or CI script runs, built together by [`built_binary`] and by
/// `tests/build-binaries.sh` alike: one package selection means one feature resolution, so the
/// builds never undo each other (a `cargo build -p local` after a `cargo build -p
/// coditect-license` would rebuild half the dependency tree, and the next one again).
pub const BINARIES: &[&str] = &[
    "local",
    "acquire",
    "heartbeat",
    "release",
    "admin",
    "cleanup",
    "stripe-webhook",
    "coditect-license",
];

/// The debug build of the binary `name` (one of [`BINARIES`]), built first if needed. Its path is
/// the one cargo reports for the artifact, so a `CARGO_TARGET_DIR` or a `build.target-dir` in a
/// cargo config is followed; the build runs once per test process.
///
/// # Panics
/// When the build fails, or `name` is not in [`BINARIES`].
pub fn built_binary(name: &str) -> PathBuf {
    assert!(BINARIES.contains(&name), "{name} is listed in BINARIES");
    static BUILT: std::sync::OnceLock<std::collections::HashMap<String, PathBuf>> =
        std::sync::OnceLock::new();
    BUILT
        .get_or_init(build_binaries)
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("cargo built no executable named {name}"))
}

/// Builds [`BINARIES`] and maps each executable's name to the path cargo reports for it.
fn build_binaries() -> std::collections::HashMap<String, PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let packages = BINARIES.iter().flat_map(|b| ["-p", b]);
    let built = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--message-format=json-render-diagnostics",
        ])
        .args(packages)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(built.status.success(), "the test binaries build");
    String::from_utf8_lossy(&built.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter_map(|artifact| {
            let path = artifact["executable"].as_str()?;
            let name = artifact["target"]["name"].as_str()?;
            Some((name.to_owned(), PathBuf::from(path)))
        })
        .collect()
}

/// A port nobody listens on right now.
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// Waits until `ready` holds or `child` exits (a server whose port was taken between
/// [`free_port`] and its bind); whether it is ready.
///
/// # Panics
/// After `bound` with neither.
pub fn ready_or_exited(
    what: &str,
    child: &mut Child,
    bound: Duration,
    mut ready: impl FnMut() -> bool,
) -> bool {
    let started = Instant::now();
    loop {
        if ready() {
            return true;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        assert!(
            started.elapsed() < bound,
            "{what} is not ready after {bound:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `start` on free ports until one serves (three tries): another process may take a port
/// between [`free_port`] and the server's bind.
///
/// # Panics
/// When the server exits on each of them.
pub fn on_a_free_port(what: &str, mut start: impl FnMut(u16) -> bool) -> u16 {
    for _ in 0..3 {
        let port = free_port();
        if start(port) {
            return port;
        }
    }
    panic!("{what} exited before serving, on three ports")
}

/// Spawns the service `command(port)` describes on a free port and waits until it answers
/// `/healthz`. Another process may take the port between [`free_port`] and the service's bind;
/// the service then exits, and the next port is tried (three in all).
///
/// # Panics
/// When the service never comes up, or exits on each of three ports.
pub async fn spawn_on_free_port(mut command: impl FnMut(u16) -> Command) -> (Service, u16) {
    let mut exits = Vec::new();
    for _ in 0..3 {
        let port = free_port();
        let mut service = Service(command(port).spawn().expect("the service spawns"));
        match healthy_or_exited(&mut service, port).await {
            None => return (service, port),
            Some(status) => exits.push(format!("port {port}: {status}")),
        }
    }
    panic!("the service exited before serving, on three ports: {exits:?}")
}

/// `None` once `/healthz` answers 200, or the exit status if the process ended first.
///
/// # Panics
/// After 20 s with neither.
async fn healthy_or_exited(service: &mut Service, port: u16) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = service.0.try_wait().expect("try_wait") {
            return Some(status);
        }
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && r.status().is_success()
        {
            return None;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no /healthz on port {port} after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `GET /healthz` on `127.0.0.1:port` answers 200; how long that took.
///
/// # Panics
/// After 20 s without an answer.
pub async fn wait_for_health(port: u16) -> Duration {
    let started = Instant::now();
    loop {
        if let Ok(r) = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await
            && r.status().is_success()
        {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no /healthz on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_build_script_builds_exactly_the_binaries_the_tests_build() {
        let script = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("build-binaries.sh"),
        )
        .expect("tests/build-binaries.sh");
        let command = script.replace("\\\n", " ");
        let mut listed: Vec<&str> = command
            .split_whitespace()
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[0] == "-p")
            .map(|w| w[1])
            .collect();
        let mut expected = super::BINARIES.to_vec();
        listed.sort_unstable();
        expected.sort_unstable();
        assert_eq!(listed, expected);
    }
}
