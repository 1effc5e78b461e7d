"""Sets of message ids as sorted ``int64`` arrays, as the snapshot and the table hold them."""

from __future__ import annotations

from typing import Any

import numpy as np


def members(values: np.ndarray[Any, Any], ids: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Which ``values`` are in ``ids`` (sorted): a binary search each. A hash set of every id
    (``pc.is_in``, ``np.isin``), built again for each piece or file, cost pieces x ids."""
    at = np.searchsorted(ids, values)
    found = np.zeros(len(values), dtype=bool)
    inside = at < len(ids)
    found[inside] = ids[at[inside]] == values[inside]
    return found
