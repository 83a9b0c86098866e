"""Hold a CODITECT floating-license seat from Python.

CODITECT calls this on start-up::

    import coditect_license

    with coditect_license.seat() as seat:      # acquire with the CLI's stored sign-in
        print(seat.license["tier"])            # heartbeats run in the background
        coditect_license.require("cloud-sync") # a feature gate from the verified lease
        ...                                    # released on exit, exceptions and Ctrl-C too

Everything that matters is the Rust SDK's own code (this package binds it, it does not
re-implement it): the machine fingerprint, the sign-in the CLI stored (``coditect-license
login``), the seat file, the pinned lease keys, backoff and offline grace. A machine running the
CLI and a Python program therefore holds one seat, and the last of them to stop releases it.

Refusals raise a :class:`LicenseError` subclass whose message is the service's sentence for a
person; ``code``, ``status`` and ``problem`` carry the machine-readable rest.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from . import _native
from ._native import (
    FeatureNotLicensed,
    LicenseCanceled,
    LicenseError,
    LicenseExpired,
    LicenseSuspended,
    NoLicense,
    NotSignedIn,
    SeatsExhausted,
    ServiceUnreachable,
)

__all__ = [
    "FeatureNotLicensed",
    "LicenseCanceled",
    "LicenseError",
    "LicenseExpired",
    "LicenseSuspended",
    "NoLicense",
    "NotSignedIn",
    "Seat",
    "SeatsExhausted",
    "ServiceUnreachable",
    "borrow",
    "current",
    "require",
    "return_seat",
    "seat",
]

__version__: str = _native.__version__

_current: Seat | None = None
_current_lock = threading.Lock()


class Seat:
    """A held seat. Use :func:`seat` rather than building one."""

    def __init__(self, native: _native.Seat, on_lost: Callable[[Seat], None] | None) -> None:
        self._native = native
        self._on_lost = on_lost
        self._released = False
        self._watcher = threading.Thread(
            target=self._watch, name="coditect-license-watch", daemon=True
        )
        self._watcher.start()

    @property
    def session_id(self) -> str:
        """The seat session's id."""
        return self._native.session_id

    @property
    def license(self) -> dict[str, Any]:
        """The license: ``id``, ``tier``, ``max_seats``, ``seats_in_use``, ``features``,
        ``expires_at``."""
        return self._native.license

    @property
    def features(self) -> list[str]:
        """The features the verified lease grants."""
        return self._native.features

    @property
    def state(self) -> str:
        """``"held"``, ``"offline"``, ``"lost"`` or ``"released"``."""
        return self._native.state

    @property
    def lost(self) -> bool:
        """Whether the seat was lost (a refusal, or offline grace over): stop what needs it."""
        return self._native.state == "lost"

    @property
    def lost_reason(self) -> str | None:
        """Why the seat was lost, as a sentence."""
        return self._native.lost_reason

    @property
    def offline_until(self) -> datetime | None:
        """While the service cannot be reached: when offline grace ends (UTC)."""
        until = self._native.offline_until
        return datetime.fromisoformat(until) if until else None

    def release(self) -> str:
        """Gives the seat back (at most a few seconds); idempotent. Answers ``"released"``,
        ``"left_to_others"``, ``"already_lost"``, ``"unconfirmed"`` or ``"already_released"``."""
        global _current
        self._released = True
        with _current_lock:
            if _current is self:
                _current = None
        return self._native.release()

    def _watch(self) -> None:
        # Calls `on_lost` from this thread once the seat is lost; ends with the seat.
        while not self._released:
            event = self._native.wait_event(1.0)
            if event == "lost":
                if self._on_lost is not None:
                    self._on_lost(self)
                return
            if event == "released":
                return

    def __repr__(self) -> str:
        return repr(self._native)


@contextlib.contextmanager
def seat(
    server: str | None = None,
    *,
    home: str | None = None,
    patience: float | None = None,
    on_lost: Callable[[Seat], None] | None = None,
    wait: bool | float = False,
    on_queued: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[Seat]:
    """Holds this machine's seat for the ``with`` block.

    ``server`` defaults to ``CODITECT_LICENSE_URL``, then ``http://127.0.0.1:8080`` (as the CLI);
    ``home`` to ``CODITECT_LICENSE_HOME``, then the CLI's config directory. ``patience`` is how
    many seconds an unreachable service is retried before the seat starts offline on this
    machine's unexpired lease, or :class:`ServiceUnreachable` is raised (default 20).
    ``on_lost(seat)`` is called from a background thread if the seat is lost while held.

    ``wait``: when every seat is in use, wait in the license's fair queue for one — ``True`` as
    long as it takes, a number of seconds at most — instead of raising :class:`SeatsExhausted` at
    once (which it raises when the wait ends without a seat). ``on_queued(place)`` is called with
    each new place in the queue (``ticket``, ``position``, ``queue_length``,
    ``estimated_wait_seconds``). Ctrl-C while waiting leaves the queue.

    The seat is released when the block ends, also on an exception, Ctrl-C and interpreter
    shutdown.
    """
    global _current
    if wait is True:
        wait_seconds: float | None = -1.0
    elif wait is False or wait is None:
        wait_seconds = None
    elif wait < 0:
        raise ValueError("wait must be True, False or a number of seconds (0 or more)")
    else:
        wait_seconds = float(wait)
    native = _native.Seat.acquire(server, home, patience, wait_seconds, on_queued)
    held = Seat(native, on_lost)
    with _current_lock:
        _current = held
    atexit.register(held.release)
    try:
        yield held
    finally:
        held.release()
        atexit.unregister(held.release)


def borrow(
    *,
    days: float = 0,
    hours: float = 0,
    seconds: float = 0,
    server: str | None = None,
    home: str | None = None,
) -> datetime:
    """Borrows this machine's seat for offline use for ``days`` + ``hours`` + ``seconds`` (at most
    what the organisation's license allows) and answers when the borrow ends.

    Until then the seat is held without heartbeats: :func:`seat` on this machine runs on it, also
    with the service out of reach, and leaving the ``with`` block keeps it held. It frees itself
    at its end; :func:`return_seat` gives it back sooner. A license that does not allow it (or not
    that long) raises :class:`LicenseError` with ``code == "borrow_not_allowed"``.
    """
    total = days * 86400 + hours * 3600 + seconds
    until = _native.borrow(total, server, home)
    return datetime.fromisoformat(until)


def return_seat(server: str | None = None, *, home: str | None = None) -> bool:
    """Gives this machine's seat back now (a borrowed one before its end); whether there was one."""
    return _native.return_seat(server, home)


def current() -> Seat | None:
    """The seat this process holds now, if any."""
    return _current


def require(feature: str) -> None:
    """Raises :class:`FeatureNotLicensed` unless the held seat's verified lease grants ``feature``
    (and :class:`NotSignedIn`-free :class:`LicenseError` when no seat is held)."""
    held = _current
    if held is None:
        raise LicenseError(f"no seat is held: enter `coditect_license.seat()` before requiring {feature!r}")
    if feature not in held.features:
        raise FeatureNotLicensed(
            f"your organisation's {held.license['tier']} license does not include {feature!r}; "
            "ask an owner to change the plan"
        )
