"""A rolling snapshot: every day, the status of every message sent in the last seven days.

Late reads keep coming in for days, so teams snapshot a rolling window; most of those messages
have not changed since yesterday. With ``incremental=True`` each run starts from the last
snapshot its output Asset published (Airflow 3.3+ keeps where it is in the Asset's state
store): ``read`` and ``failed`` rows are carried forward, and a ``sent`` or ``delivered`` row is
fetched again only when the refresh policy makes it due, which it does less and less often as
the message ages. On Airflow 3.2 pass ``previous_snapshot_path`` instead (commented below).

The window's ids come from the send log, one CSV per day with a ``message_id`` column:

    <OCTOPODS_SEND_LOG_ROOT>/YYYY-MM-DD.csv  ->  <OCTOPODS_ROLLING_ROOT>/snapshot_date=YYYY-MM-DD/

    airflow dags test octopods_rolling_snapshot 2026-11-26
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import ObjectStoragePath, dag, task

from airflow_provider_octopods.operators.message_status import MessageStatusToParquetOperator
from airflow_provider_octopods.refresh import LearnedRefresh, RefreshTarget

SEND_LOG = os.environ.get("OCTOPODS_SEND_LOG_ROOT", "file:///tmp/octopods/send_log")
ROLLING = os.environ.get("OCTOPODS_ROLLING_ROOT", "file:///tmp/octopods/rolling")
WINDOW_DAYS = 7


@dag(schedule="@daily", start_date=datetime(2026, 11, 1), catchup=False, tags=["octopods", "example"])
def octopods_rolling_snapshot() -> None:
    @task
    def window_ids(ds: str) -> list[int]:
        """The ids sent in the last WINDOW_DAYS days (a day with no log adds nothing)."""
        import pyarrow.csv as pa_csv

        day = datetime.fromisoformat(ds)
        ids: list[int] = []
        for back in range(WINDOW_DAYS):
            log = ObjectStoragePath(f"{SEND_LOG}/{(day - timedelta(days=back)).date()}.csv")
            if log.exists():
                with log.open("rb") as stream:  # type: ignore[no-untyped-call]
                    ids += pa_csv.read_csv(stream).column("message_id").to_pylist()
        return ids

    # --8<-- [start:rolling]
    MessageStatusToParquetOperator(
        task_id="snapshot_window",
        message_ids=window_ids(),
        output_path=ROLLING + "/snapshot_date={{ ds }}/",
        incremental=True,  # Airflow 3.3+: the last snapshot is found in the Asset's state store
        # previous_snapshot_path=ROLLING + "/snapshot_date={{ prev_ds }}/",  # Airflow 3.2
        # The default: learned from the previous snapshot's rows, to 99 % of rows exact and 99 %
        # of reads seen within 24 hours (docs/refresh.md).
        refresh_policy=LearnedRefresh(RefreshTarget(rows_exact=0.99)),
        full_refresh=False,  # True: fetch every message, whatever the last snapshot holds
    )
    # --8<-- [end:rolling]


octopods_rolling_snapshot()
