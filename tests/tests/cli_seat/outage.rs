//! The server stops mid-run: the command keeps running within grace and the CLI says so, then
//! grace ends and the command is stopped (exit 78). The server restarts (the embedded seat store
//! empty): the CLI acquires again and the command never notices.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use integration_tests::server::Backends;

use super::{Cli, server, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_runs_on_through_an_outage_within_grace_and_is_stopped_when_grace_ends() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let cli = Cli::signed_in(&server.url, "ana@acme.test", 21);
    let mut child = cli
        .command(&["run", "--", "sh", "-c", "echo started; exec sleep 60"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut started = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut started)
        .expect("read");
    assert_eq!(started.trim(), "started");

    let stopped = server.stop().await;
    let down = Instant::now();
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut lines = Vec::new();
    let reader = std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            lines.push((Instant::now(), line));
        }
        lines
    });
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("joined")
        .expect("the CLI exits");
    let lines = reader.join().expect("reader");
    let said: Vec<&str> = lines.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(status.code(), Some(78), "grace over: {said:?}");

    let offline = lines
        .iter()
        .find(|(_, l)| l.contains("cannot be reached") && l.contains("offline grace"))
        .unwrap_or_else(|| panic!("the CLI said it runs on grace: {said:?}"));
    let lost = lines
        .iter()
        .find(|(_, l)| l.contains("The seat was lost") && l.contains("offline grace ended"))
        .unwrap_or_else(|| panic!("the CLI said grace ended: {said:?}"));
    assert!(offline.0 < lost.0);
    assert!(
        lost.0.duration_since(down) >= Duration::from_secs(2),
        "the command ran on within grace before it was stopped: {said:?}"
    );
    drop(stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_with_an_empty_seat_store_is_reacquired_without_the_command_noticing() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let cli = Cli::signed_in(&server.url, "ana@acme.test", 22);
    let child = cli
        .command(&["run", "--json", "--", "sh", "-c", "sleep 6; echo finished"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let server = server.stop().await.start_again().await;

    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("joined")
        .expect("the CLI exits");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "finished");
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("JSON line ({e}): {l}")))
        .collect();
    assert!(
        events.iter().any(|e| e["event"] == "reacquired"),
        "the CLI acquired a new seat: {events:?}"
    );
    assert_eq!(events.last().expect("events")["event"], "released");
    let holders = cli.holders();
    assert!(holders.is_empty(), "released at the end: {holders:?}");
    drop(server);
}
