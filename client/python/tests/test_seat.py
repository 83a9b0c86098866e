"""The package against the real local server: the seat a `with` block holds, what releases it,
what a refusal raises, and one seat shared with the CLI on the same machine."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import coditect_license
from conftest import SEAT_TTL_SECONDS, Person, binary, other_machine, sign_in, start_server


def wait_until(condition, bound: float, what: str) -> None:
    deadline = time.monotonic() + bound
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {bound} s")
        time.sleep(0.1)


def python_holding_a_seat(person: Person, body: str) -> subprocess.Popen:
    """A separate Python process that enters `seat()`, prints `held <session>`, then runs `body`."""
    script = textwrap.dedent(
        """
        import sys, time
        import coditect_license
        with coditect_license.seat() as seat:
            print("held", seat.session_id, flush=True)
        """
    ) + textwrap.indent(textwrap.dedent(body), "    ")
    process = subprocess.Popen(
        [sys.executable, "-c", script], env=person.env, stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline().split()
    assert line[:1] == ["held"], f"the child holds a seat: {line}"
    return process


def test_a_with_block_holds_a_heartbeating_seat_and_releases_it(owner, monkeypatch):
    owner.use(monkeypatch)
    with coditect_license.seat() as seat:
        assert seat.state == "held"
        assert seat.license["tier"] == "FREE"
        assert seat.license["max_seats"] == 1
        assert [s["session_id"] for s in owner.sessions()] == [seat.session_id]
        assert seat._native.wait_event(5.0) == "renewed", "heartbeats run in the background"
        assert coditect_license.current() is seat
    assert owner.sessions() == [], "released when the block ends"
    assert coditect_license.current() is None
    assert seat.release() == "already_released"


def test_an_exception_inside_the_block_still_releases_the_seat(owner, monkeypatch):
    owner.use(monkeypatch)
    with pytest.raises(RuntimeError, match="boom"):
        with coditect_license.seat():
            assert len(owner.sessions()) == 1
            raise RuntimeError("boom")
    assert owner.sessions() == []


def test_a_second_machine_on_a_full_license_raises_seats_exhausted_with_the_holders(
    owner, monkeypatch, tmp_path
):
    holder = python_holding_a_seat(owner, "time.sleep(60)")
    try:
        desktop = other_machine(owner, tmp_path)
        desktop.use(monkeypatch)
        with pytest.raises(coditect_license.SeatsExhausted) as denied:
            with coditect_license.seat():
                pytest.fail("one seat, already held")
        error = denied.value
        assert isinstance(error, coditect_license.LicenseError)
        assert error.code == "seats_exhausted"
        assert error.status == 409
        assert "seats" in str(error), str(error)
        # When the held seat would lapse, rounded up: at least a second, at most one TTL away.
        assert error.retry_after is not None and 1 <= error.retry_after <= SEAT_TTL_SECONDS, (
            error.retry_after
        )
        assert error.max_seats == 1 and error.seats_in_use == 1
        assert len(error.holders) == 1, error.holders
        assert error.holders[0]["email"] == owner.email
    finally:
        holder.kill()
        holder.wait()


def test_the_cli_and_the_library_on_one_machine_hold_one_seat(owner, monkeypatch):
    cli = subprocess.Popen([binary("coditect-license"), "run", "--", "sleep", "60"], env=owner.env)
    try:
        wait_until(lambda: len(owner.sessions()) == 1, 20, "the CLI holds the seat")
        cli_session = owner.sessions()[0]["session_id"]
        owner.use(monkeypatch)
        with coditect_license.seat() as seat:
            assert seat.session_id == cli_session, "the machine's one seat, on a 1-seat license"
            assert len(owner.sessions()) == 1
        assert seat.release() == "already_released"
        assert [s["session_id"] for s in owner.sessions()] == [cli_session], (
            "the library left the seat to the CLI still running"
        )
    finally:
        cli.send_signal(signal.SIGTERM)
        cli.wait(timeout=20)
    wait_until(lambda: owner.sessions() == [], 5, "the CLI released the seat")


def test_a_killed_python_process_frees_its_seat_by_the_ttl(owner):
    child = python_holding_a_seat(owner, "time.sleep(60)")
    assert len(owner.sessions()) == 1
    child.kill()
    child.wait()
    assert len(owner.sessions()) == 1, "nobody released it"
    wait_until(lambda: owner.sessions() == [], SEAT_TTL_SECONDS + 10, "the TTL freed the seat")


def test_ctrl_c_inside_the_block_releases_the_seat_at_once(owner):
    child = python_holding_a_seat(owner, "time.sleep(60)")
    assert len(owner.sessions()) == 1
    started = time.monotonic()
    child.send_signal(signal.SIGINT)
    child.wait(timeout=10)
    assert child.returncode != 0, "KeyboardInterrupt ended it"
    wait_until(lambda: owner.sessions() == [], 2, "released on Ctrl-C")
    assert time.monotonic() - started < SEAT_TTL_SECONDS, "by the release, not the TTL"


def test_require_gates_on_the_verified_leases_features(owner, monkeypatch):
    owner.use(monkeypatch)
    with pytest.raises(coditect_license.LicenseError, match="no seat is held"):
        coditect_license.require("cloud-sync")
    with coditect_license.seat() as seat:
        with pytest.raises(coditect_license.FeatureNotLicensed, match="cloud-sync"):
            coditect_license.require("cloud-sync")
        for feature in seat.features:
            coditect_license.require(feature)


def test_without_a_sign_in_the_library_says_to_log_in(server, monkeypatch, tmp_path):
    monkeypatch.setenv("CODITECT_LICENSE_HOME", str(tmp_path / "nobody"))
    monkeypatch.setenv("CODITECT_LICENSE_URL", server.url)
    with pytest.raises(coditect_license.NotSignedIn, match="login"):
        with coditect_license.seat():
            pytest.fail("not signed in")


def test_an_unreachable_service_raises_service_unreachable(monkeypatch, tmp_path):
    server = start_server()
    person = Person("ana@acme.test", tmp_path / "home", "v1:" + "ab" * 32, server)
    sign_in(person)
    server.stop()
    person.use(monkeypatch)
    with pytest.raises(coditect_license.ServiceUnreachable) as unreachable:
        with coditect_license.seat(patience=0.5):
            pytest.fail("nothing listens there")
    assert unreachable.value.code is None


def test_the_readmes_example_holds_a_seat(owner):
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    example = readme.split("```python\n", 1)[1].split("```", 1)[0]
    script = example + "\nprint('session', seat.session_id)\n"
    ran = subprocess.run(
        [sys.executable, "-c", script], env=owner.env, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[0] == "FREE []", ran.stdout
    assert owner.sessions() == [], "released when the example's block ended"
