"""``[celery] celery_config_options`` of the deployment: Airflow's defaults, and the provider
imported once in each Celery worker before it forks a process per task. Every task parses its
DAG file; on two loaded cores, importing the provider and its libraries there took up to 31 s
a task, and 200 sensors took ten minutes to defer."""

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

import airflow_provider_octopods.operators.message_status
import airflow_provider_octopods.sensors.message_status  # noqa: F401

CELERY_CONFIG = DEFAULT_CELERY_CONFIG
