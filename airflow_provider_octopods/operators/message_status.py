"""MessageStatusToParquetOperator: a Parquet snapshot of many messages' statuses, for BI."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from airflow.sdk import Asset, BaseOperator, ObjectStoragePath
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_octopods.errors import InvalidMessageReference
from airflow_provider_octopods.hooks.octopods import OctopodsHook
from airflow_provider_octopods.operators import last_snapshot
from airflow_provider_octopods.parquet.schema import RowBuffer, snapshot_schema
from airflow_provider_octopods.parquet.writer import DEFAULT_ROW_GROUP_ROWS, SnapshotWriter
from airflow_provider_octopods.reporting.durations import duration, least_time
from airflow_provider_octopods.reporting.tally import Tally, describe_errors, emit_count
from airflow_provider_octopods.snapshot import checkpoint, inputs, partition
from airflow_provider_octopods.snapshot.checkpoint import Progress
from airflow_provider_octopods.snapshot.fetch import FetchCounts, fetch_into, heap_frozen
from airflow_provider_octopods.snapshot.preflight import probe_writable
from airflow_provider_octopods.snapshot.previous import carried_forward
from airflow_provider_octopods.snapshot.refresh import RefreshPolicy
from airflow_provider_octopods.snapshot.root import SchemaMismatch, check_schema, root_of
from airflow_provider_octopods.templated import as_list

DEFAULT_MAX_CONCURRENCY = 100


def asset_for(output_path: str) -> Asset:
    """The Asset of a snapshot: the output path up to its first templated part, so every
    partition of the dataset updates one Asset that BI refresh DAGs can be scheduled on."""
    static = root_of(output_path)
    return Asset(uri=static, name="octopods_message_statuses:" + static)


class MessageStatusToParquetOperator(BaseOperator):
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
        ``read`` and ``failed`` never are, ``sent`` and ``delivered`` as the message ages.
    :param incremental: with no ``previous_snapshot_path``, start from the last snapshot this
        operator's output Asset published (Airflow 3.3+, kept in the Asset's state store).
    :param refresh_policy: when a carried row is fetched again (``RefreshPolicy()`` by default).
    :param full_refresh: fetch every message, whatever the previous snapshot holds.
    :param write_empty_file: on empty input, still write a file with the schema and no rows.
    :param timestamp_unit: ``us`` (default) or ``ms`` (Athena / Glue).
    :param compression: Parquet codec of the part, ``zstd`` by default (pieces use lz4).
    :param progress_path: where fetched rows are committed in pieces while the task runs, so
        that a retry after a killed worker fetches only what is missing (any ObjectStoragePath
        URI, not templated). Default: ``.<root name>.octopods-progress/`` beside the root.
    :param checkpoint_rows: commit a piece every this many fetched rows...
    :param checkpoint_seconds: ...or this many seconds, whichever comes first.

    Returns (XCom) a summary: output paths, rows, rows per status, error rows, invalid
    inputs, rows resumed from an earlier try, requests made, 429s met, seconds.
    """

    template_fields: Sequence[str] = (
        "message_ids",
        "message_ids_path",
        "output_path",
        "previous_snapshot_path",
    )
    ui_color = "#25d366"

    def __init__(
        self,
        *,
        output_path: str,
        message_ids: Sequence[int | str] | str | None = None,
        message_ids_path: str | None = None,
        octopods_conn_id: str = OctopodsHook.default_conn_name,
        max_requests_per_second: float | None = None,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
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
        snapshot_schema(timestamp_unit)  # refuses an unknown unit when the DAG is parsed
        self.output_path = output_path
        self.output_root = root_of(output_path)
        self.message_ids = message_ids
        self.message_ids_path = message_ids_path
        self.octopods_conn_id = octopods_conn_id
        self.max_requests_per_second = max_requests_per_second
        self.max_concurrency = max_concurrency
        self.strict = strict
        self.max_error_ratio = max_error_ratio
        self.previous_snapshot_path = previous_snapshot_path
        self.incremental = incremental
        self.refresh_policy = refresh_policy or RefreshPolicy()
        self.full_refresh = full_refresh
        self.write_empty_file = write_empty_file
        self.timestamp_unit = timestamp_unit
        self.compression = compression
        self.row_group_rows = row_group_rows
        self.progress_path = progress_path or checkpoint.default_progress_path(self.output_root)
        if self.progress_path.rstrip("/").startswith(self.output_root.rstrip("/") + "/"):
            raise ValueError(
                f"progress_path {self.progress_path} is under the output root {self.output_root}, "
                "which readers scan whole: choose a folder outside it"
            )
        self.checkpoint_rows = checkpoint_rows
        self.checkpoint_seconds = checkpoint_seconds
        self._fetching: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._killed = False

    def _inputs(self, base_url: str) -> inputs.MessageInputs:
        if self.message_ids_path is not None:
            source = ObjectStoragePath(self.message_ids_path)
            with source.open("rb") as stream:  # type: ignore[no-untyped-call]
                given = inputs.collect(inputs.read_refs(stream, str(source)), base_url)
        else:
            given = inputs.collect(as_list(self.message_ids, "message_ids"), base_url)
        if given.invalid:
            samples = ", ".join(given.invalid_samples)
            text = f"{given.invalid} of {given.received} input(s) are not message ids, e.g. {samples}"
            if self.strict:
                raise InvalidMessageReference(f"{text}; nothing was fetched (strict=True)")
            self.log.warning("%s; they get no row and count as errors towards max_error_ratio", text)
        return given

    def _previous_path(self, context: Any) -> str | None:
        if self.full_refresh:
            return None
        if self.previous_snapshot_path or not self.incremental:
            return self.previous_snapshot_path or None
        return last_snapshot.recall(context, self._output_asset)

    @property
    def _output_asset(self) -> Asset | None:
        return next((o for o in self.outlets if isinstance(o, Asset)), None)

    def _carried_forward(self, ids: np.ndarray[Any, Any], path: str | None) -> pa.Table | None:
        """Rows of the previous snapshot at ``path`` that are not due for a request."""
        if not path:
            return None
        previous = ObjectStoragePath(path)
        if not previous.exists():
            self.log.warning("No previous snapshot at %s: fetching everything", previous)
            return None
        dataset = ds.dataset(previous.path, filesystem=previous.fs, format="parquet")
        wanted = pc.field("message_id").isin(pa.array(ids, pa.int64()))
        table = dataset.to_table(filter=wanted).cast(snapshot_schema(self.timestamp_unit))
        return carried_forward(table, self.refresh_policy, datetime.now(UTC))

    def execute(self, context: Any) -> dict[str, Any]:
        started = time.monotonic()
        hook = OctopodsHook(octopods_conn_id=self.octopods_conn_id)
        settings = hook.get_settings()
        hook.get_budget_store()  # a shared budget that cannot work fails here, not after hours
        given = self._inputs(settings.base_url)
        index, shards = max(context["ti"].map_index, 0), self._instances(context["ti"])
        folder = ObjectStoragePath(self.output_path)
        self._check_root(folder)
        summary: dict[str, Any] = {"output_paths": [], "inputs": given.received}
        summary.update(duplicates=given.duplicates)
        summary.update(invalid_inputs=given.invalid, invalid_samples=given.invalid_samples)
        self._lineage = (settings.base_url, summary)  # the summary's output_paths, once written
        if len(given.ids) == 0 and not self.write_empty_file:
            self.log.info("No message ids: nothing written (write_empty_file=False)")
            self._remove_stale(folder, index, shards, wrote=False)
            self._check_error_ratio(given, FetchCounts(), 0, None, None)
            return {**summary, "rows": 0, "seconds": round(time.monotonic() - started, 3)}
        buffer = RowBuffer(self.timestamp_unit)
        probe_writable(folder, "output_path")
        progress = self._progress(context, buffer.schema)
        carried = self._carried_forward(given.ids, self._previous_path(context))
        to_fetch = given.ids if carried is None else np.setdiff1d(given.ids, carried.column("message_id"))
        rate = (self.max_requests_per_second or settings.requests_per_second) / shards
        resumed = np.intersect1d(progress.done_ids(), to_fetch)
        target = folder / partition.part_name(index)
        self._announce(len(given.ids), len(given.ids) - len(to_fetch), len(resumed), target, rate, shards)
        tally = self._fetch_all(hook, np.setdiff1d(to_fetch, resumed), progress, buffer, rate)
        counts, rows = self._write(folder, index, target, carried, progress, to_fetch, buffer.schema)
        self._remove_stale(folder, index, shards, wrote=True)
        summary.update(
            output_paths=[str(target)],
            rows=rows,
            rows_by_status=dict(counts.rows_by_status),
            error_rows=counts.error_rows,
            carried_forward=0 if carried is None else carried.num_rows,
            resumed_rows=len(resumed),
            requests=tally.requests,
            rate_limited=tally.answered_429,
            seconds=round(time.monotonic() - started, 3),
        )
        self._publish(context, folder, target, summary)
        self._check_error_ratio(given, counts, rows, tally, target)
        return summary

    def _announce(
        self, ids: int, carried: int, resumed: int, target: ObjectStoragePath, rate: float, shards: int
    ) -> None:
        """The start line: how many rows, fetched how, at what budget, taking how long at least."""
        requests = ids - carried - resumed
        share = f" (the budget split over {shards} mapped instances)" if shards > 1 else ""
        self.log.info(
            "Snapshot of %s message(s) to %s: %s carried forward, %s fetched by earlier tries, %s to "
            "fetch at %.4g requests/s%s: at least %s",
            f"{ids:,}",
            target,
            f"{carried:,}",
            f"{resumed:,}",
            f"{requests:,}",
            rate,
            share,
            duration(least_time(requests, rate)),
        )

    def _write(
        self,
        folder: ObjectStoragePath,
        index: int,
        target: ObjectStoragePath,
        carried: pa.Table | None,
        progress: Progress,
        fetched: np.ndarray[Any, Any],
        schema: pa.Schema,
    ) -> tuple[FetchCounts, int]:
        """The part from the carried rows and the pieces; the pieces removed once it is whole."""
        if left := partition.clear_leftovers(folder.fs, folder.path, index):
            self.log.warning("Removed what earlier, killed tries of this part left: %s", left)
        counts = FetchCounts()
        with SnapshotWriter(
            target, schema, compression=self.compression, row_group_rows=self.row_group_rows
        ) as writer:
            carried_batches = [] if carried is None else carried.to_batches(max_chunksize=self.row_group_rows)
            # One piece's batch in memory at a time: the pieces are read as they are written.
            for batch in itertools.chain(carried_batches, progress.batches(fetched, self.row_group_rows)):
                counts.add(batch)
                writer.write(batch)
        progress.remove()
        return counts, writer.rows

    def _publish(
        self, context: Any, folder: ObjectStoragePath, target: ObjectStoragePath, summary: dict[str, Any]
    ) -> None:
        """The summary to the log and the metrics, the Asset event, the Asset's state store."""
        self.log.info("Snapshot written: %s", summary)
        for name in ("rows", "error_rows", "invalid_inputs"):
            emit_count(f"snapshot.{name}", summary[name], self.octopods_conn_id)
        if self.outlets:
            context["outlet_events"][self.outlets[0]].extra = {"path": str(target), "rows": summary["rows"]}
        last_snapshot.remember(context, self._output_asset, str(folder))

    def _check_error_ratio(
        self,
        given: inputs.MessageInputs,
        counts: FetchCounts,
        rows: int,
        tally: Tally | None,
        target: ObjectStoragePath | None,
    ) -> None:
        """Fail when error rows and invalid inputs together pass ``max_error_ratio``, naming the
        kinds of error with a sample each. Invalid inputs alone fail without retries."""
        bad, seen = counts.error_rows + given.invalid, rows + given.invalid
        if not seen or bad / seen <= self.max_error_ratio:
            return
        parts = []
        if counts.error_rows:
            kinds = "from an earlier try"
            if tally is not None and tally.errors:
                kinds = describe_errors(tally.errors, tally.samples)
            parts.append(f"{counts.error_rows} of {rows} rows are errors: {kinds}")
        if given.invalid:
            samples = ", ".join(given.invalid_samples)
            parts.append(f"{given.invalid} of {given.received} inputs are not message ids (e.g. {samples})")
        written = f"; the file was written: {target}" if target is not None else ""
        ratio = f"{bad} of {seen}, more than max_error_ratio={self.max_error_ratio}"
        text = f"{'; '.join(parts)}. That is {ratio}{written}"
        raise (AirflowException if counts.error_rows else InvalidMessageReference)(text)

    def _progress(self, context: Any, schema: pa.Schema) -> Progress:
        """This task instance's pieces, with those of other try sequences removed, in a folder
        shown to be writable."""
        ti = context["ti"]
        name = checkpoint.folder_name(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)
        progress = Progress(
            ObjectStoragePath(self.progress_path) / name,
            checkpoint.sequence_of(ti, context["dag_run"]),
            ti.try_number,
            schema,
            rows=self.checkpoint_rows,
            seconds=self.checkpoint_seconds,
        )
        probe_writable(progress.folder, "progress_path (fetched rows wait there for the part)")
        if removed := progress.discard_others():
            self.log.info("Removed progress of an earlier run or try sequence: %s", removed)
        return progress

    @staticmethod
    def _instances(ti: Any) -> int:
        """Instances of this task in the run: 1 unless mapped. Airflow 3 puts no count in the
        context; instances a re-run no longer has (fewer shards) are ``removed`` and do not count."""
        if ti.map_index < 0:
            return 1
        query = {"dag_id": ti.dag_id, "task_ids": [ti.task_id], "run_ids": [ti.run_id]}
        return int(ti.get_ti_count(**query)) - int(ti.get_ti_count(**query, states=["removed"]))

    def _check_root(self, folder: ObjectStoragePath) -> None:
        try:
            check_schema(
                folder.fs,
                ObjectStoragePath(self.output_root).path,
                folder.path,
                snapshot_schema(self.timestamp_unit),
            )
        except SchemaMismatch as refused:
            raise AirflowFailException(f"Nothing was fetched: {refused}") from None

    def _remove_stale(self, folder: ObjectStoragePath, index: int, shards: int, *, wrote: bool) -> None:
        if stale := partition.remove_stale(folder.fs, folder.path, index, shards, wrote=wrote):
            self.log.info("Removed parts of an earlier run this run does not replace: %s", stale)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage (the ``openlineage`` extra): the API and the ids file in, the files out."""
        from airflow_provider_octopods.lineage import snapshot_lineage

        # Also asked after a failure: before the connection was read, there is nothing to report.
        base_url, summary = getattr(self, "_lineage", (None, {"output_paths": []}))
        return snapshot_lineage(base_url, self.message_ids_path, summary["output_paths"])

    def _fetch_all(
        self,
        hook: OctopodsHook,
        ids: np.ndarray[Any, Any],
        progress: Progress,
        buffer: RowBuffer,
        rate: float,
    ) -> Tally:
        """Fetch ``ids`` into ``progress``; SIGTERM (``on_kill``) stops it within seconds, with
        what was fetched committed for the retry to resume from."""
        if self._killed:
            raise AirflowException("Stopped (SIGTERM) before the first request")
        try:
            with heap_frozen():
                return asyncio.run(self._fetch(hook, ids, progress, buffer, rate))
        except asyncio.CancelledError:
            raise AirflowException(
                f"Stopped (SIGTERM); the rows fetched so far are kept in {progress.folder}, and "
                f"the next try resumes from them"
            ) from None

    def on_kill(self) -> None:
        """Stop the fetch: its requests are cancelled and the rows fetched are committed."""
        self._killed = True
        if self._fetching is not None:
            loop, task = self._fetching
            loop.call_soon_threadsafe(task.cancel)

    async def _fetch(
        self,
        hook: OctopodsHook,
        ids: np.ndarray[Any, Any],
        progress: Progress,
        buffer: RowBuffer,
        rate: float,
    ) -> Tally:
        task = asyncio.current_task()
        assert task is not None
        self._fetching = (asyncio.get_running_loop(), task)
        try:
            async with hook.async_client(
                max_concurrency=self.max_concurrency, requests_per_second=rate
            ) as client:
                # Python ints a slice at a time: tolist() converts in C, and never the whole array.
                slices = (ids[at : at + 4096].tolist() for at in range(0, len(ids), 4096))
                flat = itertools.chain.from_iterable(slices)
                await fetch_into(client, flat, progress, buffer, total=len(ids), log=self.log)
                return client.tally
        finally:
            self._fetching = None
