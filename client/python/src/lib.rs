//! `coditect_license._native`: the Rust SDK's seat lifecycle for Python.
//!
//! The Python package (`python/coditect_license/`) wraps this module in its Pythonic API
//! (`seat()`, `require()`); everything that matters — fingerprint, sign-in, seat file, pinned
//! keys, offline grace, backoff — is the SDK's own code, so a machine running the CLI and a
//! Python program holds one seat.
//!
//! The SDK is async; the module runs it on one runtime of its own (one worker thread), started on
//! first use. Every call that waits releases the GIL, and waits in short slices that give Python
//! the chance to raise `KeyboardInterrupt`.
//!
//! # Layout
//!
//! - [`seat`]: the `Seat` class.
//! - [`errors`]: the exceptions, one per refusal.

mod errors;
mod seat;

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::prelude::*;

/// The runtime every SDK call runs on.
fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("coditect-license")
        .enable_all()
        .build()
        .map_err(|e| errors::LicenseError::new_err(format!("could not start the client: {e}")))?;
    Ok(RUNTIME.get_or_init(|| built))
}

/// What a Python signal (Ctrl-C) does to work [`wait`] runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OnSignal {
    /// The wait is abandoned; the work goes on to completion in the background.
    Abandon,
    /// The work is aborted: for an acquire waiting in the queue, whose drop leaves the queue (a
    /// Ctrl-C must give the place up, not claim a seat nobody will use).
    Abort,
}

/// Runs `work` on the runtime with the GIL released, checking for Python signals (Ctrl-C) every
/// tenth of a second; a signal ends the wait as `on_signal` says and raises.
fn wait<T: Send + 'static>(
    py: Python<'_>,
    on_signal: OnSignal,
    work: impl Future<Output = T> + Send + 'static,
) -> PyResult<T> {
    let runtime = runtime()?;
    let mut task = runtime.spawn(work);
    loop {
        let slice = py.detach(|| {
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_millis(100), &mut task).await
            })
        });
        match slice {
            Ok(Ok(done)) => return Ok(done),
            Ok(Err(join)) => {
                return Err(errors::LicenseError::new_err(format!(
                    "the client stopped unexpectedly: {join}"
                )));
            }
            Err(_elapsed) => {
                let Err(signal) = py.check_signals() else {
                    continue;
                };
                if on_signal == OnSignal::Abort {
                    task.abort();
                    // Once the aborted work is dropped (which starts its leave of the queue),
                    // let that leave reach the service (bounded).
                    py.detach(|| {
                        runtime.block_on(async {
                            let _ = (&mut task).await;
                            coditect_license::seat::finish_leaving(Duration::from_secs(5)).await;
                        })
                    });
                }
                return Err(signal);
            }
        }
    }
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<seat::PySeat>()?;
    m.add_function(wrap_pyfunction!(seat::borrow, m)?)?;
    m.add_function(wrap_pyfunction!(seat::return_seat, m)?)?;
    m.add("LicenseError", py.get_type::<errors::LicenseError>())?;
    m.add("SeatsExhausted", py.get_type::<errors::SeatsExhausted>())?;
    m.add("NotSignedIn", py.get_type::<errors::NotSignedIn>())?;
    m.add("NoLicense", py.get_type::<errors::NoLicense>())?;
    m.add("LicenseExpired", py.get_type::<errors::LicenseExpired>())?;
    m.add(
        "LicenseSuspended",
        py.get_type::<errors::LicenseSuspended>(),
    )?;
    m.add("LicenseCanceled", py.get_type::<errors::LicenseCanceled>())?;
    m.add(
        "ServiceUnreachable",
        py.get_type::<errors::ServiceUnreachable>(),
    )?;
    m.add(
        "FeatureNotLicensed",
        py.get_type::<errors::FeatureNotLicensed>(),
    )?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
