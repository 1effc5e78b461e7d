"""OpenLineage for the snapshot operators: what they read and what they wrote.

Inputs: the Octopods API's status endpoint (namespace ``octopods://<host>`` from the
connection's base URL), and the ids file when one was given. Outputs: every Parquet file
written, with its schema (read back from the file) and its rows, bytes and file count; or the
Iceberg table, with what the run committed (``table_output``). Needs
the ``openlineage`` extra (apache-airflow-providers-openlineage); imported only when the
OpenLineage listener asks, so the core install never needs it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import pyarrow.parquet as pq
from airflow.providers.common.compat.openlineage.facet import (
    Dataset,
    Identifier,
    InputDataset,
    OutputDataset,
    OutputStatisticsOutputDatasetFacet,
    SchemaDatasetFacet,
    SchemaDatasetFacetFields,
    SymlinksDatasetFacet,
)
from airflow.providers.openlineage.extractors import OperatorLineage
from airflow.sdk import ObjectStoragePath

from airflow_provider_octopods.protocol.refs import STATUS_PATH

NAMESPACE_SCHEME = "octopods"


def api_dataset(base_url: str) -> InputDataset:
    """The status endpoint as a dataset: ``octopods://app.octopods.io``, ``api/v1/whatsapp/messages``."""
    parts = urlsplit(base_url)
    authority = parts.hostname or ""
    if parts.port is not None:
        authority += f":{parts.port}"
    name = (parts.path.rstrip("/") + STATUS_PATH).strip("/")
    return InputDataset(namespace=f"{NAMESPACE_SCHEME}://{authority}", name=name)


def _naming(uri: str) -> tuple[str, str]:
    """OpenLineage's dataset naming for a file: ``file`` and the absolute path on a local
    filesystem, ``<scheme>://<bucket>`` and the key elsewhere (s3, gs, abfs...)."""
    parts = urlsplit(str(uri))
    if parts.scheme in ("", "file", "local"):
        return "file", parts.path
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


def file_input(uri: str) -> InputDataset:
    namespace, name = _naming(uri)
    return InputDataset(namespace=namespace, name=name)


def parquet_output(uri: str) -> OutputDataset:
    """A written Parquet file with its schema and statistics, read from the file's footer."""
    path = ObjectStoragePath(uri)
    with path.open("rb") as stream:  # type: ignore[no-untyped-call]
        metadata = pq.read_metadata(stream)
    schema = metadata.schema.to_arrow_schema()
    namespace, name = _naming(uri)
    return OutputDataset(
        namespace=namespace,
        name=name,
        facets={"schema": _schema_facet(schema)},
        outputFacets={
            "outputStatistics": OutputStatisticsOutputDatasetFacet(
                rowCount=metadata.num_rows, size=path.stat().st_size, fileCount=1
            )
        },
    )


def _schema_facet(schema: Any) -> SchemaDatasetFacet:
    return SchemaDatasetFacet(
        fields=[SchemaDatasetFacetFields(name=f.name, type=str(f.type)) for f in schema]
    )


def table_output(namespace: str, name: str, location: str, rows: int, size: int, files: int) -> OutputDataset:
    """The Iceberg table (``iceberg://<catalog connection>``, ``<namespace>.<table>``, as its
    Asset), with its schema, the rows and bytes this run committed, and its storage location
    as a symlink."""
    from airflow_provider_octopods.iceberg.schema import ARROW_SCHEMA

    where, path = _naming(location)
    return OutputDataset(
        namespace=namespace,
        name=name,
        facets={
            "schema": _schema_facet(ARROW_SCHEMA),
            "symlinks": SymlinksDatasetFacet(
                identifiers=[Identifier(namespace=where, name=path, type="LOCATION")]
            ),
        },
        outputFacets={
            "outputStatistics": OutputStatisticsOutputDatasetFacet(rowCount=rows, size=size, fileCount=files)
        },
    )


def snapshot_lineage(
    base_url: str | None, ids_path: str | None, output_paths: Iterable[str]
) -> OperatorLineage[Any, Any]:
    return run_lineage(base_url, ids_path, [parquet_output(uri) for uri in output_paths])


def run_lineage(base_url: str | None, ids_path: str | None, outputs: list[Any]) -> OperatorLineage[Any, Any]:
    """The API and the ids file in, ``outputs`` out."""
    inputs: list[Dataset] = [api_dataset(base_url)] if base_url else []
    if ids_path:
        inputs.append(file_input(ids_path))
    return OperatorLineage(inputs=inputs, outputs=outputs)
