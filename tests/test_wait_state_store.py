"""wait.state_store: a wait's state in the task state store (JSON values, as Airflow keeps
them): restored into a fresh watch as it was saved, settled statuses appended in chunks, kept
for one batch and target only, deleted at the end."""

from __future__ import annotations

from airflow_provider_octopods.errors import OctopodsRequestError, OctopodsServerError
from airflow_provider_octopods.status import MessageStatus
from airflow_provider_octopods.wait.policy import PollPolicy
from airflow_provider_octopods.wait.state_store import CHUNK, KEY, SETTLED_KEY, WaitStateStore
from airflow_provider_octopods.wait.watch import BatchWatch, Schedule
from tests.wait_cases import _status
from tests.wait_modes import JsonStore

TARGET = "delivered"


def watch_of(ids: list[int], now: float = 0.0) -> BatchWatch:
    return BatchWatch(ids, TARGET, PollPolicy(), started_at=0.0, now=now)


def chunk_keys(store: JsonStore) -> list[str]:
    return sorted(key for key in store.values if key != KEY)


def restored(store: JsonStore, ids: list[int], target: str = TARGET, now: float = 30.0) -> BatchWatch:
    """A fresh watch, as a later poke or try makes it, with what ``store`` kept put back."""
    watch = BatchWatch(ids, target, PollPolicy(), started_at=0.0, now=now)
    WaitStateStore(store, ids, target).restore(watch, now)
    return watch


def test_a_restored_watch_has_the_saved_schedules_and_settled_statuses() -> None:
    ids = [1, 2, 3, 4, 5, 6, 7]
    watch = watch_of(ids)
    watch.record(_status(1, "delivered"), 5.0)
    watch.record(_status(2, "failed", "blocked"), 5.0)
    watch.record(_status(3, "sent"), 5.0)
    watch.record(_status(4, "sent"), 9.0)
    watch.record_error(5, OctopodsServerError("HTTP 503", http_status=503), 5.0)
    watch.record_error(6, OctopodsRequestError("not found", http_status=400), 6.0)
    store = JsonStore()
    WaitStateStore(store, ids, TARGET).save(watch)

    fresh = restored(store, ids)
    assert fresh.pending == watch.pending
    assert fresh.pending[3] == Schedule(watch.pending[3].at, watch.pending[3].interval, "sent")
    assert fresh.pending[7].last is None  # never polled: still on the first schedule
    assert (fresh.met, fresh.failed, fresh.fetched_at) == (watch.met, watch.failed, watch.fetched_at)
    assert sorted(fresh.failed) == [2, 6]  # settled by a refused query: failed, not met


def test_the_largest_group_sharing_a_schedule_is_not_listed_by_id() -> None:
    ids = list(range(1, 101))
    watch = watch_of(ids)
    watch.record(_status(1, "sent"), 5.0)
    store = JsonStore()
    WaitStateStore(store, ids, TARGET).save(watch)
    groups = store.get(KEY)["schedule"]
    assert sorted(group[3] or [] for group in groups) == [[], [1]]
    assert restored(store, ids).pending == watch.pending


def test_settled_statuses_are_appended_in_chunks_written_once() -> None:
    ids = list(range(1, 2 * CHUNK + 3))
    watch = watch_of(ids)
    for message_id in ids[:-1]:
        watch.record(_status(message_id, "delivered"), 5.0)
    store = JsonStore()
    state = WaitStateStore(store, ids, TARGET)
    state.save(watch)
    first = chunk_keys(store)
    assert first == [SETTLED_KEY.format(i) for i in range(3)]
    assert [len(store.get(key)) for key in first] == [CHUNK, CHUNK, 1]
    written = {key: store.values[key] for key in first}

    state.save(watch)  # nothing settled since: no chunk is written again
    watch.record(_status(ids[-1], "delivered"), 10.0)
    state.save(watch)
    assert chunk_keys(store) == [SETTLED_KEY.format(i) for i in range(4)]
    assert {key: store.values[key] for key in first} == written
    assert restored(store, ids).met == watch.met


def test_a_restored_watch_appends_after_the_chunks_it_read() -> None:
    ids = [1, 2, 3]
    watch = watch_of(ids)
    watch.record(_status(1, "delivered"), 5.0)
    store = JsonStore()
    WaitStateStore(store, ids, TARGET).save(watch)

    fresh = watch_of(ids, now=30.0)
    later = WaitStateStore(store, ids, TARGET)
    assert later.restore(fresh, 30.0)
    fresh.record(_status(2, "delivered"), 31.0)
    later.save(fresh)
    assert chunk_keys(store) == [SETTLED_KEY.format(0), SETTLED_KEY.format(1)]
    assert [entry["message_id"] for entry, _ in store.get(SETTLED_KEY.format(1))] == [2]


def test_another_batch_or_target_restores_nothing() -> None:
    ids = [1, 2, 3]
    watch = watch_of(ids)
    watch.record(_status(1, "delivered"), 5.0)
    watch.record(_status(2, "sent"), 5.0)
    store = JsonStore()
    WaitStateStore(store, ids, TARGET).save(watch)

    for other_ids, target in (([1, 2, 4], TARGET), (ids, "read")):
        fresh = BatchWatch(other_ids, target, PollPolicy(), started_at=0.0, now=30.0)
        untouched = dict(fresh.pending)
        assert not WaitStateStore(store, other_ids, target).restore(fresh, 30.0)
        assert (fresh.pending, fresh.met, fresh.failed) == (untouched, {}, {})
    assert restored(store, ids).met == watch.met  # and the batch's own state is still there


def test_forget_deletes_every_key() -> None:
    ids = list(range(1, CHUNK + 3))
    watch = watch_of(ids)
    for message_id in ids[:-1]:
        watch.record(_status(message_id, "delivered"), 5.0)
    store = JsonStore()
    WaitStateStore(store, ids, TARGET).save(watch)
    assert len(store.values) == 3  # two chunks and the schedule

    later = WaitStateStore(store, ids, TARGET)  # the poke that sees the wait end
    later.restore(watch_of(ids, now=30.0), 30.0)
    later.forget()
    assert store.values == {}


def test_a_chunk_of_long_failure_reasons_stays_under_airflows_value_limit() -> None:
    """150 failed statuses with every field filled and a long reason are over 64 KB together:
    Airflow would warn at every write of such a value."""
    ids = list(range(1, CHUNK + 1))
    watch = watch_of(ids)
    for message_id in ids:
        status = MessageStatus(
            message_id=message_id,
            status="failed",
            phone_number="+5511999999999",
            channel_message_id="wamid." + "x" * 60,
            failure_reason="Message undeliverable: " + "the recipient is not on WhatsApp. " * 12,
            request_id="req-" + "f" * 32,
        )
        watch.record(status, 5.0)
    store = JsonStore()
    WaitStateStore(store, ids, TARGET).save(watch)
    sizes = [len(store.values[key].encode()) for key in chunk_keys(store)]
    assert len(sizes) > 1 and max(sizes) <= 65_535
    assert restored(store, ids).failed == watch.failed
