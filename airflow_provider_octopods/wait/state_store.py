"""A wait's state kept in Airflow's task state store (3.3+), so that a reschedule-mode
poke (a new process each time) and a retried try do not poll settled messages again.

Settled statuses are appended in chunks, written once, that each stay under the size beyond
which Airflow warns at every write (``[state_store] max_value_storage_bytes``, 64 KB by
default) unless one status alone is larger; the schedule of the pending messages is one small
value, rewritten at each poke, in which the largest group of messages sharing a schedule is
not listed by id.
Keys are scoped to the task instance; they are deleted once the wait is over.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from airflow_provider_octopods.wait.watch import BatchWatch, Schedule

KEY = "octopods_wait"
SETTLED_KEY = "octopods_wait_settled_{}"
CHUNK = 150  # settled statuses per value at most: 150 x ~400 bytes
# Bytes of JSON per value at most: under Airflow's default limit, 65,535.
CHUNK_BYTES = 60_000


def fingerprint(message_ids: list[int], target: str) -> str:
    """The state belongs to one batch and target: a retry that renders other ids starts afresh."""
    return hashlib.sha256(json.dumps([target, message_ids]).encode()).hexdigest()


class WaitStateStore:
    """``restore`` a fresh watch from the store, ``save`` it after each poke, ``forget`` at the end."""

    def __init__(self, store: Any, message_ids: list[int], target: str) -> None:
        self.store = store
        self.fingerprint = fingerprint(message_ids, target)
        self.chunks = 0

    def restore(self, watch: BatchWatch, now: float) -> bool:
        """Put what an earlier poke or try learned into ``watch``; False when there was nothing."""
        state = self.store.get(KEY)
        if not isinstance(state, dict) or state.get("fingerprint") != self.fingerprint:
            return False
        self.chunks = int(state["chunks"])
        for i in range(self.chunks):
            for entry, fetched_at in self.store.get(SETTLED_KEY.format(i)) or []:
                watch.restore_settled(entry, fetched_at)
        # A group is [at, interval, last status, ids]; the largest has None for ids: the rest.
        listed = {m: group for group in state["schedule"] for m in group[3] or ()}
        rest = next((g for g in state["schedule"] if g[3] is None), None)
        for message_id in list(watch.pending):
            group = listed.get(message_id, rest)
            if group is not None:
                watch.reschedule(message_id, Schedule(*group[:3]), now)
        return True

    def save(self, watch: BatchWatch) -> None:
        rows = ([watch.met.get(m) or watch.failed[m], watch.fetched_at[m]] for m in watch.take_settled())
        for chunk in _chunks(rows):
            self.store.set(SETTLED_KEY.format(self.chunks), chunk)
            self.chunks += 1
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for message_id, s in watch.pending.items():
            groups[(s.at, s.interval, s.last)].append(message_id)
        largest = max(groups, key=lambda g: len(groups[g]), default=None)
        schedule = [[*g, None if g == largest else ids] for g, ids in groups.items()]
        self.store.set(KEY, {"fingerprint": self.fingerprint, "chunks": self.chunks, "schedule": schedule})

    def forget(self) -> None:
        for i in range(self.chunks):
            self.store.delete(SETTLED_KEY.format(i))
        self.store.delete(KEY)


def _chunks(rows: Iterable[list[Any]]) -> Iterator[list[list[Any]]]:
    """``rows`` in lists of at most ``CHUNK`` rows and ``CHUNK_BYTES`` of JSON (a larger row alone)."""
    chunk: list[list[Any]] = []
    size = 2  # the brackets of the list
    for row in rows:
        row_size = len(json.dumps(row).encode()) + 2  # and a comma and a space before it
        if chunk and (len(chunk) == CHUNK or size + row_size > CHUNK_BYTES):
            yield chunk
            chunk, size = [], 2
        chunk.append(row)
        size += row_size
    if chunk:
        yield chunk
