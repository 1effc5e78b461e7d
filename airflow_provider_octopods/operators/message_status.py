"""MessageStatusToParquetOperator: a Parquet snapshot of many messages' statuses, for BI.

The run itself is three steps, ``snapshot.plan``, ``snapshot.fetch`` and ``snapshot.publish``;
here is what only Airflow has: the connection, the task instance, the Asset, metrics and lineage.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.sdk import Asset, BaseOperator

from airflow_provider_octopods.connection.settings import OctopodsSettings
from airflow_provider_octopods.delivery_view.links import DeliveryReportLink, report_url
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.operators import last_snapshot
from airflow_provider_octopods.parquet.writer import DEFAULT_ROW_GROUP_ROWS
from airflow_provider_octopods.refresh import RefreshPolicy
from airflow_provider_octopods.reporting.tally import emit_count
from airflow_provider_octopods.snapshot import checkpoint
from airflow_provider_octopods.snapshot.fetch import Stop, fetch_snapshot
from airflow_provider_octopods.snapshot.plan import Job, Slot, SnapshotOptions, plan_snapshot
from airflow_provider_octopods.snapshot.publish import ParquetPartPublisher, Publisher, RunResult
from airflow_provider_octopods.snapshot.root import root_of
from airflow_provider_octopods.templated import as_list

SNAPSHOT_MAX_CONCURRENCY = 100


def asset_for(output_path: str) -> Asset:
    """The Asset of a snapshot: the output path up to its first templated part, so every
    partition of the dataset updates one Asset that BI refresh DAGs can be scheduled on."""
    static = root_of(output_path)
    return Asset(uri=static, name="octopods_message_statuses:" + static)


def task_slot(context: Any) -> Slot:
    """The task instance's place in its run (``snapshot.plan.Slot``)."""
    ti = context["ti"]
    return Slot(
        index=max(ti.map_index, 0),
        shards=_instances(ti),
        progress_folder=checkpoint.folder_name(ti.dag_id, ti.run_id, ti.task_id, ti.map_index),
        sequence=checkpoint.sequence_of(ti, context["dag_run"]),
        try_number=ti.try_number,
    )


def _instances(ti: Any) -> int:
    """Instances of this task in the run: 1 unless mapped. Airflow 3 puts no count in the
    context; instances a re-run no longer has (fewer shards) are ``removed`` and do not count."""
    if ti.map_index < 0:
        return 1
    query = {"dag_id": ti.dag_id, "task_ids": [ti.task_id], "run_ids": [ti.run_id]}
    return int(ti.get_ti_count(**query)) - int(ti.get_ti_count(**query, states=["removed"]))


class StopsFetch:
    """``on_kill`` for an operator that fetches (``snapshot.fetch``): its requests are cancelled
    and the rows fetched are committed to the checkpoint, for the next try to resume from."""

    # Made in the try's copy, on first use: one made in __init__ would be shared by every try's copy.
    _stop: Stop | None = None

    def _stopper(self) -> Stop:
        """This try's stop, made by whichever comes first: the fetch or ``on_kill``."""
        if self._stop is None:
            self._stop = Stop()
        return self._stop

    def on_kill(self) -> None:
        self._stopper().request()


class MessageStatusToParquetOperator(StopsFetch, BaseOperator):
    """Write the status of every given message to Parquet: one row per unique message id.

    :param message_ids: ids or ``message_status_url``s (templated; an XCom list works too).
    :param message_ids_path: instead, a Parquet or CSV file (any ObjectStoragePath URI) with a
        ``message_id`` column; a CSV file's name ends in ``.csv`` or ``.csv.gz`` and it has a
        header row (see ``snapshot.inputs.read_refs``).
    :param output_path: the partition to write (templated; local path or any ObjectStoragePath
        URI). The file is ``part-<map index>.parquet``; a run owns its partition: a retry or
        a re-run of the same logical date replaces it, with any number of mapped instances,
        and leaves no duplicates. The path up to its first templated part is the root: its
        partitions must share one schema (the task fails before any request otherwise).
    :param max_requests_per_second: request budget (default: the connection's), split evenly
        between the mapped instances of a dynamically mapped task.
    :param max_concurrency: requests in flight at most.
    :param strict: fail before any request if an input is not a message id at all.
    :param max_error_ratio: fail (after writing the file) when more than this share of the
        rows are errors (not found, retries spent) or of the inputs are not message ids, the
        two counted together; the failure names each kind of error with a sample.
    :param previous_snapshot_path: a previous snapshot (file or directory, templated): its
        rows are carried forward without a request unless ``refresh_policy`` makes them due:
        ``read`` and ``failed`` never are, ``sent`` and ``delivered`` when they may have changed.
    :param incremental: with no ``previous_snapshot_path``, start from the last snapshot this
        operator's output Asset published (Airflow 3.3+, kept in the Asset's state store).
    :param refresh_policy: when a carried row is fetched again: ``LearnedRefresh()`` by default
        (learned from the previous snapshot's rows, to ``RefreshTarget()``: 99 % of rows exact,
        99 % of reads seen within 24 hours), or ``FixedRefresh(...)``. See docs/refresh.md.
    :param full_refresh: fetch every message, whatever the previous snapshot holds.
    :param write_empty_file: on empty input, still write a file with the schema and no rows.
    :param timestamp_unit: ``us`` (default) or ``ms`` (Athena / Glue).
    :param compression: Parquet codec of the part, ``zstd`` by default (pieces use lz4).
    :param progress_path: where fetched rows are committed in pieces while the task runs, so
        that a retry after a killed worker fetches only what is missing (any ObjectStoragePath
        URI, not templated). Default: ``.<root name>.octopods-progress/`` beside the root.
    :param checkpoint_rows: commit a piece every this many fetched rows...
    :param checkpoint_seconds: ...or this many seconds, whichever comes first.

    The snapshot's Asset is the first Asset in ``outlets`` (by default ``asset_for(output_path)``):
    its event carries the part's path and rows, its state store the partition.

    Returns (XCom) a summary: output paths, rows, rows per status, error rows, invalid
    inputs, rows resumed from an earlier try, requests made, 429s met, seconds.
    """

    operator_extra_links = (DeliveryReportLink(),)
    template_fields: Sequence[str] = (
        "message_ids",
        "message_ids_path",
        "output_path",
        "previous_snapshot_path",
    )
    ui_color = "#25d366"
    publisher: ClassVar[Publisher] = ParquetPartPublisher()

    def __init__(
        self,
        *,
        output_path: str,
        message_ids: Sequence[int | str] | str | None = None,
        message_ids_path: str | None = None,
        octopods_conn_id: str = OctopodsHook.default_conn_name,
        max_requests_per_second: float | None = None,
        max_concurrency: int = SNAPSHOT_MAX_CONCURRENCY,
        strict: bool = False,
        max_error_ratio: float = 0.01,
        previous_snapshot_path: str | None = None,
        incremental: bool = False,
        refresh_policy: RefreshPolicy | None = None,
        full_refresh: bool = False,
        write_empty_file: bool = True,
        timestamp_unit: str = "us",
        compression: str = "zstd",
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        progress_path: str | None = None,
        checkpoint_rows: int = checkpoint.DEFAULT_CHECKPOINT_ROWS,
        checkpoint_seconds: float = checkpoint.DEFAULT_CHECKPOINT_SECONDS,
        **kwargs: Any,
    ) -> None:
        if (message_ids is None) == (message_ids_path is None):
            raise ValueError("Pass exactly one of message_ids and message_ids_path")
        kwargs.setdefault("outlets", [asset_for(output_path)])
        super().__init__(**kwargs)
        self.output_path = output_path
        self.message_ids = message_ids
        self.message_ids_path = message_ids_path
        self.previous_snapshot_path = previous_snapshot_path
        self.octopods_conn_id = octopods_conn_id
        # Every other parameter is an option of the run, of the same name: checked there, once.
        self.options = SnapshotOptions.from_parameters(output_path, locals())
        self._base_url: str | None = None  # the API read, once the connection is
        self._result: RunResult | None = None  # what the run wrote

    def execute(self, context: Any) -> dict[str, Any]:
        started = time.monotonic()
        hook = OctopodsHook(octopods_conn_id=self.octopods_conn_id)
        settings = hook.get_settings()
        hook.get_budget_store()  # a shared budget that cannot work fails here, not after hours
        self._base_url = settings.base_url
        plan = plan_snapshot(self._job(context, settings, started), self.options, self.log)
        if plan.writes:
            fetched = fetch_snapshot(plan, hook.async_client, self._stopper(), self.log)
            self._result = self.publisher.publish(plan, fetched, self.log)
            self._publish(context, self._result)
        else:
            self._result = self.publisher.publish_nothing(plan, self.log)
        self._result.check_error_ratio()
        return self._result.summary

    def _job(self, context: Any, settings: OctopodsSettings, started: float) -> Job:
        return Job(
            output_path=self.output_path,
            message_ids=None if self.message_ids is None else as_list(self.message_ids, "message_ids"),
            message_ids_path=self.message_ids_path,
            base_url=settings.base_url,
            requests_per_second=settings.requests_per_second,
            previous_path=lambda: self._previous_path(context),
            slot=task_slot(context),
            started=started,
        )

    def _previous_path(self, context: Any) -> str | None:
        if self.options.full_refresh:
            return None
        if self.previous_snapshot_path or not self.options.incremental:
            return self.previous_snapshot_path or None
        return last_snapshot.recall(context, last_snapshot.snapshot_asset(self.outlets))

    def _publish(self, context: Any, result: RunResult) -> None:
        """The summary to the log and the metrics, the Asset event, the Asset's state store."""
        summary = result.summary
        self.log.info("Snapshot written: %s", summary)
        for name in ("rows", "error_rows", "invalid_inputs"):
            emit_count(f"snapshot.{name}", summary[name], self.octopods_conn_id)
        asset = last_snapshot.snapshot_asset(self.outlets)
        if asset is not None:
            context["outlet_events"][asset].extra = {
                "path": result.output_paths[0],
                "rows": result.rows,
                "report": report_url(asset.uri, context["run_id"]),
            }
        last_snapshot.remember(context, asset, str(result.plan.folder))

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (the ``openlineage`` extra): the API and the ids file in, the files out."""
        from airflow_provider_octopods.lineage import snapshot_lineage

        # Also asked after a failure: before the connection was read, there is nothing to report.
        written = [] if self._result is None else self._result.output_paths
        return snapshot_lineage(self._base_url, self.message_ids_path, written)
