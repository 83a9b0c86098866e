//! `coditect-license usage [--from DATE] [--to DATE] [--bucket hour|day]`: the usage report of
//! your organisation's license (owners and admins), from `GET /api/v1/tenants/{id}/usage`.
//!
//! It prints a table (per UTC hour or day: peak and average seats in use, denials, borrows, the
//! queue and its waits), a bar of the peak seats per bucket with the license's seats marked, and
//! the sentence a budget holder wants: how many more seats would have avoided 90 % of the
//! denials. `--json` prints the service's answer as it is. A member is told that only owners and
//! admins see the report (exit 76).

use chrono::{DateTime, Utc};
use coditect_license::signin::StoredSignIn;
use coditect_license::{ClientError, IdTokens, ProblemCode};
use shared::api::{
    MeResponse, UsageBucketSize, UsageFigures, UsageQuery, UsageResponse, UsageTime,
};

use crate::context::Context;
use crate::exit::Exit;
use crate::output::Failure;

/// The widest bar of the chart, in characters.
const BAR_WIDTH: u32 = 40;

/// Arguments of `usage`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Start: a UTC date (`2026-03-01`) or an RFC 3339 time. Default: six days before `--to`'s day.
    #[arg(long, value_name = "DATE")]
    from: Option<UsageTime>,
    /// End: a UTC date (that day included) or an RFC 3339 time. Default: now.
    #[arg(long, value_name = "DATE")]
    to: Option<UsageTime>,
    /// One row per UTC `hour` or `day`.
    #[arg(long, value_name = "hour|day", default_value = "day")]
    bucket: UsageBucketSize,
}

/// Runs `usage`.
pub(crate) async fn run(context: &Context, args: Args) -> Result<u8, Failure> {
    let sign_in = StoredSignIn::load(&context.files, &context.client).await?;
    let query = UsageQuery {
        from: args.from,
        to: args.to,
        bucket: Some(args.bucket),
    };
    let (me, report) = context
        .output
        .spin(
            "Reading the usage report…",
            report(context, &sign_in, &query),
        )
        .await?;
    context.output.result(&report, &human(&me, &report));
    Ok(Exit::Ok.code())
}

/// The caller's organisation and its report.
async fn report(
    context: &Context,
    sign_in: &StoredSignIn,
    query: &UsageQuery,
) -> Result<(MeResponse, UsageResponse), Failure> {
    let token = sign_in.id_token().await?;
    let me = context.client.me(&token).await?;
    match context.client.usage(&token, me.tenant.id, query).await {
        Ok(report) => Ok((me, report)),
        Err(error) if error.code() == Some(ProblemCode::Forbidden) => {
            Err(not_a_manager(&me, error))
        }
        Err(error) if error.code() == Some(ProblemCode::InvalidRange) => {
            // The dates of the command line: a usage error, as clap's own (exit 64).
            let mut failure = Failure::from(error);
            failure.exit = Exit::Usage;
            Err(failure)
        }
        Err(error) => Err(error.into()),
    }
}

/// The refusal of a member, in a sentence that says who can see the report.
fn not_a_manager(me: &MeResponse, error: ClientError) -> Failure {
    let mut failure = Failure::from(error);
    failure.message = format!(
        "Only owners and admins of {} see its usage report, and you are a {}.",
        me.tenant.name,
        me.role.as_str().to_lowercase()
    );
    failure.then("Ask an owner or admin of your organisation for the report, or for that role.")
}

/// The report as a person reads it: heading, table, chart and the sentence about seats.
fn human(me: &MeResponse, report: &UsageResponse) -> String {
    let mut lines = vec![format!(
        "Usage of {}'s license ({}), {} to {} (UTC), by {}:",
        me.tenant.name,
        plural(u64::from(report.max_seats), "seat"),
        report.from.format("%Y-%m-%d %H:%M"),
        report.to.format("%Y-%m-%d %H:%M"),
        report.bucket
    )];
    lines.push(String::new());
    let label_width = label(report.bucket, report.from).len().max("period".len());
    lines.push(format!(
        "{:<label_width$}  {:>4}  {:>6}  {:>6}  {:>8}  {:>6}  {:>7}  {:>4}  {:>8}  {:>8}",
        report.bucket.as_str(),
        "peak",
        "avg",
        "denied",
        "borrowed",
        "queued",
        "claimed",
        "left",
        "wait p50",
        "wait p95"
    ));
    for bucket in &report.buckets {
        lines.push(row(
            &label(report.bucket, bucket.start),
            label_width,
            &bucket.figures,
        ));
    }
    lines.push(row("period", label_width, &report.totals));
    lines.push(String::new());
    lines.push(format!(
        "Peak seats in use per {} (| marks the license's {}):",
        report.bucket,
        plural(u64::from(report.max_seats), "seat")
    ));
    let scale = report
        .buckets
        .iter()
        .map(|b| b.figures.peak_in_use)
        .max()
        .unwrap_or(0)
        .max(report.max_seats)
        .max(1);
    for bucket in &report.buckets {
        lines.push(format!(
            "{:<label_width$}  {} {}",
            label(report.bucket, bucket.start),
            bar(bucket.figures.peak_in_use, report.max_seats, scale),
            bucket.figures.peak_in_use
        ));
    }
    lines.push(String::new());
    lines.push(seats_sentence(report));
    if report.totals.user_cap_denials > 0 {
        lines.push(format!(
            "The per-user cap refused {}; more seats would not have helped those.",
            plural(report.totals.user_cap_denials, "acquire")
        ));
    }
    lines.join("\n")
}

/// How a bucket is named in the table: its UTC day, or day and hour.
fn label(bucket: UsageBucketSize, start: DateTime<Utc>) -> String {
    match bucket {
        UsageBucketSize::Day => start.format("%Y-%m-%d").to_string(),
        UsageBucketSize::Hour => start.format("%Y-%m-%d %H:00").to_string(),
    }
}

/// One line of the table.
fn row(label: &str, width: usize, figures: &UsageFigures) -> String {
    format!(
        "{label:<width$}  {:>4}  {:>6.2}  {:>6}  {:>8}  {:>6}  {:>7}  {:>4}  {:>8}  {:>8}",
        figures.peak_in_use,
        figures.average_in_use,
        figures.denials,
        figures.borrowed,
        figures.queue_joined,
        figures.queue_claimed,
        figures.queue_abandoned,
        wait(figures.queue_wait_median_ms),
        wait(figures.queue_wait_p95_ms)
    )
}

/// A bar of `peak` seats on a scale of `scale` seats to [`BAR_WIDTH`] cells, with `|` inserted
/// where the license's `max_seats` end: `#` beyond it are seats the license lacked.
fn bar(peak: u32, max_seats: u32, scale: u32) -> String {
    let cells = |seats: u32| {
        let cells = (u64::from(seats) * u64::from(BAR_WIDTH)).div_ceil(u64::from(scale.max(1)));
        usize::try_from(cells).unwrap_or(usize::MAX)
    };
    let (filled, mark) = (cells(peak), cells(max_seats));
    let mut bar = String::new();
    for cell in 0..filled.max(mark) {
        if cell == mark {
            bar.push('|');
        }
        bar.push(if cell < filled { '#' } else { ' ' });
    }
    if filled <= mark {
        bar.push('|');
    }
    bar
}

/// A wait, as a person reads it (`-` when nobody waited).
fn wait(ms: Option<u64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms < 1_000 => format!("{ms} ms"),
        Some(ms) if ms < 60_000 => format!("{} s", ms / 1_000),
        Some(ms) if ms < 3_600_000 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1_000),
        Some(ms) => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// The sentence about seats: how many more would have avoided 90 % of the denials.
fn seats_sentence(report: &UsageResponse) -> String {
    let denials = plural(report.totals.denials, "denial");
    let cover = |percent| report.denial_cover.iter().find(|c| c.percent == percent);
    let Some(ninety) = cover(90) else {
        return "No acquire was refused for want of a seat in this period.".to_owned();
    };
    let mut sentence = if ninety.more_seats == 0 {
        format!(
            "The license's {} would have avoided 90 % of the {denials} (they came while seats \
             were reserved for the queue, or before the license had that many seats).",
            plural(u64::from(report.max_seats), "seat")
        )
    } else {
        format!(
            "{} ({} in all) would have avoided 90 % of the {denials}.",
            plural(u64::from(ninety.more_seats), "more seat"),
            ninety.seats
        )
    };
    if let (Some(half), Some(all)) = (cover(50), cover(100))
        && (half.more_seats, all.more_seats) != (ninety.more_seats, ninety.more_seats)
    {
        sentence.push_str(&format!(
            " Half of them: {} more; all of them: {} more.",
            half.more_seats, all.more_seats
        ));
    }
    sentence
}

/// `n thing` or `n things`.
fn plural(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_fills_to_the_peak_and_marks_the_license_seats() {
        assert_eq!(
            bar(5, 10, 10),
            format!("{}{}|", "#".repeat(20), " ".repeat(20))
        );
        assert_eq!(
            bar(12, 10, 12),
            format!("{}|{}", "#".repeat(34), "#".repeat(6))
        );
        assert_eq!(bar(0, 10, 10), format!("{}|", " ".repeat(40)));
        assert_eq!(bar(1, 100, 100), format!("#{}|", " ".repeat(39)));
    }

    fn with_cover(max_seats: u32, denials: u64, cover: &[(u8, u32)]) -> UsageResponse {
        UsageResponse {
            from: Utc::now(),
            to: Utc::now(),
            bucket: UsageBucketSize::Day,
            max_seats,
            buckets: Vec::new(),
            totals: UsageFigures {
                denials,
                ..UsageFigures::default()
            },
            denial_cover: cover
                .iter()
                .map(|&(percent, seats)| shared::api::DenialCover {
                    percent,
                    seats,
                    more_seats: seats.saturating_sub(max_seats),
                })
                .collect(),
        }
    }

    #[test]
    fn the_sentence_says_how_many_more_seats_avoid_ninety_percent_of_the_denials() {
        let sentence = seats_sentence(&with_cover(10, 340, &[(50, 11), (90, 12), (100, 15)]));
        assert_eq!(
            sentence,
            "2 more seats (12 in all) would have avoided 90 % of the 340 denials. Half of them: \
             1 more; all of them: 5 more."
        );
        let same = seats_sentence(&with_cover(1, 1, &[(50, 2), (90, 2), (100, 2)]));
        assert_eq!(
            same,
            "1 more seat (2 in all) would have avoided 90 % of the 1 denial."
        );
        let enough = seats_sentence(&with_cover(10, 3, &[(50, 9), (90, 10), (100, 10)]));
        assert!(
            enough.starts_with("The license's 10 seats would have avoided 90 % of the 3 denials")
        );
        let none = seats_sentence(&with_cover(10, 0, &[]));
        assert_eq!(
            none,
            "No acquire was refused for want of a seat in this period."
        );
    }

    #[test]
    fn waits_read_in_the_unit_that_fits() {
        assert_eq!(wait(None), "-");
        assert_eq!(wait(Some(850)), "850 ms");
        assert_eq!(wait(Some(12_400)), "12 s");
        assert_eq!(wait(Some(245_000)), "4m05s");
        assert_eq!(wait(Some(3_720_000)), "1h02m");
    }
}
