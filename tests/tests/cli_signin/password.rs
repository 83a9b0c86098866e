//! Email and password through the Firebase Auth Emulator: sign-up, login, refusals.

use integration_tests::cli::Cli;

use super::{NOT_SIGNED_IN, PASSWORD, assert_exit, assert_private, emulator_server, fresh_email};

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn a_new_person_signs_up_with_email_and_password_and_gets_an_organisation() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("ana", "acme.test");

    let login = cli
        .run(
            &[
                "login",
                "--email",
                &email,
                "--sign-up",
                "--password-stdin",
                "--organisation",
                "Acme Robotics",
                "--json",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await;

    assert_exit(&login, 0);
    let account = login.json();
    assert_eq!(account["provider"], "password");
    assert_eq!(account["email"], email.as_str());
    assert_eq!(account["registered_now"], true);
    assert_eq!(account["organisation"]["name"], "Acme Robotics");
    assert_eq!(account["organisation"]["role"], "OWNER");
    assert_eq!(account["organisation"]["tier"], "FREE");
    assert_eq!(account["organisation"]["max_seats"], 1);
    assert_private(&cli);
    let stored = cli.credentials();
    assert_eq!(stored.uid, account["uid"].as_str().expect("uid"));
    assert!(stored.refresh_token.is_some());
    let on_disk = std::fs::read_to_string(cli.files().credentials_path()).expect("read");
    assert!(!login.stdout.contains(&stored.id_token) && !login.stderr.contains(&stored.id_token));
    assert!(on_disk.contains(&stored.id_token));

    let whoami = cli.run(&["whoami", "--json"], "").await;
    assert_exit(&whoami, 0);
    let me = whoami.json();
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["organisation"]["id"], account["organisation"]["id"]);
    assert_eq!(me["organisation"]["seats_in_use"], 0);
    assert_eq!(me["registered_now"], false);
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn a_second_login_with_the_password_signs_in_to_the_same_organisation() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let email = fresh_email("bo", "acme.test");
    let first = Cli::new(&server.url);
    let signed_up = first
        .run(
            &[
                "login",
                "--email",
                &email,
                "--sign-up",
                "--password-stdin",
                "--json",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert_exit(&signed_up, 0);

    let laptop = Cli::new(&server.url);
    let login = laptop
        .run(
            &["login", "--email", &email, "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;

    assert_exit(&login, 0);
    assert!(
        login
            .stdout
            .contains(&format!("as {}", email.to_lowercase())),
        "{login:?}"
    );
    assert!(
        login.stdout.contains("Organisation: acme.test as OWNER."),
        "{login:?}"
    );
    assert_eq!(laptop.credentials().uid, first.credentials().uid);
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn a_wrong_password_is_refused_with_a_sentence_and_exit_77() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("cy", "acme.test");
    let signed_up = cli
        .run(
            &["login", "--email", &email, "--sign-up", "--password-stdin"],
            &format!("{PASSWORD}\n"),
        )
        .await;
    assert_exit(&signed_up, 0);
    let other = Cli::new(&server.url);

    let refused = other
        .run(
            &["login", "--email", &email, "--password-stdin"],
            "not-the-password\n",
        )
        .await;

    assert_exit(&refused, NOT_SIGNED_IN);
    assert!(
        refused
            .stderr
            .contains("The email address or the password is wrong."),
        "{refused:?}"
    );
    assert!(
        !other.files().credentials_path().exists(),
        "nothing is stored"
    );
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn an_unknown_email_says_how_to_sign_up() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("nobody", "acme.test");

    let refused = cli
        .run(
            &["login", "--email", &email, "--password-stdin", "--json"],
            &format!("{PASSWORD}\n"),
        )
        .await;

    assert_exit(&refused, NOT_SIGNED_IN);
    let error = &refused.json()["error"];
    assert_eq!(error["code"], "EMAIL_NOT_FOUND");
    assert_eq!(error["message"], "No account uses that email address.");
    assert!(
        error["next_step"]
            .as_str()
            .is_some_and(|s| s.contains("--sign-up")),
        "{refused:?}"
    );
}

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn signing_up_an_email_that_has_an_account_says_to_sign_in_instead() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let email = fresh_email("max", "acme.test");
    let first = Cli::new(&server.url);
    assert_exit(
        &first
            .run(
                &["login", "--email", &email, "--sign-up", "--password-stdin"],
                &format!("{PASSWORD}\n"),
            )
            .await,
        0,
    );

    let again = Cli::new(&server.url)
        .run(
            &[
                "login",
                "--email",
                &email,
                "--sign-up",
                "--password-stdin",
                "--json",
            ],
            &format!("{PASSWORD}\n"),
        )
        .await;

    assert_exit(&again, NOT_SIGNED_IN);
    let error = &again.json()["error"];
    assert_eq!(error["code"], "EMAIL_EXISTS");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("sign in instead")),
        "{again:?}"
    );
}
