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

/// Waits until `child` (or a process it started) listens on `port` and `ready` holds, or `child`
/// exits (a server whose port was taken between [`free_port`] and its bind); whether it is ready.
///
/// `ready` runs only once the listener is `child`'s own, so a probe never talks to a stranger
/// that took the port (which could answer for it, or accept and never answer).
///
/// # Panics
/// After `bound` with neither.
pub fn ready_or_exited(
    what: &str,
    child: &mut Child,
    port: u16,
    bound: Duration,
    mut ready: impl FnMut() -> bool,
) -> bool {
    let started = Instant::now();
    loop {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return false;
        }
        if listens_on(child.id(), port) && ready() {
            return true;
        }
        assert!(
            started.elapsed() < bound,
            "{what} is not ready on port {port} after {bound:?}"
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

/// `None` once the service listens on `port` and its `/healthz` answers 200, or the exit status
/// if the process ended first.
///
/// # Panics
/// After 20 s with neither.
async fn healthy_or_exited(service: &mut Service, port: u16) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = service.0.try_wait().expect("try_wait") {
            return Some(status);
        }
        if listens_on(service.0.id(), port) && healthz_answers(port).await {
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
        if healthz_answers(port).await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no /healthz on port {port}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `GET /healthz` on `127.0.0.1:port` answers 200 within a second: a listener that
/// accepts and never answers is a no, not a hang.
async fn healthz_answers(port: u16) -> bool {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(1))
            .build()
            .expect("an HTTP client")
    });
    CLIENT
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// Whether a TCP socket listening on `port` belongs to process `pid` or one it started (a server
/// started through `runuser` listens in a child of the spawned process).
///
/// Reads Linux's `/proc`: the listening sockets' inodes from `/proc/net/tcp{,6}`, the process
/// owning each from `/proc/<pid>/fd`, that process's ancestors from `/proc/<pid>/stat`.
/// Elsewhere, where `/proc/net/tcp` cannot be read, every listener counts as `pid`'s.
pub fn listens_on(pid: u32, port: u16) -> bool {
    let Ok(v4) = std::fs::read_to_string("/proc/net/tcp") else {
        return true;
    };
    let v6 = std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    let sockets = listening_inodes(&v4, port)
        .chain(listening_inodes(&v6, port))
        .map(|inode| format!("socket:[{inode}]"))
        .collect::<Vec<_>>();
    if sockets.is_empty() {
        return false;
    }
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return false;
    };
    processes
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&owner| holds_any(owner, &sockets))
        .any(|owner| descends_from(owner, pid))
}

/// The inodes of the sockets listening on `port` in a `/proc/net/tcp`-format table.
fn listening_inodes(table: &str, port: u16) -> impl Iterator<Item = &str> {
    let local_port = format!(":{port:04X}");
    table.lines().skip(1).filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
        (local.ends_with(&local_port) && *state == "0A").then_some(*inode)
    })
}

/// Whether process `owner` has one of `sockets` (`socket:[inode]`) open.
fn holds_any(owner: u32, sockets: &[String]) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{owner}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
    })
}

/// Whether process `pid` is `ancestor` or was started by it, directly or not.
fn descends_from(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        // `/proc/<pid>/stat`: `pid (comm) state ppid …`; `comm` may hold spaces and parentheses.
        let Some(parent) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| {
                let after_comm = &stat[stat.rfind(')')? + 1..];
                after_comm.split_whitespace().nth(1)?.parse::<u32>().ok()
            })
        else {
            return false;
        };
        if parent <= 1 {
            return false;
        }
        pid = parent;
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_listener_is_known_as_its_own_processes_and_no_others() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mut stranger = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");

        let ours = super::listens_on(std::process::id(), port);
        let theirs = super::listens_on(stranger.id(), port);
        drop(listener);
        let gone = super::listens_on(std::process::id(), port);
        let _ = stranger.kill();
        let _ = stranger.wait();

        assert!(ours, "this process listens on {port}");
        assert!(!theirs, "a process this one did not start does not");
        assert!(!gone, "nobody does once the listener is closed");
    }

    #[test]
    fn only_listening_rows_of_the_port_count() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
            0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1\n\
            1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 222 1\n\
            2: 00000000:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 333 1\n";
        assert_eq!(
            super::listening_inodes(table, 8080).collect::<Vec<_>>(),
            ["111"]
        );
        assert_eq!(
            super::listening_inodes(table, 8081).collect::<Vec<_>>(),
            ["333"]
        );
        assert_eq!(super::listening_inodes(table, 80).count(), 0);
    }

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
