//! `coditect-license logout`: forgets this deployment's sign-in (removes `credentials.json`).
//! Idempotent: exits 0 also when nobody was signed in, and says so. The refresh token is not
//! revoked at Identity Platform (its REST API offers clients no revocation); it is gone from this
//! machine.

use coditect_license::signin::StoredSignIn;
use serde::Serialize;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::Failure;

/// Arguments of `logout`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// What `logout` did (`--json`).
#[derive(Debug, Serialize)]
struct SignedOut {
    /// The deployment.
    server: String,
    /// Whether a sign-in was stored (and is now removed).
    was_signed_in: bool,
}

/// Runs `logout`.
pub(crate) async fn run(context: &Context, _args: Args) -> Result<u8, Failure> {
    let server = context.files.url().to_owned();
    let was_signed_in = StoredSignIn::forget(&context.files)?;
    let sentence = if was_signed_in {
        format!(
            "Signed out of {server}: removed {}.",
            context.files.credentials_path().display()
        )
    } else {
        format!("You were not signed in to {server}; nothing to remove.")
    };
    context.output.result(
        &SignedOut {
            server,
            was_signed_in,
        },
        &sentence,
    );
    Ok(Exit::Ok.code())
}
