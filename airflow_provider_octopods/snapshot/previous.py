"""What a run keeps of the rows it holds: the previous snapshot's rows not due for a request
(``carried_forward``); which rows of a table of current statuses are due (``decide``); and
which come due together (``due_together``). The policies themselves are in ``refresh``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from airflow_provider_octopods.refresh import Decision, RefreshPolicy
from airflow_provider_octopods.refresh.rows import Rows
from airflow_provider_octopods.reporting.log import Log


def latest(previous: pa.Table) -> pa.Table:
    """The latest row per message of ``previous`` (a snapshot may hold a message twice)."""
    order = pc.sort_indices(previous, [("message_id", "ascending"), ("fetched_at", "descending")])
    rows = previous.take(order)
    ids = rows.column("message_id").to_numpy()
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    return rows.filter(pa.array(first))


def carried_forward(
    held: pa.Table, wanted: np.ndarray[Any, Any], policy: RefreshPolicy, now: datetime, log: Log
) -> pa.Table:
    """The rows of ``held`` (one per message) whose id is ``wanted`` and that ``policy``, which
    learns from all of ``held``, does not make due at ``now``: exactly as they were (their
    ``fetched_at`` included, so a reader sees how old each row is)."""
    decision = decide(held, policy, now, len(wanted), log)
    keep = ~decision.due & np.isin(held.column("message_id").to_numpy(), wanted)
    return held.filter(pa.array(keep))


def decide(rows: pa.Table, policy: RefreshPolicy, now: datetime, output_rows: int, log: Log) -> Decision:
    """Which of ``rows`` (one per message) ``policy`` makes due at ``now``; the log says why."""
    decision = policy.decide(Rows.from_arrow(rows), now, output_rows)
    log.info("Refresh: %s", "; ".join(decision.lines))
    return decision


def due_together(decision: Decision, shards: int) -> Callable[[pa.Table], np.ndarray[Any, Any]]:
    """A key per row: the day ``decision`` makes it due again, and the mapped instance (of
    ``shards``) that will fetch it. Rows of a key are fetched by one run (``iceberg.merge``'s
    ``fetched_together``)."""

    def keys(rows: pa.Table) -> np.ndarray[Any, Any]:
        due = decision.next_fetch(Rows.from_arrow(rows))
        days = np.where(np.isnat(due), -1, due.astype("datetime64[D]").astype(np.int64))
        return days * shards + rows.column("message_id").to_numpy() % shards  # type: ignore[no-any-return]

    return keys
