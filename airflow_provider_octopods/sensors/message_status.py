"""MessageStatusSensor: wait until a WhatsApp message, or a batch, is delivered (or read) or failed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf
from airflow.sdk.exceptions import AirflowSensorTimeout

from airflow_provider_octopods.errors import MessageFailedError, OctopodsTriggerError, error_from_dict
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.protocol.refs import message_id_of
from airflow_provider_octopods.status import DELIVERED, Outcome, check_target
from airflow_provider_octopods.templated import as_list
from airflow_provider_octopods.triggers.message_status import WAIT_MAX_CONCURRENCY, MessageStatusTrigger
from airflow_provider_octopods.wait.clock import SYSTEM_CLOCK, Clock
from airflow_provider_octopods.wait.engine import PollingEngine, WaitEnd, plan_lines
from airflow_provider_octopods.wait.policy import MAX_POLL_INTERVAL, POLL_BACKOFF, PollPolicy
from airflow_provider_octopods.wait.result import final_result
from airflow_provider_octopods.wait.state_store import WaitStateStore
from airflow_provider_octopods.wait.watch import BatchWatch


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
    :param statuses_path: for a batch, a Parquet file (any ObjectStoragePath URI, templated)
        to write every status to when the wait succeeds, with the snapshot's schema.
    :param poke_interval: seconds between the first polls of *each message* (default 5), not
        between pokes of the task: the interval then grows by half after each poll that finds
        nothing new, up to ``max_poke_interval`` (default 60), in every mode. A poke or a
        reschedule comes when the next message is due. Airflow's ``exponential_backoff=False``
        keeps the interval at ``poke_interval``; ``max_wait`` is another name for
        ``max_poke_interval`` (pass one of them).
    :param max_poke_interval: the longest interval between two polls of one message.
    :param read_poke_interval: seconds between polls once delivered, while waiting for read.
    :param first_poke_delay: seconds from the start to the first poll (an earlier poll would
        only see ``sent``).
    :param deferrable: wait in the triggerer, holding no worker slot. Defaults to Airflow's
        ``[operators] default_deferrable``; ``True`` is recommended wherever a triggerer runs.

    Airflow's sensor ``timeout`` is the seconds the whole wait may take, across pokes,
    reschedules and the deferral; ``execution_timeout`` bounds one try of the task, as for any
    operator. With ``soft_fail=True`` a timeout or a failed message skips the task.

    Returns (XCom), with ``message_id``: the final status as a dict (``MessageStatus.to_dict()``).
    With ``message_ids``: a summary of bounded size, see ``wait.result.batch_summary``.
    """

    template_fields: Sequence[str] = ("message_id", "message_ids", "statuses_path")
    ui_color = "#25d366"
    # What the waiting code reads and sleeps on; a bench swaps it for a virtual clock.
    clock: Clock = SYSTEM_CLOCK

    def __init__(
        self,
        *,
        message_id: int | str | None = None,
        message_ids: Sequence[int | str] | str | None = None,
        target_status: str = DELIVERED,
        octopods_conn_id: str = OctopodsHook.default_conn_name,
        max_failed: int | None = 0,
        statuses_path: str | None = None,
        poke_interval: float = 5.0,
        max_poke_interval: float | None = None,
        read_poke_interval: float = 300.0,
        first_poke_delay: float = 5.0,
        max_concurrency: int = WAIT_MAX_CONCURRENCY,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        backoff = 1.0 if kwargs.get("exponential_backoff") is False else POLL_BACKOFF
        super().__init__(poke_interval=poke_interval, **kwargs)
        _check_arguments(message_id, message_ids, target_status, max_failed, statuses_path)
        self.message_id = message_id
        self.message_ids = message_ids
        self.target_status = target_status
        self.octopods_conn_id = octopods_conn_id
        self.max_failed = max_failed
        self.statuses_path = statuses_path
        self.max_concurrency = max_concurrency
        self.deferrable = deferrable
        self.policy = PollPolicy(
            first_delay=first_poke_delay,
            interval=float(self.poke_interval),
            backoff=backoff,
            max_interval=max(self._ceiling(max_poke_interval), float(self.poke_interval)),
            read_interval=read_poke_interval,
        )
        self._engine: PollingEngine | None = None
        self._state: WaitStateStore | None = None
        self._stop_requested = False

    def _ceiling(self, max_poke_interval: float | None) -> float:
        """The longest interval between two polls of a message: ``max_poke_interval``, or
        Airflow's ``max_wait`` (the same bound under its sensor name), 60 s by default."""
        if max_poke_interval is not None and self.max_wait is not None:
            raise ValueError("Pass max_poke_interval or max_wait, not both: they are the same bound")
        if self.max_wait is not None:
            return self.max_wait.total_seconds()
        return MAX_POLL_INTERVAL if max_poke_interval is None else max_poke_interval

    @cached_property
    def hook(self) -> OctopodsHook:
        return OctopodsHook(octopods_conn_id=self.octopods_conn_id)

    def _resolve_ids(self) -> list[int]:
        """The message ids after templating, checked before any request, duplicates dropped."""
        refs = [self.message_id] if self.message_id is not None else as_list(self.message_ids, "message_ids")
        if not refs:
            raise ValueError("message_ids is empty: there is nothing to wait for")
        base_url = self.hook.get_settings().base_url
        return list(dict.fromkeys(message_id_of(ref, base_url) for ref in refs))

    # --- deferrable ---------------------------------------------------------------------

    def _announce(self, ids: list[int]) -> None:
        """The start lines: how long one round of polls takes, a warning if the timeout is shorter.
        A shared budget that cannot work fails here, before any request."""
        self.hook.get_budget_store()
        settings = self.hook.get_settings()
        start, warning = plan_lines(
            len(ids),
            self.target_status,
            float(self.timeout),
            settings.requests_per_second,
            settings.conn_id,
            self.policy.first_delay,
        )
        self.log.info("%s", start)
        if warning:
            self.log.warning("%s", warning)

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        ids = self._resolve_ids()
        started_at = self.clock.time()
        self._announce(ids)
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
                single=self.message_id is not None,
                statuses_path=self.statuses_path,
                clock=self.clock,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=float(self.timeout)),
        )

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        """Resume from the trigger's event, checked before it is trusted."""
        end, event = _read_event(event)
        message = str(event.get("message", ""))
        if end is WaitEnd.SUCCESS:
            result = event.get("result")
            if not isinstance(result, dict):
                raise OctopodsTriggerError(f"MessageStatusTrigger sent no result: {event!r:.200}")
            self.log.info("Done: %s", message)
            return result
        if end is WaitEnd.TOO_MANY_FAILED:
            raise MessageFailedError(message)
        if end is WaitEnd.TIMEOUT:
            raise AirflowSensorTimeout(message)
        error = event.get("error")
        raise error_from_dict(error) if isinstance(error, dict) else OctopodsTriggerError(message)

    # --- poke and reschedule: the same engine, driven by the blocking client ------------

    def _start(self, context: Any) -> PollingEngine:
        """The engine of this try (poke) or of this poke (reschedule: a new process each time),
        with the progress the task state store kept, where there is one (Airflow 3.3+)."""
        ids = self._resolve_ids()
        now = self.clock.time()
        started_at = now
        if self.reschedule:
            first = context["ti"].get_first_reschedule_date(context)
            started_at = first.timestamp() if first else now
        if started_at == now:
            self._announce(ids)
        watch = BatchWatch(
            ids,
            self.target_status,
            self.policy,
            started_at,
            now,
            deadline=started_at + float(self.timeout),
            rate=self.hook.get_settings().requests_per_second,
        )
        store = context.get("task_state_store")
        if store is not None:
            self._state = WaitStateStore(store, ids, self.target_status)
            if self._state.restore(watch, now):
                self.log.info(
                    "Resumed: %d settled earlier, %d pending",
                    len(ids) - len(watch.pending),
                    len(watch.pending),
                )
        elif started_at < now:
            # A later reschedule poke with nowhere to keep progress (Airflow 3.2): it knows
            # nothing of the earlier pokes, so it polls every message again.
            watch.all_due(now)
        return PollingEngine(watch, max_failed=self.max_failed, clock=self.clock, log=self.log)

    def poke(self, context: Any) -> PokeReturnValue:
        if self._engine is None:
            self._engine = self._start(context)
        engine = self._engine
        client = self.hook.get_conn()
        engine.poll_blocking(client, stop=lambda: self._stop_requested)
        verdict = engine.verdict
        if verdict is Outcome.WAITING:
            if self._state is not None:
                self._state.save(engine.watch)
            if engine.deadline_passed:
                rate = self.hook.get_settings().requests_per_second
                raise AirflowSensorTimeout(
                    engine.timeout_text(float(self.timeout), rate, self.octopods_conn_id)
                )
            return PokeReturnValue(is_done=False)
        if self._state is not None:
            self._state.forget()
        if verdict is Outcome.FAILED:
            raise MessageFailedError(engine.watch.failure_text(self.max_failed))
        return PokeReturnValue(
            is_done=True,
            xcom_value=final_result(
                engine.watch, single=self.message_id is not None, statuses_path=self.statuses_path
            ),
        )

    def on_kill(self) -> None:
        """A poke stops between two requests (deferred waits are the triggerer's)."""
        self._stop_requested = True

    def _get_next_poke_interval(self, started_at: Any, run_duration: Any, poke_count: int) -> float:
        # Airflow's sensor loop asks this (a private hook: its signature is pinned by a test on
        # every Airflow version CI runs) how long to sleep or reschedule: the engine's schedule,
        # the same as in deferrable mode, where Airflow's would poll every message at one interval.
        return self._engine.wake_in() if self._engine is not None else float(self.poke_interval)


def _read_event(event: object) -> tuple[WaitEnd, dict[str, Any]]:
    """How the trigger's wait ended, and its event; a typed error for an event it cannot send."""
    status = event.get("status") if isinstance(event, dict) else None
    if not isinstance(event, dict) or not isinstance(status, str) or status not in tuple(WaitEnd):
        text = f"MessageStatusTrigger sent an event this sensor cannot read: {event!r:.200}"
        raise OctopodsTriggerError(text)
    return WaitEnd(status), event


def _check_arguments(
    message_id: object, message_ids: object, target_status: str, max_failed: int | None, statuses_path: object
) -> None:
    """What the DAG file passes, refused when it is parsed."""
    if (message_id is None) == (message_ids is None):
        raise ValueError("Pass exactly one of message_id and message_ids")
    check_target(target_status)
    if max_failed is not None and max_failed < 0:
        raise ValueError("max_failed must be 0 or more, or None")
    if statuses_path is not None and message_id is not None:
        raise ValueError("statuses_path is for a batch (message_ids); one message returns its status")
