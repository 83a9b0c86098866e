//! The `Seat` class: one held seat of this machine, kept by the SDK's background task.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use coditect_license::seat::{
    Grant, ReleaseOutcome, Seat, SeatEvent, SeatOptions, SeatStatus, WaitOptions,
};
use coditect_license::signin::StoredSignIn;
use coditect_license::{ClientError, Home, LicenseClient, QueuedResponse};
use pyo3::prelude::*;
use tokio::sync::broadcast;

use crate::OnSignal;
use crate::errors::{LicenseError, json_to_py, to_py};

/// The service the CLI uses unless told otherwise.
const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// The SDK's options for `server` (or the CLI's default) and `home`, with the CLI's stored
/// sign-in.
async fn options_for(server: &str, home: Option<String>) -> Result<SeatOptions, ClientError> {
    let client = LicenseClient::new(server)?;
    let home = match home {
        Some(root) => Home::at(root),
        None => Home::locate()?,
    };
    let files = home.server(server);
    let sign_in = StoredSignIn::load(&files, &client).await?;
    let mut options = SeatOptions::new(client, files, Arc::new(sign_in))?;
    options.client_version = format!("python-{}", env!("CARGO_PKG_VERSION"));
    Ok(options)
}

/// `server`, else `CODITECT_LICENSE_URL`, else the CLI's default.
fn server_or_default(server: Option<String>) -> String {
    server
        .or_else(|| std::env::var("CODITECT_LICENSE_URL").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_SERVER.to_owned())
}

/// Borrows this machine's seat for `seconds` for offline use; the borrow's end as ISO 8601.
#[pyfunction]
#[pyo3(signature = (seconds, server = None, home = None))]
pub(crate) fn borrow(
    py: Python<'_>,
    seconds: f64,
    server: Option<String>,
    home: Option<String>,
) -> PyResult<String> {
    let period = Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|p| p.as_secs() >= 1)
        .ok_or_else(|| LicenseError::new_err("seconds must be at least 1"))?;
    let server = server_or_default(server);
    let borrowed = crate::wait(py, OnSignal::Abandon, async move {
        let options = options_for(&server, home).await?;
        coditect_license::seat::borrow(&options, period).await
    })?;
    let borrowed = borrowed.map_err(|e| to_py(py, e))?;
    Ok(borrowed.until.to_rfc3339())
}

/// Returns this machine's seat (borrowed or not); whether there was one to return.
#[pyfunction]
#[pyo3(signature = (server = None, home = None))]
pub(crate) fn return_seat(
    py: Python<'_>,
    server: Option<String>,
    home: Option<String>,
) -> PyResult<bool> {
    let server = server_or_default(server);
    let returned = crate::wait(py, OnSignal::Abandon, async move {
        let options = options_for(&server, home).await?;
        coditect_license::seat::give_back(&options).await
    })?;
    Ok(returned.map_err(|e| to_py(py, e))?.is_some())
}

/// Calls the program's `on_queued(place)` (from the SDK's thread, with the GIL); what it raises
/// is printed, as an exception in a thread's target would be, and the wait goes on.
fn tell_place(callback: &Py<PyAny>, queued: &QueuedResponse) {
    Python::attach(|py| {
        let place = serde_json::to_value(queued).unwrap_or_default();
        let called = json_to_py(py, &place).and_then(|place| callback.call1(py, (place,)));
        if let Err(error) = called {
            error.print(py);
        }
    });
}

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
    /// offline on this machine's unexpired lease, or `ServiceUnreachable` is raised. `wait`: when
    /// every seat is held, wait in the license's queue this many seconds (a negative number: as
    /// long as it takes), calling `on_queued(place)` with each new place (a dict: `ticket`,
    /// `position`, `queue_length`, `estimated_wait_seconds`); `None` raises `SeatsExhausted` at
    /// once.
    #[staticmethod]
    #[pyo3(signature = (server = None, home = None, patience = None, wait = None, on_queued = None))]
    fn acquire(
        py: Python<'_>,
        server: Option<String>,
        home: Option<String>,
        patience: Option<f64>,
        wait: Option<f64>,
        on_queued: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let server = server_or_default(server);
        let patience = patience
            .map(|p| Duration::try_from_secs_f64(p.max(0.0)))
            .transpose()
            .map_err(|e| LicenseError::new_err(format!("patience: {e}")))?;
        let waiting = match wait {
            None => None,
            Some(seconds) if seconds < 0.0 => Some(None),
            Some(seconds) => Some(Some(
                Duration::try_from_secs_f64(seconds)
                    .map_err(|e| LicenseError::new_err(format!("wait: {e}")))?,
            )),
        };
        let url = server.clone();
        let work = async move {
            let mut options = options_for(&url, home).await?;
            if let Some(patience) = patience {
                options.patience = patience;
            }
            if let Some(timeout) = waiting {
                options.wait = Some(WaitOptions::new(timeout, move |queued| {
                    if let Some(callback) = &on_queued {
                        tell_place(callback, queued);
                    }
                }));
            }
            Seat::acquire(options).await
        };
        let on_signal = if wait.is_some() {
            OnSignal::Abort
        } else {
            OnSignal::Abandon
        };
        let acquired = crate::wait(py, on_signal, work)?;
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
        crate::wait(py, OnSignal::Abandon, async move {
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
    /// `"unconfirmed"` (the service did not answer; the seat frees by its TTL), or `"borrowed"`
    /// (the machine borrowed the seat: it stays held until returned or its borrow ends).
    /// Idempotent.
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
            ReleaseOutcome::Borrowed { .. } => "borrowed",
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
