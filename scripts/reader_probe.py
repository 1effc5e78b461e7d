"""What breaks a reader of a snapshot root: `.venv/bin/python scripts/reader_probe.py`.

Roots read as BI users read them: DuckDB ``read_parquet('<root>/*/*', hive_partitioning=true)``,
Polars ``scan_parquet(<root>)``, pyarrow ``read_table(<root>)``. First, for each place a writer
could keep a part until it is whole, a root with one whole partition and a truncated Parquet
file in that place; then roots whose days have different timestamp units.
docs/operator.md ("Exact output") quotes the results.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from airflow_provider_octopods.parquet.schema import RowBuffer, snapshot_schema
from airflow_provider_octopods.status import MessageStatus

PLACES = {
    "<partition>/.part-00000.parquet.tmp-<hex>": "snapshot_date=2026-11-26/.part-00000.parquet.tmp-ab",
    "<partition>/_part-00000.parquet.tmp-<hex>": "snapshot_date=2026-11-26/_part-00000.parquet.tmp-ab",
    "<partition>/.staging/<file>": "snapshot_date=2026-11-26/.staging/part-00000.parquet",
    "<partition>/_staging/<file>": "snapshot_date=2026-11-26/_staging/part-00000.parquet",
    "<root>/.staging/<file>": ".staging/part-00000.parquet",
    "<root>/.staging/<partition>/<file>": ".staging/snapshot_date=2026-11-26/part-00000.parquet",
    "an unnamed file (O_TMPFILE)": None,
}


def _outcome(read: Callable[[], int]) -> str:
    try:
        return f"reads ({read()} rows)"
    except Exception as exc:
        return f"fails ({type(exc).__name__})"


def _readers(root: Path) -> str:
    """Every column of every row: a count alone reads no column and misses type conflicts."""
    duck = _outcome(
        lambda: len(
            duckdb.sql(f"select * from read_parquet('{root}/*/*', hive_partitioning = true)").fetchall()
        )
    )
    polars = _outcome(lambda: pl.scan_parquet(root).collect().height)
    arrow = _outcome(lambda: pq.read_table(root).num_rows)
    return f"{duck} | {polars} | {arrow}"


def mixed_units(scratch: Path) -> None:
    print("\n| days of the root | DuckDB | Polars | pyarrow |\n| --- | --- | --- | --- |")
    at = datetime(2026, 11, 26, 10, 0, 0, 123456, tzinfo=UTC)  # sub-millisecond digits
    rows = RowBuffer("us")
    rows.add_status(MessageStatus(message_id=1, status="read", sent_at=at, read_at=at), at)
    day = pa.Table.from_batches([rows.take()])
    for first, second in (("us", "ms"), ("ms", "us")):
        root = scratch / f"{first}-{second}"
        for date, unit in (("2026-11-25", first), ("2026-11-26", second)):
            (root / f"snapshot_date={date}").mkdir(parents=True)
            table = day.cast(snapshot_schema(unit), safe=False)
            pq.write_table(table, root / f"snapshot_date={date}" / "part-00000.parquet")
        print(f"| {first}, then {second} | {_readers(root)} |")


def main() -> None:
    print(f"DuckDB {duckdb.__version__}, Polars {pl.__version__}, pyarrow {pa.__version__}\n")
    print("| where the half-written file is | DuckDB | Polars | pyarrow |\n| --- | --- | --- | --- |")
    whole = pa.table({"message_id": pa.array([1, 2], pa.int64())})
    with tempfile.TemporaryDirectory() as scratch:
        for n, (label, place) in enumerate(PLACES.items()):
            root = Path(scratch) / str(n)
            (root / "snapshot_date=2026-11-26").mkdir(parents=True)
            pq.write_table(whole, root / "snapshot_date=2026-11-26" / "part-00000.parquet")
            half = (root / "snapshot_date=2026-11-26" / "part-00000.parquet").read_bytes()[:100]
            unnamed = None
            if place is None:
                unnamed = os.open(root / "snapshot_date=2026-11-26", os.O_TMPFILE | os.O_WRONLY, 0o666)
                os.write(unnamed, half)
            else:
                (root / place).parent.mkdir(parents=True, exist_ok=True)
                (root / place).write_bytes(half)
            print(f"| {label} | {_readers(root)} |")
            if unnamed is not None:
                os.close(unnamed)
        mixed_units(Path(scratch) / "units")


if __name__ == "__main__":
    main()
