"""Waiting for a seat from Python against the real local server: `seat(wait=…)` queues behind a
holder, reports its place, and holds the seat once the holder lets go; a wait that ends without a
seat raises `SeatsExhausted` and leaves the queue; Ctrl-C while waiting leaves it at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

import coditect_license
from conftest import Person, other_machine
from test_seat import python_holding_a_seat


def queue_of(owner: Person) -> list[dict]:
    """The tickets waiting, as the owner's `coditect-license status --json` shows them."""
    import json

    done = owner.cli("status", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)["queue"]


def test_a_waiting_seat_reports_its_place_and_is_held_once_the_holder_lets_go(
    owner, monkeypatch, tmp_path
):
    holder = python_holding_a_seat(owner, "time.sleep(60)")
    desktop = other_machine(owner, tmp_path)
    desktop.use(monkeypatch)
    places: list[dict] = []

    def release_soon(place: dict) -> None:
        places.append(place)
        holder.send_signal(signal.SIGINT)  # the holder's `with` ends: its seat is released

    try:
        with coditect_license.seat(wait=30, on_queued=release_soon) as seat:
            assert seat.state == "held"
            assert [s["session_id"] for s in owner.sessions()] == [seat.session_id]
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert places and places[0]["position"] == 1 and places[0]["queue_length"] == 1, places
    assert isinstance(places[0]["ticket"], str) and places[0]["ticket"]
    assert queue_of(owner) == []


def test_a_wait_that_ends_without_a_seat_raises_and_leaves_the_queue(owner, monkeypatch, tmp_path):
    holder = python_holding_a_seat(owner, "time.sleep(60)")
    try:
        desktop = other_machine(owner, tmp_path)
        desktop.use(monkeypatch)
        started = time.monotonic()
        with pytest.raises(coditect_license.SeatsExhausted) as denied:
            with coditect_license.seat(wait=2):
                pass
        assert 2 <= time.monotonic() - started < 15
        assert denied.value.code == "seats_exhausted"
        assert "queue" in str(denied.value), str(denied.value)
        assert queue_of(owner) == [], "left the queue on giving up"
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_ctrl_c_while_waiting_leaves_the_queue(owner, tmp_path):
    holder = python_holding_a_seat(owner, "time.sleep(60)")
    desktop = other_machine(owner, tmp_path)
    script = textwrap.dedent(
        """
        import coditect_license
        try:
            with coditect_license.seat(wait=True, on_queued=lambda p: print("queued", flush=True)):
                print("held", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        """
    )
    waiting = subprocess.Popen(
        [sys.executable, "-c", script], env=desktop.env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert waiting.stdout.readline().strip() == "queued"
        assert len(queue_of(owner)) == 1
        waiting.send_signal(signal.SIGINT)
        assert waiting.wait(timeout=15) == 0
        assert waiting.stdout.read().strip() == "interrupted"
        assert queue_of(owner) == [], "left the queue on Ctrl-C"
        assert len(owner.sessions()) == 1, "the holder keeps its seat"
    finally:
        waiting.kill()
        holder.kill()
        holder.wait(timeout=10)


def test_a_negative_wait_is_refused(owner, monkeypatch):
    owner.use(monkeypatch)
    with pytest.raises(ValueError):
        with coditect_license.seat(wait=-1):
            pass
