//! `coditect-license run -- <command> [args…]`: holds a seat while the command runs.
//!
//! Acquire (a spinner while it takes a moment), start the command with the terminal inherited,
//! keep the seat in the background, relay signals sent to the CLI, release when the command ends
//! and exit with its status. When the seat is lost — a refusal, or offline grace over — the
//! command is asked to stop (SIGTERM, then SIGKILL after [`STOP_GRACE`]) and the CLI exits 78.
//!
//! With `--wait`, a full license puts the machine in the license's fair queue: the spinner shows
//! its place and the estimate, the command starts the moment a seat is its, `--timeout` bounds the
//! wait (exit 75), and Ctrl-C leaves the queue at once (exit 130).

use std::ffi::OsString;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use coditect_license::ClientError;
use coditect_license::QueuedResponse;
use coditect_license::seat::{
    LostReason, ReleaseOutcome, Seat, SeatEvent, SeatOptions, WaitOptions, finish_leaving,
};
use coditect_license::signin::StoredSignIn;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use crate::context::Context;
use crate::denial::denial;
use crate::exit::Exit;
use crate::output::{Failure, json_line};
use crate::signals;

/// How long a command asked to stop may take before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Arguments of `run`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// When every seat is in use, wait in the license's queue for one (first come, first
    /// served) instead of exiting 75; Ctrl-C leaves the queue.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up after this long (e.g. 90s, 10m, 1h; default: as long as it takes).
    #[arg(long, value_name = "DURATION", requires = "wait", value_parser = crate::borrow::period)]
    timeout: Option<Duration>,
    /// The command to run, then its arguments (after `--`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    command: Vec<OsString>,
}

/// A line `run` writes about the seat (stderr; JSON with `--json`).
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Line {
    Queued {
        ticket: String,
        position: u32,
        queue_length: u32,
        estimated_wait_seconds: Option<u64>,
    },
    Acquired {
        session_id: String,
        tier: String,
        seats_in_use: u32,
        max_seats: u32,
        offline: bool,
    },
    Offline {
        until: chrono::DateTime<chrono::Utc>,
        reason: String,
    },
    Online,
    Reacquired {
        session_id: String,
    },
    Lost {
        reason: String,
    },
    Released {
        outcome: &'static str,
    },
}

/// Runs `run`.
pub(crate) async fn run(context: &Context, args: Args) -> Result<u8, Failure> {
    let Some((program, arguments)) = args.command.split_first() else {
        return Err(Failure::new(
            Exit::Usage,
            "Name the command to run after `--`.",
        ));
    };
    let sign_in = StoredSignIn::load(&context.files, &context.client).await?;
    let mut options = SeatOptions::new(
        context.client.clone(),
        context.files.clone(),
        Arc::new(sign_in),
    )?;
    let output = context.output;
    let (spinner, message) = tokio::sync::watch::channel("Acquiring a seat…".to_owned());
    if args.wait {
        let json = output.json;
        let said = std::sync::Mutex::new(None::<(u32, u32)>);
        options.wait = Some(WaitOptions::new(args.timeout, move |queued| {
            let place = (queued.position, queued.queue_length);
            let mut said = said.lock().unwrap_or_else(|e| e.into_inner());
            if *said == Some(place) {
                return;
            }
            *said = Some(place);
            let _ = spinner.send(waiting_sentence(queued));
            if json {
                eprintln!("{}", json_line(&queued_line(queued)));
            } else if !output.fancy {
                output.note(&waiting_sentence(queued));
            }
        }));
    }
    let acquiring = output.spin_following(message, Seat::acquire(options));
    let acquired = if args.wait {
        let mut acquiring = Box::pin(acquiring);
        let interrupted = tokio::select! {
            acquired = &mut acquiring => Ok(acquired),
            _ = tokio::signal::ctrl_c() => Err(()),
        };
        match interrupted {
            Ok(acquired) => acquired,
            Err(()) => {
                // Dropping the acquire starts its leave of the queue; wait for it.
                drop(acquiring);
                finish_leaving(Duration::from_secs(5)).await;
                context.output.note("Left the queue; no seat was taken.");
                return Ok(130);
            }
        }
    } else {
        acquiring.await
    };
    let seat = match acquired {
        Ok(seat) => seat,
        Err(error) => return Err(acquire_failure(error)),
    };
    let grant = seat.grant().clone();
    say(
        context,
        &Line::Acquired {
            session_id: grant.session_id.clone(),
            tier: grant.license.tier.to_string(),
            seats_in_use: grant.license.seats_in_use,
            max_seats: grant.license.max_seats,
            offline: grant.started_offline,
        },
        &if let Some(waited) = grant.waited {
            format!(
                "A seat freed after {} s in the queue; starting {}.",
                waited.as_secs(),
                program.to_string_lossy()
            )
        } else if grant.started_offline {
            format!(
                "The licensing service cannot be reached; running on this machine's offline lease until {}.",
                local_time(
                    chrono::DateTime::from_timestamp(grant.claims.exp, 0).unwrap_or_default()
                )
            )
        } else {
            String::new()
        },
    );

    let (mut relayed, _listening) = signals::listen()
        .map_err(|e| Failure::new(Exit::Software, format!("could not listen for signals: {e}")))?;
    let mut child = match tokio::process::Command::new(program)
        .args(arguments)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            seat.release().await;
            return Err(Failure::new(
                Exit::Usage,
                format!("Could not start {}: {e}.", program.to_string_lossy()),
            )
            .then("Check the command's name and that it is on PATH."));
        }
    };
    let pid = child.id().unwrap_or_default();
    let mut events = seat.events();
    let mut lost: Option<LostReason> = None;
    let status: std::io::Result<ExitStatus> = loop {
        tokio::select! {
            status = child.wait() => break status,
            Some(relay) = relayed.recv() => {
                if !relay.child_has_it {
                    signals::send(pid, relay.signal);
                }
            }
            event = events.recv() => match event {
                Ok(SeatEvent::Lost(reason)) => {
                    lost = Some(reason);
                    break stop_child(&mut child, pid).await;
                }
                Ok(event) => tell(context, &event),
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => {}
            },
        }
    };
    if let Some(reason) = lost {
        say(
            context,
            &Line::Lost {
                reason: reason.to_string(),
            },
            &format!(
                "The seat was lost: {reason}. {} was stopped.",
                program.to_string_lossy()
            ),
        );
        return Ok(Exit::SeatLost.code());
    }
    let outcome = output.spin("Releasing the seat…", seat.release()).await;
    let (name, sentence) = match outcome {
        ReleaseOutcome::Released => ("released", String::new()),
        ReleaseOutcome::LeftToOthers(n) => (
            "left_to_others",
            format!("The seat stays with the {n} other running command(s) on this machine."),
        ),
        ReleaseOutcome::AlreadyLost => ("already_lost", String::new()),
        ReleaseOutcome::Borrowed { until } => (
            "borrowed",
            format!(
                "The seat stays borrowed by this machine until {}; `coditect-license return` \
                 gives it back sooner.",
                local_time(until)
            ),
        ),
        ReleaseOutcome::Unconfirmed => (
            "unconfirmed",
            "The licensing service did not confirm the release; the seat frees by itself within minutes."
                .to_owned(),
        ),
    };
    say(context, &Line::Released { outcome: name }, &sentence);
    let status = status
        .map_err(|e| Failure::new(Exit::Software, format!("lost track of the command: {e}")))?;
    Ok(exit_code_of(status))
}

/// The CLI's exit code for the child's status: its code, or 128 + the signal that ended it.
fn exit_code_of(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + (signal & 0x7f)).unwrap_or(1);
        }
    }
    1
}

/// Asks the child to stop, then kills it.
async fn stop_child(child: &mut tokio::process::Child, pid: u32) -> std::io::Result<ExitStatus> {
    signals::send(pid, signals::TERMINATE);
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(status) => status,
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await
        }
    }
}

/// Tells the person (or the script) about a seat event.
fn tell(context: &Context, event: &SeatEvent) {
    match event {
        SeatEvent::Offline { until, reason } => say(
            context,
            &Line::Offline {
                until: *until,
                reason: reason.clone(),
            },
            &format!(
                "The licensing service cannot be reached ({reason}). You may keep working until {} (offline grace); the seat is renewed as soon as the service answers.",
                local_time(*until)
            ),
        ),
        SeatEvent::Online => say(
            context,
            &Line::Online,
            "The licensing service answers again; the seat is renewed.",
        ),
        SeatEvent::Reacquired { session_id } => say(
            context,
            &Line::Reacquired {
                session_id: session_id.clone(),
            },
            "",
        ),
        _ => {}
    }
}

/// Writes `line` as JSON (with `--json`) or `human` (when not empty) on stderr.
fn say(context: &Context, line: &Line, human: &str) {
    if context.output.json {
        eprintln!("{}", json_line(line));
    } else if !human.is_empty() {
        context.output.note(human);
    }
}

/// The failure for an acquire that did not grant a seat.
fn acquire_failure(error: ClientError) -> Failure {
    let problem = error.problem().cloned();
    let failure = Failure::from(error);
    match problem {
        Some(problem) => denial(&problem, failure),
        None => failure,
    }
}

/// The spinner's line (and the plain note) while waiting: the place and the estimate.
fn waiting_sentence(queued: &QueuedResponse) -> String {
    let place = if queued.position == 1 {
        "next in the queue".to_owned()
    } else {
        format!(
            "number {} of {} in the queue",
            queued.position, queued.queue_length
        )
    };
    let estimate = match queued.estimated_wait_seconds {
        Some(seconds) if seconds < 90 => format!("; a seat should free in about {seconds} s"),
        Some(seconds) => format!("; a seat should free in about {} min", seconds.div_ceil(60)),
        None => String::new(),
    };
    format!(
        "All {} seats are in use; waiting, {place}{estimate} (Ctrl-C leaves the queue)…",
        queued.max_seats
    )
}

fn queued_line(queued: &QueuedResponse) -> Line {
    Line::Queued {
        ticket: queued.ticket.clone(),
        position: queued.position,
        queue_length: queued.queue_length,
        estimated_wait_seconds: queued.estimated_wait_seconds,
    }
}

/// A time as the person's clock shows it.
pub(crate) fn local_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&chrono::Local)
        .format("%H:%M:%S")
        .to_string()
}
