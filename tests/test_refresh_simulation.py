"""bench/refresh_simulation.py, run small in-process: the figures of each policy, user model
files, the table's window, and ``--fit`` on a Parquet snapshot root and on an Iceberg table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_provider_octopods.emulator.fit import fit_model
from airflow_provider_octopods.emulator.model import SenderModel
from airflow_provider_octopods.iceberg.schema import partition_spec, table_schema
from airflow_provider_octopods.parquet.schema import snapshot_schema
from airflow_provider_octopods.refresh.rows import Rows
from tests.conftest import REPO
from tests.dag_runs import load_module
from tests.iceberg_cases import load_catalog

simulation = load_module(REPO / "bench" / "refresh_simulation.py", "refresh_simulation")
POLICIES = {"full", "terminal_carry", "age_x2", "learned", "oracle", "best_fixed"}
# 10 days, the last 3 measured: each measured run over a 7-day window holds 7 full days of sends
SMALL = ["--per-day", "300", "--days", "10", "--measured", "3", "--json"]
MY_SENDER: dict[str, Any] = {
    "name": "my sender",
    "outcomes": {"delivered": 0.85, "failed": 0.1, "never_confirmed": 0.05},
    "deliver_delay_s": {"exponential": {"mean": 30}},
    "fail_delay_s": {"fixed": 20},
    "read_share_of_delivered": 0.4,
    "delivery_unreported_share_of_read": 0.1,
    "read_delay_s": {
        "mixture": [
            {"weight": 0.7, "lognormal": {"median": 600, "sigma": 1.5}},
            {"weight": 0.3, "lognormal": {"median": 86400, "sigma": 1.0}},
        ]
    },
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    """The figures the last line of ``main(argv)`` prints, by model and policy."""
    simulation.main(list(argv))
    models: dict[str, Any] = json.loads(capsys.readouterr().out.splitlines()[-1])["models"]
    return models


def check_figures(result: dict[str, Any], full_requests: float) -> None:
    """What holds of any model's figures: every policy, ``full`` fetching every row held, the
    oracle exact at the fewest requests, the learned policy in between, shares in [0, 1]."""
    assert set(result) == POLICIES
    assert result["full"]["requests_per_sent"] == pytest.approx(full_requests)
    requests = {policy: figures.get("requests_per_sent") for policy, figures in result.items()}
    assert 1 <= requests["oracle"] <= requests["learned"] <= requests["full"]
    assert requests["oracle"] <= requests["terminal_carry"] <= requests["full"]
    assert result["oracle"]["rows_exact"] == result["oracle"]["rows_exact_min_day"] == 1
    assert result["full"]["rows_exact"] == result["full"]["reads_seen_24h"] == 1
    for figures in result.values():
        if "requests_per_sent" in figures:
            shares = [figures[key] for key in ("rows_exact", "rows_exact_min_day", "reads_seen_24h")]
            assert all(0 <= share <= 1 for share in shares)
            assert figures["rows_exact_min_day"] <= figures["rows_exact"]
            meets = shares[0] >= 0.99 and shares[1] >= 0.98 and shares[2] >= 0.99
            assert figures["meets_target"] == meets
    check_best_fixed(result)


def check_best_fixed(result: dict[str, Any]) -> None:
    best = result["best_fixed"]
    if best["rule"] is None:  # no rule of the sweep met the target, nor did age_x2 (one of them)
        assert not best["meets_target"]
        assert not result["age_x2"]["meets_target"]
        return
    assert best["rule"]["factor"] in simulation.FACTORS
    assert best["rule"]["ceiling_days"] in simulation.CEILINGS
    assert best["meets_target"]
    if result["age_x2"]["meets_target"]:  # x2 with a 4-day ceiling is a rule of the sweep
        assert best["requests_per_sent"] <= result["age_x2"]["requests_per_sent"]


def test_the_figures_of_each_policy_on_a_builtin_model(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, *SMALL, "--model", "campaigns")
    check_figures(result["campaigns"], full_requests=7)
    assert result["campaigns"]["oracle"]["meets_target"]


def test_a_user_model_file_is_simulated_under_its_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "my_sender.json"
    path.write_text(json.dumps(MY_SENDER))
    result = run(capsys, *SMALL, "--model", str(path), "--model", "receipts_off")
    assert list(result) == ["my sender", "receipts off"]
    for figures in result.values():
        check_figures(figures, full_requests=7)


def test_a_table_holds_every_message(capsys: pytest.CaptureFixture[str]) -> None:
    """``--window 0``: the runs at the end of days 8, 9 and 10 hold 8, 9 and 10 days of sends."""
    result = run(capsys, *SMALL, "--window", "0", "--model", "late_readers")
    check_figures(result["late readers"], full_requests=9)


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("no_such_model", r"no_such_model: no such file, nor a built-in model \(built-in: campaigns, "),
        ('{"name": "x", "outcomes": {}}', r"\S*/bad\.json: the model: missing key 'deliver_delay_s'"),
    ],
    ids=["an unknown name", "a file missing a key"],
)
def test_a_model_that_does_not_load_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: str, message: str
) -> None:
    if model.startswith("{"):
        (tmp_path / "bad.json").write_text(model)
        model = str(tmp_path / "bad.json")
    with pytest.raises(SystemExit) as exit_:
        simulation.main(["--model", model])
    assert exit_.value.code == 2
    usage, *_, error = capsys.readouterr().err.splitlines()  # argparse: the usage, then the error
    assert usage.startswith("usage: ")
    assert re.search(": error: " + message, error)


# --- --fit --------------------------------------------------------------------------------------


def held(days: int, fetched_on: int, seed: int = 0) -> Rows:
    """The simulation's messages of the first ``days`` days (300 a day), as a fetch at the end
    of day ``fetched_on`` (the first day 1) showed them."""
    sends = simulation.Sends.of(SenderModel.from_dict(MY_SENDER), 300, days, seed)
    rows = np.arange(len(sends.sent))
    seen: Rows = sends.held(rows, np.full(len(rows), simulation.START + fetched_on * simulation.DAY))
    return seen


def as_table(rows: Rows) -> pa.Table:
    """``rows`` as snapshot rows (the columns a policy does not read left null)."""
    columns = {
        "message_id": rows.message_id,
        "status": rows.status,
        **{name: getattr(rows, name) for name in ("sent_at", "delivered_at", "read_at", "fetched_at")},
    }
    schema = snapshot_schema("us")
    return pa.table(
        {
            field.name: pa.array(columns[field.name], type=field.type)
            if field.name in columns
            else pa.nulls(len(rows), field.type)
            for field in schema
        },
        schema=schema,
    )


def fitted(capsys: pytest.CaptureFixture[str], path: str) -> SenderModel:
    simulation.main(["--fit", path])
    return SenderModel.from_dict(json.loads(capsys.readouterr().out))


def test_fit_reads_the_latest_row_of_each_message_of_a_snapshot_root(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Day 1's messages as the first day's snapshot saw them, and again, with days 2 and 3's,
    in a later snapshot: only their later rows count."""
    earlier, latest = held(days=1, fetched_on=1), held(days=3, fetched_on=5)
    for day, rows in (("2026-01-06", earlier), ("2026-01-10", latest)):
        folder = tmp_path / "statuses" / f"snapshot_date={day}"
        folder.mkdir(parents=True)
        table = as_table(rows)
        half = len(table) // 2  # two files to a snapshot, as mapped tasks write them
        pq.write_table(table.slice(0, half), folder / "part-0.parquet")
        pq.write_table(table.slice(half), folder / "part-1.parquet")
    root = str(tmp_path / "statuses")
    model = fitted(capsys, root)
    assert model.to_dict() == {**fit_model(latest, "").to_dict(), "name": f"fitted from {root}"}
    both = Rows.from_arrow(pa.concat_tables([as_table(earlier), as_table(latest)]))
    assert fit_model(both, "").to_dict() != fit_model(latest, "").to_dict()  # had both rows counted


def test_fit_reads_an_iceberg_table(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    catalog = load_catalog(tmp_path)
    catalog.create_namespace("octopods")
    table = catalog.create_table(
        "octopods.message_statuses", schema=table_schema(), partition_spec=partition_spec()
    )
    rows = held(days=3, fetched_on=5)
    table.append(as_table(rows))
    uri = catalog.load_table("octopods.message_statuses").metadata_location
    assert uri.startswith("file://")
    assert uri.endswith(".metadata.json")
    for location in (uri, uri.removeprefix("file://")):  # as the catalog names it, or a path
        model = fitted(capsys, location)
        assert model.to_dict() == {**fit_model(rows, "").to_dict(), "name": f"fitted from {location}"}


def test_a_model_fitted_from_a_table_is_simulated(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """What a user does to ask what a policy would save on their data: ``--fit`` to a file,
    then ``--model`` that file."""
    folder = tmp_path / "statuses" / "snapshot_date=2026-01-10"
    folder.mkdir(parents=True)
    pq.write_table(as_table(held(days=3, fetched_on=5)), folder / "part-0.parquet")
    simulation.main(["--fit", str(tmp_path / "statuses")])
    path = tmp_path / "my_sender.json"
    path.write_text(capsys.readouterr().out)
    result = run(capsys, *SMALL, "--model", str(path))
    check_figures(result[f"fitted from {tmp_path / 'statuses'}"], full_requests=7)
