//! `usage`: an owner's table, chart and sentence about seats, and the same report with `--json`;
//! a member told who may read it (exit 76); dates that make no period (exit 64).

use std::time::Duration;

use coditect_license::Home;
use coditect_license::signin::Credentials;
use integration_tests::api::send;
use integration_tests::server::Backends;
use reqwest::{Method, StatusCode};
use serde_json::json;
use shared::api::{DenialCover, UsageResponse};

use super::{Cli, eventually, server, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_sees_the_usage_table_chart_and_how_many_more_seats_would_have_avoided_the_denials()
 {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let laptop = Cli::signed_in(&server.url, "ana@acme.test", 31);
    let desktop = Cli::signed_in(&server.url, "ana@acme.test", 32);
    // The laptop holds the one seat for a few seconds, the desktop is refused meanwhile.
    let mut holding = laptop
        .command(&["run", "--", "sleep", "5"])
        .spawn()
        .expect("spawns");
    eventually(Duration::from_secs(10), "the seat held", || {
        laptop.holders().len() == 1
    })
    .await;
    let denied = desktop.run(&["run", "--", "true"]);
    assert_eq!(denied.status.code(), Some(75), "{}", text(&denied));
    let held = holding.wait().expect("the holder ends");
    assert!(held.success(), "the command ran to its end: {held:?}");
    server.cleanup().await;

    let json = laptop.run(&["usage", "--json"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json));
    let report: UsageResponse = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("usage --json is the report ({e}): {}", text(&json)));
    assert_eq!(report.buckets.len(), 7);
    assert_eq!(report.max_seats, 1);
    assert_eq!((report.totals.peak_in_use, report.totals.denials), (1, 1));
    // One seat in use and one machine refused: two seats would have avoided the denial.
    let two = |percent| DenialCover {
        percent,
        seats: 2,
        more_seats: 1,
    };
    assert_eq!(report.denial_cover, [two(50), two(90), two(100)]);

    let table = laptop.run(&["usage"]);
    assert_eq!(table.status.code(), Some(0), "{}", text(&table));
    let said = String::from_utf8_lossy(&table.stdout);
    let today = report.buckets[6].start.format("%Y-%m-%d").to_string();
    assert!(
        said.contains("Usage of acme.test's license (1 seat)"),
        "{said}"
    );
    let row = said
        .lines()
        .find(|line| line.starts_with(&today) && !line.contains('#'))
        .unwrap_or_else(|| panic!("a row for {today}: {said}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..2], [today.as_str(), "1"], "day and peak: {row}");
    assert_eq!(cells[3], "1", "one denial: {row}");
    let bar = format!("{today}  {}| 1", "#".repeat(40));
    assert!(said.contains(&bar), "the chart shows a full seat: {said}");
    assert!(
        said.contains("1 more seat (2 in all) would have avoided 90 % of the 1 denial."),
        "{said}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_is_told_only_owners_and_admins_read_the_report_and_bad_dates_are_a_usage_error() {
    let server = server(Backends::Embedded, &[]).await.expect("embedded");
    let owner = Cli::signed_in(&server.url, "ana@acme.test", 33);
    let status = owner.status();
    let tenant = status["account"]["tenant"]["id"]
        .as_str()
        .expect("a tenant id");
    let credentials = Credentials::read(&Home::at(&owner.home.0).server(&owner.url))
        .expect("credentials read")
        .expect("the owner is signed in");
    let invited = send(
        Method::POST,
        &format!("{}/api/v1/tenants/{tenant}/invitations", server.url),
        Some(&credentials.id_token),
        Some(json!({"email": "bob@acme.test", "role": "MEMBER"})),
    )
    .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    let member = Cli::signed_in(&server.url, "bob@acme.test", 34);

    let refused = member.run(&["usage"]);
    assert_eq!(refused.status.code(), Some(76), "{}", text(&refused));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains(
            "Only owners and admins of acme.test see its usage report, and you are a member."
        ),
        "{said}"
    );
    let json = member.run(&["usage", "--json"]);
    let error: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON object");
    assert_eq!(error["error"]["code"], "forbidden");
    assert_eq!(error["error"]["exit_code"], 76);

    let backwards = owner.run(&["usage", "--from", "2026-03-05", "--to", "2026-03-01"]);
    assert_eq!(backwards.status.code(), Some(64), "{}", text(&backwards));
    assert!(
        String::from_utf8_lossy(&backwards.stderr).contains("must be before"),
        "{}",
        text(&backwards)
    );
    let nonsense = owner.run(&["usage", "--from", "last tuesday"]);
    assert_eq!(nonsense.status.code(), Some(64), "{}", text(&nonsense));
    let bucket = owner.run(&["usage", "--bucket", "week"]);
    assert_eq!(bucket.status.code(), Some(64), "{}", text(&bucket));
}
