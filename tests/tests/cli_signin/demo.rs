//! The demo sign-in of the embedded default, and logout.

use chrono::{Duration, Utc};
use integration_tests::cli::Cli;
use integration_tests::server::TestServer;

use super::{NOT_SIGNED_IN, assert_exit, assert_private};

#[tokio::test]
async fn the_demo_sign_in_needs_only_an_email_on_the_embedded_default() {
    let server = TestServer::embedded(&[]).await;
    let cli = Cli::new(&server.url);

    let login = cli
        .run(&["login", "--email", "Gus@Demo.Test", "--json"], "")
        .await;

    assert_exit(&login, 0);
    let account = login.json();
    assert_eq!(account["provider"], "demo");
    assert_eq!(account["email"], "gus@demo.test");
    assert_eq!(account["registered_now"], true);
    assert_eq!(account["organisation"]["name"], "demo.test");
    assert_private(&cli);
    // The same email on another machine is the same person, in the same organisation.
    let laptop = Cli::new(&server.url);
    let again = laptop
        .run(&["login", "--email", "gus@demo.test", "--json"], "")
        .await;
    assert_exit(&again, 0);
    assert_eq!(again.json()["uid"], account["uid"]);
    assert_eq!(again.json()["registered_now"], false);
}

#[tokio::test]
async fn an_expired_demo_token_is_minted_again() {
    let server = TestServer::embedded(&[]).await;
    let cli = Cli::new(&server.url);
    assert_exit(
        &cli.run(&["login", "--email", "hal@demo.test"], "").await,
        0,
    );
    let mut stored = cli.credentials();
    stored.id_token = "expired.token.".into();
    stored.id_token_expires_at = Utc::now() - Duration::hours(2);
    stored.write(&cli.files()).expect("rewritten");

    let whoami = cli.run(&["whoami"], "").await;

    assert_exit(&whoami, 0);
    assert!(whoami.stdout.contains("as hal@demo.test"), "{whoami:?}");
    let minted = cli.credentials();
    assert_ne!(minted.id_token, "expired.token.");
    assert!(minted.id_token_expires_at > Utc::now());
}

#[tokio::test]
async fn the_demo_sign_in_is_not_used_where_tokens_come_from_identity_platform() {
    let emulated = TestServer::embedded(&[("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9")]).await;
    let cli = Cli::new(&emulated.url);

    // No password on stdin and no terminal: the CLI asks for the password path's input instead of
    // minting a token.
    let refused = cli.run(&["login", "--email", "ida@demo.test"], "").await;

    assert_exit(&refused, 64);
    assert!(refused.stderr.contains("--password-stdin"), "{refused:?}");
    assert!(!cli.files().credentials_path().exists());
}

#[tokio::test]
async fn logout_forgets_the_sign_in_and_whoami_then_exits_77() {
    let server = TestServer::embedded(&[]).await;
    let cli = Cli::new(&server.url);
    assert_exit(&cli.run(&["login", "--email", "jo@demo.test"], "").await, 0);

    let logout = cli.run(&["logout"], "").await;
    assert_exit(&logout, 0);
    assert!(logout.stdout.contains("Signed out of"), "{logout:?}");
    assert!(!cli.files().credentials_path().exists());

    let again = cli.run(&["logout", "--json"], "").await;
    assert_exit(&again, 0);
    assert_eq!(again.json()["was_signed_in"], false);

    let whoami = cli.run(&["whoami"], "").await;
    assert_exit(&whoami, NOT_SIGNED_IN);
    assert!(whoami.stderr.contains("not signed in"), "{whoami:?}");
    assert!(
        whoami.stderr.contains("coditect-license login"),
        "{whoami:?}"
    );
}
