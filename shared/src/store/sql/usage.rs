//! The usage report, computed from the audit trail in SQL: where the period's seat count starts
//! (the last grant before it), `usage_buckets.sql` (one row per bucket) and `usage_totals.sql` (the
//! period's percentiles and the seats that would have avoided its denials). Both texts run unchanged on PostgreSQL and SQLite; this file binds them and turns
//! their integers into [`UsageResponse`]. The figures are defined in [`crate::api::usage`].

use chrono::{DateTime, TimeZone, Utc};
use sqlx::database::HasStatementCache;
use sqlx::{Executor, FromRow};
use uuid::Uuid;

use super::{Driver, Param, Record, SqlRecords};
use crate::api::usage::DENIAL_COVER_PERCENTS;
use crate::api::{DenialCover, UsageBucket, UsageFigures, UsagePeriod, UsageResponse};
use crate::store::{StoreError, StoreResult};

/// One bucket as the SQL answers it.
#[derive(Debug, FromRow)]
pub(in crate::store) struct BucketRow {
    /// Which bucket: 0 is the one holding `from`.
    idx: i64,
    /// The most seats in use at a moment of it.
    peak: i64,
    /// Seats in use × milliseconds, over the part of it inside the period.
    seat_ms: i64,
    /// Milliseconds of it inside the period.
    covered_ms: i64,
    /// Refusals of a full pool (their counts).
    denials: i64,
    /// Refusals of the per-user cap.
    user_cap_denials: i64,
    /// `seat.borrowed` events.
    borrowed: i64,
    /// `queue.joined` events.
    joined: i64,
    /// `queue.claimed` events.
    claimed: i64,
    /// `queue.left` events.
    abandoned: i64,
    /// The claims' median wait (ms), `None` without claims.
    median: Option<i64>,
    /// Their 95th-percentile wait (ms).
    p95: Option<i64>,
}

/// The period's figures buckets cannot add up to.
#[derive(Debug, FromRow)]
pub(in crate::store) struct TotalsRow {
    /// The period's median queue wait (ms), `None` without claims.
    median: Option<i64>,
    /// Its 95th-percentile queue wait (ms).
    p95: Option<i64>,
    /// Seats that would have avoided half the denials, `None` without denials.
    seats_50: Option<i64>,
    /// … 90 % of them.
    seats_90: Option<i64>,
    /// … all of them.
    seats_100: Option<i64>,
}

/// When the last grant before the period was (its `in_use` is the level the period starts from).
const LAST_GRANT_BEFORE: &str = "SELECT occurred_at FROM audit_events
     WHERE tenant_id = $1 AND action = 'seat.acquired' AND occurred_at < $2
     ORDER BY occurred_at DESC LIMIT 1";

impl<DB> SqlRecords<DB>
where
    DB: Driver + HasStatementCache,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    Uuid: Param<DB>,
    i64: Param<DB>,
    BucketRow: Record<DB>,
    TotalsRow: Record<DB>,
    DateTime<Utc>: Param<DB>,
    (DateTime<Utc>,): Record<DB>,
{
    /// See [`crate::store::Store::usage`].
    pub(in crate::store) async fn usage(
        &self,
        tenant_id: Uuid,
        period: &UsagePeriod,
        max_seats: u32,
    ) -> StoreResult<UsageResponse> {
        let (from, to) = (period.from, period.to);
        let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
        let (length, origin) = (period.bucket.millis(), period.origin_ms());
        let last_grant: Option<(DateTime<Utc>,)> = sqlx::query_as(LAST_GRANT_BEFORE)
            .bind(tenant_id)
            .bind(from)
            .fetch_optional(&self.pool)
            .await?;
        let seats_from = last_grant.map_or(from, |(at,)| at);
        // Planned for each call's own period (`persistent(false)`): a plan PostgreSQL made generic
        // after five calls guesses the period's rows and runs a year several times slower.
        let rows: Vec<BucketRow> = sqlx::query_as(include_str!("usage_buckets.sql"))
            .persistent(false)
            .bind(tenant_id)
            .bind(from)
            .bind(to)
            .bind(from_ms)
            .bind(to_ms)
            .bind(length)
            .bind(origin)
            .bind(period.bucket_count())
            .bind(seats_from)
            .fetch_all(&self.pool)
            .await?;
        let totals: TotalsRow = sqlx::query_as(include_str!("usage_totals.sql"))
            .persistent(false)
            .bind(tenant_id)
            .bind(from)
            .bind(to)
            .bind(i64::from(max_seats))
            .fetch_one(&self.pool)
            .await?;

        let mut period_figures = UsageFigures::default();
        let (mut seat_ms, mut covered_ms) = (0_i64, 0_i64);
        let mut buckets = Vec::with_capacity(rows.len());
        for row in rows {
            let start = origin + row.idx * length;
            seat_ms += row.seat_ms;
            covered_ms += row.covered_ms;
            let figures = figures(&row);
            period_figures.peak_in_use = period_figures.peak_in_use.max(figures.peak_in_use);
            period_figures.denials += figures.denials;
            period_figures.user_cap_denials += figures.user_cap_denials;
            period_figures.borrowed += figures.borrowed;
            period_figures.queue_joined += figures.queue_joined;
            period_figures.queue_claimed += figures.queue_claimed;
            period_figures.queue_abandoned += figures.queue_abandoned;
            buckets.push(UsageBucket {
                start: at(start)?,
                end: at(start + length)?,
                figures,
            });
        }
        period_figures.average_in_use = average(seat_ms, covered_ms);
        period_figures.queue_wait_median_ms = totals.median.map(count);
        period_figures.queue_wait_p95_ms = totals.p95.map(count);
        let denial_cover = [totals.seats_50, totals.seats_90, totals.seats_100]
            .into_iter()
            .zip(DENIAL_COVER_PERCENTS)
            .filter_map(|(seats, percent)| {
                let seats = u32::try_from(seats?.max(0)).unwrap_or(u32::MAX);
                Some(DenialCover {
                    percent,
                    seats,
                    more_seats: seats.saturating_sub(max_seats),
                })
            })
            .collect();
        Ok(UsageResponse {
            from: period.from,
            to: period.to,
            bucket: period.bucket,
            max_seats,
            buckets,
            totals: period_figures,
            denial_cover,
        })
    }
}

/// A bucket's figures from its row.
fn figures(row: &BucketRow) -> UsageFigures {
    UsageFigures {
        peak_in_use: u32::try_from(row.peak.max(0)).unwrap_or(u32::MAX),
        average_in_use: average(row.seat_ms, row.covered_ms),
        denials: count(row.denials),
        user_cap_denials: count(row.user_cap_denials),
        borrowed: count(row.borrowed),
        queue_joined: count(row.joined),
        queue_claimed: count(row.claimed),
        queue_abandoned: count(row.abandoned),
        queue_wait_median_ms: row.median.map(count),
        queue_wait_p95_ms: row.p95.map(count),
    }
}

/// Seats in use on average: seat-milliseconds over milliseconds (0 for an empty span).
fn average(seat_ms: i64, covered_ms: i64) -> f64 {
    if covered_ms <= 0 {
        return 0.0;
    }
    // Both stay far below 2^53 (a year of 10 000 seats is 3·10^14 seat-ms), so they convert exactly.
    seat_ms as f64 / covered_ms as f64
}

/// A count or a duration from SQL, never negative.
fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A bucket edge as a timestamp.
fn at(ms: i64) -> StoreResult<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("bucket edge {ms} ms is out of range")))
}
