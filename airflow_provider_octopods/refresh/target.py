"""The freshness a learned refresh aims at, in a user's terms rather than factors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RefreshTarget:
    """``rows_exact``: the share of the output's rows that equal what the API would answer at
    the run. ``reads_seen``: the share of reads that a run shows within ``reads_seen_within`` of
    happening. ``max_requests``: the most requests a run spends on rows already held (new ids
    are always fetched); when it is too few for the target, the rows likeliest to have changed
    go first and the run says what freshness it bought. ``horizon``: the age after which a
    message is not fetched again."""

    rows_exact: float = 0.99
    reads_seen: float = 0.99
    reads_seen_within: timedelta = timedelta(hours=24)
    max_requests: int | None = None
    horizon: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        for name in ("rows_exact", "reads_seen"):
            share = getattr(self, name)
            if not 0 <= share <= 1:
                raise ValueError(f"{name} must be a share between 0 and 1, not {share!r}")
        if self.reads_seen_within <= timedelta(0):
            raise ValueError(f"reads_seen_within must be positive, not {self.reads_seen_within}")
        if self.max_requests is not None and self.max_requests < 0:
            raise ValueError(f"max_requests must be at least 0, not {self.max_requests}")
        if self.horizon <= timedelta(0):
            raise ValueError(f"horizon must be positive, not {self.horizon}")
