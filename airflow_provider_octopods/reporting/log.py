"""What the runs write their lines to: a task's logger, or any object with these two methods."""

from __future__ import annotations

from typing import Any, Protocol


class Log(Protocol):
    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...
