"""One Iceberg table of every message's current status, kept up to date daily.

Instead of a Parquet copy of every status each day, one table holds one row per message id:
each run adds the day's new ids from the send log and fetches again only the rows the refresh
policy makes due (messages not yet final), in one Iceberg snapshot. Spark, Trino, Athena,
DuckDB and Polars read the same table, also as of any earlier day (time travel). Then the
upkeep compacts the partitions the daily commits crowd and expires snapshots older than the
history kept.

The send log is one CSV per day with a ``message_id`` column; the catalog is the Apache
Iceberg provider's ``iceberg_default`` connection (SQL on SQLite or PostgreSQL, REST, Glue;
see docs/iceberg.md):

    <OCTOPODS_SEND_LOG_ROOT>/YYYY-MM-DD.csv  ->  table octopods.message_statuses

    airflow dags test octopods_iceberg_table 2026-11-26
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import dag

from airflow_provider_octopods.operators.message_status_iceberg import (
    IcebergTableUpkeepOperator,
    MessageStatusToIcebergOperator,
)
from airflow_provider_octopods.refresh import LearnedRefresh

SEND_LOG = os.environ.get("OCTOPODS_SEND_LOG_ROOT", "file:///tmp/octopods/send_log")
TABLE = "octopods.message_statuses"


@dag(schedule="@daily", start_date=datetime(2026, 11, 1), catchup=False, tags=["octopods", "example"])
def octopods_iceberg_table() -> None:
    # --8<-- [start:table]
    statuses = MessageStatusToIcebergOperator(
        task_id="update_statuses",
        table=TABLE,  # namespace.name, created on first use
        message_ids_path=SEND_LOG + "/{{ ds }}.csv",  # the day's new ids
        iceberg_conn_id="iceberg_default",  # the catalog (SQL, REST, Glue, ...)
        aws_conn_id=None,  # or an Amazon connection holding the warehouse's S3 keys
        refresh_policy=LearnedRefresh(),  # the default: learned from the table's rows
    )
    upkeep = IcebergTableUpkeepOperator(
        task_id="upkeep",
        table=TABLE,
        iceberg_conn_id="iceberg_default",
        keep_history=timedelta(days=30),  # time travel reaches this far back
        min_files_to_compact=4,  # a partition's 4+ files of final rows are rewritten into one
    )
    statuses >> upkeep
    # --8<-- [end:table]


octopods_iceberg_table()
