"""Operator arguments as Jinja rendered them: a templated XCom list arrives as text unless the
DAG renders native objects (``render_template_as_native_obj``)."""

from __future__ import annotations

import ast
import json
from typing import Any


def as_list(value: Any, name: str) -> list[Any]:
    """``value`` as a list: a list or tuple as it is, or the text of one (JSON or Python)."""
    if isinstance(value, str):
        try:
            # A number past Python's int digit limit stays text, and is then refused as one input
            # rather than the whole list failing to parse.
            value = json.loads(value, parse_int=_int_or_text)
        except ValueError:
            try:
                value = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                raise ValueError(f"{name} must be a list of message ids, got {value[:100]!r}") from None
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of message ids, got {type(value).__name__}")
    return list(value)


def _int_or_text(digits: str) -> int | str:
    return int(digits) if len(digits) <= 40 else digits
