"""A run owns its partition: re-runs with other shard counts, killed tries and a change of
timestamp unit leave every root readable as one table, each id once. dag.test() against the
emulator; a real subprocess killed with SIGKILL mid-write; the root read back with pyarrow,
DuckDB and Polars."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from airflow_provider_octopods.emulator import Emulator
from tests.conftest import REPO
from tests.snapshots import (
    DAY,
    files_under,
    killed_when_done,
    partition,
    progress_root,
    read_back,
    read_root,
    rows_by_id,
    run_case,
    wait_for,
)


def parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_rerun_with_fewer_shards_leaves_no_stale_part(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(90, deliver_after=0)
    assert run_case("snapshot_mapped", messages=ids, shards=3).state == "success"
    folder = partition(root, "snapshot_mapped")
    assert parts(folder) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]

    dag_run = run_case("snapshot_mapped", messages=ids, shards=2)
    assert dag_run.state == "success"
    assert parts(folder) == ["part-00000.parquet", "part-00001.parquet"]
    expected = [("2026-11-26", 90, 90)]  # every id once: not 120 rows for 90 ids
    assert read_root(root / "snapshot_mapped") == dict.fromkeys(("pyarrow", "duckdb", "polars"), expected)

    assert run_case("snapshot_mapped", messages=ids, shards=4).state == "success"
    assert len(parts(folder)) == 4
    assert read_root(root / "snapshot_mapped")["polars"] == expected


def test_a_rerun_that_writes_nothing_removes_the_earlier_part(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(5, deliver_after=0)
    run_case("snapshot_no_empty_file", messages=ids)
    folder = partition(root, "snapshot_no_empty_file")
    assert parts(folder) == ["part-00000.parquet"]
    dag_run = run_case("snapshot_no_empty_file", messages=[])  # the day has no messages after all
    assert dag_run.state == "success"
    assert parts(folder) == []


def test_a_root_keeps_one_timestamp_unit(root: Path, emulator: Emulator) -> None:
    ids = emulator.add_messages(10, deliver_after=0)
    before = DAY - timedelta(days=1)
    assert run_case("snapshot_ids", before, messages=ids, case="statuses").state == "success"  # us
    emulator.reset_requests()

    dag_run = run_case("snapshot_ms_tolerant", messages=ids, case="statuses")  # ms, the next day
    assert dag_run.state == "failed"
    assert emulator.requests() == []  # refused before any request
    assert not partition(root, "statuses").exists()
    expected = [("2026-11-25", 10, 10)]
    assert read_root(root / "statuses") == dict.fromkeys(("pyarrow", "duckdb", "polars"), expected)

    assert run_case("snapshot_ids", messages=ids, case="statuses").state == "success"  # the same unit


def _a_piece(progress: Path) -> Path | None:
    """A piece the snapshot has committed in its progress area, beside the root."""
    return next(iter(files_under(progress, "piece-*.parquet")), None)


def test_a_snapshot_killed_mid_run_leaves_the_root_as_it_was_and_readers_keep_reading(
    root: Path, emulator: Emulator
) -> None:
    earlier = emulator.add_messages(50, deliver_after=0)
    ids = [*earlier, *emulator.add_messages(9_950, deliver_after=0)]
    table = root / "snapshot_row_groups"
    folder = partition(root, "snapshot_row_groups")
    inputs = root / "inputs"
    inputs.mkdir()
    (inputs / "earlier.csv").write_text("message_id\n" + "".join(f"{m}\n" for m in earlier))
    (inputs / "day.csv").write_text("message_id\n" + "".join(f"{m}\n" for m in ids))
    # Another day of the root, and an earlier run of the day the killed run re-writes.
    day_before = run_case("snapshot_row_groups", DAY - timedelta(days=1), path=f"file://{inputs}/earlier.csv")
    assert day_before.state == "success"
    assert run_case("snapshot_row_groups", path=f"file://{inputs}/earlier.csv").state == "success"
    before = [("2026-11-25", 50, 50), ("2026-11-26", 50, 50)]

    with killed_when_done("snapshot_row_groups", emulator, path=f"file://{inputs}/day.csv") as killed:
        wait_for("a piece committed", lambda: _a_piece(progress_root(root)), killed, 240)
        emulator.set_latency(5.0)  # the rest of its requests now crawl: it is still fetching below
        assert parts(folder) == ["part-00000.parquet"]  # nothing of the run is under the root...
        during = read_root(table)  # ...so the readers read the root while it runs
        assert killed.poll() is None
    assert during == dict.fromkeys(("pyarrow", "duckdb", "polars"), before)
    assert parts(folder) == ["part-00000.parquet"]  # the killed try left nothing there
    assert read_root(table)["polars"] == before

    dag_run = run_case("snapshot_row_groups", path=f"file://{inputs}/day.csv")
    assert dag_run.state == "success"
    assert parts(folder) == ["part-00000.parquet"]
    after = [("2026-11-25", 50, 50), ("2026-11-26", 10_000, 10_000)]
    assert read_root(table) == dict.fromkeys(("pyarrow", "duckdb", "polars"), after)


_KILLED_WRITER = """
import sys
from datetime import UTC, datetime
from airflow.sdk import ObjectStoragePath
from airflow_provider_octopods.parquet import staging
from airflow_provider_octopods.parquet.schema import RowBuffer
from airflow_provider_octopods.parquet.writer import SnapshotWriter
from airflow_provider_octopods.status import MessageStatus

staging._open_unnamed = lambda folder: None  # a filesystem without unnamed files (NFS, macOS)
buffer = RowBuffer()
with SnapshotWriter(ObjectStoragePath(sys.argv[1]), buffer.schema, row_group_rows=100) as writer:
    for i in range(500):
        buffer.add_status(MessageStatus(message_id=i + 1, status="sent"), datetime.now(UTC))
        writer.write(buffer.take())
    print("row groups written", flush=True)
    sys.stdin.read()  # holds the half-written file open until killed
"""


def test_a_later_try_removes_what_a_killed_try_left(root: Path, emulator: Emulator) -> None:
    """Where unnamed files are not available, a killed try leaves its named temporary file:
    the part's next try removes it."""
    folder = partition(root, "snapshot_ids")
    writer = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, f"file://{folder}/part-00000.parquet"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == b"row groups written\n"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    [left] = folder.iterdir()
    assert left.name.startswith(".part-00000.parquet.tmp-") and left.stat().st_size > 4

    ids = emulator.add_messages(20, deliver_after=0)
    assert run_case("snapshot_ids", messages=ids).state == "success"
    assert parts(folder) == ["part-00000.parquet"]
    assert sorted(rows_by_id(read_back(folder))) == ids
