//! A Redis or PostgreSQL of one test's own, on a free port with a temporary data dir, for tests
//! that kill, freeze or stop a backend: the shared instances on 6379 and 5432 are never touched.
//!
//! Each server is a child process, killed (after a `SIGCONT`, should it be frozen) and its data
//! dir removed when the value is dropped, also when the test fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{on_a_free_port, ready_or_exited};
use crate::server::TempDir;

/// Sends `signal` (`STOP`, `CONT`, `KILL`, `INT`…) to `child`.
///
/// # Panics
/// When `kill` cannot be run or the process is gone.
pub fn signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(
        status.success(),
        "SIG{signal} reaches process {}",
        child.id()
    );
}

/// Waits until `ready` holds, polling every 50 ms for at most `bound`.
///
/// # Panics
/// When it never holds.
fn wait_until(what: &str, bound: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < bound, "{what} after {bound:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most 10 s) for `child` to exit after it was told to.
fn reap(child: &mut Child) {
    let started = Instant::now();
    while matches!(child.try_wait(), Ok(None)) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A `redis-server` that keeps nothing on disk: a restart starts it empty, as a Memorystore
/// failover without persistence does.
pub struct PrivateRedis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
    frozen: bool,
}

impl PrivateRedis {
    /// Starts one and waits until it answers `PING`.
    ///
    /// # Panics
    /// When `redis-server` is missing or does not come up.
    pub fn start() -> Self {
        let mut redis = Self {
            port: 0,
            dir: TempDir::new(),
            child: None,
            frozen: false,
        };
        redis.port = on_a_free_port("the private Redis", |port| {
            redis.port = port;
            redis.spawn()
        });
        redis
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server on `self.port`; whether it serves (false: it exited, the port taken).
    fn spawn(&mut self) -> bool {
        let mut child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (Debian's redis-server package)");
        let port = self.port.to_string();
        let serves = ready_or_exited(
            "the private Redis",
            &mut child,
            self.port,
            Duration::from_secs(10),
            || {
                Command::new("redis-cli")
                    .args(["-p", &port, "ping"])
                    .output()
                    .is_ok_and(|out| out.stdout.starts_with(b"PONG"))
            },
        );
        self.child = Some(child);
        serves
    }

    /// Kills it with `SIGKILL`: every key is gone, connections drop.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.frozen {
                signal(&child, "CONT");
                self.frozen = false;
            }
            signal(&child, "KILL");
            reap(&mut child);
        }
    }

    /// Starts it again on the same port, empty.
    ///
    /// # Panics
    /// When it cannot serve there again.
    pub fn restart(&mut self) {
        self.kill();
        assert!(
            self.spawn(),
            "the private Redis restarts on port {}",
            self.port
        );
    }

    /// `SIGSTOP`: connections stay open and nothing answers, as a hung instance behaves.
    pub fn freeze(&mut self) {
        signal(self.child.as_ref().expect("running"), "STOP");
        self.frozen = true;
    }

    /// `SIGCONT`: it answers again, with its data.
    pub fn thaw(&mut self) {
        signal(self.child.as_ref().expect("running"), "CONT");
        self.frozen = false;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PostgreSQL cluster of its own (`initdb` into a temporary dir, run as the `postgres` user
/// when the test runs as root, which PostgreSQL refuses to run as), trust authentication on
/// 127.0.0.1, `fsync` off.
pub struct PrivatePostgres {
    /// Its port on 127.0.0.1.
    pub port: u16,
    data: PathBuf,
    _dir: TempDir,
    child: Option<Child>,
}

impl PrivatePostgres {
    /// Creates the cluster and starts it.
    ///
    /// # Panics
    /// When `initdb`/`postgres` are missing or the server does not come up.
    pub fn start() -> Self {
        let dir = TempDir::new();
        let data = dir.0.join("pgdata");
        let mut postgres = Self {
            port: 0,
            data,
            _dir: dir,
            child: None,
        };
        if running_as_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&postgres._dir.0)
                .status()
                .expect("chown runs");
            assert!(status.success(), "the data dir is given to postgres");
        }
        let initdb = postgres
            .command("initdb")
            .args(["--auth=trust", "--username=postgres", "--no-sync", "-D"])
            .arg(&postgres.data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("initdb runs (PostgreSQL's server binaries on PATH)");
        assert!(initdb.success(), "initdb makes the cluster");
        postgres.port = on_a_free_port("the private PostgreSQL", |port| {
            postgres.port = port;
            postgres.spawn()
        });
        postgres
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `program` (a PostgreSQL server binary) as the user PostgreSQL runs as.
    fn command(&self, program: &str) -> Command {
        let program = server_binary(program);
        if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    /// Starts the server on `self.port`; whether it serves (false: it exited, the port taken).
    fn spawn(&mut self) -> bool {
        let mut child = self
            .command("postgres")
            .arg("-D")
            .arg(&self.data)
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.data)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("postgres runs");
        let port = self.port.to_string();
        let serves = ready_or_exited(
            "the private PostgreSQL",
            &mut child,
            self.port,
            Duration::from_secs(30),
            || {
                Command::new(server_binary("pg_isready"))
                    .args(["-h", "127.0.0.1", "-p", &port])
                    .output()
                    .is_ok_and(|out| out.status.success())
            },
        );
        self.child = Some(child);
        serves
    }

    /// Stops it (fast shutdown: open connections are closed), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The postmaster's pid is the first line of postmaster.pid (under runuser it is not
            // the child itself).
            let postmaster = std::fs::read_to_string(self.data.join("postmaster.pid"))
                .ok()
                .and_then(|text| text.lines().next().map(str::to_owned));
            match postmaster {
                Some(pid) => {
                    let _ = Command::new("kill").args(["-INT", &pid]).status();
                }
                None => signal(&child, "INT"),
            }
            reap(&mut child);
            // The postmaster may outlive runuser by a moment: wait until the port is free.
            let port = self.port;
            wait_until("PostgreSQL to stop", Duration::from_secs(10), || {
                std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            });
        }
    }

    /// Starts it again with the same data, on the same port.
    ///
    /// # Panics
    /// When it cannot serve there again.
    pub fn start_again(&mut self) {
        self.stop();
        assert!(
            self.spawn(),
            "the private PostgreSQL restarts on port {}",
            self.port
        );
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `name` from PATH, else from the newest `/usr/lib/postgresql/<version>/bin`, where Debian puts
/// the server binaries without linking them onto PATH.
fn server_binary(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()));
    if on_path {
        return PathBuf::from(name);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin").join(name)))
        })
        .filter(|(_, path)| path.is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .map_or_else(|| PathBuf::from(name), |(_, path)| path)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}
