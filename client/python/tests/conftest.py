"""Fixtures: the real `local` server on a free port (embedded default, short seat TTL), a client
home signed in through the real `coditect-license` CLI, and the admin API to look at seats.

The binaries are the workspace's debug builds (`cargo build -p local -p coditect-license`,
which `.ci/run` does first); `CODITECT_TARGET_DIR` points elsewhere when needed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CODITECT_TARGET_DIR", REPO / "target")) / "debug"
SEAT_TTL_SECONDS = 6

# The tests press Ctrl-C (SIGINT) on the Python programs they start, as a person at a terminal
# does. A suite started in the background by a shell without job control (`… &` in a script) has
# SIGINT ignored, which a child inherits across exec, and Python then installs no handler of its
# own: the Ctrl-C would do nothing. A handler here is reset to the default across exec, so every
# program these tests start gets Ctrl-C as a terminal gives it.
signal.signal(signal.SIGINT, signal.default_int_handler)


def binary(name: str) -> Path:
    path = TARGET / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `cargo build -p local -p coditect-license`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)



@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    running = start_server()
    yield running
    running.stop()


def start_server() -> Server:
    """The local server on a free port, in a fresh data dir, once it answers."""
    data = tempfile.mkdtemp(prefix="coditect-py-server-")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PORT": str(port),
        "DATA_DIR": data,
        "SEAT_TTL_SECONDS": str(SEAT_TTL_SECONDS),
        "HEARTBEAT_INTERVAL_SECONDS": "1",
        "LICENSE_CACHE_SECONDS": "0",
        "LOG_LEVEL": "warn",
    }
    process = subprocess.Popen([binary("local")], env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the local server did not start")
            time.sleep(0.1)
    return Server(url, process)


@dataclass
class Person:
    """A person signed in on one machine: a client home and a fingerprint."""

    email: str
    home: Path
    fingerprint: str
    server: Server

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CODITECT_LICENSE_HOME": str(self.home),
            "CODITECT_LICENSE_URL": self.server.url,
            "CODITECT_FINGERPRINT": self.fingerprint,
        }

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [binary("coditect-license"), *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def sessions(self) -> list[dict]:
        """Who holds the organisation's seats, as the owner's `coditect-license status` shows."""
        done = self.cli("status", "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)["holders"]

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Points this process's library at this person's home and machine."""
        for name, value in self.env.items():
            if name.startswith("CODITECT_"):
                monkeypatch.setenv(name, value)


def sign_in(person: Person) -> None:
    """Signs `person` in with the real CLI (the embedded default's demo sign-in)."""
    done = person.cli("login", "--email", person.email)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def owner(server: Server, tmp_path: Path) -> Person:
    person = Person(
        email=f"{uuid.uuid4().hex[:8]}@acme.test",
        home=tmp_path / "owner-home",
        fingerprint="v1:" + uuid.uuid4().hex + uuid.uuid4().hex,
        server=server,
    )
    sign_in(person)
    return person


def other_machine(person: Person, tmp_path: Path) -> Person:
    """The same person signed in on another machine."""
    twin = Person(
        email=person.email,
        home=tmp_path / f"home-{uuid.uuid4().hex[:6]}",
        fingerprint="v1:" + uuid.uuid4().hex + uuid.uuid4().hex,
        server=person.server,
    )
    sign_in(twin)
    return twin
