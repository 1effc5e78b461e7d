"""What the view offers: the snapshot Assets of this provider and the days each published,
read from Airflow's metadata database. A day is a DAG run whose snapshot task emitted an
event for the Asset; it is listed only to a user who may read that DAG."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

# Every snapshot Asset of this provider is named so (operators.message_status.asset_for,
# operators.message_status_iceberg.table_asset): the view finds them by it.
ASSET_PREFIX = "octopods_message_statuses:"
# The newest events are read: enough for years of daily runs of a few snapshot tasks, shards
# included.
NEWEST_EVENTS = 5000


@dataclass(frozen=True)
class Day:
    """One run's snapshot of an Asset, and where its rows are."""

    day: str  # the run's logical date (its run_after when it has none), YYYY-MM-DD
    dag_id: str
    run_id: str
    source: str  # the Parquet partition, or the Iceberg table's Asset URI
    commits: tuple[int, ...] = ()  # the table's snapshots the run committed (one a shard)
    aws_conn_id: str | None = None  # the table's warehouse keys, as the run had them

    @classmethod
    def of_event(cls, uri: str, extra: dict[str, Any], dag_id: str, run_id: str, when: datetime) -> Day:
        """The day an event names: its ``extra`` has the path of a part the task wrote (the
        partition is that part's folder) or the snapshot id the task committed."""
        snapshot_id, day = extra.get("snapshot_id"), when.date().isoformat()
        if snapshot_id is not None:
            return cls(day, dag_id, run_id, uri, (int(snapshot_id),), extra.get("aws_conn_id"))
        return cls(day, dag_id, run_id, str(extra.get("path", "")).rsplit("/", 1)[0] + "/")

    def and_commits_of(self, other: Day) -> Day:
        """This day with the commits of another event of its run (its other shards)."""
        return replace(self, commits=tuple(dict.fromkeys(self.commits + other.commits)))

    def read(self) -> Any:
        """The day's rows, in the columns its report reads (a DataFrame: the analytics extra):
        the partition, or the table as of the run's last commit."""
        from airflow_provider_octopods import analytics

        if self.commits:
            return analytics.read_committed(
                self.source, self.commits, analytics.REPORT_COLUMNS, self.aws_conn_id
            )
        return analytics.read_snapshot(self.source, analytics.REPORT_COLUMNS)

    @property
    def rows(self) -> tuple[str, ...]:
        """What the day's figures are computed from: a run that writes a partition again
        replaces it (the partition's newest run stands for it); a table's run, its commits."""
        return (self.source, *map(str, self.commits))


@dataclass(frozen=True)
class Snapshot:
    uri: str
    name: str
    days: tuple[Day, ...]  # the newest first


def snapshots(session: Any, readable: Callable[[str], bool]) -> list[Snapshot]:
    """The provider's snapshot Assets with the days the user may read (``readable(dag_id)``);
    an Asset with none is left out."""
    runs: dict[tuple[str, str], dict[tuple[str, str], Day]] = {}
    for uri, name, extra, dag_id, run_id, when in session.execute(_query()):  # the newest first
        if dag_id is None or run_id is None or not readable(dag_id):
            continue
        event = Day.of_event(uri, dict(extra or {}), dag_id, run_id, when)
        days = runs.setdefault((uri, name), {})
        held = days.get((dag_id, run_id))
        days[(dag_id, run_id)] = event if held is None else held.and_commits_of(event)
    return [Snapshot(uri, name, _listed(days.values())) for (uri, name), days in sorted(runs.items())]


def _listed(days: Iterable[Day]) -> tuple[Day, ...]:
    """The days to list, the newest first: a partition once, by its newest run (a run that
    writes it again replaces what an earlier one wrote); every run of a table."""
    kept: dict[tuple[str, ...], Day] = {}
    for day in days:  # the newest run first
        kept.setdefault(day.rows, day)
    return tuple(sorted(kept.values(), key=lambda d: (d.day, d.run_id), reverse=True))


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
