"""The table's Iceberg schema, partitioning and sort order, decided up front from the snapshot's
Parquet schema (``parquet.schema``): the same names and types, each with a fixed field id.

Partitioned by the day of ``sent_at`` (rows with no ``sent_at``, error rows, fall in the null
partition), each file sorted by ``message_id``. A table that exists with anything else is
refused, the differences named, before any request.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import SortField, SortOrder
from pyiceberg.transforms import DayTransform, IdentityTransform
from pyiceberg.types import IcebergType, IntegerType, LongType, NestedField, StringType, TimestamptzType

from airflow_provider_octopods.parquet.schema import snapshot_schema

# Iceberg's timestamps are microseconds: the Parquet schema's default unit.
ARROW_SCHEMA = snapshot_schema("us")
PARTITION_NAME = "sent_day"
_PARTITION_FIELD_ID = 1000
_TYPES: dict[pa.DataType, IcebergType] = {
    pa.int64(): LongType(),
    pa.int32(): IntegerType(),
    pa.string(): StringType(),
    pa.timestamp("us", tz="UTC"): TimestamptzType(),
}


def table_schema() -> Schema:
    """The Parquet schema's columns, in its order, with field ids 1, 2, ..."""
    return Schema(
        *(
            NestedField(at, f.name, _TYPES[f.type], required=not f.nullable)
            for at, f in enumerate(ARROW_SCHEMA, start=1)
        )
    )


def field_id(name: str) -> int:
    return table_schema().find_field(name).field_id


def partition_spec() -> PartitionSpec:
    return PartitionSpec(
        PartitionField(field_id("sent_at"), _PARTITION_FIELD_ID, DayTransform(), PARTITION_NAME)
    )


def sort_order() -> SortOrder:
    return SortOrder(SortField(source_id=field_id("message_id"), transform=IdentityTransform()))


def differences(table: Any) -> list[str]:
    """How an existing table (a pyiceberg ``Table``) differs from ours; empty when it is ours."""
    found = {f.name: f for f in table.schema().fields}
    wanted = {f.name: f for f in table_schema().fields}
    problems = [f"no column {name!r}" for name in wanted if name not in found]
    problems += [f"a column {name!r} this table does not have" for name in found if name not in wanted]
    for name in wanted.keys() & found.keys():
        want, have = wanted[name], found[name]
        if want.field_type != have.field_type:
            problems.append(f"column {name!r} is {have.field_type}, not {want.field_type}")
        elif want.required != have.required:
            kind = ("optional", "required") if want.required else ("required", "optional")
            problems.append(f"column {name!r} is {kind[0]}, not {kind[1]}")
    spec = table.spec()
    if [(f.transform, table.schema().find_column_name(f.source_id)) for f in spec.fields] != [
        (DayTransform(), "sent_at")
    ]:
        problems.append(f"partitioned by {spec}, not by the day of sent_at")
    return sorted(problems)
