"""DAGs the sensor tests run with dag.test(): one per way of using MessageStatusSensor."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_octopods.sensors.message_status import MessageStatusSensor

# Fast polling, so that tests wait in tenths of seconds, not minutes.
FAST = {"poke_interval": 0.2, "max_poke_interval": 0.5, "first_poke_delay": 0.1, "read_poke_interval": 0.5}
PARAMS = {
    "message": Param(None, type=["null", "integer", "string"]),
    "messages": Param([], type="array"),
}
CASES: dict[str, dict[str, Any]] = {
    "sensor_single": {"message_id": "{{ params.message }}", "timeout": 60},
    "sensor_failed_outcome": {"message_id": "{{ params.message }}", "timeout": 60, "max_failed": None},
    "sensor_read": {"message_id": "{{ params.message }}", "target_status": "read", "timeout": 60},
    "sensor_timeout": {"message_id": "{{ params.message }}", "timeout": 1.5},
    "sensor_soft_fail": {"message_id": "{{ params.message }}", "timeout": 1.5, "soft_fail": True},
    "sensor_revoked": {
        "message_id": "{{ params.message }}",
        "timeout": 60,
        "octopods_conn_id": "octopods_revoked",
    },
    # Retries allowed: what cannot succeed must still run one try only.
    "sensor_retried": {"message_id": "{{ params.message }}", "timeout": 60, "retries": 2, "retry_delay": 0},
    # 100,000 messages on the connection's default budget (5 requests/s), a short timeout (yet
    # longer than the deferral of 100,000 ids takes on a loaded machine, about 6 s).
    "sensor_at_scale": {
        "message_ids": "{{ params.messages }}",
        "timeout": 20,
        "octopods_conn_id": "octopods_plain",
    },
    "sensor_batch_short": {"message_ids": "{{ params.messages }}", "timeout": 6},
    "sensor_batch": {"message_ids": "{{ params.messages }}", "timeout": 120, "max_failed": 1000},
    "sensor_poke": {"message_id": "{{ params.message }}", "timeout": 60, "mode": "poke", "deferrable": False},
    "sensor_poke_batch": {
        "message_ids": "{{ params.messages }}",
        "timeout": 60,
        "mode": "poke",
        "deferrable": False,
        "max_failed": 1000,
    },
    "sensor_reschedule_batch": {
        "message_ids": "{{ params.messages }}",
        "timeout": 60,
        "mode": "reschedule",
        "deferrable": False,
        "max_failed": 1000,
    },
    "sensor_reschedule": {
        "message_id": "{{ params.message }}",
        "timeout": 60,
        "mode": "reschedule",
        "deferrable": False,
    },
}

for dag_id, sensor_kwargs in CASES.items():
    with DAG(dag_id, schedule=None, params=PARAMS, render_template_as_native_obj=True) as dag:

        @task
        def use(result: Any) -> Any:
            return result

        use(MessageStatusSensor(task_id="wait", **{"deferrable": True, **FAST, **sensor_kwargs}).output)
    globals()[dag_id] = dag
