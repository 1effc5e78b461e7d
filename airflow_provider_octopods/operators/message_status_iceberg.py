"""MessageStatusToIcebergOperator: one Iceberg table of every message's current status; and
IcebergTableUpkeepOperator, which keeps it healthy.

The run is three steps, ``snapshot.table_plan``, ``snapshot.fetch`` (the Parquet snapshot's)
and ``snapshot.table_publish``; the table is opened through its catalog first
(``iceberg.catalog``). Here is what only Airflow has: the connections, the task instance, the
Asset, metrics and lineage.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, BaseOperator, ObjectStoragePath

from airflow_provider_octopods.delivery_view.links import DeliveryReportLink, report_url
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.iceberg import upkeep
from airflow_provider_octopods.iceberg.catalog import ASSET_SCHEME, TableRef, open_table
from airflow_provider_octopods.iceberg.merge import ATTEMPTS
from airflow_provider_octopods.operators import last_snapshot
from airflow_provider_octopods.operators.message_status import SNAPSHOT_MAX_CONCURRENCY, StopsFetch, task_slot
from airflow_provider_octopods.refresh import RefreshPolicy
from airflow_provider_octopods.reporting.tally import emit_count
from airflow_provider_octopods.snapshot import checkpoint
from airflow_provider_octopods.snapshot.fetch import fetch_snapshot
from airflow_provider_octopods.snapshot.table_plan import TableJob, TableOptions, plan_table
from airflow_provider_octopods.snapshot.table_publish import TableRunResult, TaskTry, publish_to_table
from airflow_provider_octopods.templated import as_list


def table_asset(iceberg_conn_id: str, table: str) -> Asset:
    """The table's Asset: ``iceberg://<catalog connection>/<namespace>/<table>``; its
    OpenLineage dataset is ``iceberg://<catalog connection>`` and ``<namespace>.<table>``."""
    ref = TableRef.parse(table)
    return Asset(uri=ref.asset_uri(iceberg_conn_id), name=f"octopods_message_statuses:{ref}")


class MessageStatusToIcebergOperator(StopsFetch, BaseOperator):
    """Keep one Iceberg table of every message's current status: one row per message id.

    Each run inserts the given ids the table does not hold, and fetches again the rows the
    refresh policy makes due (any message not yet final and within its horizon, whether given
    or not), in one Iceberg snapshot per task try; see docs/iceberg.md.

    :param table: ``namespace.name``, created on first use (an existing table of another
        schema is refused before any request).
    :param message_ids: new ids or ``message_status_url``s (templated; an XCom list works too).
    :param message_ids_path: instead, a Parquet or CSV file with a ``message_id`` column (as
        the Parquet operator's). With neither, the run only refreshes the table.
    :param iceberg_conn_id: the Apache Iceberg provider's connection of the catalog.
    :param aws_conn_id: an Amazon provider connection whose keys (and ``endpoint_url``) the
        warehouse's S3 file IO uses; by default the catalog's own properties.
    :param max_requests_per_second: request budget (default: the connection's), split evenly
        between the mapped instances of a dynamically mapped task.
    :param max_concurrency: requests in flight at most.
    :param strict: fail before any request if an input is not a message id at all.
    :param max_error_ratio: fail (after committing) when more than this share of the fetched
        rows are errors or of the inputs are not message ids.
    :param refresh_policy: when a row of the table is fetched again: ``LearnedRefresh()`` by
        default (learned from the table's rows), or ``FixedRefresh(...)``. See docs/refresh.md.
    :param full_refresh: fetch every row of the table again, whatever the policy says.
    :param progress_path: where fetched rows wait in pieces until the commit, so that a retry
        after a killed worker fetches only what is missing. Default: beside the table's folder
        in the warehouse, ``.<table>.octopods-progress/``.
    :param checkpoint_rows: commit a piece every this many fetched rows...
    :param checkpoint_seconds: ...or this many seconds, whichever comes first.
    :param commit_attempts: commits tried when other writers commit first.

    The table's Asset is the first Asset in ``outlets`` (by default ``table_asset``): its event
    names the days whose partitions changed (partition keys, Airflow 3.3+) and the snapshot.

    Returns (XCom) a summary: the snapshot, rows inserted and replaced, files and bytes added,
    rows by status, error rows, requests, seconds.
    """

    operator_extra_links = (DeliveryReportLink(),)
    template_fields: Sequence[str] = ("message_ids", "message_ids_path")
    ui_color = "#25d366"

    def __init__(
        self,
        *,
        table: str,
        message_ids: Sequence[int | str] | str | None = None,
        message_ids_path: str | None = None,
        iceberg_conn_id: str = "iceberg_default",
        aws_conn_id: str | None = None,
        octopods_conn_id: str = OctopodsHook.default_conn_name,
        max_requests_per_second: float | None = None,
        max_concurrency: int = SNAPSHOT_MAX_CONCURRENCY,
        strict: bool = False,
        max_error_ratio: float = 0.01,
        refresh_policy: RefreshPolicy | None = None,
        full_refresh: bool = False,
        progress_path: str | None = None,
        checkpoint_rows: int = checkpoint.DEFAULT_CHECKPOINT_ROWS,
        checkpoint_seconds: float = checkpoint.DEFAULT_CHECKPOINT_SECONDS,
        commit_attempts: int = ATTEMPTS,
        **kwargs: Any,
    ) -> None:
        if message_ids is not None and message_ids_path is not None:
            raise ValueError("Pass at most one of message_ids and message_ids_path")
        kwargs.setdefault("outlets", [table_asset(iceberg_conn_id, table)])
        super().__init__(**kwargs)
        self.table = table
        self.message_ids = message_ids
        self.message_ids_path = message_ids_path
        self.iceberg_conn_id = iceberg_conn_id
        self.aws_conn_id = aws_conn_id
        self.octopods_conn_id = octopods_conn_id
        # Every other parameter is an option of the run, of the same name: checked there, once.
        self.options = TableOptions.from_parameters(locals())
        self._base_url: str | None = None
        self._result: TableRunResult | None = None
        self._location: str | None = None

    def execute(self, context: Any) -> dict[str, Any]:
        started = time.monotonic()
        hook = OctopodsHook(octopods_conn_id=self.octopods_conn_id)
        settings = hook.get_settings()
        hook.get_budget_store()  # a shared budget that cannot work fails here, not after hours
        self._base_url = settings.base_url
        table = open_table(self.iceberg_conn_id, self.aws_conn_id, TableRef.parse(self.table))
        self._location = table.location()
        ti = context["ti"]
        job = TableJob(
            message_ids=None if self.message_ids is None else as_list(self.message_ids, "message_ids"),
            message_ids_path=self.message_ids_path,
            base_url=settings.base_url,
            requests_per_second=settings.requests_per_second,
            slot=task_slot(context),
            progress_root=self._progress_root(table.location()),
            started=started,
        )
        plan = plan_table(job, self.options, table, self.log)
        fetched = fetch_snapshot(plan, hook.async_client, self._stopper(), self.log)
        task_try = TaskTry(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number)
        self._result = publish_to_table(plan, fetched, table, task_try, self.log)
        self._publish(context, self._result)
        self._result.check_error_ratio()
        return self._result.summary

    def _progress_root(self, location: str) -> ObjectStoragePath:
        if self.options.progress_path:
            return ObjectStoragePath(self.options.progress_path)
        return ObjectStoragePath(checkpoint.default_progress_path(location), conn_id=self.aws_conn_id)

    def _publish(self, context: Any, result: TableRunResult) -> None:
        """The summary to the log and the metrics; the Asset event with the days changed."""
        summary = result.summary
        self.log.info("Table refreshed: %s", summary)
        for name in ("rows", "error_rows", "invalid_inputs", "inserted", "replaced"):
            emit_count(f"table.{name}", summary[name], self.octopods_conn_id)
        asset = last_snapshot.snapshot_asset(self.outlets)
        if asset is None or result.merged.snapshot_id is None:
            return
        event = context["outlet_events"][asset]
        event.extra = {
            "table": self.table,
            "snapshot_id": result.merged.snapshot_id,
            "rows": result.rows,
            "report": report_url(asset.uri, context["run_id"]),
            # The Delivery view reads the table as this run did (a connection's id, no key).
            **({"aws_conn_id": self.aws_conn_id} if self.aws_conn_id else {}),
        }
        if result.merged.days and hasattr(event, "add_partitions"):  # Airflow 3.3+
            event.add_partitions(list(result.merged.days))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (the ``openlineage`` extra): the API and the ids file in, the table out."""
        from airflow_provider_octopods.lineage import run_lineage, table_output

        outputs = []
        if self._result is not None and self._location is not None:
            merged = self._result.merged
            namespace = f"{ASSET_SCHEME}://{self.iceberg_conn_id}"
            rows = merged.inserted + merged.replaced
            outputs.append(
                table_output(
                    namespace, self.table, self._location, rows, merged.bytes_added, merged.files_added
                )
            )
        return run_lineage(self._base_url, self.message_ids_path, outputs)


class IcebergTableUpkeepOperator(BaseOperator):
    """Keep the table healthy under daily runs: compact crowded partitions, then expire old
    snapshots and delete the files only they held (see ``iceberg.upkeep``).

    :param table: ``namespace.name``.
    :param iceberg_conn_id: the Apache Iceberg provider's connection of the catalog.
    :param aws_conn_id: as the table operator's.
    :param keep_history: snapshots younger than this stay, so that the table can be read as
        of any moment this long ago; the current snapshot always stays.
    :param min_files_to_compact: a partition holding this many files of final rows or more
        has them rewritten into one (the files of rows not final are replaced by the runs
        that fetch them).

    Returns (XCom) what it did: partitions compacted, files read and written, snapshots
    expired, files deleted.
    """

    ui_color = "#25d366"

    def __init__(
        self,
        *,
        table: str,
        iceberg_conn_id: str = "iceberg_default",
        aws_conn_id: str | None = None,
        keep_history: timedelta = timedelta(days=30),
        min_files_to_compact: int = 4,
        **kwargs: Any,
    ) -> None:
        TableRef.parse(table)
        if keep_history < timedelta(0) or min_files_to_compact < 2:
            wrong = f"{keep_history}, {min_files_to_compact}"
            raise ValueError(f"need keep_history >= 0 and min_files_to_compact >= 2, not {wrong}")
        super().__init__(**kwargs)
        self.table = table
        self.iceberg_conn_id = iceberg_conn_id
        self.aws_conn_id = aws_conn_id
        self.keep_history = keep_history
        self.min_files_to_compact = min_files_to_compact

    def execute(self, context: Any) -> dict[str, int]:
        table = open_table(self.iceberg_conn_id, self.aws_conn_id, TableRef.parse(self.table))
        ti = context["ti"]
        properties = {"octopods.operation": "compact", "octopods.dag-id": ti.dag_id}
        properties["octopods.run-id"] = ti.run_id
        partitions, read, written = upkeep.compact(table, self.min_files_to_compact, properties)
        expired, deleted = upkeep.expire(table, datetime.now(UTC) - self.keep_history)
        done = {
            "partitions_compacted": partitions,
            "files_compacted": read,
            "files_written": written,
            "snapshots_expired": expired,
            "files_deleted": deleted,
        }
        self.log.info("Upkeep of %s: %s", self.table, done)
        return done
