"""What the view offers: the snapshot Assets of this provider and the days each published,
read from Airflow's metadata database. A day is a DAG run whose snapshot task emitted an
event for the Asset; it is listed only to a user who may read that DAG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
    """One run's snapshot of an Asset: the key the report is asked by."""

    day: str  # the run's logical date (its run_after when it has none), YYYY-MM-DD
    dag_id: str
    run_id: str
    extra: dict[str, Any]  # the event's: the partition's part or the table's snapshot id


@dataclass(frozen=True)
class Snapshot:
    uri: str
    name: str
    days: tuple[Day, ...]  # the newest first


def snapshots(session: Any, readable: Callable[[str], bool]) -> list[Snapshot]:
    """The provider's snapshot Assets with the days the user may read (``readable(dag_id)``);
    an Asset with none is left out."""
    found: dict[tuple[str, str], dict[tuple[str, str], Day]] = {}
    for uri, name, extra, dag_id, run_id, when in session.execute(_query()):
        if dag_id is None or run_id is None or not readable(dag_id):
            continue
        runs = found.setdefault((uri, name), {})
        runs.setdefault((dag_id, run_id), Day(when.date().isoformat(), dag_id, run_id, dict(extra or {})))
    return [
        Snapshot(uri, name, tuple(sorted(runs.values(), key=lambda d: (d.day, d.run_id), reverse=True)))
        for (uri, name), runs in sorted(found.items())
        if runs
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
