"""Borrowing from Python against the real local server: a borrowed seat outlives the `with`
blocks run on it and `return_seat()` frees it at once; a license that does not allow borrowing,
or a borrow longer than it allows, raises with its own code; nonsense is refused before a call."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest

import coditect_license
from conftest import Person, other_machine


def set_policy(owner: Person, **policy: int) -> dict:
    """The owner's seat policy, set through the admin API with the CLI's stored sign-in."""
    status = json.loads(owner.cli("status", "--json").stdout)
    tenant = status["account"]["tenant"]["id"]
    [credentials] = list(owner.home.glob("*/credentials.json"))
    token = json.loads(credentials.read_text())["id_token"]
    request = urllib.request.Request(
        f"{owner.server.url}/api/v1/tenants/{tenant}/license/policy",
        data=json.dumps(policy).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
        return json.load(answer)


def test_a_borrowed_seat_outlives_the_with_block_and_return_seat_frees_it(owner, monkeypatch):
    set_policy(owner, max_borrow_seconds=7 * 86400)
    owner.use(monkeypatch)
    before = datetime.now(timezone.utc)

    until = coditect_license.borrow(days=2)

    assert until.tzinfo is not None
    assert (
        before + timedelta(days=2) - timedelta(seconds=5)
        <= until
        <= datetime.now(timezone.utc) + timedelta(days=2) + timedelta(seconds=5)
    ), until
    [held] = owner.sessions()
    # The lease's end is in whole seconds (a JWT's), the seat's to the millisecond.
    seat_until = datetime.fromisoformat(held["borrowed_until"])
    assert timedelta(0) <= seat_until - until < timedelta(seconds=1), (seat_until, until)
    with coditect_license.seat() as seat:
        assert seat.session_id == held["session_id"], "the block runs on the borrowed seat"
        assert seat.release() == "borrowed"
    assert [s["session_id"] for s in owner.sessions()] == [held["session_id"]], "still held"

    assert coditect_license.return_seat() is True
    assert owner.sessions() == [], "returned: free at once"
    assert coditect_license.return_seat() is False, "nothing left to return"


def test_a_returned_borrow_lets_another_machine_take_the_only_seat(owner, monkeypatch, tmp_path):
    set_policy(owner, max_borrow_seconds=3600)
    owner.use(monkeypatch)
    coditect_license.borrow(hours=1)
    desktop = other_machine(owner, tmp_path)

    desktop.use(monkeypatch)
    with pytest.raises(coditect_license.SeatsExhausted):
        with coditect_license.seat(patience=0):
            pass
    owner.use(monkeypatch)
    assert coditect_license.return_seat() is True
    desktop.use(monkeypatch)
    with coditect_license.seat() as seat:
        assert seat.state == "held"


def test_a_license_that_does_not_allow_borrowing_says_so(owner, monkeypatch):
    owner.use(monkeypatch)
    with pytest.raises(coditect_license.LicenseError) as refused:
        coditect_license.borrow(hours=1)
    assert refused.value.code == "borrow_not_allowed"
    assert refused.value.status == 403
    assert owner.sessions() == [], "a refused borrow holds nothing"


def test_a_borrow_longer_than_the_policy_allows_is_refused(owner, monkeypatch):
    set_policy(owner, max_borrow_seconds=3600)
    owner.use(monkeypatch)
    with pytest.raises(coditect_license.LicenseError) as refused:
        coditect_license.borrow(hours=2)
    assert refused.value.code == "borrow_not_allowed"
    assert "1 hour" in str(refused.value), str(refused.value)
    assert owner.sessions() == []


@pytest.mark.parametrize("period", [{"seconds": 0}, {"seconds": -5}, {"hours": 0.0001}])
def test_a_period_under_a_second_is_refused_before_any_call(owner, monkeypatch, period):
    owner.use(monkeypatch)
    with pytest.raises(coditect_license.LicenseError, match="at least 1"):
        coditect_license.borrow(**period)
    assert owner.sessions() == []
