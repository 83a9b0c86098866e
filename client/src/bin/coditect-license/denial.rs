//! The sentence a person reads when the service says no: the service's own `detail` (what
//! happened, what to do), and for a full pool the holders it names (to owners and admins) and when
//! the next seat frees, in the person's local time.

use coditect_license::{ProblemCode, ProblemDetails};

use crate::output::Failure;
use crate::run::local_time;

/// A refusal as a failure with what its problem adds for a person.
pub(crate) fn denial_of(failure: Failure) -> Failure {
    let problem: Option<ProblemDetails> = failure
        .problem
        .clone()
        .and_then(|value| serde_json::from_value(value).ok());
    match problem {
        Some(problem) => denial(&problem, failure),
        None => failure,
    }
}

/// `failure`, with what the problem adds for a person.
pub(crate) fn denial(problem: &ProblemDetails, mut failure: Failure) -> Failure {
    if problem.code != ProblemCode::SeatsExhausted {
        return failure;
    }
    let mut lines = Vec::new();
    if let Some(holders) = problem.holders.as_deref().filter(|h| !h.is_empty()) {
        lines.push("Seats are held by:".to_owned());
        for holder in holders {
            let who = holder.email.as_deref().unwrap_or("a member");
            lines.push(format!(
                "  {who} on {}, until {} unless renewed",
                holder.hostname,
                local_time(holder.expires_at)
            ));
        }
    }
    let when = problem
        .next_seat_frees_at
        .map(|at| format!("after {}", local_time(at)))
        .unwrap_or_else(|| "later".to_owned());
    lines.push(format!(
        "Try again {when}, or ask an owner of your organisation for more seats."
    ));
    failure.next_step = Some(lines.join("\n"));
    failure
}
