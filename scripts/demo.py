"""`make demo`: the provider at work, through Airflow, against the local Octopods emulator.

Starts the emulator with a few messages in every state, points an env-var connection at it,
and runs the example DAGs with ``airflow dags test`` in an embedded Airflow (SQLite in .demo/,
which git ignores): ``octopods_read_status`` reads statuses through the hook, and
``octopods_wait_for_delivery`` defers until a message is delivered. Everything it starts is
stopped on the way out, also on Ctrl-C or failure.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from airflow_provider_octopods.emulator import Emulator

REPO = Path(__file__).resolve().parent.parent
HOME = REPO / ".demo" / "airflow"


def step(text: str) -> None:
    print(f"==> {text}", flush=True)


def airflow_env(emulator: Emulator) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(HOME),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{HOME}/airflow.db",
        AIRFLOW_CONN_OCTOPODS_DEFAULT=emulator.connection_json(),
    )
    return env


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, check=False
    )


def main() -> int:
    started = time.monotonic()
    HOME.mkdir(parents=True, exist_ok=True)
    with Emulator() as emulator:
        step(f"Octopods emulator listening on {emulator.base_url}")
        messages = {
            "delivered": emulator.add_messages(deliver_after=0)[0],
            "read": emulator.add_messages(deliver_after=0, read_after=0)[0],
            "read, delivery never reported": emulator.add_messages(read_after=0)[0],
            "failed": emulator.add_messages(fail_after=0)[0],
            "still sent": emulator.add_messages(deliver_after=3600)[0],
        }
        for label, message_id in messages.items():
            print(f"    message {message_id}: {label}")
        env = airflow_env(emulator)
        step("Preparing the embedded Airflow metadata database (SQLite in .demo/)")
        migrated = airflow(env, "db", "migrate")
        if migrated.returncode != 0:
            print(migrated.stdout[-3000:], migrated.stderr[-3000:], sep="\n")
            return 1
        step("Running the DAG octopods_read_status with `airflow dags test`")
        # Ids, and one message_status_url as a send response gives it.
        ids = list(messages.values())
        conf = {"messages": [*ids[:-1], emulator.message_status_url(ids[-1])]}
        run = airflow(env, "dags", "test", "octopods_read_status", "--conf", json.dumps(conf))
        output = run.stdout + run.stderr
        finished = re.search(r"DagRun Finished: .*?state=(\w+)", output)
        state = finished.group(1) if finished else "unknown"
        if emulator.api_key in output:
            print("the API key appeared in Airflow's output")
            return 1
        step("What the DAG read through OctopodsHook:")
        for line in re.findall(r"^message \d+: \S+$", output, flags=re.MULTILINE):
            print(f"    {line}")
        print(f"    DAG run state: {state}")
        if state != "success":
            print(output[-5000:])
            return 1

        [late] = emulator.add_messages(after_polls=(2, "delivered"))
        step(f"Running octopods_wait_for_delivery: message {late} is delivered after the sensor's 2nd poll")
        run = airflow(
            env, "dags", "test", "octopods_wait_for_delivery", "--conf", json.dumps({"message": late})
        )
        output = run.stdout + run.stderr
        finished = re.search(r"DagRun Finished: .*?state=(\w+)", output)
        deferred = "running trigger in line" in output
        print(f"    the sensor deferred to its trigger: {'yes' if deferred else 'no'}")
        print(f"    status requests it spent waiting: {len(emulator.requests(late))}")
        print(f"    DAG run state: {finished.group(1) if finished else 'unknown'}")
        if emulator.api_key in output:
            print("the API key appeared in Airflow's output")
            return 1
        print(f"    took {time.monotonic() - started:.0f} s in all")
        if not finished or finished.group(1) != "success":
            print(output[-5000:])
            return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted; the emulator was stopped")
        sys.exit(130)
