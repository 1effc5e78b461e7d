"""`make demo`: the provider doing its real job, against the local Octopods emulator.

1. The emulator starts with the day's earlier campaign: a few thousand messages sent over the
   last hours, with a realistic mix of outcomes and delays; their ids go to the day's send log.
2. An embedded Airflow (SQLite in .demo/, which git ignores) with an env-var connection.
3. ``octopods_iceberg_table``, the morning run: the send log into one Iceberg table of
   current statuses (a SQL catalog on SQLite in .demo/iceberg, made afresh each demo).
4. ``octopods_campaign`` (``airflow dags test``): sends a new campaign, waits for every message
   with one deferred batch sensor (its trigger really runs), branches on the failures.
5. ``octopods_daily_snapshot``: the day's statuses into Parquet, then the delivery report.
6. ``octopods_iceberg_table`` again, the evening run: the same table gains the campaign's ids
   only; then the upkeep compacts it.
7. Where the Parquet and the report are, the report's headline figures, and the table's.

Everything it starts is stopped on the way out, also on Ctrl-C or failure; a second run works.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from airflow_provider_octopods.analytics import (
    DEFINITIONS,
    delivery_report,
    duration_text,
    headline,
    read_table,
)
from airflow_provider_octopods.emulator import Emulator

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / ".demo"
ICEBERG = DEMO / "iceberg"
# The table's catalog: SQL on SQLite. pyiceberg's SQL catalog is named after the connection id.
ICEBERG_CATALOG = {
    "type": "sql",
    "uri": f"sqlite:///{ICEBERG}/catalog.db",
    "warehouse": f"file://{ICEBERG}/warehouse",
}
TABLE = "octopods.message_statuses"
EARLIER_MESSAGES = 3000
CAMPAIGN = 300
STARTED = time.monotonic()


def step(text: str) -> None:
    print(f"[{time.monotonic() - STARTED:5.0f} s] {text}", flush=True)


def airflow_env(emulator: Emulator) -> dict[str, str]:
    home = DEMO / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        # The demo's key may spend 300 status requests/s; a real key shares its limit with sends.
        "AIRFLOW_CONN_OCTOPODS_DEFAULT": emulator.connection_json(requests_per_second=300),
        "OCTOPODS_SEND_LOG_ROOT": f"file://{DEMO}/send_log",
        "OCTOPODS_SNAPSHOT_ROOT": f"file://{DEMO}/statuses",
        "OCTOPODS_REPORT_ROOT": str(DEMO / "reports"),
        "AIRFLOW_CONN_ICEBERG_DEFAULT": json.dumps(
            {
                "conn_type": "iceberg",
                "host": ICEBERG_CATALOG["uri"],
                "extra": {"type": "sql", "warehouse": ICEBERG_CATALOG["warehouse"]},
            }
        ),
    }


def dag_test(dag_id: str, logical_date: str) -> tuple[str, ...]:
    """``airflow dags test`` of the example DAG's own file: Airflow parses that file alone, not
    every example (and the imports of each) before every run."""
    return ("dags", "test", dag_id, logical_date, "--dagfile-path", str(REPO / "dags" / f"{dag_id}.py"))


def airflow(
    env: dict[str, str], *args: str, progress: Callable[[], int] | None = None, unit: str = ""
) -> str:
    """Run an airflow command; every few seconds while it runs, print ``progress()`` if it grew."""
    done = threading.Event()

    def report() -> None:
        shown = 0
        while progress and not done.wait(5):
            # Airflow takes seconds to start, and a sensor waits between polls: a count that
            # has not moved says nothing new.
            if (count := progress()) > shown:
                step(f"  ... {count:,} {unit} so far")
                shown = count

    ticker = threading.Thread(target=report, daemon=True)
    ticker.start()
    try:
        run = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, check=False
        )
    finally:
        done.set()
        ticker.join()
    output = run.stdout + run.stderr
    finished = re.search(r"DagRun Finished: .*?state=(\w+)", output)
    failed = run.returncode != 0 or (args[0] == "dags" and (not finished or finished.group(1) != "success"))
    if failed:
        print(output[-6000:])
        raise SystemExit(f"`airflow {' '.join(args[:3])}` did not succeed")
    if (
        env["AIRFLOW_CONN_OCTOPODS_DEFAULT"]
        and json.loads(env["AIRFLOW_CONN_OCTOPODS_DEFAULT"])["password"] in output
    ):
        raise SystemExit("the API key appeared in Airflow's output")
    return output


def update_table(env: dict[str, str], emulator: Emulator, logical_date: str, when: str) -> dict[str, Any]:
    """A run of ``octopods_iceberg_table``: what its table task and its upkeep logged they did."""
    step(f"octopods_iceberg_table, the {when} run: the send log into the table {TABLE}, then its upkeep")
    before = len(emulator.requests())
    output = airflow(
        env,
        *dag_test("octopods_iceberg_table", logical_date),
        progress=lambda: len(emulator.requests()) - before,
        unit="statuses fetched",
    )
    done = {
        name: ast.literal_eval(re.findall(pattern + r" (\{.*?\}) \[", output)[-1])
        for name, pattern in (("table", "Table refreshed:"), ("upkeep", f"Upkeep of {TABLE}:"))
    }
    t, u = done["table"], done["upkeep"]
    step(
        f"  {t['inserted']:,} rows inserted, {t['replaced']:,} replaced, {t['requests']:,} requests for "
        f"{t['inputs']:,} ids in the log; upkeep: {u['partitions_compacted']} partition(s) compacted "
        f"({u['files_compacted']} files into {u['files_written']})"
    )
    return done


def table_figures(runs: list[dict[str, Any]]) -> None:
    """The table read back: its rows and history, and the delivery rate now and as of the
    morning run's snapshot (time travel)."""
    from pyiceberg.catalog import load_catalog

    table = load_catalog("iceberg_default", **ICEBERG_CATALOG).load_table(TABLE)
    now = delivery_report(read_table(table)).summary
    morning = delivery_report(read_table(table, snapshot_id=runs[0]["table"]["snapshot_id"])).summary
    print(
        f"\nIceberg table {TABLE} (catalog {ICEBERG}/catalog.db): {now['messages']:,} rows, one per message, "
        f"in {len(table.scan().plan_files())} data files; {len(table.snapshots())} snapshots"
    )
    for when, figures in (("now", now), ("as of the morning run (time travel)", morning)):
        print(f"  delivery rate {when}: {figures['delivery_rate']:.1%} of {figures['messages']:,} messages")


def main() -> None:
    today = datetime.now(UTC).date().isoformat()
    # The emulator's ids start over each demo: a table kept from an earlier demo would hold
    # other messages under the same ids.
    shutil.rmtree(ICEBERG, ignore_errors=True)
    ICEBERG.mkdir(parents=True)
    with Emulator() as emulator:
        step(f"Octopods emulator on {emulator.base_url}")
        earlier = emulator.add_campaign(EARLIER_MESSAGES, spread_hours=6)
        send_log = DEMO / "send_log"
        send_log.mkdir(parents=True, exist_ok=True)
        (send_log / f"{today}.csv").write_text("message_id\n" + "".join(f"{m}\n" for m in earlier))
        step(f"{EARLIER_MESSAGES:,} messages sent earlier today are in the send log {send_log}/{today}.csv")
        # The new campaign's delays run twenty times faster than life, so that its slowest
        # messages (read minutes later, with no delivery reported) settle within a minute.
        emulator.script_sends(time_scale=0.05)
        env = airflow_env(emulator)

        step("Preparing the embedded Airflow (SQLite metadata in .demo/airflow)")
        airflow(env, "db", "migrate")
        runs = [update_table(env, emulator, f"{today}T00:00:00+00:00", "morning")]

        step(f"octopods_campaign: sending {CAMPAIGN} messages, one deferred sensor waits for all of them")
        before = len(emulator.requests())
        output = airflow(
            env,
            *dag_test("octopods_campaign", today),
            "--conf",
            json.dumps({"count": CAMPAIGN}),
            progress=lambda: len(emulator.requests()) - before,
            unit="status requests",
        )
        deferred = "running trigger in line" in output
        failed = re.search(r"(\d+) of (\d+) messages failed", output)
        branch = (
            "follow_up_failures"
            if "follow_up_failures" in output.split("Following branch")[-1][:200]
            else None
        )
        step(
            f"  the sensor deferred to its trigger: {'yes' if deferred else 'no'}; "
            f"{len(emulator.requests()) - before} status requests for {CAMPAIGN} messages; "
            f"{failed.group(0) if failed else 'failures unknown'}" + (f"; branch: {branch}" if branch else "")
        )

        step("octopods_daily_snapshot: every message of the day to Parquet, then the delivery report")
        before = len(emulator.requests())
        airflow(
            env,
            *dag_test("octopods_daily_snapshot", today),
            progress=lambda: len(emulator.requests()) - before,
            unit="statuses fetched",
        )
        runs.append(update_table(env, emulator, datetime.now(UTC).isoformat(), "evening"))

    partition = DEMO / "statuses" / f"snapshot_date={today}"
    reports = DEMO / "reports" / f"report_date={today}"
    summary = pq.read_table(reports / "summary.parquet").to_pylist()[0]
    reasons = pq.read_table(reports / "failure_reasons.parquet").to_pylist()
    step("Done. The emulator is stopped.")
    s = summary
    print(f"\nParquet snapshot: {partition}/part-00000.parquet")
    print(f"Delivery report:  {reports}/report.png, with summary, hourly and failure_reasons .parquet")
    (_, messages), *figures = headline(s)
    print(f"\n{today}: {messages} messages ({DEFINITIONS['messages']})")
    for name, text in figures:
        print(f"  {name.replace('_', ' '):13}  {text:>6}   ({DEFINITIONS[name]})")
    deliver = ", ".join(f"p{p} {duration_text(s[f'time_to_deliver_p{p}_s'])}" for p in (50, 90, 99))
    read = ", ".join(f"p{p} {duration_text(s[f'time_to_read_p{p}_s'])}" for p in (50, 90, 99))
    print(f"  time to deliver  {deliver}\n  time to read     {read}")
    print(
        "  top failure reasons: " + "; ".join(f"{r['failure_reason']} ({r['messages']})" for r in reasons[:3])
    )
    table_figures(runs)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: the emulator is stopped, and the airflow command with it")
        sys.exit(130)
