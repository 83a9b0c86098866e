//! `coditect-license whoami`: the signed-in email and uid, the organisation, the role, the license
//! tier and seats in use of `max_seats`, from `GET /api/v1/me`. Exits 77 when not signed in (or the
//! sign-in was refused). The ID token is refreshed first when it is about to expire.

use coditect_license::signin::StoredSignIn;

use crate::account;
use crate::context::Context;
use crate::exit::Exit;
use crate::output::Failure;

/// Arguments of `whoami`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `whoami`.
pub(crate) async fn run(context: &Context, _args: Args) -> Result<u8, Failure> {
    let sign_in = StoredSignIn::load(&context.files, &context.client).await?;
    let account = context
        .output
        .spin(
            "Asking the service…",
            account::look_up(context, &sign_in, false, None),
        )
        .await?;
    context.output.result(&account, &account.sentences());
    Ok(Exit::Ok.code())
}
