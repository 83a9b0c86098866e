//! How the CLI talks to the person at the terminal, or to a script.
//!
//! - `--json`: one JSON object on stdout per command (also for a failure: `{"error": {…}}`), and
//!   nothing else on stdout; `run` writes its own lines as JSON to stderr, since stdout is the
//!   child's.
//! - A terminal (stdout and stderr both one, `NO_COLOR` unset): a spinner on stderr while a call
//!   takes more than a moment, cleared when it ends.
//! - Otherwise plain sentences: results on stdout, messages on stderr.

use std::future::Future;
use std::io::IsTerminal;
use std::time::Duration;

use coditect_license::ClientError;
use serde::Serialize;

use crate::exit::Exit;

/// How long a call may take before the spinner appears: a quick answer shows none.
const SPINNER_DELAY: Duration = Duration::from_millis(150);

/// The CLI's output mode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    /// `--json`.
    pub(crate) json: bool,
    /// A person is watching a terminal that may show a spinner.
    pub(crate) fancy: bool,
}

impl Output {
    /// The mode for `--json` and the process's terminals and environment.
    pub(crate) fn detect(json: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let terminals = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        Self {
            json,
            fancy: !json && !no_color && terminals,
        }
    }

    /// Awaits `work`, showing `message` with a spinner if it takes longer than a moment.
    pub(crate) async fn spin<T>(&self, message: &str, work: impl Future<Output = T>) -> T {
        let (_unchanging, message) = tokio::sync::watch::channel(message.to_owned());
        self.spin_following(message, work).await
    }

    /// As [`Self::spin`], the spinner's message following `message` as it changes (a place in a
    /// queue).
    pub(crate) async fn spin_following<T>(
        &self,
        mut message: tokio::sync::watch::Receiver<String>,
        work: impl Future<Output = T>,
    ) -> T {
        if !self.fancy {
            return work.await;
        }
        let mut work = std::pin::pin!(work);
        tokio::select! {
            done = &mut work => return done,
            () = tokio::time::sleep(SPINNER_DELAY) => {}
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        spinner.set_message(message.borrow_and_update().clone());
        spinner.enable_steady_tick(Duration::from_millis(80));
        let done = loop {
            tokio::select! {
                done = &mut work => break done,
                Ok(()) = message.changed() => spinner.set_message(message.borrow_and_update().clone()),
            }
        };
        spinner.finish_and_clear();
        done
    }

    /// Prints a command's result: `value` as JSON, or `human` for a person.
    pub(crate) fn result<T: Serialize>(&self, value: &T, human: &str) {
        if self.json {
            println!("{}", json_line(value));
        } else if !human.is_empty() {
            println!("{human}");
        }
    }

    /// A message for the person (stderr); nothing in `--json` mode.
    pub(crate) fn note(&self, message: &str) {
        if !self.json {
            eprintln!("{message}");
        }
    }

    /// Reports a failure and answers its exit.
    pub(crate) fn failure(&self, failure: &Failure) -> Exit {
        if self.json {
            println!("{}", json_line(&failure.json()));
        } else {
            eprintln!("{}", failure.message);
            if let Some(next) = &failure.next_step {
                eprintln!("{next}");
            }
        }
        failure.exit
    }
}

/// One JSON value on one line.
pub(crate) fn json_line<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// A command that failed: what to say and how to exit.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The exit code.
    pub(crate) exit: Exit,
    /// A sentence saying what happened.
    pub(crate) message: String,
    /// What to do next, when there is something to say.
    pub(crate) next_step: Option<String>,
    /// The service's problem code, when it refused.
    pub(crate) code: Option<String>,
    /// The service's problem, for `--json`.
    pub(crate) problem: Option<serde_json::Value>,
}

impl Failure {
    /// A failure with `exit` and `message`.
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
            next_step: None,
            code: None,
            problem: None,
        }
    }

    /// With a next step for the person.
    pub(crate) fn then(mut self, next_step: impl Into<String>) -> Self {
        self.next_step = Some(next_step.into());
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "exit_code": self.exit.code(),
                "code": self.code,
                "message": self.message,
                "next_step": self.next_step,
                "problem": self.problem,
            }
        })
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        let exit = Exit::of(&error);
        let mut failure = Self::new(exit, error.to_string());
        failure.code = error.code().map(|c| c.to_string());
        failure.problem = error.problem().and_then(|p| serde_json::to_value(p).ok());
        failure.next_step = match exit {
            Exit::NotSignedIn if !failure.message.contains("coditect-license login") => {
                Some("Sign in with `coditect-license login`.".into())
            }
            Exit::Unreachable => Some(
                "Check the network and the server address (--server or CODITECT_LICENSE_URL)."
                    .into(),
            ),
            _ => None,
        };
        failure
    }
}

impl From<coditect_license::HomeError> for Failure {
    fn from(error: coditect_license::HomeError) -> Self {
        Self::from(ClientError::from(error))
    }
}
