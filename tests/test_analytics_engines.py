"""The delivery report's figures are their documented definitions, and DuckDB and Polars,
reading the snapshot's Parquet files, give the same figures (rounded as the report rounds)."""

from __future__ import annotations

import ast
import operator
import re
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_provider_octopods.analytics import DEFINITIONS, STAGES, delivery_report, read_snapshot, stages
from airflow_provider_octopods.errors import OctopodsServerError
from airflow_provider_octopods.parquet.schema import TIME_UNITS, RowBuffer
from airflow_provider_octopods.status import MessageStatus
from tests.analytics_cases import (
    DAY,
    SNAPSHOT_AT,
    duckdb_figures,
    emulated_day,
    figure_mismatches,
    mismatches,
    polars_figures,
    python_figures,
    report_figures,
    write_partition,
)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "analytics.md"
# Statuses of today, values Octopods may add later, and error rows (status null).
STATUSES = ("sent", "delivered", "read", "failed", "pending", "deleted")
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", params=TIME_UNITS)
def day(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, Path]:
    """The emulated day's rows and its partition directory, timestamps in either unit the
    operator writes (Athena reads milliseconds)."""
    table = emulated_day(unit=request.param)
    return table, write_partition(table, tmp_path_factory.mktemp(f"statuses-{request.param}"))


def test_the_emulated_day_holds_every_case(day: tuple[pa.Table, Path]) -> None:
    """The day the engines are held to has a message in every stage, reads with no reported
    delivery, failure reasons and messages in many hours; else agreeing would prove little."""
    table, folder = day
    rows = read_snapshot(folder)
    summary = delivery_report(rows).summary
    assert len(rows) == table.num_rows == summary["messages"] == 3040
    assert all(count > 0 for count in stages(summary).values())
    assert (rows["status"].eq("read") & rows["delivered_at"].isna()).any()
    assert len(summary["failure_reasons"]) >= 3
    assert len(delivery_report(rows).hourly) >= 12


def test_the_report_of_a_day_is_its_definitions(day: tuple[pa.Table, Path]) -> None:
    table, folder = day
    assert mismatches(report_figures(delivery_report(read_snapshot(folder))), python_figures(table)) == []


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Kolkata"])
def test_duckdb_gives_the_report_s_figures(day: tuple[pa.Table, Path], time_zone: str) -> None:
    """Hours of send are UTC hours whatever the session's time zone (Kolkata: half an hour off)."""
    _, folder = day
    report = report_figures(delivery_report(read_snapshot(folder)))
    assert mismatches(report, duckdb_figures(folder, time_zone)) == []


def test_polars_gives_the_report_s_figures(day: tuple[pa.Table, Path]) -> None:
    _, folder = day
    assert mismatches(report_figures(delivery_report(read_snapshot(folder))), polars_figures(folder)) == []


def _docs_sql() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOCS.read_text(), re.DOTALL)


def test_the_docs_queries_give_the_report_s_figures(day: tuple[pa.Table, Path]) -> None:
    """docs/analytics.md's DuckDB query over the snapshots, and its Athena query of failure
    reasons (run by DuckDB over a view of the same name), as printed."""
    import duckdb

    _, folder = day
    daily, reasons = _docs_sql()
    root_glob = f"'{folder.parent}/*/*.parquet'"
    assert "'statuses/*/*.parquet'" in daily
    con = duckdb.connect()
    [row] = con.sql(daily.replace("'statuses/*/*.parquet'", root_glob)).to_arrow_table().to_pylist()
    summary = delivery_report(read_snapshot(folder)).summary
    assert str(row.pop("snapshot_date")) == f"{DAY:%Y-%m-%d}"
    assert row.keys() <= summary.keys()
    assert figure_mismatches("docs query", summary, row) == []
    statuses = f"SELECT * FROM read_parquet({root_glob}, hive_partitioning = true)"
    con.execute(f"CREATE VIEW octopods_statuses AS {statuses}")
    assert dict(con.execute(reasons).fetchall()) == summary["failure_reasons"]


def test_an_empty_day(tmp_path: Path) -> None:
    """A day with no message: every rate and latency is None (not NaN) in every engine."""
    folder = write_partition(pa.Table.from_batches([RowBuffer().take()]), tmp_path)
    report = report_figures(delivery_report(read_snapshot(folder)))
    assert report.day["messages"] == 0 and report.day["delivery_rate"] is None and report.hourly == {}
    for engine in (duckdb_figures(folder), polars_figures(folder)):
        assert mismatches(report, engine) == []


@st.composite
def snapshots(draw: st.DrawFn) -> pa.Table:
    """Any day's rows in the snapshot's schema: any status, some Octopods may add later, error
    rows, any timestamp missing (a read with no delivered_at, a status with no send time),
    failure reasons missing or on any status."""
    unit = draw(st.sampled_from(TIME_UNITS))
    step = 1000 if unit == "ms" else 1
    moment = st.integers(0, 40 * 3600 * 10**6 // step).map(lambda n: DAY + timedelta(microseconds=n * step))
    maybe = st.none() | moment
    buffer = RowBuffer(unit)
    for message_id in range(1, draw(st.integers(0, 30)) + 1):
        if draw(st.integers(0, 7)) == 0:
            buffer.add_error(message_id, OctopodsServerError("down", http_status=503), SNAPSHOT_AT)
            continue
        status = MessageStatus(
            message_id,
            draw(st.sampled_from(STATUSES)),
            sent_at=draw(maybe),
            delivered_at=draw(maybe),
            read_at=draw(maybe),
            failure_reason=draw(st.sampled_from([None, "blocked", "window closed"])),
        )
        buffer.add_status(status, SNAPSHOT_AT)
    return pa.Table.from_batches([buffer.take()])


@PROPERTY
@given(snapshots())
def test_the_funnel_adds_up(table: pa.Table) -> None:
    """Every message in exactly one stage: the stages add up to the messages."""
    summary = delivery_report(table.to_pandas()).summary
    statuses = Counter(table.column("status").to_pylist())
    expected = {stage: statuses[stage] for stage in STAGES[:4]}
    expected["other"] = sum(n for status, n in statuses.items() if status not in (*STAGES[:4], None))
    expected["unknown"] = statuses[None]
    assert stages(summary) == expected
    assert sum(stages(summary).values()) == summary["messages"] == table.num_rows


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Div: operator.truediv}


def _evaluated(formula: str, counts: dict[str, int]) -> float | None:
    """A definition's formula, ``(delivered + read) / messages``, over ``counts``; None where
    its denominator is 0."""

    def value(node: ast.expr) -> float:
        if isinstance(node, ast.Name):
            return counts[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))  # type: ignore[no-any-return]
        raise ValueError(f"not a formula of counts: {formula}")

    try:
        return value(ast.parse(formula, mode="eval").body)
    except ZeroDivisionError:
        return None


@PROPERTY
@given(snapshots())
def test_the_rates_are_their_documented_definitions(table: pa.Table) -> None:
    """Each rate is its formula in ``DEFINITIONS`` over the rows counted here, rounded to 4
    digits; and every figure, for the day and each hour of send, is what counting the rows
    by the definitions gives."""
    report = delivery_report(table.to_pandas())
    statuses = Counter(table.column("status").to_pylist())
    counts = {name: statuses[name] for name in ("delivered", "read", "failed")}
    counts |= {"messages": table.num_rows, "error_rows": statuses[None]}
    for rate in ("delivery_rate", "read_rate", "failure_rate", "error_rate"):
        expected = _evaluated(DEFINITIONS[rate], counts)
        assert report.summary[rate] == (None if expected is None else round(expected, 4)), rate
    assert mismatches(report_figures(report), python_figures(table)) == []


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshots())
def test_the_engines_agree_on_any_day(table: pa.Table) -> None:
    """pandas (the report), DuckDB and Polars from the same part files: null statuses and
    timestamps, hours with nothing delivered (no read rate), either timestamp unit."""
    with tempfile.TemporaryDirectory() as root:
        folder = write_partition(table, Path(root), parts=2)
        report = report_figures(delivery_report(read_snapshot(folder)))
        assert mismatches(report, duckdb_figures(folder, "Asia/Kolkata")) == []
        assert mismatches(report, polars_figures(folder)) == []


def test_engines_round_ties_their_own_way(tmp_path: Path) -> None:
    """Why the engines' quotients are rounded in Python, as the report rounds: DuckDB's round
    takes a tie away from zero (1/32 = 0.03125 exactly: 0.0313), Polars' to the even digit
    (1/160: 0.0062), the report gives 0.0312 and 0.0063. An hour of 32 or 160 messages is
    enough for a view that rounds in SQL to disagree with the terminal summary."""
    import duckdb
    import polars as pl

    figures: dict[int, Any] = {}
    for messages in (32, 160):
        buffer = RowBuffer()
        for message_id in range(messages):
            status = "failed" if message_id == 0 else "delivered"
            buffer.add_status(MessageStatus(message_id, status, sent_at=DAY), SNAPSHOT_AT)
        folder = write_partition(pa.Table.from_batches([buffer.take()]), tmp_path / str(messages), parts=1)
        files = f"{folder}/*.parquet"
        failed = "count(*) FILTER (WHERE status = 'failed')"
        [(rounded_by_duckdb,)] = duckdb.sql(f"SELECT round({failed} / count(*), 4) FROM '{files}'").fetchall()
        failure_rate = (pl.col("status") == "failed").sum() / pl.len()
        rounded_by_polars = pl.scan_parquet(files).select(failure_rate.round(4)).collect().item()
        report = delivery_report(read_snapshot(folder)).summary["failure_rate"]
        figures[messages] = (report, rounded_by_duckdb, rounded_by_polars)
    assert figures == {32: (0.0312, 0.0313, 0.0312), 160: (0.0063, 0.0063, 0.0062)}
