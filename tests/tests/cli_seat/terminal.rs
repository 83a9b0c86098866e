//! What a person sees in a real terminal (tmux: a pseudo-terminal, its screen read back with
//! `capture-pane`): a spinner while the acquire takes a moment, gone once the command runs; and a
//! denial that reads as sentences.

use std::time::Duration;

use integration_tests::server::Backends;
use integration_tests::terminal::Tmux;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::{Cli, eventually, server};

/// `cli`'s environment and `args` as one shell command line.
fn shell_line(cli: &Cli, url: &str, args: &str) -> String {
    format!(
        "env -u NO_COLOR CODITECT_LICENSE_HOME='{}' CODITECT_LICENSE_URL='{url}' CODITECT_FINGERPRINT='{}' '{}' {args}",
        cli.home.0.display(),
        cli.fingerprint,
        cli.binary.display()
    )
}

/// A proxy to `upstream` that holds each new connection for `delay` first: a slow network.
async fn slow_proxy(upstream: String, delay: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                    let _ = inbound.shutdown().await;
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinner_shows_while_the_acquire_is_slow_and_is_gone_once_the_command_runs() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let cli = Cli::signed_in(&server.url, "ana@acme.test", 31);
    let slow = slow_proxy(
        server.url.trim_start_matches("http://").to_owned(),
        Duration::from_millis(1500),
    )
    .await;
    // The proxy is another address, so another directory of the home: sign in there too.
    let through_proxy = Cli {
        url: slow.clone(),
        ..cli.clone()
    };
    let login = through_proxy.run(&["login", "--email", &cli.email]);
    assert!(login.status.success(), "{}", super::text(&login));

    let tmux = Tmux::start(&shell_line(
        &through_proxy,
        &slow,
        "run -- sh -c 'sleep 1; echo command-output'",
    ));
    eventually(Duration::from_secs(10), "the spinner", || {
        tmux.screen().contains("Acquiring a seat")
    })
    .await;
    eventually(Duration::from_secs(20), "the command's output", || {
        tmux.screen().contains("command-output")
    })
    .await;
    let screen = tmux.screen();
    assert!(
        !screen.contains("Acquiring a seat"),
        "the spinner was cleared:\n{screen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_in_a_terminal_reads_as_sentences() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let laptop = Cli::signed_in(&server.url, "ana@acme.test", 32);
    let mut holding = laptop.holding_the_seat().await;
    let desktop = Cli::signed_in(&server.url, "ana@acme.test", 33);

    let tmux = Tmux::start(&format!(
        "{}; echo exit=$?",
        shell_line(&desktop, &server.url, "run -- true")
    ));
    eventually(Duration::from_secs(15), "the denial", || {
        tmux.screen().contains("exit=75")
    })
    .await;
    let screen = tmux.screen();
    let lines: Vec<&str> = screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(
        lines[0].starts_with("All 1 seats of your organisation's license are in use."),
        "{screen}"
    );
    assert_eq!(lines[1], "Seats are held by:", "{screen}");
    assert!(lines[2].starts_with("  ana@acme.test on "), "{screen}");
    assert!(lines[3].starts_with("Try again after "), "{screen}");
    assert_eq!(lines[4], "exit=75", "{screen}");
    holding.stop();
}
