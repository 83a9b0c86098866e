//! `GET /api/v1/tenants/{tenant_id}/usage`: how a license's seats were used over a period, per
//! UTC hour or day, computed from the audit trail (owners and admins).
//!
//! The figures, per bucket and for the whole period ([`UsageFigures`]):
//!
//! - **seats in use**: the live count is rebuilt from the seat events — `seat.acquired` sets it
//!   to the grant's `detail.in_use` (the seat store's own count after the grant, so every grant
//!   corrects any drift), `seat.released` and `seat.expired` take one off (an expiry at the moment
//!   the seat lapsed). `peak_in_use` is the highest count held in the bucket for any length of
//!   time (also the count carried in at its start); `average_in_use` is the count weighted by how long it held,
//!   over the part of the bucket inside the period;
//! - **denials**: refusals because the pool was full (`seat.denied` with reason
//!   `seats_exhausted`, each row counting its `detail.count`), in the bucket of the row's first
//!   refusal; `user_cap_denials` apart (reason `user_seat_limit`: more seats would not have
//!   helped); refusals of the license itself (suspended, expired…) are not counted;
//! - **borrowed**: `seat.borrowed` events (a borrow started, or a borrow's end set afresh);
//! - **the queue**: `queue.joined`, `queue.claimed` and `queue.left` (`queue_abandoned`: left or
//!   lapsed) events, and the median and 95th percentile of the claims' `detail.waited_ms`
//!   (nearest rank: the ⌈p·n⌉-th smallest wait, a wait someone really had).
//!
//! And for the period, [`DenialCover`]: the seats that would have avoided 50 %, 90 % and 100 % of
//! the denials. The *demand* at a denial row is the seats in use then (its `detail.in_use`) plus
//! the distinct machines refused in the same UTC minute; the seats that avoid N % of the denials
//! are the smallest S such that the denials whose demand is at most S make up at least N % of all
//! denials, weighted by their counts.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, SecondsFormat, TimeDelta, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::{IntoParams, ToSchema};

/// The longest period one report covers, in days (by hour, at most 9 601 buckets).
pub const MAX_USAGE_DAYS: i64 = 400;

/// The period without `from`: the day of `to` and the six before it.
pub const DEFAULT_USAGE_DAYS: u64 = 7;

/// The percentages of denials [`DenialCover`] answers for.
pub const DENIAL_COVER_PERCENTS: [u8; 3] = [50, 90, 100];

/// How long one bucket of the report is (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UsageBucketSize {
    /// A UTC hour.
    Hour,
    /// A UTC day (the default).
    #[default]
    Day,
}

impl UsageBucketSize {
    /// The bucket's length in milliseconds (UTC hours and days have no leap seconds in Unix time).
    pub const fn millis(self) -> i64 {
        match self {
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        }
    }

    /// The spelling of the query string and the body.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}

impl fmt::Display for UsageBucketSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UsageBucketSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hour" => Ok(Self::Hour),
            "day" => Ok(Self::Day),
            other => Err(format!("bucket is `hour` or `day`, not {other:?}")),
        }
    }
}

/// A bound of the period as the query gives it: a UTC date (`2026-03-01`) or an RFC 3339 instant
/// (`2026-03-01T09:00:00Z`). A date as `from` is the start of that day, as `to` its end: `to`
/// names the last day included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageTime {
    /// A whole UTC day.
    Date(NaiveDate),
    /// An instant.
    Instant(DateTime<Utc>),
}

impl UsageTime {
    /// Where a period starting here starts.
    pub fn start(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Date(date) => Some(date.and_time(NaiveTime::MIN).and_utc()),
            Self::Instant(at) => Some(at),
        }
    }

    /// Where a period ending here ends (exclusive): the next midnight for a date.
    pub fn end(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Date(date) => date
                .checked_add_days(Days::new(1))
                .map(|next| next.and_time(NaiveTime::MIN).and_utc()),
            Self::Instant(at) => Some(at),
        }
    }
}

impl FromStr for UsageTime {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            return Ok(Self::Date(date));
        }
        DateTime::parse_from_rfc3339(s)
            .map(|at| Self::Instant(at.with_timezone(&Utc)))
            .map_err(|_| {
                format!("{s:?} is neither a date (2026-03-01) nor an RFC 3339 time (2026-03-01T09:00:00Z)")
            })
    }
}

impl fmt::Display for UsageTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Date(date) => write!(f, "{}", date.format("%Y-%m-%d")),
            Self::Instant(at) => f.write_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        }
    }
}

/// In the document: a date or an RFC 3339 time.
impl utoipa::PartialSchema for UsageTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type,
        };
        let text = |format| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
        };
        OneOfBuilder::new()
            .item(text(KnownFormat::Date))
            .item(text(KnownFormat::DateTime))
            .into()
    }
}

impl ToSchema for UsageTime {}

impl Serialize for UsageTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for UsageTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The query string of `GET …/usage`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Start of the period: a UTC date (`2026-03-01`, its midnight) or an RFC 3339 time. Default:
    /// the start of the day six days before the day of `to` (seven days in all).
    #[param(inline, required = false, example = "2026-03-01")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<UsageTime>,
    /// End of the period (exclusive): an RFC 3339 time, or a UTC date meaning the end of that
    /// day. Default and latest: now (the report covers the past).
    #[param(inline, required = false, example = "2026-03-31")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<UsageTime>,
    /// `hour` or `day` (default), UTC.
    #[param(inline, required = false)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<UsageBucketSize>,
}

/// Why a query names no period the report can cover (400 `invalid_range`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// `from` is now or later: nothing has happened there yet.
    #[error("The period starts at {from}, which has not come yet: the report covers the past.")]
    NotYet {
        /// The period's start.
        from: String,
    },
    /// `from` is not before `to`.
    #[error("`from` ({from}) must be before `to` ({to}).")]
    Empty {
        /// The period's start.
        from: String,
        /// The period's end.
        to: String,
    },
    /// The period is longer than [`MAX_USAGE_DAYS`].
    #[error(
        "The report covers at most 400 days at a time, and {from} to {to} is longer: ask for \
         several shorter periods."
    )]
    TooLong {
        /// The period's start.
        from: String,
        /// The period's end.
        to: String,
    },
    /// A date beyond what the service represents.
    #[error("{0} is out of range.")]
    OutOfRange(String),
}

/// A period the report covers: `[from, to)` in buckets of `bucket`, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePeriod {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive), never after the time it was resolved at.
    pub to: DateTime<Utc>,
    /// The bucket length.
    pub bucket: UsageBucketSize,
}

impl UsagePeriod {
    /// The period `query` names at `now`, with the defaults filled in and `to` cut at `now`.
    pub fn resolve(query: &UsageQuery, now: DateTime<Utc>) -> Result<Self, PeriodError> {
        let bucket = query.bucket.unwrap_or_default();
        let to = match query.to {
            Some(to) => to
                .end()
                .ok_or_else(|| PeriodError::OutOfRange(to.to_string()))?,
            None => now,
        }
        .min(now);
        let from = match query.from {
            Some(from) => from
                .start()
                .ok_or_else(|| PeriodError::OutOfRange(from.to_string()))?,
            None => (to - TimeDelta::milliseconds(1))
                .date_naive()
                .checked_sub_days(Days::new(DEFAULT_USAGE_DAYS - 1))
                .map(|day| day.and_time(NaiveTime::MIN).and_utc())
                .ok_or_else(|| PeriodError::OutOfRange(to.to_string()))?,
        };
        let text = |at: DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
        if from >= now {
            return Err(PeriodError::NotYet { from: text(from) });
        }
        if from >= to {
            return Err(PeriodError::Empty {
                from: text(from),
                to: text(to),
            });
        }
        if to - from > TimeDelta::days(MAX_USAGE_DAYS) {
            return Err(PeriodError::TooLong {
                from: text(from),
                to: text(to),
            });
        }
        Ok(Self { from, to, bucket })
    }

    /// The start of the first bucket: `from` rounded down to its UTC hour or day.
    pub fn origin_ms(&self) -> i64 {
        let length = self.bucket.millis();
        self.from.timestamp_millis().div_euclid(length) * length
    }

    /// How many buckets the period touches.
    pub fn bucket_count(&self) -> i64 {
        let length = self.bucket.millis();
        (self.to.timestamp_millis() - self.origin_ms() + length - 1) / length
    }
}

/// `GET …/usage`: the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageResponse {
    /// Start of the period (inclusive).
    pub from: DateTime<Utc>,
    /// End of the period (exclusive): the asked end, or the time of the answer if that was later.
    pub to: DateTime<Utc>,
    /// The bucket length.
    pub bucket: UsageBucketSize,
    /// The license's seat count now.
    pub max_seats: u32,
    /// One per UTC hour or day touching the period, oldest first, also those without events.
    pub buckets: Vec<UsageBucket>,
    /// The figures of the whole period.
    pub totals: UsageFigures,
    /// The seats that would have avoided 50 %, 90 % and 100 % of the period's denials; empty
    /// when there were none.
    pub denial_cover: Vec<DenialCover>,
}

/// One UTC hour or day of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageBucket {
    /// Its start (a UTC hour or midnight; the first bucket may start before `from`, and its
    /// figures cover only the part inside the period).
    pub start: DateTime<Utc>,
    /// Its end (exclusive).
    pub end: DateTime<Utc>,
    /// What happened in it.
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// The figures of a bucket or of the whole period (see the module doc for their definitions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UsageFigures {
    /// The most seats in use at once (for any length of time).
    pub peak_in_use: u32,
    /// Seats in use on average, weighted by time.
    pub average_in_use: f64,
    /// Acquires refused because every seat was in use.
    pub denials: u64,
    /// Acquires refused by the per-user cap (`user_seat_limit`), not in `denials`.
    pub user_cap_denials: u64,
    /// Borrows started (or a borrow's end set afresh).
    pub borrowed: u64,
    /// Machines that joined the queue for a seat.
    pub queue_joined: u64,
    /// Queued machines that got their seat.
    pub queue_claimed: u64,
    /// Queued machines that left without a seat, or whose ticket lapsed.
    pub queue_abandoned: u64,
    /// The median wait of the claims, ms (`null` without claims).
    pub queue_wait_median_ms: Option<u64>,
    /// The 95th-percentile wait of the claims, ms (`null` without claims).
    pub queue_wait_p95_ms: Option<u64>,
}

/// How many seats would have avoided a share of the period's denials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DenialCover {
    /// The share of denials, in percent: 50, 90 or 100.
    pub percent: u8,
    /// Seats in all that would have avoided that share.
    pub seats: u32,
    /// Seats beyond the license's `max_seats` now (0 when it has that many already).
    pub more_seats: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    fn query(from: Option<&str>, to: Option<&str>) -> UsageQuery {
        UsageQuery {
            from: from.map(|s| s.parse().expect("from parses")),
            to: to.map(|s| s.parse().expect("to parses")),
            bucket: None,
        }
    }

    #[test]
    fn without_bounds_the_period_is_today_and_the_six_days_before() {
        let now = at("2026-03-10T15:30:00Z");
        let period = UsagePeriod::resolve(&query(None, None), now).expect("valid");
        assert_eq!(period.from, at("2026-03-04T00:00:00Z"));
        assert_eq!(period.to, now);
        assert_eq!(period.bucket, UsageBucketSize::Day);
        assert_eq!(period.bucket_count(), 7);
    }

    #[test]
    fn a_date_as_to_includes_that_day_and_a_future_end_is_cut_at_now() {
        let now = at("2026-03-10T15:30:00Z");
        let period =
            UsagePeriod::resolve(&query(Some("2026-03-01"), Some("2026-03-02")), now).expect("ok");
        assert_eq!(period.from, at("2026-03-01T00:00:00Z"));
        assert_eq!(period.to, at("2026-03-03T00:00:00Z"));
        let future =
            UsagePeriod::resolve(&query(Some("2026-03-09"), Some("2027-01-01")), now).expect("ok");
        assert_eq!(future.to, now);
    }

    #[test]
    fn hour_buckets_start_at_the_hour_before_from() {
        let now = at("2026-03-10T15:30:00Z");
        let mut q = query(Some("2026-03-10T08:30:00Z"), Some("2026-03-10T12:00:00Z"));
        q.bucket = Some(UsageBucketSize::Hour);
        let period = UsagePeriod::resolve(&q, now).expect("ok");
        assert_eq!(
            period.origin_ms(),
            at("2026-03-10T08:00:00Z").timestamp_millis()
        );
        assert_eq!(period.bucket_count(), 4);
    }

    #[test]
    fn empty_future_and_overlong_periods_are_refused() {
        let now = at("2026-03-10T15:30:00Z");
        let refused = |from, to| UsagePeriod::resolve(&query(from, to), now).map(|_| ());
        assert!(matches!(
            refused(Some("2026-03-05"), Some("2026-03-04")),
            Err(PeriodError::Empty { .. })
        ));
        assert!(matches!(
            refused(Some("2026-03-11"), None),
            Err(PeriodError::NotYet { .. })
        ));
        assert!(matches!(
            refused(Some("2025-01-01"), Some("2026-02-05")),
            Err(PeriodError::TooLong { .. })
        ));
        assert_eq!(refused(Some("2025-02-05"), Some("2026-03-10")), Ok(()));
    }

    #[test]
    fn times_read_dates_and_rfc3339_and_print_back_the_same() {
        for text in [
            "2026-03-01",
            "2026-03-01T09:00:00Z",
            "2026-03-01T09:00:00.250Z",
        ] {
            let time: UsageTime = text.parse().expect("parses");
            assert_eq!(time.to_string(), text);
        }
        assert!("2026-13-01".parse::<UsageTime>().is_err());
        assert!("yesterday".parse::<UsageTime>().is_err());
    }
}
