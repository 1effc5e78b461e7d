"""A real Airflow deployment on loopback, started and stopped by the integration suite.

PostgreSQL and Redis (Debian's packages; installed when missing, run from a temporary folder),
moto's S3 API server (from PyPI, as the warehouse of an Iceberg table),
Airflow 3 with CeleryExecutor as separate processes (``api-server``, ``scheduler``,
``dag-processor``, two triggerers, two Celery workers each with a host name of its own), the
provider installed as a package, and the Octopods emulator as the API. Nothing is installed by hand.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import requests

HERE = Path(__file__).resolve().parent
ADMIN, ADMIN_PASSWORD = "admin", "octopods-integration"
# A user of the simple auth manager with no role: signed in, and allowed to read no DAG.
OUTSIDER, OUTSIDER_PASSWORD = "outsider", "octopods-outsider"
# Name -> the airflow command. No process serves logs: Airflow's log servers listen on every
# interface; the API server reads the log files from the shared disk.
PROCESSES: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler",),
    "dag-processor": ("dag-processor",),
    "triggerer": ("triggerer", "--skip-serve-logs"),
    "triggerer-b": ("triggerer", "--skip-serve-logs"),
    "worker-a": ("celery", "worker", "--celery-hostname", "worker-a@%h", "--skip-serve-logs"),
    "worker-b": ("celery", "worker", "--celery-hostname", "worker-b@%h", "--skip-serve-logs"),
}
WORKERS = ("worker-a", "worker-b")
TRIGGERERS = ("triggerer", "triggerer-b")
FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        time.sleep(every)


def _postgres_bin() -> Path:
    if not sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        _apt_install("postgresql")
    return sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1].parent


class Postgres:
    """A throw-away PostgreSQL cluster, run as the ``postgres`` user (it refuses root)."""

    def __init__(self, root: Path) -> None:
        self.bin = _postgres_bin()
        self.dir = root / "pgdata"
        self.port = free_port()

    def _as_postgres(self, *args: str) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # No pipes: the server pg_ctl starts would hold them open, and us waiting on them.
        subprocess.run([*runner, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> str:
        self.dir.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir.parent, "postgres")
            shutil.chown(self.dir, "postgres")
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        log = str(self.dir / "postgres.log")
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.dir), "-l", log, "-o", options, "-w", "start"
        )
        self._as_postgres(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "airflow"
        )
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"

    def create_database(self, name: str) -> str:
        """Another database of this cluster; its SQLAlchemy URL."""
        self._as_postgres(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name
        )
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if (self.dir / "postmaster.pid").exists():
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.dir), "-m", "immediate", "stop")


def _apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)


class RedisServer:
    """A throw-away Redis (Debian's ``redis-server``) on loopback: no disk, no other clients."""

    def __init__(self, root: Path) -> None:
        self.binary = Path("/usr/bin/redis-server")
        if not self.binary.exists():
            _apt_install("redis-server")
        self.dir = root / "redis"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        args = ["--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        log = (self.dir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [str(self.binary), *args, "--dir", str(self.dir)], stdout=log, stderr=log
        )
        wait_until(self._answers, 30, "redis-server answering", every=0.05)
        return self

    def _answers(self) -> bool:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock,
        ):
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
        return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def connection(self, conn_id: str = "octopods_budget") -> dict[str, Any]:
        """A ``redis`` connection to this server, as the REST API takes it."""
        return {
            "connection_id": conn_id,
            "conn_type": "redis",
            "host": "127.0.0.1",
            "port": self.port,
            "extra": json.dumps({"db": 0}),
        }


class S3Server:
    """moto's S3 API server (a PyPI package, in the suite's venv) on loopback, in memory; any
    keys are accepted."""

    KEY, SECRET, REGION = "octopods-it", "octopods-it-secret", "us-east-1"

    def __init__(self, root: Path) -> None:
        self.log = root / "moto.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *buckets: str) -> S3Server:
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=log,
        )
        wait_until(self._answers, 60, "moto's S3 server answering", every=0.1)
        for bucket in buckets:
            self.client().create_bucket(Bucket=bucket)
        return self

    def _answers(self) -> bool:
        with contextlib.suppress(requests.RequestException):
            return requests.get(f"{self.url}/moto-api/", timeout=1).ok
        return False

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=self.KEY,
            aws_secret_access_key=self.SECRET,
            region_name=self.REGION,
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None

    def connection(self, conn_id: str) -> dict[str, Any]:
        """An Amazon provider ``aws`` connection to this server, as the REST API takes it."""
        return {
            "connection_id": conn_id,
            "conn_type": "aws",
            "login": self.KEY,
            "password": self.SECRET,
            "extra": json.dumps({"endpoint_url": self.url, "region_name": self.REGION}),
        }


def _descendants(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        return list(psutil.Process(pid).children(recursive=True))
    return []


def _kill_all(processes: list[psutil.Process]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()


class Airflow:
    """The Airflow processes, each with its log file under ``root/logs``."""

    def __init__(self, root: Path, database_url: str, dags: Path, broker_url: str) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        passwords = root / "passwords.json"
        passwords.write_text(json.dumps({ADMIN: ADMIN_PASSWORD, OUTSIDER: OUTSIDER_PASSWORD}))
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(root / "home"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + database_url.replace("+psycopg2", ""),
            # Two workers of 6 slots: the 8 shards of a snapshot run at once, across both.
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "6",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "it_hostname.hostname",
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": "it_celery.CELERY_CONFIG",
            "PYTHONPATH": str(HERE / "pylib"),
            "AIRFLOW__CORE__PARALLELISM": "16",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin,{OUTSIDER}:",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
            # A hundred tasks starting and deferring at once: more than the default pool of 5.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "20",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "40",
            "AIRFLOW__API__HOST": "127.0.0.1",  # not every interface, its default
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API_AUTH__JWT_SECRET": "octopods-integration-secret",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # A dozen task processes parse the DAG file at once on two cores: under that load
            # the default 30 s import limit failed sensors at start-up ("Dag not found").
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "180",
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "240",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            # A task whose worker died is failed (and retried) 30 s after its last heartbeat,
            # not the default 300 s; a live task heartbeats every 5 s.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
            "AIRFLOW__TRIGGERER__CAPACITY": "2000",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._token: str | None = None
        self._unpaused: set[str] = set()

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env,
            cwd=self.root,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        args = [*PROCESSES[name], *(["--port", str(self.port)] if name == "api-server" else [])]
        process = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            env={**self.env, "IT_HOSTNAME": name},
            # Not the repository: the processes import the provider as installed.
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its children
        )
        self.processes[name] = process
        return process

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal the process group; its task processes (process groups of their own) are
        SIGKILLed with it, as a lost machine would lose them, or once it has stopped."""
        process = self.processes.pop(name)
        tree = _descendants(process.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        if sig == signal.SIGKILL:
            _kill_all(tree)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a Celery worker in warm shutdown ignores SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
        _kill_all(tree)

    def start_all(self) -> None:
        self.cli("db", "migrate")
        for name in PROCESSES:
            self.start(name)
        wait_until(self._healthy, 120, "the API server and the scheduler healthy")

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.kill(name, signal.SIGTERM)

    def _healthy(self) -> bool:
        try:
            health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5).json()
        except (requests.RequestException, ValueError):
            return False
        return bool(health.get("scheduler", {}).get("status") == "healthy")

    # --- the REST API ---------------------------------------------------------------------

    @property
    def token(self) -> str:
        if self._token is None:
            self._token = self.token_of(ADMIN, ADMIN_PASSWORD)
        return self._token

    def token_of(self, user: str, password: str) -> str:
        """A JWT for ``user``, from the API server's token endpoint."""
        answer = requests.post(
            f"{self.url}/auth/token", json={"username": user, "password": password}, timeout=30
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    def api(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)

    def trigger(
        self, dag_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None
    ) -> str:
        if dag_id not in self._unpaused:
            wait_until(lambda: self.api("GET", f"/api/v2/dags/{dag_id}").ok, 120, f"DAG {dag_id} parsed")
            self.api("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
            self._unpaused.add(dag_id)
        answer = self.api(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": logical_date, "conf": conf or {}}
        )
        answer.raise_for_status()
        return str(answer.json()["dag_run_id"])

    def snapshot(self, ids: list[int], logical_date: str) -> tuple[str, str]:
        """A successful run of ``it_snapshot`` over ``ids``: its run id and the part it wrote."""
        run_id = self.trigger("it_snapshot", {"messages": ids}, logical_date=logical_date)
        ti = self.wait_for_state("it_snapshot", run_id, "snapshot", {"success", "failed"}, timeout=300)
        assert ti["state"] == "success"
        summary = self.api(
            "GET",
            f"/api/v2/dags/it_snapshot/dagRuns/{run_id}/taskInstances/snapshot/xcomEntries/return_value",
        ).json()["value"]
        [path] = summary["output_paths"]
        return run_id, str(path)

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        answer = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
        return answer.json() if answer.ok else {}  # type: ignore[no-any-return]

    def mapped_instances(self, dag_id: str, run_id: str, task_id: str) -> list[dict[str, Any]]:
        """Every instance of a mapped task in the run, a page of 100 at a time."""
        found: list[dict[str, Any]] = []
        while True:
            answer = self.api(
                "GET",
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/listMapped",
                params={"limit": 100, "offset": len(found), "order_by": "map_index"},
            )
            answer.raise_for_status()
            page = answer.json()
            found += page["task_instances"]
            if not page["task_instances"] or len(found) >= page["total_entries"]:
                return found

    def triggerers(self) -> dict[int, str]:
        """Triggerer job id -> the name of its process (its host name, see ``start``)."""
        answer = self.api(
            "GET", "/api/v2/jobs", params={"job_type": "TriggererJob", "limit": 100, "order_by": "-id"}
        )
        answer.raise_for_status()
        return {int(job["id"]): str(job["hostname"]) for job in answer.json()["jobs"]}

    def triggerer_of(self, ti: dict[str, Any], triggerers: dict[int, str] | None = None) -> str | None:
        """The triggerer process holding ``ti``'s trigger; None while none does."""
        holder = (ti.get("trigger") or {}).get("triggerer_id")
        return (self.triggerers() if triggerers is None else triggerers).get(holder)  # type: ignore[arg-type]

    def wait_for_state(
        self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float
    ) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id, task_id)
            state = ti.get("state")
            if state in states:
                return ti
            if state in FINISHED:  # it will never get there: say where it ended, now
                raise AssertionError(f"{dag_id}.{task_id} ended {state}, not in {sorted(states)}: {ti}")
            return None

        return wait_until(reached, timeout, f"{dag_id}.{task_id} in {sorted(states)}")  # type: ignore[no-any-return]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
        answer = self.api(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            headers={"Accept": "application/json"},
        )
        answer.raise_for_status()
        content = answer.json()["content"]
        # Structured lines: the event and its fields (the exception is one), as JSON text.
        return "\n".join(json.dumps(line) if isinstance(line, dict) else str(line) for line in content)
