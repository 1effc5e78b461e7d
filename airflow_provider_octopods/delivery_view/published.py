"""What the view offers: the snapshot Assets of this provider and the days each published,
read from Airflow's metadata database. A day is a DAG run whose snapshot task emitted an
event for the Asset; it is listed only to a user who may read that DAG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Every snapshot Asset of this provider is named so (operators.message_status.asset_for,
# operators.message_status_iceberg.table_asset): the view finds them by it.
ASSET_PREFIX = "octopods_message_statuses:"
# A DAG run retried or split into shards emits several events: the newest names what the run
# left (the Iceberg snapshot committed last, a part of the Parquet partition). The newest
# events are read, enough for years of daily runs of a few snapshot tasks.
NEWEST_EVENTS = 5000


@dataclass(frozen=True)
class Day:
    """One run's snapshot of an Asset, and where its rows are."""

    day: str  # the run's logical date (its run_after when it has none), YYYY-MM-DD
    dag_id: str
    run_id: str
    source: str  # the Parquet partition, or the Iceberg table's Asset URI
    snapshot_id: int | None  # the table's snapshot the run committed (Iceberg)

    @classmethod
    def of_event(cls, uri: str, extra: dict[str, Any], dag_id: str, run_id: str, when: datetime) -> Day:
        """The day an event names: its ``extra`` has the path of a part the task wrote (the
        partition is that part's folder) or the snapshot id the task committed."""
        snapshot_id = extra.get("snapshot_id")
        if snapshot_id is not None:
            return cls(when.date().isoformat(), dag_id, run_id, uri, int(snapshot_id))
        partition = str(extra.get("path", "")).rsplit("/", 1)[0] + "/"
        return cls(when.date().isoformat(), dag_id, run_id, partition, None)

    def read(self) -> Any:
        """The day's rows, in the columns its report reads (a DataFrame: the analytics extra)."""
        from airflow_provider_octopods import analytics

        return analytics.read_snapshot(self.source, self.snapshot_id, columns=analytics.REPORT_COLUMNS)

    @property
    def rows(self) -> tuple[str, int | None]:
        """What the day's figures are computed from: a run that writes a partition again
        replaces it, so the partition's newest run stands for it."""
        return self.source, self.snapshot_id


@dataclass(frozen=True)
class Snapshot:
    uri: str
    name: str
    days: tuple[Day, ...]  # the newest first


def snapshots(session: Any, readable: Callable[[str], bool]) -> list[Snapshot]:
    """The provider's snapshot Assets with the days the user may read (``readable(dag_id)``);
    an Asset with none is left out."""
    found: dict[tuple[str, str], dict[Any, Day]] = {}
    runs_seen: set[tuple[str, str, str]] = set()
    for uri, name, extra, dag_id, run_id, when in session.execute(_query()):  # the newest first
        if dag_id is None or run_id is None or (uri, dag_id, run_id) in runs_seen or not readable(dag_id):
            continue
        runs_seen.add((uri, dag_id, run_id))
        day = Day.of_event(uri, dict(extra or {}), dag_id, run_id, when)
        found.setdefault((uri, name), {}).setdefault(day.rows, day)
    return [
        Snapshot(uri, name, tuple(sorted(days.values(), key=lambda d: (d.day, d.run_id), reverse=True)))
        for (uri, name), days in sorted(found.items())
    ]


def find_day(session: Any, readable: Callable[[str], bool], uri: str, run_id: str | None) -> Day | None:
    """The day of ``uri`` published by ``run_id`` (the newest when None), if the user may read it."""
    for snapshot in snapshots(session, readable):
        if snapshot.uri == uri:
            return next((d for d in snapshot.days if run_id in (None, d.run_id)), None)
    return None


def _query() -> Any:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from sqlalchemy import and_, func, select

    when: Any = func.coalesce(DagRun.logical_date, DagRun.run_after, AssetEvent.timestamp)
    return (
        select(
            AssetModel.uri,
            AssetModel.name,
            AssetEvent.extra,
            AssetEvent.source_dag_id,
            AssetEvent.source_run_id,
            when,
        )
        .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
        .outerjoin(
            DagRun, and_(DagRun.dag_id == AssetEvent.source_dag_id, DagRun.run_id == AssetEvent.source_run_id)
        )
        .where(AssetModel.name.startswith(ASSET_PREFIX))
        .order_by(AssetEvent.timestamp.desc())
        .limit(NEWEST_EVENTS)
    )
