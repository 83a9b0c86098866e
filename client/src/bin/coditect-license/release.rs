//! `coditect-license release`: gives back this machine's seat — after a crash left it held, or to
//! free it for a colleague now rather than when its TTL runs out. A seat that running commands on
//! this machine still hold is left to them unless `--force`.

use coditect_license::state::SeatState;
use serde::Serialize;

use crate::context::Context;
use crate::output::Failure;

/// Arguments of `release`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Release even while commands on this machine hold the seat (they acquire again at their
    /// next heartbeat, if a seat is free then).
    #[arg(long)]
    force: bool,
}

/// What `release --json` prints.
#[derive(Debug, Serialize)]
struct Released {
    /// Whether a seat was given back.
    released: bool,
    /// The session given back (or left held).
    session_id: Option<String>,
    /// Running commands on this machine still holding it, when it was left to them.
    running_holders: usize,
}

/// Runs `release`.
pub(crate) async fn run(context: &Context, args: Args) -> Result<u8, Failure> {
    let state = SeatState::new(context.files.clone());
    let file = state.read()?;
    let Some(seat) = file.seat else {
        let none = Released {
            released: false,
            session_id: None,
            running_holders: 0,
        };
        context
            .output
            .result(&none, "This machine holds no seat on this service.");
        return Ok(0);
    };
    let running = state.other_holders(None)?;
    if running > 0 && !args.force {
        let kept = Released {
            released: false,
            session_id: Some(seat.session_id),
            running_holders: running,
        };
        context.output.result(
            &kept,
            &format!(
                "{running} running command(s) on this machine hold the seat, so it stays held. \
                 Stop them, or release anyway with --force."
            ),
        );
        return Ok(0);
    }
    context
        .output
        .spin("Releasing the seat…", context.client.release(&seat.lease))
        .await?;
    let session = seat.session_id.clone();
    state.update(|file| {
        if file.seat.as_ref().is_some_and(|s| s.session_id == session) {
            file.seat = None;
        }
    })?;
    let done = Released {
        released: true,
        session_id: Some(seat.session_id),
        running_holders: running,
    };
    context
        .output
        .result(&done, "Released this machine's seat.");
    Ok(0)
}
