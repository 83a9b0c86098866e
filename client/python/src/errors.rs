//! The exceptions the package raises, one per refusal a program handles differently, all under
//! `LicenseError`. Each carries the problem's sentence as its message and, as attributes, `code`
//! (the stable problem code, or `None`), `status` (the HTTP status, or `None`) and `problem` (the
//! whole problem body as a dict, or `None`); `SeatsExhausted` adds `holders`, `retry_after`,
//! `next_seat_frees_at`, `max_seats` and `seats_in_use`.

use coditect_license::{ClientError, ProblemCode};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyDict;

pyo3::create_exception!(
    coditect_license,
    LicenseError,
    PyException,
    "The licensing service or client refused or failed; `code` says why."
);
pyo3::create_exception!(
    coditect_license,
    SeatsExhausted,
    LicenseError,
    "Every seat of the license is in use; `holders` and `retry_after` say who and when."
);
pyo3::create_exception!(
    coditect_license,
    NotSignedIn,
    LicenseError,
    "No sign-in is stored, or the service refused it: run `coditect-license login`."
);
pyo3::create_exception!(
    coditect_license,
    NoLicense,
    LicenseError,
    "The caller has no organisation, or it holds no license."
);
pyo3::create_exception!(
    coditect_license,
    LicenseExpired,
    LicenseError,
    "The license is past its end and grants no seat."
);
pyo3::create_exception!(
    coditect_license,
    LicenseSuspended,
    LicenseError,
    "The license is suspended (billing) and grants no seat."
);
pyo3::create_exception!(
    coditect_license,
    LicenseCanceled,
    LicenseError,
    "The license was canceled and grants no seat."
);
pyo3::create_exception!(
    coditect_license,
    ServiceUnreachable,
    LicenseError,
    "The licensing service could not be reached, and no offline lease covers this machine."
);
pyo3::create_exception!(
    coditect_license,
    FeatureNotLicensed,
    LicenseError,
    "The held seat's license does not include the feature asked for."
);

/// The Python exception for `error`.
pub(crate) fn to_py(py: Python<'_>, error: ClientError) -> PyErr {
    let message = error.to_string();
    let err = match (&error, error.code()) {
        (ClientError::NotSignedIn(_), _) | (_, Some(ProblemCode::InvalidToken)) => {
            NotSignedIn::new_err(message)
        }
        // The user's own cap is "no seat for you now" too; `code` tells the two apart.
        (_, Some(ProblemCode::SeatsExhausted | ProblemCode::UserSeatLimit)) => {
            SeatsExhausted::new_err(message)
        }
        // No seat within the wait: the queue was left; `code` says `seats_exhausted`.
        (ClientError::WaitedOut { .. }, _) => SeatsExhausted::new_err(message),
        (_, Some(ProblemCode::NoLicense)) => NoLicense::new_err(message),
        (_, Some(ProblemCode::LicenseExpired)) => LicenseExpired::new_err(message),
        (_, Some(ProblemCode::LicenseSuspended)) => LicenseSuspended::new_err(message),
        (_, Some(ProblemCode::LicenseCanceled)) => LicenseCanceled::new_err(message),
        _ if error.allows_offline_grace() => ServiceUnreachable::new_err(message),
        _ => LicenseError::new_err(message),
    };
    let _ = annotate(py, &err, &error);
    err
}

/// Sets the attributes every `LicenseError` carries.
fn annotate(py: Python<'_>, err: &PyErr, error: &ClientError) -> PyResult<()> {
    let value = err.value(py);
    let code = match error {
        ClientError::WaitedOut { .. } => Some(ProblemCode::SeatsExhausted),
        _ => error.code(),
    };
    value.setattr("code", code.map(|c| c.as_str()))?;
    let status = match error {
        ClientError::Refused { status, .. } => Some(*status),
        _ => None,
    };
    value.setattr("status", status)?;
    value.setattr("retry_after", error.retry_after().map(|d| d.as_secs()))?;
    let problem = match error.problem() {
        Some(problem) => Some(json_to_py(
            py,
            &serde_json::to_value(problem).unwrap_or_default(),
        )?),
        None => None,
    };
    value.setattr("problem", problem.as_ref())?;
    let field = |name: &str| -> PyResult<Option<Py<PyAny>>> {
        match problem.as_ref() {
            Some(problem) => Ok(problem
                .bind(py)
                .cast::<PyDict>()?
                .get_item(name)?
                .map(Bound::unbind)),
            None => Ok(None),
        }
    };
    for name in ["holders", "next_seat_frees_at", "max_seats", "seats_in_use"] {
        value.setattr(name, field(name)?)?;
    }
    Ok(())
}

/// A JSON value as the Python value `json.loads` would give.
pub(crate) fn json_to_py(py: Python<'_>, value: &serde_json::Value) -> PyResult<Py<PyAny>> {
    let text = serde_json::to_string(value).unwrap_or_else(|_| "null".into());
    Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
}
