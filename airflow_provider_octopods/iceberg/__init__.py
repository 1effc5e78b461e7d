"""The Iceberg table of current statuses: its schema and layout, the catalog it lives in, the
merge of a run's rows into it, and its upkeep (the ``iceberg`` extra: pyiceberg)."""

try:
    import pyiceberg  # noqa: F401
except ImportError as exc:  # the core install leaves the table out
    raise ImportError(
        "The Iceberg table needs pyiceberg and the Apache Iceberg provider: "
        "pip install 'airflow-provider-octopods[iceberg]'"
    ) from exc
