"""Schemathesis hooks: real credentials for the fuzzed requests.

Loaded by run.sh through SCHEMATHESIS_HOOKS. At import it signs in to the local server the way a
client does in emulator mode (an unsigned Identity Platform ID token, as the Firebase Auth Emulator
issues them), registers an organisation and acquires a seat, so every operation is exercised past
its authentication: operations declaring `id_token` get the ID token, those declaring `lease` the
lease. Tenant path parameters are often the real organisation's id, so the handlers' own checks run
too, not only the not-found path.
"""

import ast
import base64
import json
import os
import random
import threading
import time
import urllib.request

import schemathesis

# CPython 3.11 keeps the AST constructor's recursion depth in state shared by every thread
# (CPython gh-106905): two threads in `ast.parse` at once fail with "SystemError: AST constructor
# recursion depth mismatch". Hypothesis parses a module's source to describe a filter's lambda,
# and run.sh's two workers are threads, so parsing here is one thread at a time.
_AST_PARSE = ast.parse
_AST_LOCK = threading.Lock()


def _serialized_parse(*args, **kwargs):
    with _AST_LOCK:
        return _AST_PARSE(*args, **kwargs)


ast.parse = _serialized_parse

BASE = os.environ["SCHEMATHESIS_BASE_URL"]
PROJECT = os.environ.get("GOOGLE_CLOUD_PROJECT", "demo-coditect")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _id_token(uid: str, email: str) -> str:
    now = int(time.time())
    header = {"alg": "none", "typ": "JWT"}
    claims = {
        "iss": f"https://securetoken.google.com/{PROJECT}",
        "aud": PROJECT,
        "sub": uid,
        "email": email,
        "email_verified": True,
        "iat": now,
        "auth_time": now,
        "exp": now + 3600,
    }
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}."


def _call(method: str, path: str, token: str, body=None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


# The fuzzed operations act as the owner of one organisation; leases come from a second one, whose
# only seat nothing but `_lease()` ever acquires, so a fuzzed acquire can never leave heartbeat and
# release without a live seat to act on.
ID_TOKEN = _id_token("schemathesis-owner", "owner@fuzz.test")
REGISTERED = _call("POST", "/api/v1/register", ID_TOKEN)
TENANT_ID = REGISTERED["tenant"]["id"]
USER_ID = REGISTERED["user"]["id"]
SEAT_HOLDER = _id_token("schemathesis-seat", "seat@lease.test")
_call("POST", "/api/v1/register", SEAT_HOLDER)


def _lease() -> str:
    """A lease of a live seat: the holder's own seat again, or a new one after a fuzzed release."""
    grant = _call(
        "POST",
        "/api/v1/licenses/acquire",
        SEAT_HOLDER,
        {"fingerprint": "v1:" + "ab" * 32, "hostname": "fuzz-box", "client_version": "schemathesis"},
    )
    return grant["lease"]


def _schemes(case) -> set:
    security = case.operation.definition.raw.get("security") or []
    return {name for requirement in security for name in requirement}


@schemathesis.auth(refresh_interval=None)
class Credentials:
    """The ID token or the lease, whichever the operation declares."""

    def get(self, case, context):
        schemes = _schemes(case)
        if "lease" in schemes:
            return _lease()
        if "id_token" in schemes:
            return ID_TOKEN
        return None

    def set(self, case, data, context):
        if data is not None:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def map_path_parameters(context, path_parameters):
    """Half the tenant-scoped requests name the real organisation (and its owner)."""
    if path_parameters and "tenant_id" in path_parameters and random.random() < 0.5:
        path_parameters["tenant_id"] = TENANT_ID
        if "user_id" in path_parameters and random.random() < 0.5:
            path_parameters["user_id"] = USER_ID
    return path_parameters


@schemathesis.hook
def map_body(context, body):
    """A fuzzed acquire that waits in the queue waits at most a second: the queue's long poll
    (up to 25 s a call) is tested in `seats_http/queue.rs`, and at 25 s a case the run would take
    hours. The answer is still checked against the schema (202 included).

    `wait_seconds` may arrive as an integral float (`15.0` is an integer to JSON Schema, and the
    server accepts it), so any number above one is capped, not only an `int`."""
    wait = body.get("wait_seconds") if isinstance(body, dict) else None
    if (
        context.operation.path == "/api/v1/licenses/acquire"
        and isinstance(wait, (int, float))
        and not isinstance(wait, bool)
        and wait > 1
    ):
        body["wait_seconds"] = 1
    return body
