"""Bulk status snapshots: many message ids in, one Parquet row per unique id out.

The engine behind ``MessageStatusToParquetOperator``, with no Airflow in it: ``inputs`` checks
and deduplicates ids, ``fetch`` streams statuses from the async client into ``RowBuffer``
batches, ``checkpoint`` commits them in whole pieces as it goes so that a retried try resumes,
``writer`` writes the part with a bounded memory and publishes it atomically.
"""
