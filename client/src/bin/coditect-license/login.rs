//! `coditect-license login` (lands with the sign-in work).

use crate::context::Context;
use crate::output::Failure;

/// Arguments of `login`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// Runs `login`.
pub(crate) async fn run(_context: &Context, _args: Args) -> Result<u8, Failure> {
    Err(Failure::new(crate::exit::Exit::Software, "not built yet"))
}
