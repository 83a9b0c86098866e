//! The cleanup task: reap seats whose heartbeats stopped in pools nobody acquires from, move every
//! pool's pending denial counts into its event log, and drain every license's seat events into the
//! audit table. A denial count becomes one `seat.denied` row whose `detail` has `count` and
//! `last_at` (`occurred_at` is the first denial), so the trail stays exact and short in a storm.
//!
//! Idempotent by construction: events are appended with `dedupe_key = <license>:<event id>` and only
//! then acknowledged, so a crash after the append re-appends nothing, and a crash before it loses
//! nothing. Run by Cloud Scheduler through the `cleanup` function, and by the local server's timer.
//!
//! Each run also counts what it wrote by kind and the seats held per license tier; [`record`]
//! logs them (the lines Cloud Monitoring's log-based metrics read) and adds them to the
//! process's [`crate::metrics`].

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use serde_json::json;

use super::{SeatError, SeatEvent, SeatEventKind, SeatStore};
use crate::domain::NewAuditEvent;
use crate::store::{Store, StoreError};

/// Events drained per store round trip.
const BATCH: usize = 500;

/// What one cleanup run did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CleanupReport {
    /// Pools looked at.
    pub pools: u32,
    /// Seats found expired and reclaimed by this run.
    pub reaped: u32,
    /// Audit rows written (events already written by an interrupted run are not counted).
    pub audited: u64,
    /// The seat events drained into the audit trail, by kind; a denial count of N counts N.
    pub events: EventCounts,
    /// Seats held after the run, by license tier (`FREE`, `TEAM`, …); tiers with none are absent.
    pub seats_in_use: BTreeMap<String, u64>,
}

/// Seat events by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventCounts {
    /// Seats granted.
    pub granted: u64,
    /// Seats released by their holders.
    pub released: u64,
    /// Seats whose heartbeats stopped.
    pub expired: u64,
    /// Refused acquires because the pool was full.
    pub denied: u64,
    /// Seats borrowed for offline use (a new borrow or a borrow's end set afresh).
    pub borrowed: u64,
    /// Refused callers that joined the queue.
    pub queued: u64,
    /// Tickets that claimed a seat.
    pub claimed: u64,
    /// Tickets that left the queue without a seat (left, or lapsed unpolled).
    pub left: u64,
}

impl EventCounts {
    fn add(&mut self, event: &SeatEvent) {
        match event.kind {
            SeatEventKind::Acquired => self.granted += 1,
            SeatEventKind::Released => self.released += 1,
            SeatEventKind::Expired => self.expired += 1,
            SeatEventKind::Denied => self.denied += event.count,
            SeatEventKind::Borrowed => self.borrowed += 1,
            SeatEventKind::Queued => self.queued += 1,
            SeatEventKind::Claimed => self.claimed += 1,
            SeatEventKind::Left => self.left += 1,
        }
    }

    /// Each kind with its name, as logs and metrics spell it.
    pub fn by_kind(&self) -> [(&'static str, u64); 8] {
        [
            ("granted", self.granted),
            ("released", self.released),
            ("expired", self.expired),
            ("denied", self.denied),
            ("borrowed", self.borrowed),
            ("queued", self.queued),
            ("claimed", self.claimed),
            ("left", self.left),
        ]
    }
}

/// Why a cleanup run stopped; everything done before it stays done (the run is idempotent).
#[derive(Debug, thiserror::Error)]
pub enum CleanupError {
    /// The seat store failed.
    #[error("seat store: {0}")]
    Seats(#[from] SeatError),
    /// The records store failed.
    #[error("records: {0}")]
    Records(#[from] StoreError),
}

impl CleanupError {
    /// Whether a backend did not answer (worth retrying: Cloud Scheduler's next call will), as
    /// opposed to a fault of its own.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Seats(SeatError::Unavailable(_)) | Self::Records(StoreError::Unavailable(_))
        )
    }
}

/// Reaps and drains every pool.
pub async fn run(seats: &dyn SeatStore, store: &dyn Store) -> Result<CleanupReport, CleanupError> {
    let mut report = CleanupReport::default();
    for license in seats.pools().await? {
        report.pools += 1;
        report.reaped += seats.reap(license).await?;
        seats.flush_denials(license).await?;
        loop {
            let events = seats.events(license, BATCH).await?;
            if events.is_empty() {
                break;
            }
            let rows: Vec<NewAuditEvent> = events
                .iter()
                .filter_map(|event| audit_row(license, event))
                .collect();
            report.audited += store.append_audit(&rows).await?;
            events.iter().for_each(|event| report.events.add(event));
            let ids: Vec<String> = events.into_iter().map(|e| e.id).collect();
            seats.ack_events(license, &ids).await?;
            if ids.len() < BATCH {
                break;
            }
        }
        let holders = seats.holders(license).await?;
        if let Some(holder) = holders.first()
            && let Some(held) = store.license_of_tenant(holder.data.tenant).await?
        {
            *report
                .seats_in_use
                .entry(held.tier.as_str().to_owned())
                .or_default() += holders.len() as u64;
        }
    }
    Ok(report)
}

/// Logs what a run did and adds it to the process's metrics: one `cleanup ran` line, one
/// `seat events` line per kind that occurred (`kind`, `count`) and one `seats in use` line per
/// tier (`tier`, `count`), the lines the log-based metrics of `terraform/modules/monitoring` read.
/// `quiet` keeps a run that did nothing at `debug` (the local server's timer runs every minute).
pub fn record(report: &CleanupReport, quiet: bool) {
    let registry = crate::metrics::global();
    for (kind, count) in report.events.by_kind() {
        registry.seat_events(kind, count);
        if count > 0 {
            tracing::info!(kind, count, "seat events");
        }
    }
    registry.seats_in_use(&report.seats_in_use);
    for (tier, count) in &report.seats_in_use {
        tracing::info!(tier = %tier, count, "seats in use");
    }
    let (pools, reaped, audited) = (report.pools, report.reaped, report.audited);
    if quiet && reaped == 0 && audited == 0 {
        tracing::debug!(pools, reaped, audited, "cleanup ran");
    } else {
        tracing::info!(pools, reaped, audited, "cleanup ran");
    }
}

/// The audit row of a seat event; `None` when the event lost its data (it cannot be attributed to a
/// tenant, and is logged instead).
fn audit_row(license: uuid::Uuid, event: &SeatEvent) -> Option<NewAuditEvent> {
    let Some(data) = &event.data else {
        tracing::error!(%license, event = event.id, "seat event without session data; not audited");
        return None;
    };
    let mut detail = json!({
        "hostname": data.hostname,
        "fingerprint": data.fingerprint,
    });
    if let Some(in_use) = event.in_use {
        detail["in_use"] = in_use.into();
    }
    if let Some(version) = &data.client_version {
        detail["client_version"] = version.clone().into();
    }
    if let Some(until) = event.until_ms {
        detail["until"] = timestamp(until).to_rfc3339().into();
    }
    if event.kind == SeatEventKind::Denied {
        detail["reason"] = "seats_exhausted".into();
        detail["count"] = event.count.into();
        detail["last_at"] = timestamp(event.last_at_ms).to_rfc3339().into();
    }
    if let Some(queue) = &event.queue {
        detail["ticket"] = queue.ticket.clone().into();
        if let Some(position) = queue.position {
            detail["position"] = position.into();
        }
        if let Some(waited) = queue.waited_ms {
            detail["waited_ms"] = waited.into();
        }
        if let Some(reason) = &queue.reason {
            detail["reason"] = reason.clone().into();
        }
    }
    Some(NewAuditEvent {
        tenant_id: data.tenant,
        license_id: Some(license),
        user_id: Some(data.user),
        action: event.kind.action().to_owned(),
        session_id: (!event.session_id.is_empty()).then(|| event.session_id.clone()),
        detail,
        request_id: None,
        occurred_at: timestamp(event.at_ms),
        dedupe_key: Some(format!("{license}:{}", event.id)),
    })
}

fn timestamp(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::telemetry::{CapturedLines, CloudLoggingLayer};

    /// The log-based metrics of `terraform/modules/monitoring`, which read these lines.
    const MONITORING: &str = include_str!("../../../terraform/modules/monitoring/main.tf");

    /// What `record` logged as `message`: each line's `label` field and its `count`.
    fn counted(lines: &CapturedLines, message: &str, label: &str) -> BTreeMap<String, u64> {
        lines
            .lines()
            .into_iter()
            .filter(|line| line["message"] == message)
            .map(|line| {
                assert_eq!(line["severity"], "INFO", "{line}");
                let key = line[label]
                    .as_str()
                    .unwrap_or_else(|| panic!("{label}: {line}"));
                let count = line["count"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("count: {line}"));
                (key.to_owned(), count)
            })
            .collect()
    }

    #[test]
    fn a_run_logs_each_event_kind_and_tier_with_the_fields_the_log_based_metrics_read() {
        let report = CleanupReport {
            pools: 2,
            reaped: 1,
            audited: 9,
            events: EventCounts {
                granted: 3,
                expired: 1,
                denied: 5,
                ..EventCounts::default()
            },
            seats_in_use: BTreeMap::from([("TEAM".to_owned(), 4), ("FREE".to_owned(), 1)]),
        };
        let lines = CapturedLines::default();
        let subscriber =
            tracing_subscriber::registry().with(CloudLoggingLayer::new("proj", lines.clone()));
        tracing::subscriber::with_default(subscriber, || record(&report, false));

        // One line per kind that occurred (a kind with none writes nothing), with its count.
        let events = counted(&lines, "seat events", "kind");
        let expected = [("granted", 3), ("expired", 1), ("denied", 5)];
        assert_eq!(events, expected.map(|(k, n)| (k.to_owned(), n)).into());
        let tiers = counted(&lines, "seats in use", "tier");
        assert_eq!(tiers, report.seats_in_use);

        // The metrics filter on these messages, label by these fields and sum `count`.
        for (message, label) in [("seat events", "kind"), ("seats in use", "tier")] {
            let filter = format!(r#"filter      = "jsonPayload.message=\"{message}\"""#);
            assert!(
                MONITORING.contains(&filter),
                "no metric filters on {message}"
            );
            let extract = format!(r#"{label} = "EXTRACT(jsonPayload.{label})""#);
            assert!(MONITORING.contains(&extract), "no metric labels by {label}");
        }
        assert!(MONITORING.contains(r#"value_extractor = "EXTRACT(jsonPayload.count)""#));
    }
}
