"""Delivery analytics on a snapshot whose figures are known by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.analytics import delivery_report, write_report

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
