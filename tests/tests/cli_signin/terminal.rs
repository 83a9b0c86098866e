//! `login` at a real terminal (tmux): the menu, the email and the password asked without echo, and
//! the offer to create the account an unknown email does not have.

use std::time::Duration;

use integration_tests::cli::{Cli, binary};
use integration_tests::terminal::Tmux;

use super::{PASSWORD, emulator_server, fresh_email};

const BOUND: Duration = Duration::from_secs(30);

#[tokio::test]
#[cfg_attr(
    not(firebase_emulator),
    ignore = "FIREBASE_AUTH_EMULATOR_HOST is not set"
)]
async fn a_person_at_a_terminal_chooses_email_types_a_hidden_password_and_signs_up() {
    let Some(server) = emulator_server().await else {
        return;
    };
    let cli = Cli::new(&server.url);
    let email = fresh_email("lea", "terminal.test");
    let tmux = Tmux::start(&format!(
        "env -u NO_COLOR -u CODITECT_LICENSE_URL -u BROWSER CODITECT_LICENSE_HOME='{}' '{}' --server '{}' login; echo exit=$?",
        cli.home.0.display(),
        binary().display(),
        server.url
    ));

    let menu = tmux.shows("Choose a number:", BOUND).await;
    assert!(menu.contains("3) Email and password (here)"), "{menu}");
    tmux.type_line("3");
    tmux.shows("Email:", BOUND).await;
    tmux.type_line(&email);
    tmux.shows("Password:", BOUND).await;
    tmux.type_line(PASSWORD);
    tmux.shows("Create one with this password? [y/N]", BOUND)
        .await;
    tmux.type_line("y");
    let screen = tmux.shows("exit=", BOUND).await;

    assert!(screen.contains("exit=0"), "{screen}");
    assert!(screen.contains(&format!("as {email}")), "{screen}");
    assert!(
        screen.contains("Registered in terminal.test as OWNER."),
        "{screen}"
    );
    assert!(
        !screen.contains(PASSWORD),
        "the password is never echoed:\n{screen}"
    );
    assert_eq!(cli.credentials().provider, "password");
}
