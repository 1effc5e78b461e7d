"""The snapshot's parts on their own: input checks, the writer's row groups and publishing,
and the request gate's slow-down after a 429."""

from __future__ import annotations

import asyncio
import gc
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.clients.pacing import MIN_SHARE, RECOVERY_SECONDS, RequestGate
from airflow_provider_octopods.errors import OctopodsServerError
from airflow_provider_octopods.parquet import staging
from airflow_provider_octopods.parquet.schema import RowBuffer, snapshot_schema
from airflow_provider_octopods.parquet.writer import SnapshotWriter
from airflow_provider_octopods.snapshot import inputs
from airflow_provider_octopods.snapshot.fetch import heap_frozen
from airflow_provider_octopods.status import MessageStatus

BASE = "https://app.octopods.io"


def test_collect_checks_dedupes_and_reports() -> None:
    refs: list[object] = [5, 3, 5, "3", f"{BASE}/api/v1/whatsapp/messages/7", "abc", -1, True, None, 2**63]
    got = inputs.collect(refs, BASE)
    assert got.ids.tolist() == [3, 5, 7]
    assert (got.received, got.invalid, got.duplicates) == (10, 5, 2)
    assert got.invalid_samples == ["'abc'", "-1", "True", "None", str(2**63)]


def test_ids_of_thousands_of_digits_in_files_are_invalid_inputs() -> None:
    huge = "9" * 5000
    csv = io.BytesIO(f"message_id\n12\n{huge}\n{'0' * 5000}13\n".encode())
    parquet = io.BytesIO()
    pq.write_table(pa.table({"message_id": ["12", huge, "13"]}), parquet)
    parquet.seek(0)
    for stream, name in ((csv, "sent.csv"), (parquet, "sent.parquet")):
        got = inputs.collect(inputs.read_refs(stream, name), BASE)
        assert got.ids.tolist() == [12, 13]
        assert got.invalid == 1
        assert got.invalid_samples[0].startswith("'9999")
        assert len(got.invalid_samples[0]) < 110


def test_a_rendered_list_with_a_number_of_thousands_of_digits_keeps_the_other_ids() -> None:
    from airflow_provider_octopods.templated import as_list

    got = inputs.collect(as_list("[12, " + "9" * 5000 + ", 13]", "message_ids"), BASE)
    assert got.ids.tolist() == [12, 13]
    assert got.invalid == 1


def test_read_refs_from_csv_and_parquet() -> None:
    csv = io.BytesIO(b"phone,message_id\n+1,12\n+2, 13\n+3,https://x.example/1\n")
    assert list(inputs.read_refs(csv, "sent.csv")) == ["12", " 13", "https://x.example/1"]
    buffer = io.BytesIO()
    pq.write_table(pa.table({"message_id": [1, 2, None]}), buffer)
    buffer.seek(0)
    assert list(inputs.read_refs(buffer, "sent.parquet")) == [1, 2, None]
    other = io.BytesIO()
    pq.write_table(pa.table({"id": [1]}), other)
    other.seek(0)
    with pytest.raises(ValueError, match="no 'message_id' column"):
        list(inputs.read_refs(other, "other.parquet"))


def _rows(count: int, unit: str = "us") -> pa.RecordBatch:
    buffer = RowBuffer(unit)
    at = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)
    for i in range(count):
        buffer.add_status(MessageStatus(message_id=i + 1, status="delivered", sent_at=at), at)
    buffer.add_error(count + 1, OctopodsServerError("down", http_status=503), at)
    return buffer.take()


def test_row_buffer_keeps_the_fixed_schema() -> None:
    batch = _rows(2, unit="ms")
    assert batch.schema.equals(snapshot_schema("ms"))
    rows = batch.to_pylist()
    assert rows[0]["sent_at"] == datetime(2026, 11, 26, 10, 0, 0, 123000, tzinfo=UTC)  # truncated to ms
    assert rows[2]["status"] is None and rows[2]["error_code"] == -1 and "down" in rows[2]["error"]


@pytest.fixture(params=["unnamed", "named"])
def staging_mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways a part is staged: an unnamed file (Linux), a named temporary file elsewhere."""
    if request.param == "named":
        monkeypatch.setattr(staging, "_open_unnamed", lambda folder: None)
    return str(request.param)


def test_a_part_is_invisible_until_whole(tmp_path: Path, staging_mode: str) -> None:
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{tmp_path}/part-00000.parquet")
    with SnapshotWriter(target, snapshot_schema(), row_group_rows=10) as writer:
        writer.write(_rows(29))
        listed = [p.name for p in tmp_path.iterdir()]
    if staging_mode == "unnamed":
        assert listed == []  # nothing any reader could list, half-written
    else:
        [temp] = listed
        assert temp.startswith(".part-00000.parquet.tmp-")
    assert [p.name for p in tmp_path.iterdir()] == ["part-00000.parquet"]
    assert pq.read_table(tmp_path / "part-00000.parquet").num_rows == 30


def test_writer_writes_row_groups_of_the_set_size(tmp_path: Path, staging_mode: str) -> None:
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{tmp_path}/part-00000.parquet")
    with SnapshotWriter(target, snapshot_schema(), row_group_rows=100) as writer:
        for _ in range(9):
            writer.write(_rows(29))  # 30 rows a batch
    meta = pq.ParquetFile(tmp_path / "part-00000.parquet").metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [100, 100, 70]
    assert meta.row_group(0).column(0).compression == "ZSTD"
    assert [p.name for p in tmp_path.iterdir()] == ["part-00000.parquet"]


def test_writer_publishes_nothing_on_failure(tmp_path: Path, staging_mode: str) -> None:
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(f"file://{tmp_path}/part-00000.parquet")

    def write_then_fail() -> None:
        with SnapshotWriter(target, snapshot_schema()) as writer:
            writer.write(_rows(10))
            raise RuntimeError("auth error mid-way")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert list(tmp_path.iterdir()) == []


@dataclass
class MemoryTarget:
    """An object store: publishing must be one put of a whole file."""

    path: str
    protocol: str = "memory"

    @property
    def fs(self) -> Any:
        return fsspec.filesystem("memory")


def test_writer_publishes_to_an_object_store_in_one_put(
    monkeypatch: pytest.MonkeyPatch, staging_mode: str
) -> None:
    fs = fsspec.filesystem("memory")
    puts: list[str] = []
    monkeypatch.setattr(
        type(fs),
        "put_file",
        lambda self, lpath, rpath, **kw: (
            puts.append(rpath) or self.pipe_file(rpath, Path(lpath).read_bytes())
        ),
    )
    target = MemoryTarget("/bucket/statuses/part-00000.parquet")
    with SnapshotWriter(target, snapshot_schema()) as writer:
        writer.write(_rows(5))
    assert puts == ["/bucket/statuses/part-00000.parquet"]
    assert pq.read_table(io.BytesIO(fs.cat_file(target.path))).num_rows == 6


def test_gate_halves_after_a_429_and_recovers() -> None:
    async def main() -> list[float]:
        gate = RequestGate(100.0)
        now = asyncio.get_running_loop().time()
        gate.pause(0.0)
        shares = [gate.share(now)]
        gate.pause(0.0)
        shares.append(gate.share(now))
        for _ in range(10):
            gate.pause(0.0)
        shares.append(gate.share(now))
        shares.append(gate.share(now + RECOVERY_SECONDS / 2))
        shares.append(gate.share(now + RECOVERY_SECONDS))
        return shares

    half, quarter, floor, mid, whole = asyncio.run(main())
    assert half == pytest.approx(0.5, abs=0.01)
    assert quarter == pytest.approx(0.25, abs=0.01)
    assert floor == pytest.approx(MIN_SHARE, abs=0.01)
    assert mid == pytest.approx(MIN_SHARE + 0.5, abs=0.01)
    assert whole == 1.0


def test_gate_spaces_requests_at_the_rate() -> None:
    async def main() -> float:
        gate = RequestGate(200.0)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await asyncio.gather(*(gate.enter() for _ in range(41)))
        return loop.time() - start

    assert asyncio.run(main()) >= 40 / 200 - 0.002


def _in_a_generation(obj: object) -> bool:
    """Whether the collector scans ``obj`` (frozen objects are in no generation)."""
    return any(o is obj for o in gc.get_objects())


def test_a_fetch_keeps_what_lived_before_it_out_of_collections_and_restores_the_collector() -> None:
    assert gc.get_freeze_count() == 0
    before: list[object] = []
    with heap_frozen():
        during: list[object] = []
        assert not _in_a_generation(before)
        assert _in_a_generation(during)
    assert gc.get_freeze_count() == 0
    assert _in_a_generation(before)


def test_a_process_that_froze_objects_itself_keeps_them_frozen() -> None:
    frozen_by_the_process: list[object] = []
    gc.freeze()
    try:
        with heap_frozen():
            pass
        assert not _in_a_generation(frozen_by_the_process)
    finally:
        gc.unfreeze()
