"""Bulk status snapshots: many message ids in, one Parquet row per unique id out.

The engine behind ``MessageStatusToParquetOperator``, with no Airflow in it: ``inputs`` checks
and deduplicates ids, ``fetch`` streams statuses from the async client into ``RowBuffer``
batches, ``writer`` writes them with a bounded memory and publishes the file atomically.
"""
