"""Where the last published snapshot of an output Asset is, kept in the Asset's state store.

Airflow 3.3 attaches a JSON state to an Asset across DAG runs (``context["asset_state_store"]``);
each run records its partition there after publishing, and an incremental run reads it back, so
``previous_snapshot_path`` need not be wired. Before 3.3 the context has no such store: both
functions then do nothing and say so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from airflow.sdk import Asset

KEY = "octopods_last_snapshot"

log = logging.getLogger(__name__)


def snapshot_asset(outlets: Iterable[object]) -> Asset | None:
    """The snapshot's Asset: the first Asset in the task's ``outlets`` (by default the only
    one, ``asset_for(output_path)``, or the table's ``table_asset``). Its event carries the part
    written or the table's snapshot; a Parquet snapshot's state store, the partition."""
    return next((o for o in outlets if isinstance(o, Asset)), None)


def _store(context: Any, asset: Asset | None) -> Any:
    stores = context.get("asset_state_store")
    if stores is None or asset is None:
        return None
    return stores[asset]


def recall(context: Any, asset: Asset | None) -> str | None:
    """The path of the last snapshot published for ``asset``, if Airflow keeps one."""
    store = _store(context, asset)
    if store is None:
        log.warning("No asset state store (Airflow < 3.3, or no output Asset): pass previous_snapshot_path")
        return None
    value = store.get(KEY)
    path = value.get("path") if isinstance(value, dict) else None
    return path if isinstance(path, str) and path else None


def remember(context: Any, asset: Asset | None, path: str) -> None:
    if (store := _store(context, asset)) is not None:
        store.set(KEY, {"path": path, "run_id": context.get("run_id")})
