"""Every example DAG imports cleanly, as Airflow's DAG processor loads it."""

from __future__ import annotations

import warnings

from tests.conftest import REPO


def test_dagbag_loads_every_example_without_errors_or_warnings() -> None:
    from airflow.dag_processing.dagbag import DagBag

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bag = DagBag(dag_folder=str(REPO / "dags"))  # examples are off: AIRFLOW__CORE__LOAD_EXAMPLES
    assert bag.import_errors == {}
    ours = [
        w for w in caught if "airflow_provider_octopods" in str(w.filename) or "/dags/" in str(w.filename)
    ]
    assert ours == [], [str(w.message) for w in ours]
    assert {
        "octopods_read_status",
        "octopods_wait_for_delivery",
        "octopods_daily_snapshot",
        "octopods_statuses_refresh",
        "octopods_rolling_snapshot",
        "octopods_iceberg_table",
    } <= set(bag.dag_ids)
