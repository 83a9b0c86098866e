//! `coditect-license status`: who you are, your organisation's license and its seats, who holds
//! them (owners and admins), and this machine's seat — including whether its holder is riding out
//! an unreachable service, and until when.
//!
//! The machine's part comes from the seat file, so it shows also when the service cannot be
//! reached (the command then exits 69 after printing it).

use chrono::{DateTime, Utc};
use coditect_license::signin::StoredSignIn;
use coditect_license::state::{SeatState, StoredSeat};
use coditect_license::{ClientError, IdTokens};
use serde::Serialize;
use shared::api::{MeResponse, QueueEntryView, SessionView, SessionsResponse};

use crate::context::Context;
use crate::exit::Exit;
use crate::output::Failure;
use crate::run::local_time;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {}

/// What `status --json` prints.
#[derive(Debug, Serialize)]
struct Status {
    /// The service.
    server: String,
    /// The caller, organisation and license, when the service answered.
    account: Option<MeResponse>,
    /// Who holds the seats (owners and admins only).
    holders: Option<Vec<SessionView>>,
    /// Who waits in the queue for a seat, first first (owners and admins only).
    queue: Option<Vec<QueueEntryView>>,
    /// This machine's seat, from the seat file.
    this_machine: Option<ThisMachine>,
    /// Why the service's part is missing, when it is.
    service_error: Option<String>,
}

/// This machine's seat.
#[derive(Debug, Serialize)]
struct ThisMachine {
    session_id: String,
    acquired_at: DateTime<Utc>,
    seat_expires_at: DateTime<Utc>,
    grace_ends_at: DateTime<Utc>,
    offline_since: Option<DateTime<Utc>>,
    /// When its borrow ends, if this machine borrowed it for offline use.
    borrowed_until: Option<DateTime<Utc>>,
    /// Commands on this machine holding it now.
    running_holders: usize,
}

/// Runs `status`.
pub(crate) async fn run(context: &Context, _args: Args) -> Result<u8, Failure> {
    let state = SeatState::new(context.files.clone());
    let running_holders = state.other_holders(None)?;
    let this_machine = state
        .read()?
        .seat
        .map(|seat| this_machine(seat, running_holders));
    let sign_in = StoredSignIn::load(&context.files, &context.client).await?;
    let answer = context
        .output
        .spin("Asking the licensing service…", account(context, &sign_in))
        .await;
    let (account, seats, error) = match answer {
        Ok((me, seats)) => (Some(me), seats, None),
        Err(error) if error.is_transient() => (None, None, Some(error)),
        Err(error) => return Err(error.into()),
    };
    let (holders, queue) = seats.map(|s| (s.sessions, s.queue)).unzip();
    let status = Status {
        server: context.client.base_url().to_owned(),
        account,
        holders,
        queue,
        this_machine,
        service_error: error.as_ref().map(ToString::to_string),
    };
    context.output.result(&status, &human(&status));
    match error {
        Some(error) => Ok(Failure::from(error).exit.code()),
        None => Ok(Exit::Ok.code()),
    }
}

async fn account(
    context: &Context,
    sign_in: &StoredSignIn,
) -> Result<(MeResponse, Option<SessionsResponse>), ClientError> {
    let token = sign_in.id_token().await?;
    let me = context.client.me(&token).await?;
    let seats = if me.role.manages_members() {
        Some(context.client.sessions(&token, me.tenant.id).await?)
    } else {
        None
    };
    Ok((me, seats))
}

fn this_machine(seat: StoredSeat, running_holders: usize) -> ThisMachine {
    ThisMachine {
        session_id: seat.session_id,
        acquired_at: seat.acquired_at,
        seat_expires_at: seat.seat_expires_at,
        grace_ends_at: seat.grace_ends_at,
        offline_since: seat.offline_since,
        borrowed_until: seat
            .borrowed_until
            .filter(|&until| until > chrono::Utc::now()),
        running_holders,
    }
}

/// The status as a person reads it.
fn human(status: &Status) -> String {
    let mut lines = Vec::new();
    match &status.account {
        Some(me) => {
            let who = me.user.email.as_deref().unwrap_or(&me.user.firebase_uid);
            lines.push(format!(
                "Signed in as {who} ({}) in {}.",
                me.role, me.tenant.name
            ));
            match &me.license {
                Some(license) => lines.push(format!(
                    "License: {} ({}), {} of {} seats in use{}.",
                    license.tier,
                    license.status,
                    me.seats_in_use,
                    license.max_seats,
                    license
                        .expires_at
                        .map(|at| format!(", ends {}", at.format("%Y-%m-%d")))
                        .unwrap_or_default()
                )),
                None => lines.push("Your organisation holds no license.".to_owned()),
            }
        }
        None => lines.push(format!(
            "The licensing service at {} cannot be reached: {}.",
            status.server,
            status.service_error.as_deref().unwrap_or("no answer")
        )),
    }
    if let Some(holders) = &status.holders {
        if holders.is_empty() {
            lines.push("Nobody holds a seat.".to_owned());
        } else {
            lines.push("Seats are held on:".to_owned());
            for session in holders {
                let until = match session.borrowed_until {
                    Some(until) => format!("borrowed until {}", local_time(until)),
                    None => format!("until {} unless renewed", local_time(session.expires_at)),
                };
                lines.push(format!(
                    "  {} (client {}), {until}",
                    session.hostname,
                    session.client_version.as_deref().unwrap_or("unknown"),
                ));
            }
        }
    }
    if let Some(queue) = status.queue.as_ref().filter(|q| !q.is_empty()) {
        lines.push(format!("{} waiting for a seat:", queue.len()));
        for waiter in queue {
            lines.push(format!(
                "  {}. {} (since {})",
                waiter.position,
                waiter.hostname,
                local_time(waiter.joined_at)
            ));
        }
    }
    match &status.this_machine {
        Some(seat) if seat.borrowed_until.is_some() => {
            let until = seat.borrowed_until.unwrap_or(seat.seat_expires_at);
            lines.push(format!(
                "This machine: seat {} borrowed until {} ({} running command(s)); it needs no \
                 network until then. `coditect-license return` gives it back sooner.",
                seat.session_id,
                local_time(until),
                seat.running_holders
            ));
        }
        Some(seat) => {
            let running = match seat.running_holders {
                0 => "no command holds it now; it frees by itself".to_owned(),
                n => format!("held by {n} running command(s)"),
            };
            lines.push(format!(
                "This machine: seat {} since {}, {running}, until {} unless renewed.",
                seat.session_id,
                local_time(seat.acquired_at),
                local_time(seat.seat_expires_at)
            ));
            if let Some(since) = seat.offline_since {
                lines.push(format!(
                    "  Offline since {}: the seat is kept until {} (offline grace).",
                    local_time(since),
                    local_time(seat.grace_ends_at)
                ));
            }
        }
        None => lines.push("This machine holds no seat.".to_owned()),
    }
    lines.join("\n")
}
