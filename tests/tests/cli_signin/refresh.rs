//! The stored sign-in's ID token after its expiry: exchanged for a new one, or refused.

use chrono::{Duration, Utc};
use integration_tests::cli::Cli;

use super::{NOT_SIGNED_IN, PASSWORD, assert_exit, assert_private, emulator_server, fresh_email};

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn an_expired_id_token_is_exchanged_for_a_new_one_which_is_stored() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("dee", "acme.test");
    let login = cli
        .run(
            &["login", "--email", &email, "--sign-up", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert_exit(&login, 0);
    // The stored token is past its expiry, and not one the service would accept: only a refresh
    // can make `whoami` work.
    let mut stored = cli.credentials();
    stored.id_token = "expired.token.".into();
    stored.id_token_expires_at = Utc::now() - Duration::minutes(1);
    stored.write(&cli.files()).expect("rewritten");

    let whoami = cli.run(&["whoami", "--json"], "").await;

    assert_exit(&whoami, 0);
    assert_eq!(whoami.json()["email"], email.as_str());
    let refreshed = cli.credentials();
    assert_ne!(refreshed.id_token, "expired.token.");
    assert!(refreshed.id_token_expires_at > Utc::now() + Duration::minutes(30));
    assert_eq!(refreshed.uid, stored.uid);
    assert_private(&cli);
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn a_revoked_refresh_token_means_signing_in_again() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("eve", "acme.test");
    let login = cli
        .run(
            &["login", "--email", &email, "--sign-up", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert_exit(&login, 0);
    let mut stored = cli.credentials();
    stored.refresh_token = Some("not-a-refresh-token".into());
    stored.id_token_expires_at = Utc::now() - Duration::minutes(1);
    stored.write(&cli.files()).expect("rewritten");

    let whoami = cli.run(&["whoami"], "").await;

    assert_exit(&whoami, NOT_SIGNED_IN);
    assert!(whoami.stderr.contains("sign in again"), "{whoami:?}");
}
