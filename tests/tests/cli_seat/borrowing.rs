//! `borrow --for` and `return` from the binary: a borrowed seat outlives the commands run on it,
//! carries the machine through the service being unreachable for the whole borrow, and frees
//! itself at its end; a return frees it at once; a license that does not allow it says so.

use std::time::{Duration, Instant};

use integration_tests::server::{Backends, TestServer};
use shared::api::SeatPolicy;
use uuid::Uuid;

use super::{Cli, server, text};

/// Lets `cli`'s organisation borrow seats for up to `seconds` (an owner's policy).
async fn allow_borrowing(server: &TestServer, cli: &Cli, seconds: u64) {
    let tenant: Uuid = cli.status()["account"]["tenant"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("status names the organisation");
    let owner = cli.status()["account"]["user"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("status names the user");
    let policy = SeatPolicy {
        max_borrow_seconds: Some(seconds),
        max_seats_per_user: None,
    };
    server
        .local
        .store
        .set_seat_policy(tenant, &policy, owner, chrono::Utc::now())
        .await
        .expect("the policy is set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(all(real_postgres, real_redis)),
    ignore = "DATABASE_URL or REDIS_URL is not set"
)]
async fn a_borrowed_seat_carries_the_machine_through_an_outage_and_frees_itself_at_its_end() {
    // Arrange: a one-seat organisation that allows borrowing; its laptop borrows for 12 s (the
    // seat TTL is 4 s, the offline grace 6 s: the borrow outlasts both). The seats live in Redis,
    // so they outlive the service's restart.
    let Some(server) = server(Backends::Real, &[]).await else {
        return;
    };
    let laptop = Cli::signed_in(&server.url, "ana@borrow.test", 41);
    allow_borrowing(&server, &laptop, 3600).await;
    let borrowed = laptop.run(&["borrow", "--for", "12s", "--json"]);
    assert!(borrowed.status.success(), "{}", text(&borrowed));
    let answer: serde_json::Value = serde_json::from_slice(&borrowed.stdout).expect("JSON");
    let until: chrono::DateTime<chrono::Utc> = answer["borrowed_until"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("borrowed_until");
    assert!(laptop.status()["this_machine"]["borrowed_until"].is_string());

    // Act / Assert: the service goes away; a command on the laptop starts at once on the
    // borrowed lease and finishes.
    let stopped = server.stop().await;
    let started = Instant::now();
    let offline = laptop.run(&["run", "--", "sh", "-c", "echo offline-work"]);
    assert_eq!(offline.status.code(), Some(0), "{}", text(&offline));
    assert!(String::from_utf8_lossy(&offline.stdout).contains("offline-work"));
    assert!(
        String::from_utf8_lossy(&offline.stderr).contains("offline lease"),
        "{}",
        text(&offline)
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a borrowed seat does not wait for the service: {:?}",
        started.elapsed()
    );
    // Past the seat TTL and the offline grace, the service back: the seat is still held.
    tokio::time::sleep(Duration::from_secs(7).saturating_sub(started.elapsed())).await;
    let server = stopped.start_again().await;
    let desktop = Cli::signed_in(&server.url, "ana@borrow.test", 42);
    let refused = desktop.run(&["run", "--", "true"]);
    assert_eq!(refused.status.code(), Some(75), "{}", text(&refused));
    // At its end it frees itself.
    let left = (until - chrono::Utc::now()).num_milliseconds().max(0) as u64 + 1500;
    tokio::time::sleep(Duration::from_millis(left)).await;
    let later = desktop.run(&["run", "--", "true"]);
    assert_eq!(later.status.code(), Some(0), "{}", text(&later));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_borrowed_seat_outlives_its_commands_until_returned_and_a_license_without_it_says_so() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let laptop = Cli::signed_in(&server.url, "bo@borrow.test", 43);
    let desktop = Cli::signed_in(&server.url, "bo@borrow.test", 44);

    // Borrowing is off by default: refused with the license's sentence and exit 76.
    let refused = laptop.run(&["borrow", "--for", "1d"]);
    assert_eq!(refused.status.code(), Some(76), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not allow borrowing"),
        "{}",
        text(&refused)
    );
    let bad = laptop.run(&["borrow", "--for", "3 weeks"]);
    assert_eq!(bad.status.code(), Some(64), "{}", text(&bad));

    // Allowed for a week: a day is borrowed; a command runs on it and leaves it held.
    allow_borrowing(&server, &laptop, 7 * 86_400).await;
    let too_long = laptop.run(&["borrow", "--for", "8d"]);
    assert_eq!(too_long.status.code(), Some(76), "{}", text(&too_long));
    assert!(String::from_utf8_lossy(&too_long.stderr).contains("up to 7 days"));
    let borrowed = laptop.run(&["borrow", "--for", "1d"]);
    assert!(borrowed.status.success(), "{}", text(&borrowed));
    assert!(
        String::from_utf8_lossy(&borrowed.stdout).contains("Borrowed a seat until"),
        "{}",
        text(&borrowed)
    );
    let work = laptop.run(&["run", "--", "true"]);
    assert_eq!(work.status.code(), Some(0), "{}", text(&work));
    assert!(
        String::from_utf8_lossy(&work.stderr).contains("stays borrowed"),
        "{}",
        text(&work)
    );
    let blocked = desktop.run(&["run", "--", "true"]);
    assert_eq!(blocked.status.code(), Some(75), "{}", text(&blocked));
    let holders = laptop.status()["holders"].clone();
    assert_eq!(holders.as_array().map(Vec::len), Some(1), "{holders}");
    assert!(
        holders[0]["borrowed_until"].is_string(),
        "the owner sees the borrow: {holders}"
    );

    // Returned: free for the desktop at once; a second return has nothing to give back.
    let returned = laptop.run(&["return", "--json"]);
    assert!(returned.status.success(), "{}", text(&returned));
    let answer: serde_json::Value = serde_json::from_slice(&returned.stdout).expect("JSON");
    assert_eq!(answer["returned"], true);
    let now_free = desktop.run(&["run", "--", "true"]);
    assert_eq!(now_free.status.code(), Some(0), "{}", text(&now_free));
    let again = laptop.run(&["return"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to return"));
}
