"""OpenLineage for the snapshot operator: what it read and what it wrote.

Inputs: the Octopods API's status endpoint (namespace ``octopods://<host>`` from the
connection's base URL), and the ids file when one was given. Outputs: every Parquet file
written, with its schema (read back from the file) and its rows, bytes and file count. Needs
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
    InputDataset,
    OutputDataset,
    OutputStatisticsOutputDatasetFacet,
    SchemaDatasetFacet,
    SchemaDatasetFacetFields,
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
        facets={
            "schema": SchemaDatasetFacet(
                fields=[SchemaDatasetFacetFields(name=f.name, type=str(f.type)) for f in schema]
            )
        },
        outputFacets={
            "outputStatistics": OutputStatisticsOutputDatasetFacet(
                rowCount=metadata.num_rows, size=path.stat().st_size, fileCount=1
            )
        },
    )


def snapshot_lineage(
    base_url: str | None, ids_path: str | None, output_paths: Iterable[str]
) -> OperatorLineage[Any, Any]:
    inputs: list[Dataset] = [api_dataset(base_url)] if base_url else []
    if ids_path:
        inputs.append(file_input(ids_path))
    outputs: list[Any] = [parquet_output(uri) for uri in output_paths]
    return OperatorLineage(inputs=inputs, outputs=outputs)
