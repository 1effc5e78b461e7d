"""The table, opened through a catalog from Airflow connections, before any request: the
catalog reached, the table created on first use or shown to be ours, its warehouse shown
writable. Every failure says which connection and table, and whether a retry can help.

The catalog comes from the Apache Iceberg provider's ``iceberg`` connection (``IcebergHook``:
REST, SQL, Glue, ... by the extra's ``type``). The warehouse's object store may take its keys
from an Amazon provider connection (``aws_conn_id``: login, password, the extra's
``endpoint_url`` and ``region_name``), given to the table's file IO and never shown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from airflow.sdk.exceptions import AirflowNotFoundException
from pyiceberg.exceptions import (
    BadRequestError,
    ForbiddenError,
    NoSuchTableError,
    NotInstalledError,
    OAuthError,
    UnauthorizedError,
)

from airflow_provider_octopods.errors import OctopodsConfigError, OctopodsTableError
from airflow_provider_octopods.iceberg import schema
from airflow_provider_octopods.protocol.text import shorten

ASSET_SCHEME = "iceberg"
# A table's own properties, set when this provider creates it.
TABLE_PROPERTIES = {
    "format-version": "2",
    # pyiceberg would retry a lost commit by adding the same files to the new table; the merge
    # decides again what a run replaces (iceberg.merge), so pyiceberg must not retry by itself.
    "commit.retry.num-retries": "0",
    "write.parquet.compression-codec": "zstd",
    # Old metadata files go as commits add new ones (Iceberg keeps 100 otherwise, forever).
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "50",
}
# What a retry cannot change: a wrong setting or a refusal, not an outage.
_CONFIG_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    NotImplementedError,
    ImportError,
    AirflowNotFoundException,
    BadRequestError,
    ForbiddenError,
    NotInstalledError,
    OAuthError,
    UnauthorizedError,
)


@dataclass(frozen=True)
class TableRef:
    """``namespace.name`` (the namespace may have levels: ``a.b.name``), checked when the DAG is
    parsed."""

    namespace: tuple[str, ...]
    name: str

    @classmethod
    def parse(cls, text: str) -> TableRef:
        parts = text.split(".") if isinstance(text, str) else []
        if len(parts) < 2 or not all(parts):
            raise ValueError(f"table must be 'namespace.name', not {text!r}")
        return cls(tuple(parts[:-1]), parts[-1])

    def __str__(self) -> str:
        return ".".join((*self.namespace, self.name))

    def asset_uri(self, iceberg_conn_id: str) -> str:
        """``iceberg://<catalog connection>/<namespace levels>/<table>``: the table's Asset."""
        return f"{ASSET_SCHEME}://{iceberg_conn_id}/{'/'.join((*self.namespace, self.name))}"

    @classmethod
    def from_asset_uri(cls, uri: str) -> tuple[str, TableRef]:
        """The catalog connection and the table of an ``asset_uri``."""
        conn_id, _, path = uri.removeprefix(f"{ASSET_SCHEME}://").partition("/")
        if not uri.startswith(f"{ASSET_SCHEME}://") or not conn_id or path.count("/") < 1:
            raise ValueError(
                f"not an Iceberg table's URI ({ASSET_SCHEME}://<conn_id>/<namespace>/<table>): {uri}"
            )
        return conn_id, cls.parse(path.replace("/", "."))


def s3_properties(aws_conn_id: str) -> dict[str, str]:
    """pyiceberg's S3 properties from an Amazon provider connection."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(aws_conn_id)
    extra = conn.extra_dejson
    pairs = {
        "s3.access-key-id": conn.login,
        "s3.secret-access-key": conn.password,
        "s3.session-token": extra.get("aws_session_token"),
        "s3.endpoint": extra.get("endpoint_url")
        or extra.get("service_config", {}).get("s3", {}).get("endpoint_url"),
        "s3.region": extra.get("region_name"),
    }
    return {key: str(value) for key, value in pairs.items() if value}


def catalog(iceberg_conn_id: str, aws_conn_id: str | None) -> Any:
    """The pyiceberg ``Catalog`` of the connection, with the warehouse's keys if given."""
    from airflow.providers.apache.iceberg.hooks.iceberg import IcebergHook

    found = IcebergHook(iceberg_conn_id=iceberg_conn_id).get_conn()
    if aws_conn_id:
        # Read by every table the catalog loads afterwards, for its file IO.
        found.properties.update(s3_properties(aws_conn_id))
    return found


def open_table(iceberg_conn_id: str, aws_conn_id: str | None, ref: TableRef) -> Any:
    """The table (created on first use), shown to be ours and its warehouse writable."""
    where = f"Iceberg table {ref} of connection {iceberg_conn_id!r}"
    try:
        table = _first_use(iceberg_conn_id, aws_conn_id, ref)
    except _CONFIG_ERRORS as exc:
        raise OctopodsConfigError(f"{where} cannot be opened: {_said(exc)}; nothing was fetched") from None
    except Exception as exc:
        raise OctopodsTableError(f"{where} cannot be reached: {_said(exc)}; nothing was fetched") from None
    if problems := schema.differences(table):
        raise OctopodsConfigError(
            f"{where} exists with another schema: {'; '.join(problems)}. Nothing was fetched: "
            "choose another table, or migrate this one"
        )
    _own_retries(table)
    probe_writable(table, where)
    return table


def _own_retries(table: Any) -> None:
    """A table made elsewhere gets ``TABLE_PROPERTIES``' commit retries too."""
    if table.properties.get("commit.retry.num-retries") != TABLE_PROPERTIES["commit.retry.num-retries"]:
        with table.transaction() as tx:
            tx.set_properties({"commit.retry.num-retries": TABLE_PROPERTIES["commit.retry.num-retries"]})


def _first_use(iceberg_conn_id: str, aws_conn_id: str | None, ref: TableRef) -> Any:
    """``_load_or_create``, once more after an error that is no setting's: mapped instances
    open a new table at once, and pyiceberg's SQL catalog checks, then inserts (its own
    tables, the namespace), so the losers fail on the winner's rows, which are there now."""
    try:
        return _load_or_create(catalog(iceberg_conn_id, aws_conn_id), ref)
    except _CONFIG_ERRORS:
        raise
    except Exception:
        return _load_or_create(catalog(iceberg_conn_id, aws_conn_id), ref)


def _load_or_create(found: Any, ref: TableRef) -> Any:
    """The table; created, with its namespace, only when missing (so that a catalog that lets
    this task write the table but not create namespaces serves)."""
    try:
        return found.load_table((*ref.namespace, ref.name))
    except NoSuchTableError:
        pass
    found.create_namespace_if_not_exists(ref.namespace)
    return found.create_table_if_not_exists(
        (*ref.namespace, ref.name),
        schema=schema.table_schema(),
        partition_spec=schema.partition_spec(),
        sort_order=schema.sort_order(),
        properties=TABLE_PROPERTIES,
    )


def probe_writable(table: Any, where: str) -> None:
    """A small file written to the table's data folder and removed, through the table's IO."""
    probe = f"{table.location().rstrip('/')}/data/.octopods-probe-{uuid.uuid4().hex}"
    try:
        with table.io.new_output(probe).create(overwrite=True) as stream:
            stream.write(b"")
        table.io.delete(probe)
    except Exception as exc:
        raise OctopodsConfigError(
            f"The warehouse of {where} cannot be written at {table.location()}: {_said(exc)}; "
            "nothing was fetched"
        ) from None


def _said(exc: BaseException) -> str:
    return shorten(f"{type(exc).__name__}: {exc}", 300)
