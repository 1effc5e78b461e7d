"""MessageStatusSensor: wait until a WhatsApp message, or a batch, is delivered (or read) or failed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from airflow_provider_octopods import protocol
from airflow_provider_octopods.errors import MessageFailedError, OctopodsError
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.polling import BatchWatch, PollPolicy
from airflow_provider_octopods.rendered import as_list
from airflow_provider_octopods.status import DELIVERED, TARGET_STATUSES, Outcome
from airflow_provider_octopods.triggers.message_status import (
    DEFAULT_MAX_CONCURRENCY,
    EVENT_STATUSES,
    MessageStatusTrigger,
)


def _deferrable_default() -> bool:
    # [operators] default_deferrable ships as False, which would park this sensor on a worker
    # slot by default: follow it only where a deployment set it in its environment.
    if os.environ.get("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE") is not None:
        return conf.getboolean("operators", "default_deferrable")
    return True


class MessageStatusSensor(BaseSensorOperator):
    """Wait until a message (``message_id``) or every message of a batch (``message_ids``) has
    reached ``target_status``, or failed.

    :param message_id: a message id or its ``message_status_url`` (templated).
    :param message_ids: a list of them (templated; an XCom list works too).
    :param target_status: ``delivered`` (also met by ``read``: WhatsApp implies delivery on
        read) or ``read`` (only reported when the recipient has read receipts on).
    :param max_failed: how many failed messages the task tolerates. ``0`` (default): a failed
        message fails the task at once, without retries, naming the reason. ``None``: failed
        is an outcome like any other; the task succeeds and returns it, e.g. to branch on.
    :param poke_interval: seconds between the first polls of a message (default 5); the
        interval then grows by half each time up to ``max_poke_interval`` (default 60).
    :param read_poke_interval: seconds between polls once delivered, while waiting for read.
    :param first_poke_delay: seconds before the first poll in deferrable mode (an earlier poll
        would only see ``sent``).
    :param deferrable: wait in the triggerer, holding no worker slot (default True).

    Returns (XCom) the final status as a dict; for ``message_ids``, a list of them in order.
    """

    template_fields: Sequence[str] = ("message_id", "message_ids")
    ui_color = "#25d366"

    def __init__(
        self,
        *,
        message_id: int | str | None = None,
        message_ids: Sequence[int | str] | str | None = None,
        target_status: str = DELIVERED,
        octopods_conn_id: str = OctopodsHook.default_conn_name,
        max_failed: int | None = 0,
        poke_interval: float = 5.0,
        max_poke_interval: float = 60.0,
        read_poke_interval: float = 300.0,
        first_poke_delay: float = 5.0,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        if (message_id is None) == (message_ids is None):
            raise ValueError("Pass exactly one of message_id and message_ids")
        if target_status not in TARGET_STATUSES:
            raise ValueError(f"target_status must be one of {TARGET_STATUSES}, not {target_status!r}")
        if max_failed is not None and max_failed < 0:
            raise ValueError("max_failed must be 0 or more, or None")
        self.message_id = message_id
        self.message_ids = message_ids
        self.target_status = target_status
        self.octopods_conn_id = octopods_conn_id
        self.max_failed = max_failed
        self.max_concurrency = max_concurrency
        self.deferrable = _deferrable_default() if deferrable is None else deferrable
        self.policy = PollPolicy(
            first_delay=first_poke_delay,
            interval=float(self.poke_interval),
            max_interval=max(max_poke_interval, float(self.poke_interval)),
            read_interval=read_poke_interval,
        )
        self._watch: BatchWatch | None = None
        self._ids: list[int] = []

    @cached_property
    def hook(self) -> OctopodsHook:
        return OctopodsHook(octopods_conn_id=self.octopods_conn_id)

    def _resolve_ids(self) -> list[int]:
        """The message ids after templating, checked before any request, duplicates dropped."""
        refs = [self.message_id] if self.message_id is not None else as_list(self.message_ids, "message_ids")
        if not refs:
            raise ValueError("message_ids is empty: there is nothing to wait for")
        base_url = self.hook.get_settings().base_url
        return list(dict.fromkeys(protocol.message_id_of(ref, base_url) for ref in refs))

    def _xcom(self, results: list[dict[str, Any]]) -> Any:
        return results[0] if self.message_id is not None else results

    # --- deferrable ---------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        ids = self._resolve_ids()
        started_at = time.time()
        self.log.info("Deferring: waiting for %d message(s) to be %s", len(ids), self.target_status)
        self.defer(
            trigger=MessageStatusTrigger(
                message_ids=ids,
                target_status=self.target_status,
                deadline=started_at + float(self.timeout),
                started_at=started_at,
                octopods_conn_id=self.octopods_conn_id,
                policy=self.policy.to_dict(),
                max_failed=self.max_failed,
                max_concurrency=self.max_concurrency,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Resume from the trigger's event, checked before it is trusted."""
        status = event.get("status") if isinstance(event, dict) else None
        if status not in EVENT_STATUSES or not isinstance(event, dict):
            raise AirflowException(
                f"MessageStatusTrigger sent an event this sensor cannot read: {event!r:.200}"
            )
        message = str(event.get("message", ""))
        if status == "success":
            self.log.info("Done: %s", message)
            return self._xcom(json.loads(event.get("results") or "[]"))
        if status == "failed":
            raise MessageFailedError(message)
        if status == "timeout":
            raise AirflowSensorTimeout(message)
        error = event.get("error") or {}
        if error.get("type") == "OctopodsAuthError":
            raise AirflowFailException(message)
        raise AirflowException(message)

    # --- poke and reschedule ------------------------------------------------------------

    def poke(self, context: Any) -> PokeReturnValue:
        if self._watch is None:
            # In reschedule mode every poke is a new process: the whole batch is polled again.
            self._ids = self._resolve_ids()
            now = time.time()
            self._watch = BatchWatch(self._ids, self.target_status, self.policy, now, now)
        watch = self._watch
        for message_id in list(watch.pending):
            try:
                status = self.hook.get_message_status(message_id)
            except OctopodsError as exc:
                if not exc.retryable:
                    raise
                self.log.warning("Polling %s failed for now, trying at the next poke: %s", message_id, exc)
                continue
            watch.record(status, time.time())
            if watch.is_new_unknown(status):
                self.log.warning("Status %r is not documented; still waiting", status.status)
        verdict = watch.verdict(self.max_failed)
        if verdict is Outcome.FAILED:
            raise MessageFailedError(watch.failure_text(self.max_failed))
        done = verdict is Outcome.MET
        return PokeReturnValue(
            is_done=done, xcom_value=self._xcom(watch.results(self._ids)) if done else None
        )

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        # The same schedule as in deferrable mode, not Airflow's fixed or doubling interval.
        elapsed = float(run_duration())
        return max(self.policy.schedule(elapsed)[0] - elapsed, 0.0)
