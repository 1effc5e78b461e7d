"""The emulator's HTTP side: the documented status endpoint, and ``/_emulator/*`` control routes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from aiohttp import web

from airflow_provider_octopods.emulator.state import (
    EmulatorState,
    Fault,
    RequestRecord,
    iso,
    lifecycle,
)

# The server's side of the contract, written from the vendor's page on its own: the client's
# constants in protocol/ are not reused, so a wrong one there fails the tests.
STATUS_PREFIX = "/api/v1/whatsapp/messages"
AUTH_HEADER = "X-Octopods-Auth"
STATE: web.AppKey[EmulatorState] = web.AppKey("state", EmulatorState)

ERROR_CODE_MISSING_ID = 1
ERROR_CODE_NOT_FOUND = 2  # not named by the vendor's page; any code but 6 means the same to clients
ERROR_CODE_KEY_REVOKED = 6
_HTML = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


def _json(http_status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=http_status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers={"Date": formatdate(usegmt=True), **(headers or {})},
    )


def _error(http_status: int, request_id: str, code: int | None, text: str) -> web.Response:
    return _json(http_status, {"request_id": request_id, "error_code": code, "error": text})


def _rate_limited(request_id: str, wait: float, hint: str) -> tuple[web.Response, float]:
    """A 429, and the time it allows the next request (kept in the log for tests)."""
    retry_at = time.time() + wait
    body: dict[str, Any] = {"request_id": request_id, "error_code": 429, "error": "Rate limit exceeded."}
    headers: dict[str, str] = {}
    if hint == "body_iso":
        # iso() keeps milliseconds: round the stated time up, never down.
        body["retry_at"] = iso(retry_at + 0.001)
    elif hint == "body_epoch":
        body["retry_at"] = retry_at
    elif hint == "header_seconds":
        headers["Retry-After"] = str(int(wait) + 1)
    elif hint == "header_date":
        headers["Retry-After"] = formatdate(int(retry_at) + 1, usegmt=True)
    return _json(429, body, headers), retry_at


@dataclass
class _Answer:
    response: web.Response
    retry_at: float | None = None  # on a 429, kept in the log: tests check no retry came sooner
    fault: Fault | None = None


def _answer(
    state: EmulatorState, key: str | None, part: str, message_id: int | None, request_id: str
) -> _Answer:
    """The answer to one status request, decided under the state lock."""
    if key in state.revoked:
        return _Answer(
            _error(400, request_id, ERROR_CODE_KEY_REVOKED, "The API key has been rotated or revoked.")
        )
    if key not in state.keys:
        return _Answer(_error(401, request_id, None, "Invalid API key."))
    if state.rate_limit is not None:
        wait = state.rate_limit.take(key, time.monotonic())
        if wait is not None:
            return _Answer(*_rate_limited(request_id, wait, state.rate_limit.hint))
    if not part:
        return _Answer(
            _error(
                400, request_id, ERROR_CODE_MISSING_ID, "You must supply message_id in your request payload."
            )
        )
    # Faults stand for the infrastructure in front of a working API: they hit accepted requests.
    fault = state.take_fault(message_id)
    message = state.messages.get(message_id) if message_id is not None else None
    if message is None or message.key != key:
        return _Answer(_error(400, request_id, ERROR_CODE_NOT_FOUND, "Message not found."), fault=fault)
    now = state.now()
    if fault is None:  # a poll whose answer the client never saw does not count
        message.polled(now)
    return _Answer(_json(200, message.body(now, request_id)), fault=fault)


async def _status(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        return await _status_answer(state, request)
    finally:
        state.in_flight -= 1


async def _status_answer(state: EmulatorState, request: web.Request) -> web.StreamResponse:
    part = request.match_info.get("message_id", "")
    arrived = time.time()
    message_id = int(part) if part.isdigit() else None
    request_id = str(uuid.uuid4())
    if state.latency:
        await asyncio.sleep(state.latency)
    with state.lock:
        answer = _answer(state, request.headers.get(AUTH_HEADER), part, message_id, request_id)
    fault = answer.fault
    sent = _apply(fault, answer.response, request_id) if fault else answer.response
    with state.lock:
        state.log.append(
            RequestRecord(
                arrived,
                message_id,
                sent.status if sent else 0,
                fault.kind if fault else None,
                answer.retry_at,
            )
        )
    if fault is not None and fault.kind == "slow":
        # Logged before the wait: a client that timed out has its request on record at once.
        await asyncio.sleep(fault.seconds)
    if sent is None:
        # Close without a word: the client sees the connection drop.
        if request.transport is not None:
            request.transport.close()
        raise asyncio.CancelledError
    return sent


def _apply(fault: Fault, response: web.Response, request_id: str) -> web.Response | None:
    """The answer as the fault changes it; None to drop the connection."""
    kind = fault.kind
    if kind == "drop":
        return None
    if kind == "slow":
        return response
    if kind == "server_error":
        return _error(500, request_id, None, "Internal server error.")
    if kind == "bad_gateway_html":
        return web.Response(status=502, text=_HTML, content_type="text/html")
    if kind == "html_200":
        return web.Response(
            status=200, text=_HTML.replace("502 Bad Gateway", "Please log in"), content_type="text/html"
        )
    if kind == "rate_limit":
        return _rate_limited(request_id, fault.seconds, "body_iso")[0]
    # truncated: the framing is right, the JSON is cut short.
    body = response.body if isinstance(response.body, bytes) else b""
    return web.Response(status=response.status, body=body[: len(body) // 2], content_type="application/json")


# --- control routes: the same scripting as the Python API, for a separate process ------------


async def _read(request: web.Request) -> dict[str, Any]:
    return await request.json() if request.can_read_body else {}


async def _add_messages(request: web.Request) -> web.Response:
    spec = await _read(request)
    steps = lifecycle(
        deliver_after=spec.get("deliver_after"),
        read_after=spec.get("read_after"),
        fail_after=spec.get("fail_after"),
        status=spec.get("status"),
    )
    ids = request.app[STATE].add_messages(
        steps, int(spec.get("count", 1)), failure_reason=spec.get("failure_reason")
    )
    return web.json_response({"message_ids": ids})


async def _send(request: web.Request) -> web.Response:
    """A stand-in for Octopods' send endpoint (not part of this provider's contract): sends
    ``count`` messages now, timed by the emulator's sender model (by default the built-in
    campaigns, every message confirmed), and answers send responses."""
    state, spec = request.app[STATE], await _read(request)
    key = request.headers.get(AUTH_HEADER)
    if key not in state.keys:
        return _error(401, str(uuid.uuid4()), None, "Invalid API key.")
    script = state.send_script
    count = int(spec.get("count", 1))
    if "after_polls" in script:  # a scripted change while the client waits (tests, demos)
        ids = state.add_messages(lifecycle(), count, key=key, after_polls=script["after_polls"])
    else:
        ids = state.add_campaign(count, spread_hours=0, key=key, **script)
    base = f"{request.scheme}://{request.host}{STATUS_PREFIX}"
    return web.json_response(
        {"messages": [{"message_id": m, "message_status_url": f"{base}/{m}", "status": "sent"} for m in ids]}
    )


async def _set_status(request: web.Request) -> web.Response:
    spec = await _read(request)
    request.app[STATE].set_status(
        int(request.match_info["message_id"]), spec["status"], spec.get("failure_reason")
    )
    return web.json_response({"ok": True})


async def _configure(request: web.Request) -> web.Response:
    """One route for the knobs: advance, latency, rate_limit, faults, fault_rates, reset_log."""
    state, spec = request.app[STATE], await _read(request)
    if "advance" in spec:
        state.advance(float(spec["advance"]))
    if "latency" in spec:
        state.latency = float(spec["latency"])
    if "rate_limit" in spec:
        state.set_rate_limit(**(spec["rate_limit"] or {"per_second": None}))
    for fault in spec.get("faults", []):
        state.inject(**fault)
    if "fault_rates" in spec:
        state.fault_rates = dict(spec["fault_rates"])
    if spec.get("reset_log"):
        state.reset_log()
    return web.json_response({"ok": True})


async def _stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response({**state.stats(), "api_key": state.api_key, "revoked_key": state.revoked_key})


def make_app(state: EmulatorState) -> web.Application:
    app = web.Application()
    app[STATE] = state
    app.router.add_get(STATUS_PREFIX + "/", _status)
    app.router.add_get(STATUS_PREFIX + "/{message_id}", _status)
    app.router.add_post("/_emulator/messages", _add_messages)
    app.router.add_post("/_emulator/send", _send)
    app.router.add_post("/_emulator/messages/{message_id}", _set_status)
    app.router.add_post("/_emulator/config", _configure)
    app.router.add_get("/_emulator/stats", _stats)
    return app
