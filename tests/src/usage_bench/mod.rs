//! `cargo bench-usage`: how long the usage report takes on a year of a 100-seat license's audit
//! trail ([`year`]), on SQLite (a file, as the embedded default keeps it) and on PostgreSQL (a
//! fresh schema on `DATABASE_URL`): a year by day and a month by hour, through
//! [`shared::store::Store::usage`], the query the admin endpoint runs. The rows are inserted in
//! bulk (multi-row `INSERT`s in one transaction); both backends must answer the same report.
//!
//! Layout: `year.rs` the simulated trail; this file the insert, the timing and the printout.

pub mod year;

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use shared::api::{UsageBucketSize, UsagePeriod, UsageQuery, UsageResponse, UsageTime};
use shared::store::{Store, StoreResult};
use sqlx::types::Json;
use sqlx::{Database, Encode, Executor, IntoArguments, Pool, Type};
use uuid::Uuid;

use self::year::{MAX_SEATS, Row};
use crate::backends::PgSchema;
use crate::server::TempDir;

/// Rows per `INSERT` (5 parameters each: far below both databases' limits).
const BATCH: usize = 1_000;

/// The simulated year: 2025, UTC.
fn year_start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// What the command line asks for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Run on SQLite.
    pub sqlite: bool,
    /// Run on PostgreSQL (`DATABASE_URL`).
    pub postgres: bool,
    /// Timed runs of each report, after one warm-up.
    pub repeat: usize,
    /// The simulation's seed.
    pub seed: u64,
}

/// One backend's figures.
#[derive(Debug)]
pub struct Timing {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// How long the bulk insert took.
    pub insert: Duration,
    /// The year by day: every run's time, sorted.
    pub year_by_day: Vec<Duration>,
    /// March by hour.
    pub month_by_hour: Vec<Duration>,
    /// The year's report, to compare across backends.
    pub report: UsageResponse,
}

/// Generates the year and times the reports on each backend asked for.
pub async fn run(options: Options) -> anyhow::Result<(usize, Vec<Timing>)> {
    let rows = year::generate(year_start(), options.seed);
    let tenant = Uuid::from_u128(options.seed.into());
    let mut timings = Vec::new();
    if options.sqlite {
        let dir = TempDir::new();
        let url = format!("sqlite://{}", dir.0.join("usage.db").display());
        let store = shared::store::SqliteStore::connect(&url).await?;
        store.migrate().await?;
        let started = Instant::now();
        insert(store.pool(), tenant, &rows).await?;
        sqlx::query("ANALYZE").execute(store.pool()).await?;
        timings.push(time("sqlite", started.elapsed(), &store, tenant, options.repeat).await?);
    }
    if options.postgres {
        let schema = PgSchema::create()
            .await
            .context("PostgreSQL: set DATABASE_URL, or pass --backend sqlite")?;
        let started = Instant::now();
        insert(schema.store.pool(), tenant, &rows).await?;
        sqlx::query("ANALYZE audit_events")
            .execute(schema.store.pool())
            .await?;
        let timing = time(
            "postgres",
            started.elapsed(),
            &schema.store,
            tenant,
            options.repeat,
        )
        .await;
        schema.drop().await;
        timings.push(timing?);
    }
    Ok((rows.len(), timings))
}

/// Inserts `rows` of `tenant` in batches, in one transaction.
async fn insert<DB>(pool: &Pool<DB>, tenant: Uuid, rows: &[Row]) -> anyhow::Result<()>
where
    DB: Database<Arguments: IntoArguments<DB>>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    Uuid: for<'q> Encode<'q, DB> + Type<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    DateTime<Utc>: for<'q> Encode<'q, DB> + Type<DB>,
    for<'a> Json<&'a Value>: Encode<'a, DB> + Type<DB>,
{
    let mut tx = pool.begin().await?;
    for batch in rows.chunks(BATCH) {
        let values: Vec<String> = (0..batch.len())
            .map(|i| {
                let n = i * 5;
                format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_events (tenant_id, user_id, action, detail, occurred_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for row in batch {
            query = query
                .bind(tenant)
                .bind(row.user)
                .bind(row.action)
                .bind(Json(&row.detail))
                .bind(row.at);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Times the year by day and March by hour, `repeat` times each after a warm-up.
async fn time(
    backend: &'static str,
    insert: Duration,
    store: &dyn Store,
    tenant: Uuid,
    repeat: usize,
) -> anyhow::Result<Timing> {
    let at = |text: &str| text.parse::<UsageTime>().ok();
    let year = period(at("2025-01-01"), at("2025-12-31"), UsageBucketSize::Day)?;
    let march = period(at("2025-03-01"), at("2025-03-31"), UsageBucketSize::Hour)?;
    let report = store.usage(tenant, &year, MAX_SEATS as u32).await?;
    store.usage(tenant, &march, MAX_SEATS as u32).await?;
    let mut year_by_day = Vec::new();
    let mut month_by_hour = Vec::new();
    for _ in 0..repeat {
        year_by_day.push(timed(store.usage(tenant, &year, MAX_SEATS as u32)).await?);
        month_by_hour.push(timed(store.usage(tenant, &march, MAX_SEATS as u32)).await?);
    }
    year_by_day.sort();
    month_by_hour.sort();
    Ok(Timing {
        backend,
        insert,
        year_by_day,
        month_by_hour,
        report,
    })
}

fn period(
    from: Option<UsageTime>,
    to: Option<UsageTime>,
    bucket: UsageBucketSize,
) -> anyhow::Result<UsagePeriod> {
    let query = UsageQuery {
        from,
        to,
        bucket: Some(bucket),
    };
    Ok(UsagePeriod::resolve(&query, Utc::now())?)
}

async fn timed(work: impl Future<Output = StoreResult<UsageResponse>>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    work.await?;
    Ok(started.elapsed())
}

/// The figures as `BENCHMARKS.md` records them.
pub fn render(rows: usize, timings: &[Timing]) -> String {
    let ms = |d: &Duration| format!("{:.1}", d.as_secs_f64() * 1000.0);
    let spread = |runs: &[Duration]| match (runs.first(), runs.get(runs.len() / 2), runs.last()) {
        (Some(min), Some(median), Some(max)) => {
            format!("{} / {} / {}", ms(min), ms(median), ms(max))
        }
        _ => "-".to_owned(),
    };
    let mut lines = vec![
        format!("{rows} audit rows: one 100-seat license, 2025 (see tests/src/usage_bench/year.rs)"),
        String::new(),
        "| backend | bulk insert | year by day (365 buckets), ms min / median / max | March by hour (744 buckets), ms min / median / max |".to_owned(),
        "|---|---|---|---|".to_owned(),
    ];
    for t in timings {
        lines.push(format!(
            "| {} | {:.1} s | {} | {} |",
            t.backend,
            t.insert.as_secs_f64(),
            spread(&t.year_by_day),
            spread(&t.month_by_hour)
        ));
    }
    if let Some(first) = timings.first() {
        let totals = &first.report.totals;
        lines.push(String::new());
        let wait = |value: Option<u64>| value.map_or("-".to_owned(), |v| format!("{v} ms"));
        let cover: Vec<String> = first
            .report
            .denial_cover
            .iter()
            .map(|c| format!("{} % {} seats", c.percent, c.seats))
            .collect();
        lines.push(format!(
            "The year: peak {} seats, {:.1} on average, {} denials ({} by the per-user cap), {} \
             borrows, queue {} joined / {} claimed / {} left, wait median {}, p95 {}; the \
             denials avoided: {}.",
            totals.peak_in_use,
            totals.average_in_use,
            totals.denials,
            totals.user_cap_denials,
            totals.borrowed,
            totals.queue_joined,
            totals.queue_claimed,
            totals.queue_abandoned,
            wait(totals.queue_wait_median_ms),
            wait(totals.queue_wait_p95_ms),
            cover.join(", "),
        ));
        let same = timings.iter().all(|t| t.report == first.report);
        lines.push(if same {
            "Both backends answered the same report.".to_owned()
        } else {
            "THE BACKENDS' REPORTS DIFFER.".to_owned()
        });
    }
    lines.join("\n")
}
