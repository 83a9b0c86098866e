//! A second machine on a full license: a sentence that names who holds the seat, on which
//! machine, when it frees and what to do — and exit 75; `--json` gives the same as data.

use integration_tests::server::Backends;

use super::{Cli, server, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_machine_on_a_one_seat_license_is_denied_with_a_sentence_and_exit_75() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let laptop = Cli::signed_in(&server.url, "ana@acme.test", 11);
    let mut holding = laptop.holding_the_seat().await;
    let hostname = laptop.holders().remove(0);

    let desktop = Cli::signed_in(&server.url, "ana@acme.test", 12);
    let denied = desktop.run(&["run", "--", "true"]);
    assert_eq!(denied.status.code(), Some(75), "{}", text(&denied));
    let said = String::from_utf8_lossy(&denied.stderr);
    assert!(said.contains("All 1 seats"), "{said}");
    assert!(said.contains("Seats are held by:"), "{said}");
    assert!(
        said.contains(&format!("ana@acme.test on {hostname}")),
        "{said}"
    );
    assert!(said.contains("Try again after"), "{said}");
    assert!(
        denied.stdout.is_empty(),
        "stdout stays the command's: {}",
        text(&denied)
    );

    let json = desktop.run(&["run", "--json", "--", "true"]);
    assert_eq!(json.status.code(), Some(75));
    let error: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(error["error"]["code"], "seats_exhausted");
    assert_eq!(error["error"]["exit_code"], 75);
    assert_eq!(
        error["error"]["problem"]["holders"][0]["hostname"],
        hostname.as_str()
    );

    holding.stop();
}
