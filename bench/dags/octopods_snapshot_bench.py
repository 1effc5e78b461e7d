"""The snapshot benchmark's DAG (bench/snapshot_throughput.py runs it with ``dag.test()``): the
real operator, its CPU and time measured inside the task around ``execute``. Set by the bench:
OCTOPODS_BENCH_IDS (a Parquet file of ids), OCTOPODS_BENCH_OUT, OCTOPODS_BENCH_RATE."""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator


class MeasuredSnapshot(MessageStatusToParquetOperator):
    def execute(self, context: Any) -> dict[str, Any]:
        started, cpu = time.perf_counter(), time.process_time()
        summary = super().execute(context)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        figures = {
            "rate": summary["rows"] / seconds,
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cpu_10k": cpu / max(summary["rows"], 1) * 10_000,
        }
        Path(os.environ["OCTOPODS_BENCH_OUT"], "figures.json").write_text(
            json.dumps({**figures, "summary": summary})
        )
        return summary


with DAG("octopods_snapshot_bench", schedule=None) as octopods_snapshot_bench:
    MeasuredSnapshot(
        task_id="snapshot",
        message_ids_path=os.environ.get("OCTOPODS_BENCH_IDS", "ids.parquet"),
        output_path=f"file://{os.environ.get('OCTOPODS_BENCH_OUT', '/tmp')}/statuses/part",
        max_requests_per_second=float(os.environ.get("OCTOPODS_BENCH_RATE", "5")),
        max_concurrency=256,
    )
