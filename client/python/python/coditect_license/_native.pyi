"""The Rust SDK bound for Python (see the package's docstring)."""

from collections.abc import Callable
from typing import Any

__version__: str

class LicenseError(Exception):
    """The licensing service or client refused or failed; ``code`` says why."""

    code: str | None
    status: int | None
    retry_after: int | None
    problem: dict[str, Any] | None
    holders: list[dict[str, Any]] | None
    next_seat_frees_at: str | None
    max_seats: int | None
    seats_in_use: int | None

class SeatsExhausted(LicenseError):
    """Every seat is in use; ``holders`` (owners and admins) and ``retry_after`` say who and when."""

class NotSignedIn(LicenseError):
    """No sign-in is stored, or the service refused it: run ``coditect-license login``."""

class NoLicense(LicenseError):
    """The caller has no organisation, or it holds no license."""

class LicenseExpired(LicenseError):
    """The license is past its end."""

class LicenseSuspended(LicenseError):
    """The license is suspended (billing)."""

class LicenseCanceled(LicenseError):
    """The license was canceled."""

class ServiceUnreachable(LicenseError):
    """The service could not be reached and no offline lease covers this machine."""

class FeatureNotLicensed(LicenseError):
    """The held seat's license does not include the feature asked for."""

def borrow(seconds: float, server: str | None = None, home: str | None = None) -> str: ...
def return_seat(server: str | None = None, home: str | None = None) -> bool: ...

class Seat:
    """A held seat, kept by the SDK's background task."""

    @staticmethod
    def acquire(
        server: str | None = None,
        home: str | None = None,
        patience: float | None = None,
        wait: float | None = None,
        on_queued: Callable[[dict[str, Any]], None] | None = None,
    ) -> Seat: ...
    @property
    def server(self) -> str: ...
    @property
    def session_id(self) -> str: ...
    @property
    def license(self) -> dict[str, Any]: ...
    @property
    def features(self) -> list[str]: ...
    @property
    def started_offline(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def offline_until(self) -> str | None: ...
    @property
    def lost_reason(self) -> str | None: ...
    def wait_event(self, timeout: float) -> str | None: ...
    def release(self) -> str: ...
