"""What Airflow learns about this provider without importing its hooks (entry point
``apache_airflow_provider``). The connection form is declared here, since Airflow 3.3 builds
the UI form from this declaration only. The documentation link on Airflow's providers page
comes from the distribution's ``Project-URL: Documentation`` (pyproject.toml), not from here."""

from __future__ import annotations

from typing import Any

from airflow_provider_octopods import __version__
from airflow_provider_octopods.connection.fields import CONN_TYPE, DEFAULT_BASE_URL, EXTRA_FIELDS

PACKAGE_NAME = "airflow-provider-octopods"
INTEGRATION = "Octopods"


def _modules(*modules: str) -> dict[str, Any]:
    return {"integration-name": INTEGRATION, "python-modules": list(modules)}


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": PACKAGE_NAME,
        "name": "Octopods",
        "description": "Octopods WhatsApp Business API: wait for message delivery, "
        "snapshot message statuses to Parquet, or keep them in an Iceberg table.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://app.octopods.io",
                "tags": ["service"],
            }
        ],
        "hooks": [_modules("airflow_provider_octopods.hooks.octopods")],
        "operators": [
            _modules(
                "airflow_provider_octopods.operators.message_status",
                "airflow_provider_octopods.operators.message_status_iceberg",
            )
        ],
        "sensors": [_modules("airflow_provider_octopods.sensors.message_status")],
        "triggers": [_modules("airflow_provider_octopods.triggers.message_status")],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_octopods.hooks.octopods.OctopodsHook",
                "hook-name": "Octopods",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {
                        "host": "API base URL",
                        "password": "WhatsApp Business API key",
                    },
                    "placeholders": {
                        "host": DEFAULT_BASE_URL,
                        "password": "the key that sent the messages",
                    },
                },
                "conn-fields": {field.name: field.conn_field() for field in EXTRA_FIELDS},
            }
        ],
        "extra-links": ["airflow_provider_octopods.delivery_view.links.DeliveryReportLink"],
    }
