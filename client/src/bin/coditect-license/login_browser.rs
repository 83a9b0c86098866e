//! Google and GitHub sign-in through the browser: a listener on 127.0.0.1 receives the provider's
//! redirect ([`Loopback`]); the browser is opened on the sign-in URL (`$BROWSER`, else the
//! platform's opener), which is printed too. With `--no-browser` (an SSH session) the person opens
//! the URL on any machine and pastes the address the browser ends on — which fails to load there;
//! the listener still answers if the browser turns out to be on this machine. Either wait ends
//! after five minutes, or at Ctrl-C.

use std::time::Duration;

use chrono::Utc;
use coditect_license::signin::{Credentials, IdentityToolkit, IdpSignIn, Loopback, SignInError};
use shared::api::SignInProvider;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::Failure;
use crate::{browser, prompt};

/// How long the browser sign-in may take.
const BROWSER_WAIT: Duration = Duration::from_secs(5 * 60);

/// Signs in with `provider` through a browser.
pub(crate) async fn sign_in(
    context: &Context,
    toolkit: &IdentityToolkit,
    provider: SignInProvider,
    no_browser: bool,
) -> Result<Credentials, Failure> {
    let loopback = Loopback::bind(toolkit, context.client.http())
        .await
        .map_err(failure)?;
    let flow = IdpSignIn::start(toolkit, provider.as_str(), loopback.base_url())
        .await
        .map_err(failure)?;
    let output = &context.output;
    let received = if no_browser {
        // On stderr also with --json: the person cannot go on without it.
        eprintln!(
            "Open this address in a browser on any machine and sign in:\n\n  {}\n\n\
             The browser then ends on an address starting with {} that does not load. Paste that \
             whole address here:",
            flow.auth_uri(),
            loopback.base_url()
        );
        tokio::select! {
            pasted = prompt::line_from_stdin() => pasted?,
            received = loopback.receive(&flow) => received.map_err(failure)?,
            () = tokio::time::sleep(BROWSER_WAIT) => return Err(timed_out()),
            _ = tokio::signal::ctrl_c() => return Err(cancelled()),
        }
    } else {
        let opened = browser::open(flow.auth_uri());
        output.note(&format!(
            "{} sign in with {provider}:\n\n  {}\n",
            if opened {
                "Opened your browser to"
            } else {
                "Open this address in your browser to"
            },
            flow.auth_uri()
        ));
        // The JSON mode says it on stderr too: the URL is the one thing a person needs.
        if output.json {
            eprintln!("Sign in with {provider} at: {}", flow.auth_uri());
        }
        tokio::select! {
            received = output.spin("Waiting for the browser…", loopback.receive(&flow)) => received.map_err(failure)?,
            () = tokio::time::sleep(BROWSER_WAIT) => return Err(timed_out()),
            _ = tokio::signal::ctrl_c() => return Err(cancelled()),
        }
    };
    let grant = output
        .spin("Signing in…", flow.finish(toolkit, &received))
        .await
        .map_err(failure)?;
    Ok(Credentials::from_grant(
        provider.as_str(),
        grant,
        toolkit.config(),
        Utc::now(),
    ))
}

fn failure(error: SignInError) -> Failure {
    Failure::from(coditect_license::ClientError::from(error))
        .then("Try again with `coditect-license login`.")
}

fn timed_out() -> Failure {
    Failure::new(
        Exit::NotSignedIn,
        "The browser sign-in did not finish within 5 minutes.",
    )
    .then("Try again with `coditect-license login`, or use --no-browser on a machine without one.")
}

fn cancelled() -> Failure {
    Failure::new(Exit::NotSignedIn, "Sign-in cancelled.")
}
