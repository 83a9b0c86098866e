//! `run --wait` from the binary: two people on a one-seat license, the second waits in the queue
//! (its place on stderr, and in `status` for the owner), and starts within a second of the first
//! exiting; Ctrl-C leaves the queue at once; `--timeout` gives up with exit 75.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use integration_tests::server::Backends;
use serde_json::Value;

use super::{Cli, eventually, server, text};

integration_tests::on_both_backends!(
    the_second_user_waits_and_starts_within_a_second_of_the_first_exiting,
    ctrl_c_while_waiting_leaves_the_queue_at_once,
    a_wait_that_times_out_exits_75_and_leaves_the_queue,
);

/// Long seats: the first user's seat frees only by its exit.
const HELD: &[(&str, &str)] = &[
    ("SEAT_TTL_SECONDS", "60"),
    ("ACQUIRE_RATE_PER_MACHINE", "0"),
];

/// The tickets waiting, as the owner's `status --json` shows them.
fn queue(owner: &Cli) -> Vec<Value> {
    owner.status()["queue"]
        .as_array()
        .cloned()
        .expect("owners see the queue")
}

async fn the_second_user_waits_and_starts_within_a_second_of_the_first_exiting(backends: Backends) {
    // Arrange: ana holds the one seat with a command that ends when a file appears.
    let Some(server) = server(backends, HELD).await else {
        return;
    };
    let ana = Cli::signed_in(&server.url, "ana@wait.test", 51);
    let bob = Cli::signed_in(&server.url, "ana@wait.test", 52);
    let stop = ana.home.0.join("stop");
    let mut first = ana
        .command(&[
            "run",
            "--",
            "sh",
            "-c",
            &format!("while [ ! -e {} ]; do sleep 0.05; done", stop.display()),
        ])
        .spawn()
        .expect("spawns");
    eventually(Duration::from_secs(10), "ana's seat", || {
        ana.holders().len() == 1
    })
    .await;

    // Act: bob waits (JSON lines on stderr); then ana's command ends.
    let mut second = bob
        .command(&[
            "--json",
            "run",
            "--wait",
            "--",
            "sh",
            "-c",
            "echo started-after-wait",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut lines = BufReader::new(second.stderr.take().expect("stderr"));
    let mut line = String::new();
    lines.read_line(&mut line).expect("a line");
    let place: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(place["event"], "queued", "{line}");
    assert_eq!(
        (place["position"].as_u64(), place["queue_length"].as_u64()),
        (Some(1), Some(1))
    );
    let waiting = queue(&ana);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["ticket"], place["ticket"]);
    std::fs::write(&stop, b"").expect("the stop file");
    let exited = exited_within(&mut first, Duration::from_secs(10)).await;
    let freed = Instant::now();

    // Assert: bob's command ran, started within a second of ana's exit.
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut lines, &mut rest).expect("stderr");
    let done = second.wait_with_output().expect("bob's run ends");
    let started = freed.elapsed();
    assert!(exited.success());
    assert_eq!(done.status.code(), Some(0), "{}{rest}", text(&done));
    assert!(String::from_utf8_lossy(&done.stdout).contains("started-after-wait"));
    let acquired: Value = rest
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["event"] == "acquired")
        .unwrap_or_else(|| panic!("an acquired line: {rest}"));
    assert_eq!(acquired["max_seats"], 1);
    assert!(
        started < Duration::from_secs(2),
        "bob's command finished {started:?} after the seat freed"
    );
    assert!(queue(&ana).is_empty());
}

async fn ctrl_c_while_waiting_leaves_the_queue_at_once(backends: Backends) {
    let Some(server) = server(backends, HELD).await else {
        return;
    };
    let ana = Cli::signed_in(&server.url, "ana@ctrlc.test", 61);
    let bob = Cli::signed_in(&server.url, "ana@ctrlc.test", 62);
    let mut holding = ana.holding_the_seat().await;
    let mut waiting = bob
        .command(&["run", "--wait", "--", "true"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns");
    eventually(Duration::from_secs(10), "bob in the queue", || {
        queue(&ana).len() == 1
    })
    .await;

    // Act
    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &waiting.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = exited_within(&mut waiting, Duration::from_secs(10)).await;

    // Assert: exit 130, out of the queue by the time it exited, the seat still ana's.
    let mut said = String::new();
    std::io::Read::read_to_string(&mut waiting.stderr.take().expect("stderr"), &mut said)
        .expect("stderr");
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(said.contains("Left the queue"), "{said}");
    assert!(queue(&ana).is_empty(), "left before exiting");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "{:?}",
        sent.elapsed()
    );
    assert_eq!(ana.holders().len(), 1);
    holding.stop();
}

async fn a_wait_that_times_out_exits_75_and_leaves_the_queue(backends: Backends) {
    let Some(server) = server(backends, HELD).await else {
        return;
    };
    let ana = Cli::signed_in(&server.url, "ana@timeout.test", 71);
    let bob = Cli::signed_in(&server.url, "ana@timeout.test", 72);
    let mut holding = ana.holding_the_seat().await;
    let started = Instant::now();

    let gave_up = bob.run(&["run", "--wait", "--timeout", "3s", "--", "true"]);

    let said = String::from_utf8_lossy(&gave_up.stderr);
    assert_eq!(gave_up.status.code(), Some(75), "{}", text(&gave_up));
    assert!(said.contains("no seat freed within 3 seconds"), "{said}");
    assert!(
        (Duration::from_secs(3)..Duration::from_secs(15)).contains(&started.elapsed()),
        "{:?}",
        started.elapsed()
    );
    assert!(queue(&ana).is_empty(), "left the queue on giving up");
    let usage = bob.run(&["run", "--timeout", "3s", "--", "true"]);
    assert_eq!(
        usage.status.code(),
        Some(64),
        "--timeout needs --wait: {}",
        text(&usage)
    );
    holding.stop();
}

/// The exit status of `child`, which must come within `bound`.
async fn exited_within(
    child: &mut std::process::Child,
    bound: Duration,
) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            started.elapsed() < bound,
            "the CLI did not exit within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
