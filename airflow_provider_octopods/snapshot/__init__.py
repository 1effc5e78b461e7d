"""Bulk status snapshots: many message ids in, one Parquet row per unique id out.

The engine behind ``MessageStatusToParquetOperator``, with no task instance in it, as three
steps: ``plan`` decides the run before its first request, ``fetch`` makes the requests into the
checkpoint, ``publish`` makes the rows into the output. Under them: ``inputs`` checks and
deduplicates ids, ``previous`` and ``refresh`` choose the rows carried forward, ``checkpoint``
commits fetched rows in whole pieces as it goes so that a retried try resumes, ``partition``
leaves a partition its own parts, and ``parquet.writer`` writes a part in bounded memory and
publishes it atomically.
"""
