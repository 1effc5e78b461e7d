"""Daily delivery snapshot: the status of every message sent that day, as Parquet for BI,
and the day's delivery report.

``octopods_daily_snapshot`` reads the day's send log (a CSV or Parquet file with a
``message_id`` column, one per day), writes one partition per logical date:

    <OCTOPODS_SNAPSHOT_ROOT>/snapshot_date=YYYY-MM-DD/part-00000.parquet

and turns it into the delivery report (rates, latency percentiles, failure reasons, by hour of
send) as Parquet tables and a picture in ``<OCTOPODS_REPORT_ROOT>/report_date=YYYY-MM-DD/``.

The snapshot directory is an Asset; ``octopods_statuses_refresh`` is scheduled on it, the
shape a BI refresh takes, and reads the partition the snapshot just wrote.

    airflow dags test octopods_daily_snapshot 2026-11-26
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime
from typing import Any

from airflow.sdk import dag, task

from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator, asset_for

SEND_LOG = os.environ.get("OCTOPODS_SEND_LOG_ROOT", "file:///tmp/octopods/send_log") + "/{{ ds }}.csv"
SNAPSHOTS = os.environ.get("OCTOPODS_SNAPSHOT_ROOT", "file:///tmp/octopods/statuses")
REPORTS = os.environ.get("OCTOPODS_REPORT_ROOT", "/tmp/octopods/reports")  # noqa: S108 - a local folder
STATUSES = asset_for(SNAPSHOTS + "/snapshot_date={{ ds }}/")


@dag(schedule="@daily", start_date=datetime(2026, 11, 1), catchup=False, tags=["octopods", "example"])
def octopods_daily_snapshot() -> None:
    # --8<-- [start:operator]
    snapshot = MessageStatusToParquetOperator(
        task_id="snapshot_statuses",
        message_ids_path=SEND_LOG,
        output_path=SNAPSHOTS + "/snapshot_date={{ ds }}/",
        octopods_conn_id="octopods_default",  # paced at its requests_per_second budget
        outlets=[STATUSES],
    )
    # --8<-- [end:operator]

    # --8<-- [start:report]
    @task
    def report(summary: dict[str, Any], ds: str) -> dict[str, Any]:
        from airflow_provider_octopods.analytics import delivery_report, read_snapshot, write_report

        [path] = summary["output_paths"]
        result = delivery_report(read_snapshot(path.removeprefix("file://")))
        files = write_report(result, f"{REPORTS}/report_date={ds}", title=f"WhatsApp delivery, {ds}")
        print(f"delivery report for {ds}: {result.summary}")
        return {**result.summary, "files": files}

    report(snapshot.output)
    # --8<-- [end:report]


@dag(schedule=[STATUSES], tags=["octopods", "example"])
def octopods_statuses_refresh() -> None:
    @task
    def refresh(triggering_asset_events: Any = None) -> dict[str, int]:
        import pyarrow.parquet as pq

        counts: Counter[str] = Counter()
        for event in triggering_asset_events[STATUSES]:  # one per snapshot since the last refresh
            table = pq.read_table(event.extra["path"].removeprefix("file://"), columns=["status"])
            counts = Counter(str(s) for s in table.column("status").to_pylist())
            print(f"refreshed from {event.extra['path']}: {event.extra['rows']} rows, {dict(counts)}")
        return dict(counts)

    refresh()


octopods_daily_snapshot()
octopods_statuses_refresh()
