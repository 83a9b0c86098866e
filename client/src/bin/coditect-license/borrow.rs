//! `coditect-license borrow --for 3d`: borrows this machine's seat for offline use, and
//! `coditect-license return`: gives it back sooner.
//!
//! A borrowed seat is held without heartbeats until its borrow ends (at most what the license's
//! policy allows). Commands run on this machine meanwhile use it — offline too, on its lease — and
//! their exit leaves it held; at its end it frees itself.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use coditect_license::seat::{self, SeatOptions};
use coditect_license::signin::StoredSignIn;
use serde::Serialize;

use crate::context::Context;
use crate::exit::Exit;
use crate::output::Failure;
use crate::run::local_time;

/// Arguments of `borrow`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// How long: a number and a unit, `d` days, `h` hours, `m` minutes or `s` seconds (`3d`,
    /// `12h`); at most what your organisation's license allows.
    #[arg(long = "for", value_name = "PERIOD", value_parser = period)]
    period: Duration,
}

/// Arguments of `return`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReturnArgs {}

/// What `borrow --json` prints.
#[derive(Debug, Serialize)]
struct Borrowed {
    session_id: String,
    borrowed_until: DateTime<Utc>,
    seats_in_use: u32,
    max_seats: u32,
}

/// What `return --json` prints.
#[derive(Debug, Serialize)]
struct Returned {
    returned: bool,
    session_id: Option<String>,
}

/// `3d`, `12h`, `90m`, `45s` as a duration.
pub(crate) fn period(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: d, h, m or s (e.g. 3d)"))?;
    let (number, unit) = text.split_at(split);
    let count: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} does not start with a whole number"))?;
    let seconds = match unit {
        "d" => 86_400,
        "h" => 3600,
        "m" => 60,
        "s" => 1,
        _ => {
            return Err(format!(
                "{unit:?} is not a unit: use d, h, m or s (e.g. 3d)"
            ));
        }
    };
    match count.checked_mul(seconds) {
        Some(0) => Err("the period must be longer than nothing".into()),
        Some(total) => Ok(Duration::from_secs(total)),
        None => Err(format!("{text:?} is too long")),
    }
}

async fn options(context: &Context) -> Result<SeatOptions, Failure> {
    let sign_in = StoredSignIn::load(&context.files, &context.client).await?;
    Ok(SeatOptions::new(
        context.client.clone(),
        context.files.clone(),
        Arc::new(sign_in),
    )?)
}

/// Runs `borrow`.
pub(crate) async fn run(context: &Context, args: Args) -> Result<u8, Failure> {
    let options = options(context).await?;
    let borrowed = context
        .output
        .spin("Borrowing a seat…", seat::borrow(&options, args.period))
        .await
        .map_err(|error| {
            let refused = error.code().is_some();
            let failure = Failure::from(error);
            if refused {
                crate::denial::denial_of(failure)
            } else {
                failure
            }
        })?;
    let printed = Borrowed {
        session_id: borrowed.grant.session_id.clone(),
        borrowed_until: borrowed.until,
        seats_in_use: borrowed.grant.license.seats_in_use,
        max_seats: borrowed.grant.license.max_seats,
    };
    context.output.result(
        &printed,
        &format!(
            "Borrowed a seat until {}: this machine runs CODITECT until then, offline too, and \
             no one else can take the seat. `coditect-license return` gives it back sooner.",
            local_time(borrowed.until)
        ),
    );
    Ok(Exit::Ok.code())
}

/// Runs `return`.
pub(crate) async fn give_back(context: &Context, _args: ReturnArgs) -> Result<u8, Failure> {
    let options = options(context).await?;
    let returned = context
        .output
        .spin("Returning the seat…", seat::give_back(&options))
        .await?;
    let sentence = match &returned {
        Some(_) => "Returned this machine's seat: it is free for someone else now.",
        None => "This machine holds no seat on this service; nothing to return.",
    };
    let printed = Returned {
        returned: returned.is_some(),
        session_id: returned,
    };
    context.output.result(&printed, sentence);
    Ok(Exit::Ok.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_a_whole_number_and_a_unit() {
        assert_eq!(period("3d"), Ok(Duration::from_secs(3 * 86_400)));
        assert_eq!(period("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(period("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(period(" 45s "), Ok(Duration::from_secs(45)));
        for bad in ["3", "d", "3w", "-3d", "0d", "1.5d", "99999999999999999999d"] {
            assert!(period(bad).is_err(), "{bad} was accepted");
        }
    }
}
