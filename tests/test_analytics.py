"""Delivery analytics on a snapshot whose figures are known by hand."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.analytics import (
    REPORT_COLUMNS,
    delivery_report,
    duration_text,
    read_snapshot,
    read_table,
    stages,
    write_report,
)
from airflow_provider_octopods.iceberg.merge import COMMITTED_BY, merge
from airflow_provider_octopods.iceberg.schema import ARROW_SCHEMA
from tests.iceberg_cases import TABLE, load_catalog, use_catalog

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _row(status: str | None, sent_min: int = 0, **offsets: float | str | None) -> dict[str, object]:
    sent = T0 + timedelta(minutes=sent_min)
    row: dict[str, object] = {"status": status, "sent_at": sent if status else None, "failure_reason": None}
    for name in ("delivered_at", "read_at"):
        seconds = offsets.get(name)
        row[name] = sent + timedelta(seconds=float(seconds)) if seconds is not None else None
    row["failure_reason"] = offsets.get("failure_reason")
    return row


@pytest.fixture
def snapshot() -> pd.DataFrame:
    rows = [
        _row("delivered", delivered_at=2),
        _row("delivered", delivered_at=4),
        _row("delivered", delivered_at=6),
        _row("delivered", 70, delivered_at=8),  # sent in the next hour
        _row("read", delivered_at=1, read_at=60),
        _row("read", 70, delivered_at=1, read_at=120),
        _row("read", read_at=30),  # read, delivery never reported
        _row("failed", failure_reason="blocked"),
        _row("failed", 70, failure_reason="blocked"),
        _row("sent"),
        _row(None),  # an error row of the snapshot
    ]
    frame = pd.DataFrame(rows)
    for name in ("sent_at", "delivered_at", "read_at"):
        frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


def test_day_figures(snapshot: pd.DataFrame) -> None:
    s = delivery_report(snapshot).summary
    assert s["messages"] == 11 and s["error_rows"] == 1  # every row: the error row is a message
    assert s["by_status"] == {"delivered": 4, "read": 3, "failed": 2, "sent": 1}
    assert s["delivery_rate"] == round(7 / 11, 4)  # 4 delivered + 3 read, the read-only one included
    assert s["read_rate"] == round(3 / 7, 4)
    assert s["failure_rate"] == round(2 / 11, 4)
    assert s["error_rate"] == round(1 / 11, 4)
    assert s["failure_reasons"] == {"blocked": 2}
    # Time to deliver over the six with a reported delivery: 1, 1, 2, 4, 6, 8 s.
    assert s["time_to_deliver_p50_s"] == 3.0
    assert s["time_to_deliver_p90_s"] == 7.0
    # Time to read over the three read: 30, 60, 120 s.
    assert s["time_to_read_p50_s"] == 60.0


def test_the_funnel_stages_add_up_to_the_messages(snapshot: pd.DataFrame) -> None:
    summary = delivery_report(snapshot).summary
    assert stages(summary) == {"sent": 1, "delivered": 4, "read": 3, "failed": 2, "other": 0, "unknown": 1}
    assert sum(stages(summary).values()) == summary["messages"] == 11
    queued = delivery_report(pd.concat([snapshot, snapshot.iloc[[0]].assign(status="queued")])).summary
    assert stages(queued)["other"] == 1 and sum(stages(queued).values()) == 12


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(3.7, "3.7 s"), (119.9, "119.9 s"), (210, "3.5 min"), (7560, "2.1 h"), (None, "n/a")],
)
def test_latencies_read_as_the_terminal_summary_prints_them(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


def test_by_hour_of_send(snapshot: pd.DataFrame) -> None:
    hourly = delivery_report(snapshot).hourly
    assert list(hourly["sent_hour"]) == [T0, T0 + timedelta(hours=1)]
    assert list(hourly["messages"]) == [7, 3]
    assert list(hourly["delivery_rate"]) == [round(5 / 7, 4), round(2 / 3, 4)]


def test_written_as_parquet_and_a_picture(snapshot: pd.DataFrame, tmp_path: Path) -> None:
    paths = write_report(delivery_report(snapshot), tmp_path / "report")
    summary = pq.read_table(paths["summary"])
    assert summary.to_pylist()[0]["delivery_rate"] == round(7 / 11, 4)
    for table in (summary, pq.read_table(paths["hourly"])):
        assert table.schema.field("delivery_rate").metadata == {
            b"definition": b"(delivered + read) / messages"
        }
    assert pq.read_table(paths["hourly"]).num_rows == 2
    assert pq.read_table(paths["failure_reasons"]).to_pylist() == [
        {"failure_reason": "blocked", "messages": 2}
    ]
    assert pq.read_table(paths["summary"]).to_pylist()[0]["error_rows"] == 1
    picture = Path(paths["picture"]).read_bytes()
    assert picture.startswith(b"\x89PNG") and len(picture) > 20_000


def test_an_empty_snapshot_gives_an_empty_report(tmp_path: Path, snapshot: pd.DataFrame) -> None:
    report = delivery_report(snapshot.iloc[0:0])
    assert report.summary["messages"] == 0 and report.summary["delivery_rate"] is None
    assert Path(write_report(report, tmp_path)["picture"]).exists()


def test_the_obvious_sql_gives_the_report_s_figures(snapshot: pd.DataFrame, tmp_path: Path) -> None:
    """What a BI user would write over the snapshot, in DuckDB and Polars, agrees with the
    report on a day with error rows (the SQL of docs/analytics.md)."""
    import duckdb
    import polars as pl

    snapshot.to_parquet(tmp_path / "part-00000.parquet")
    s = delivery_report(snapshot).summary
    sql = duckdb.sql(
        "select count(*), count(*) filter (where status in ('delivered', 'read')) / count(*), "
        "count(*) filter (where status = 'failed') / count(*), count(*) filter (where status is null) "
        f"from read_parquet('{tmp_path}/*.parquet')"
    ).fetchall()[0]
    assert (sql[0], round(sql[1], 4), round(sql[2], 4), sql[3]) == (
        s["messages"],
        s["delivery_rate"],
        s["failure_rate"],
        s["error_rows"],
    )
    frame = pl.read_parquet(tmp_path / "part-00000.parquet")
    delivered = frame.filter(pl.col("status").is_in(["delivered", "read"])).height
    assert round(delivered / frame.height, 4) == s["delivery_rate"]
    # An average of the comparison skips error rows (null compared is null): not the rate.
    assert round(frame["status"].is_in(["delivered", "read"]).mean(), 4) == round(7 / 10, 4)


def _rows(frame: pd.DataFrame) -> pa.Table:
    """The fixture's rows as the operators write them: every column, one message id each."""
    full = frame.assign(message_id=range(1, len(frame) + 1), fetched_at=T0 + timedelta(hours=3))
    full["error_code"] = full["status"].isna().map({True: -1, False: None})
    full = full.reindex(columns=ARROW_SCHEMA.names).astype(object)
    return pa.Table.from_pandas(full.where(full.notna(), None), schema=ARROW_SCHEMA, preserve_index=False)


@pytest.fixture
def table(tmp_path: Path, snapshot: pd.DataFrame) -> Any:
    """A real table of a SQLite catalog, made as the table operator makes it, holding
    ``snapshot`` in its first Iceberg snapshot."""
    from airflow_provider_octopods.iceberg import schema

    catalog = load_catalog(tmp_path)
    catalog.create_namespace("octopods")
    created = catalog.create_table(
        TABLE,
        schema=schema.table_schema(),
        partition_spec=schema.partition_spec(),
        sort_order=schema.sort_order(),
    )
    merge(created, _rows(snapshot), {COMMITTED_BY: "day one"})
    return created


def test_the_table_gives_what_the_parquet_snapshot_gives(
    table: Any, snapshot: pd.DataFrame, tmp_path: Path
) -> None:
    pq.write_table(_rows(snapshot), tmp_path / "part-00000.parquet")
    from_parquet = read_snapshot(tmp_path / "part-00000.parquet")
    from_table = read_table(table).sort_values("message_id", ignore_index=True)
    pd.testing.assert_frame_equal(from_table, from_parquet)
    assert delivery_report(from_table).summary == delivery_report(snapshot).summary


def test_the_table_as_of_an_earlier_snapshot(table: Any, snapshot: pd.DataFrame) -> None:
    """The statuses as they were: by snapshot id, or by a moment (the snapshot current then)."""
    first = table.current_snapshot()
    still_sent = snapshot["status"] == "sent"
    later = snapshot.assign(status=snapshot["status"].mask(still_sent, "read"))
    merge(table, _rows(later).filter(pc.field("status") == "read"), {COMMITTED_BY: "day two"})
    assert delivery_report(read_table(table)).summary["by_status"]["read"] == 4
    day_one = delivery_report(snapshot).summary
    assert delivery_report(read_table(table, snapshot_id=first.snapshot_id)).summary == day_one
    moment = datetime.fromtimestamp(first.timestamp_ms / 1000, UTC)
    assert delivery_report(read_table(table, as_of=moment)).summary == day_one
    with pytest.raises(ValueError, match="no snapshot as of"):
        read_table(table, as_of=moment - timedelta(days=1))


def test_the_table_by_its_asset_uri(table: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The table operator's Asset URI opens the table through the Airflow connection it names."""
    use_catalog(monkeypatch, tmp_path)
    frame = read_snapshot("iceberg://iceberg_default/octopods/message_statuses")
    pd.testing.assert_frame_equal(frame, read_table(table))
    with pytest.raises(ValueError, match="not an Iceberg table's URI"):
        read_snapshot("iceberg://iceberg_default/message_statuses")


def test_a_table_days_rows_as_the_view_reads_them(
    table: Any, snapshot: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Delivery view reads a table's day as of the last commit of its run (one a shard), in
    the report's columns only: the figures of that day, not of the table now."""
    from airflow_provider_octopods.delivery_view.published import Day

    use_catalog(monkeypatch, tmp_path)
    uri = "iceberg://iceberg_default/octopods/message_statuses"
    first = table.current_snapshot().snapshot_id
    merge(table, _rows(snapshot.iloc[:3].assign(status="read")), {COMMITTED_BY: "day two, shard 0"})
    second = table.current_snapshot().snapshot_id
    merge(table, _rows(snapshot.iloc[3:].assign(status="read")), {COMMITTED_BY: "day two, shard 1"})
    third = table.current_snapshot().snapshot_id
    merge(table, _rows(snapshot.assign(status="failed")), {COMMITTED_BY: "day three"})

    def day(*commits: int) -> Day:
        events = [Day.of_event(uri, {"snapshot_id": c}, "d", "r", T0) for c in commits]
        return functools.reduce(Day.and_commits_of, events)

    rows = day(first).read()
    assert list(rows.columns) == list(REPORT_COLUMNS)
    assert delivery_report(rows).summary == delivery_report(snapshot).summary
    as_of_third = delivery_report(read_table(table, snapshot_id=third)).summary
    assert as_of_third != delivery_report(read_table(table)).summary  # day three changed rows
    for shards in ((third, second), (second, third)):  # the events' order is not the commits'
        assert delivery_report(day(*shards).read()).summary == as_of_third
