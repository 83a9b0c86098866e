//! Idle and slow connections cannot lock anyone out: hundreds of them open, a legitimate client is
//! still served at once, and they are closed when their timeout passes; a kept-alive connection
//! has its own, longer timeout. As a process with few file descriptors, the server raises its
//! soft limit, stays below the limit with its connection cap, and keeps serving without flooding
//! its log.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use integration_tests::process::{built_binary, spawn_on_free_port};
use integration_tests::server::TempDir;
use shared::config::Config;
use shared::serving::{ConnectionLimits, serve_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Short timeouts, so the test watches them pass.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(4);

/// How late a close may come after its timeout on a loaded machine.
const LATE: Duration = Duration::from_millis(1500);

const IDLE: usize = 300;
const SLOWLORIS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_is_served_while_hundreds_of_idle_and_slowloris_connections_are_open_and_those_close_on_time()
 {
    // Arrange: the local server with short timeouts, from configuration.
    let (addr, _server) = local_server(&[
        ("HEADER_READ_TIMEOUT_SECONDS", "2"),
        ("KEEP_ALIVE_TIMEOUT_SECONDS", "4"),
    ])
    .await;
    let closed = Arc::new(AtomicUsize::new(0));
    let mut hostile = JoinSet::new();
    for n in 0..IDLE + SLOWLORIS {
        let stream = TcpStream::connect(addr).await.expect("connects");
        let closed = closed.clone();
        let slow = n >= IDLE;
        hostile.spawn(async move {
            let lifetime = held_until_closed(stream, slow).await;
            closed.fetch_add(1, Ordering::SeqCst);
            lifetime
        });
    }
    let mut kept_alive = TcpStream::connect(addr).await.expect("connects");

    // Act: a legitimate client, while all of them are open.
    let started = Instant::now();
    let answer = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the legitimate client is answered");
    let legit_latency = started.elapsed();
    let closed_when_served = closed.load(Ordering::SeqCst);
    assert!(answer.status().is_success());
    get_healthz(&mut kept_alive).await;
    let kept_alive_served = Instant::now();

    // Assert: served promptly, before any hostile connection had been closed.
    assert!(
        legit_latency < Duration::from_secs(1),
        "healthz took {legit_latency:?}"
    );
    assert_eq!(closed_when_served, 0, "the check ran while all were open");
    // Every idle and slowloris connection closes after the header timeout, not much later.
    let lifetimes = tokio::time::timeout(HEADER_TIMEOUT + LATE * 2, hostile.join_all())
        .await
        .expect("every idle and slowloris connection is closed");
    for lifetime in &lifetimes {
        assert!(
            *lifetime >= HEADER_TIMEOUT - Duration::from_millis(50)
                && *lifetime <= HEADER_TIMEOUT + LATE,
            "a connection lived {lifetime:?} (header timeout {HEADER_TIMEOUT:?})"
        );
    }
    // The kept-alive connection outlives the header timeout idle: its own timeout is the longer one.
    tokio::time::sleep_until((kept_alive_served + HEADER_TIMEOUT + LATE / 3).into()).await;
    get_healthz(&mut kept_alive).await;
    let idle_since = Instant::now();
    let lifetime = held_until_closed(kept_alive, false).await;
    assert!(
        lifetime >= KEEP_ALIVE_TIMEOUT - Duration::from_millis(50)
            && idle_since.elapsed() <= KEEP_ALIVE_TIMEOUT + LATE,
        "an idle kept-alive connection closed after {:?} (keep-alive timeout {KEEP_ALIVE_TIMEOUT:?})",
        idle_since.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_few_descriptors_the_server_raises_its_limit_caps_connections_and_keeps_serving() {
    // Arrange: the local binary with a soft limit of 160 descriptors under a hard limit of 160
    // (nothing to raise to), and one with the soft limit only lowered.
    let binary = built_binary("local");
    let data_dir = TempDir::new();
    let log = data_dir.0.join("stdout.log");
    let (capped, port) =
        spawn_on_free_port(|port| fd_limited(&binary, &data_dir, port, "ulimit -n 160", &log))
            .await;
    let raised_dir = TempDir::new();
    let (raised, _) = spawn_on_free_port(|port| {
        fd_limited(
            &binary,
            &raised_dir,
            port,
            "ulimit -Sn 160",
            &raised_dir.0.join("stdout.log"),
        )
    })
    .await;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    // Act: 300 idle connections, more than the descriptors the process has, then a client.
    let mut idle = Vec::new();
    for _ in 0..300 {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr)).await
        {
            idle.push(stream);
        }
    }
    let started = Instant::now();
    let answer = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("the client is answered once idle connections time out");
    let waited = started.elapsed();

    // Assert
    assert!(answer.status().is_success());
    assert!(waited < Duration::from_secs(10), "healthz took {waited:?}");
    let (soft, hard) = open_file_limits(raised.0.id());
    assert_eq!(soft, hard, "the soft limit is raised to the hard limit");
    drop(idle);
    capped.terminate();
    assert!(
        capped
            .exited_within(Duration::from_secs(15))
            .await
            .success()
    );
    let lines = std::fs::read_to_string(&log).expect("the log is written");
    let count = |needle: &str| lines.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(
        count("cannot accept"),
        0,
        "no accept error: the cap stays below the limit"
    );
    assert!(count("accept error") == 0, "{lines}");
    assert!(
        (1..=2).contains(&count("connection cap reached")),
        "the cap is logged, once per 10 s at most:\n{lines}"
    );
}

/// The local server on the embedded default with `vars`, in this process.
async fn local_server(vars: &[(&str, &str)]) -> (SocketAddr, TempDir) {
    let data_dir = TempDir::new();
    let dir = data_dir.0.display().to_string();
    let config = Arc::new(
        Config::from_lookup(|name| {
            if name == "DATA_DIR" {
                return Some(dir.clone());
            }
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
        .expect("configuration parses"),
    );
    let local = local::build(config.clone()).await.expect("builds");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve_with(
        listener,
        local.app,
        ConnectionLimits::from_config(&config),
        std::future::pending(),
        Duration::from_secs(1),
    ));
    (addr, data_dir)
}

/// Holds `stream` open (sending one header byte every 300 ms when `slow`) until the server closes
/// it; how long that took.
async fn held_until_closed(mut stream: TcpStream, slow: bool) -> Duration {
    let opened = Instant::now();
    let slowloris =
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut sent = 0;
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return opened.elapsed(),
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_millis(300)), if slow => {
                let byte = slowloris[sent % slowloris.len()];
                sent += 1;
                if stream.write_all(&[byte]).await.is_err() {
                    return opened.elapsed();
                }
            }
            () = tokio::time::sleep(Duration::from_secs(30)) => {
                panic!("a connection stayed open for 30 s");
            }
        }
    }
}

/// One `GET /healthz` on a kept-alive raw connection, its answer read in full.
async fn get_healthz(stream: &mut TcpStream) {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !complete(&answer) {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .expect("reads");
        assert!(n > 0, "the kept-alive connection was closed");
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
}

/// Whether `answer` holds a whole response (headers and a `content-length` body).
fn complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    body.len() >= length
}

/// `binary` on `port` under the descriptor limits `ulimit` sets, its stdout in `log`.
fn fd_limited(
    binary: &std::path::Path,
    data_dir: &TempDir,
    port: u16,
    ulimit: &str,
    log: &std::path::Path,
) -> std::process::Command {
    let stdout = std::fs::File::create(log).expect("log file");
    let mut command = std::process::Command::new("bash");
    command
        .arg("-c")
        .arg(format!("{ulimit} && exec \"$0\""))
        .arg(binary)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("DATA_DIR", &data_dir.0)
        .env("HEADER_READ_TIMEOUT_SECONDS", "1")
        .stdout(stdout)
        .stderr(std::process::Stdio::null());
    command
}

/// The open-file soft and hard limits of process `pid`, from `/proc`.
fn open_file_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("/proc limits");
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("an open-files line");
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}
