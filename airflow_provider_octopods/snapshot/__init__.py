"""Bulk status snapshots: many message ids in, one Parquet row per unique id out.

The engine behind ``MessageStatusToParquetOperator``, with no task instance in it: ``run``
names a run's steps (plan, fetch, publish) over the rest. ``inputs`` checks and deduplicates
ids, ``previous`` and ``refresh`` choose the rows carried forward, ``fetch`` streams statuses
from the async client into ``RowBuffer`` batches, ``checkpoint`` commits them in whole pieces as
it goes so that a retried try resumes, and ``publish`` writes the part with ``writer`` (a
bounded memory, an atomic publish), leaving the partition its own parts (``partition``).
"""
