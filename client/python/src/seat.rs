//! The `Seat` class: one held seat of this machine, kept by the SDK's background task.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coditect_license::seat::{Grant, ReleaseOutcome, Seat, SeatEvent, SeatOptions, SeatStatus};
use coditect_license::signin::StoredSignIn;
use coditect_license::{ClientError, Home, LicenseClient};
use pyo3::prelude::*;
use tokio::sync::broadcast;

use crate::errors::{LicenseError, json_to_py, to_py};

/// The service the CLI uses unless told otherwise.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// A held seat.
#[pyclass(name = "Seat", module = "coditect_license._native", frozen)]
pub(crate) struct PySeat {
    /// The SDK's guard; `None` once released.
    seat: Mutex<Option<Seat>>,
    /// What the grant said.
    grant: Grant,
    /// Events not yet handed to Python.
    events: Arc<tokio::sync::Mutex<broadcast::Receiver<SeatEvent>>>,
    /// The service's URL.
    server: String,
}

#[pymethods]
impl PySeat {
    /// Acquires this machine's seat with the CLI's stored sign-in.
    ///
    /// `server` defaults to `CODITECT_LICENSE_URL`, then `http://127.0.0.1:8080`; `home` to
    /// `CODITECT_LICENSE_HOME`, then the OS config dir (where the CLI keeps its sign-in);
    /// `patience` (seconds) is how long an unreachable service is retried before the seat starts
    /// offline on this machine's unexpired lease, or `ServiceUnreachable` is raised.
    #[staticmethod]
    #[pyo3(signature = (server = None, home = None, patience = None))]
    fn acquire(
        py: Python<'_>,
        server: Option<String>,
        home: Option<String>,
        patience: Option<f64>,
    ) -> PyResult<Self> {
        let server = server
            .or_else(|| std::env::var("CODITECT_LICENSE_URL").ok())
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER.to_owned());
        let patience = patience
            .map(|p| Duration::try_from_secs_f64(p.max(0.0)))
            .transpose()
            .map_err(|e| LicenseError::new_err(format!("patience: {e}")))?;
        let url = server.clone();
        let acquired = crate::wait(py, async move {
            let client = LicenseClient::new(&url)?;
            let home = match home {
                Some(root) => Home::at(root),
                None => Home::locate()?,
            };
            let files = home.server(&url);
            let sign_in = StoredSignIn::load(&files, &client).await?;
            let mut options = SeatOptions::new(client, files, Arc::new(sign_in))?;
            if let Some(patience) = patience {
                options.patience = patience;
            }
            options.client_version = format!("python-{}", env!("CARGO_PKG_VERSION"));
            Seat::acquire(options).await
        })?;
        let seat = acquired.map_err(|e: ClientError| to_py(py, e))?;
        let events = Arc::new(tokio::sync::Mutex::new(seat.events()));
        Ok(Self {
            grant: seat.grant().clone(),
            seat: Mutex::new(Some(seat)),
            events,
            server,
        })
    }

    /// The service's URL.
    #[getter]
    fn server(&self) -> &str {
        &self.server
    }

    /// The seat session's id.
    #[getter]
    fn session_id(&self) -> String {
        match self.status() {
            Some(SeatStatus::Held { session_id, .. }) => session_id,
            _ => self.grant.session_id.clone(),
        }
    }

    /// The license as the grant described it: `id`, `tier`, `max_seats`, `seats_in_use`,
    /// `features`, `expires_at`.
    #[getter]
    fn license(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        json_to_py(
            py,
            &serde_json::to_value(&self.grant.license).unwrap_or_default(),
        )
    }

    /// The features the verified lease grants.
    #[getter]
    fn features(&self) -> Vec<String> {
        self.grant.claims.features.clone()
    }

    /// Whether the seat started on offline grace (the service out of reach at start).
    #[getter]
    fn started_offline(&self) -> bool {
        self.grant.started_offline
    }

    /// `"held"`, `"offline"`, `"lost"` or `"released"`.
    #[getter]
    fn state(&self) -> &'static str {
        match self.status() {
            Some(SeatStatus::Held { .. }) => "held",
            Some(SeatStatus::Offline { .. }) => "offline",
            Some(SeatStatus::Lost(_)) => "lost",
            Some(SeatStatus::Released) | None => "released",
        }
    }

    /// While offline: when grace ends (ISO 8601, UTC); otherwise `None`.
    #[getter]
    fn offline_until(&self) -> Option<String> {
        match self.status() {
            Some(SeatStatus::Offline { until, .. }) => Some(until.to_rfc3339()),
            _ => None,
        }
    }

    /// Once lost: why, as a sentence; otherwise `None`.
    #[getter]
    fn lost_reason(&self) -> Option<String> {
        match self.status() {
            Some(SeatStatus::Lost(reason)) => Some(reason.to_string()),
            _ => None,
        }
    }

    /// Waits at most `timeout` seconds for the next thing that happens to the seat, and names it:
    /// `"renewed"`, `"lease_refreshed"`, `"reacquired"`, `"offline"`, `"online"`, `"lost"`,
    /// `"released"`; `None` when nothing happened in time.
    fn wait_event(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<&'static str>> {
        let bound = Duration::try_from_secs_f64(timeout.max(0.0))
            .map_err(|e| LicenseError::new_err(format!("timeout: {e}")))?;
        let events = self.events.clone();
        crate::wait(py, async move {
            let mut events = events.lock().await;
            loop {
                match tokio::time::timeout(bound, events.recv()).await {
                    Err(_) | Ok(Err(broadcast::error::RecvError::Closed)) => return None,
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
                    Ok(Ok(event)) => return Some(event_name(&event)),
                }
            }
        })
    }

    /// Gives the seat back (bounded: a few seconds at most) and answers how: `"released"`,
    /// `"left_to_others"` (other programs of this machine still hold it), `"already_lost"`, or
    /// `"unconfirmed"` (the service did not answer; the seat frees by its TTL). Idempotent.
    fn release(&self, py: Python<'_>) -> PyResult<&'static str> {
        let seat = self.seat.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some(seat) = seat else {
            return Ok("already_released");
        };
        let outcome = py.detach(|| crate::runtime().map(|rt| rt.block_on(seat.release())))?;
        Ok(match outcome {
            ReleaseOutcome::Released => "released",
            ReleaseOutcome::LeftToOthers(_) => "left_to_others",
            ReleaseOutcome::AlreadyLost => "already_lost",
            ReleaseOutcome::Unconfirmed => "unconfirmed",
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<Seat {} on {} ({}, {})>",
            self.session_id(),
            self.server,
            self.grant.license.tier,
            self.state()
        )
    }
}

impl PySeat {
    fn status(&self) -> Option<SeatStatus> {
        self.seat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(Seat::status)
    }
}

fn event_name(event: &SeatEvent) -> &'static str {
    match event {
        SeatEvent::Renewed { .. } => "renewed",
        SeatEvent::LeaseRefreshed { .. } => "lease_refreshed",
        SeatEvent::Reacquired { .. } => "reacquired",
        SeatEvent::Offline { .. } => "offline",
        SeatEvent::Online => "online",
        SeatEvent::Lost(_) => "lost",
        SeatEvent::Released => "released",
    }
}
