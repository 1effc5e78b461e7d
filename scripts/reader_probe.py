"""Which half-written files break a reader of a snapshot root: `.venv/bin/python scripts/reader_probe.py`.

For each place a writer could keep a part until it is whole, a root with one whole partition
and a truncated Parquet file in that place, read as BI users read a root: DuckDB
``read_parquet('<root>/*/*', hive_partitioning=true)``, Polars ``scan_parquet(<root>)``,
pyarrow ``read_table(<root>)``. docs/operator.md ("Exact output") quotes the result.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

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
            duck = _outcome(
                lambda root=root: duckdb.sql(
                    f"select count(*) from read_parquet('{root}/*/*', hive_partitioning = true)"
                ).fetchall()[0][0]
            )
            polars = _outcome(lambda root=root: pl.scan_parquet(root).select(pl.len()).collect().item())
            arrow = _outcome(lambda root=root: pq.read_table(root).num_rows)
            print(f"| {label} | {duck} | {polars} | {arrow} |")
            if unnamed is not None:
                os.close(unnamed)


if __name__ == "__main__":
    main()
