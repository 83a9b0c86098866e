//! `run`, `status` and `release`: the command's own exit status, signals relayed, the seat
//! released when the command ends.

use std::process::Stdio;
use std::time::{Duration, Instant};

use integration_tests::server::{Backends, TempDir};

use super::{Cli, eventually, server, text};

integration_tests::on_both_backends!(
    run_exits_with_the_commands_status_and_releases_the_seat,
    sigint_sent_to_the_cli_reaches_the_command_and_the_seat_is_released_as_the_cli_exits,
);

async fn run_exits_with_the_commands_status_and_releases_the_seat(backends: Backends) {
    let Some(server) = server(backends, &[]).await else {
        return;
    };
    let cli = Cli::signed_in(&server.url, "ana@acme.test", 1);
    let marker = TempDir::new();
    let file = marker.0.join("ran");
    let script = format!("echo seat > {}; exit 3", file.display());

    let ran = cli.run(&["run", "--", "sh", "-c", &script]);
    assert_eq!(ran.status.code(), Some(3), "{}", text(&ran));
    assert!(file.exists(), "the command ran");
    assert!(cli.holders().is_empty(), "released when the command ended");
    assert!(cli.status()["this_machine"].is_null());
}

async fn sigint_sent_to_the_cli_reaches_the_command_and_the_seat_is_released_as_the_cli_exits(
    backends: Backends,
) {
    let Some(server) = server(backends, &[]).await else {
        return;
    };
    let cli = Cli::signed_in(&server.url, "ana@acme.test", 2);
    let marker = TempDir::new();
    let file = marker.0.join("interrupted");
    let script = format!(
        "trap 'echo int > {}; kill $!; exit 7' INT; echo ready; sleep 30 & wait",
        file.display()
    );
    let mut child = cli
        .command(&["run", "--", "sh", "-c", &script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawns");
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().expect("stdout")),
        &mut ready,
    )
    .expect("the command starts");
    assert_eq!(ready.trim(), "ready");
    assert_eq!(cli.holders().len(), 1);

    let sent = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let status = child.wait().expect("the CLI exits");
    assert_eq!(
        status.code(),
        Some(7),
        "the command's own exit after its trap"
    );
    assert!(file.exists(), "the command got the SIGINT");
    // The CLI waits for the release's answer before it exits, so the seat is gone at the first
    // look, not eventually. And by the release, not the expiry: with a heartbeat every second
    // and a 4 s TTL, the seat could not lapse before 3 s after the signal (an order of magnitude
    // above what the signal, the trap and the release take even on a loaded machine).
    assert!(
        cli.holders().is_empty(),
        "released by the time the CLI exits"
    );
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "before the TTL could have freed it: {:?}",
        sent.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_gives_back_a_seat_a_crashed_run_left_and_leaves_a_running_ones() {
    let server = server(Backends::Embedded, &[("SEAT_TTL_SECONDS", "60")])
        .await
        .expect("embedded");
    let cli = Cli::signed_in(&server.url, "ana@acme.test", 3);
    // The command outlives the CLI killed below only briefly, writing nowhere the test reads.
    let mut running = cli
        .command(&["run", "--", "sleep", "8"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    eventually(
        Duration::from_secs(10),
        "the seat held and recorded",
        || {
            let status = cli.status();
            status["holders"].as_array().is_some_and(|h| h.len() == 1)
                && !status["this_machine"].is_null()
        },
    )
    .await;

    let kept = cli.run(&["release", "--json"]);
    assert!(kept.status.success(), "{}", text(&kept));
    let kept: serde_json::Value = serde_json::from_slice(&kept.stdout).expect("json");
    assert_eq!(kept["released"], false, "a running command holds it");
    assert_eq!(kept["running_holders"], 1);
    assert_eq!(cli.holders().len(), 1);

    // The run crashes: nothing releases the seat, which would wait for its 60 s TTL.
    running.kill().expect("killed");
    running.wait().expect("reaped");
    assert_eq!(cli.holders().len(), 1);
    let released = cli.run(&["release"]);
    assert!(released.status.success(), "{}", text(&released));
    assert!(
        String::from_utf8_lossy(&released.stdout).contains("Released"),
        "{}",
        text(&released)
    );
    assert!(cli.holders().is_empty());
    let again = cli.run(&["release"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("holds no seat"),
        "{}",
        text(&again)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_without_a_sign_in_says_to_log_in_and_exits_77() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let cli = Cli {
        binary: integration_tests::process::built_binary("coditect-license"),
        home: std::sync::Arc::new(TempDir::new()),
        url: server.url.clone(),
        email: "nobody@acme.test".into(),
        fingerprint: integration_tests::api::machine(4),
    };
    let ran = cli.run(&["run", "--", "true"]);
    assert_eq!(ran.status.code(), Some(77), "{}", text(&ran));
    assert!(
        String::from_utf8_lossy(&ran.stderr).contains("coditect-license login"),
        "{}",
        text(&ran)
    );
    let json = cli.run(&["run", "--json", "--", "true"]);
    let error: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json error");
    assert_eq!(error["error"]["exit_code"], 77);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_cannot_start_is_a_usage_error_and_frees_the_seat() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let cli = Cli::signed_in(&server.url, "ana@acme.test", 5);
    let ran = cli.run(&["run", "--", "/nonexistent/coditect"]);
    assert_eq!(ran.status.code(), Some(64), "{}", text(&ran));
    assert!(cli.holders().is_empty());
    let usage = cli.run(&["run"]);
    assert_eq!(usage.status.code(), Some(64), "{}", text(&usage));
}
