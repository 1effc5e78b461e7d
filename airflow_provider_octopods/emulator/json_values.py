"""Reading a model file's JSON values strictly: each bad value is an error that names where
it is (``read_delay_s.mixture[1].lognormal.sigma: must be >= 0, not -1``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def number(value: Any, path: str, *, minimum: float = 0.0, above: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{path}: must be a number, not {json.dumps(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{path}: must be finite, not {value}")
    if value < minimum or (above and value == minimum):
        raise ValueError(f"{path}: must be {'>' if above else '>='} {minimum:g}, not {value:g}")
    return float(value)


def share(value: Any, path: str) -> float:
    share = number(value, path)
    if share > 1:
        raise ValueError(f"{path}: must be a share in [0, 1], not {share:g}")
    return share


def json_object(
    value: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
) -> dict[str, Any]:
    where = path or "the model"
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be a JSON object, not {json.dumps(value)}")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
    missing = [key for key in required if key not in value]
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r}")
    return dict(value)


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
