"""A status query as both clients make it: its steps from the gate to the status (``status_steps``),
and the gate that the clients of one connection pass (``connection_gate``)."""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_octopods.clients.pacing import RequestGate, gate_key, shared_gate
from airflow_provider_octopods.clients.redis_budget import RedisAddress, RedisBudget
from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.errors import OctopodsError
from airflow_provider_octopods.protocol.call import StatusCall
from airflow_provider_octopods.protocol.failures import NoAnswer
from airflow_provider_octopods.reporting.tally import Tally
from airflow_provider_octopods.status import MessageStatus

if TYPE_CHECKING:
    from airflow_provider_octopods.clients.steps import Step


@dataclass(frozen=True)
class Failure:
    """A request that got no answer: its kind (``protocol.failures``) and what went wrong."""

    kind: NoAnswer
    detail: str


# What a client answers a request step with: the answer (status, headers, body cut where the
# protocol stops reading), or why there was none.
Reply = tuple[int, Mapping[str, str], bytes] | Failure


def status_steps(call: StatusCall, gate: RequestGate, tally: Tally) -> Generator[Step, Any, MessageStatus]:
    """``call`` to its end: pass ``gate``, send the request (answered with a ``Reply``), then the
    status, or a wait and the same again; or the typed error ``call`` raises. Counted in ``tally``."""
    try:
        while True:
            # Time held at the gate by a 429, this call's or another's, counts against its limit.
            entered = time.monotonic()
            yield from gate.steps(call.waiting_for_rate_limit)
            tally.budget_wait += time.monotonic() - entered
            tally.request()
            reply: Reply = yield call.request
            step = call.fail(reply.kind, reply.detail) if isinstance(reply, Failure) else call.receive(*reply)
            if isinstance(step, MessageStatus):
                tally.statuses += 1
                return step
            tally.retrying(step.cause)
            if step.rate_limited:
                gate.pause(step.seconds)  # the gate holds this request and every other one
            else:
                yield step.seconds
    except OctopodsError as exc:
        tally.failed(exc)
        raise


def connection_gate(
    settings: OctopodsSettings, rate: float | None, budget_store: RedisAddress | None, *, blocking: bool
) -> RequestGate:
    """The gate of the clients of ``settings``' key at ``rate`` requests per second (None or
    infinite: no pacing), on the running event loop or, ``blocking``, in this process; with
    ``budget_store``, requests also keep to the key's budget shared by every process."""
    rate = None if rate == float("inf") else rate
    key = gate_key(settings.base_url, settings.api_key, rate, budget_store)
    store = None
    if budget_store is not None:
        store = RedisBudget(budget_store, settings.api_key, settings.requests_per_second, settings.conn_id)
    return shared_gate(key, rate, store, blocking=blocking)
