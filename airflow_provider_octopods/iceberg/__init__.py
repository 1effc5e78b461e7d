"""The Iceberg table of current statuses: its schema and layout, the catalog it lives in, the
merge of a run's rows into it, and its upkeep (the ``iceberg`` extra: pyiceberg)."""
