"""Sender timing models: how a sender's messages are delivered, read or failed, as a JSON file.

One description serves the emulator (``--model``, ``Emulator(model=...)``, the pytest fixture's
``--octopods-model``) and the refresh simulation. The format is documented in
docs/sender-models.md; built-in models live in ``models/`` beside this module.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from airflow_provider_octopods.emulator.distributions import Distribution, FloatArray, parse_distribution
from airflow_provider_octopods.emulator.json_values import join, json_object, number, share

MODELS_DIR = Path(__file__).parent / "models"
BUILTIN: tuple[str, ...] = tuple(sorted(p.stem for p in MODELS_DIR.glob("*.json")))
OUTCOMES = ("delivered", "failed", "never_confirmed")

BoolArray: TypeAlias = npt.NDArray[np.bool_]


def as_model(source: SenderModel | str | PathLike[str] | None) -> SenderModel | None:
    """A model as given, or loaded from a file path or a built-in name; None stays None."""
    return source if source is None or isinstance(source, SenderModel) else SenderModel.load(source)


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def builtin_models() -> tuple[str, ...]:
    """Names ``SenderModel.load`` accepts besides file paths (file names in ``models/``)."""
    return BUILTIN


@dataclass(frozen=True)
class Outcomes:
    delivered: float
    failed: float
    never_confirmed: float

    @classmethod
    def from_dict(cls, value: Any, path: str) -> Outcomes:
        """Missing outcomes count 0; the shares must sum to 1."""
        spec = json_object(value, path, OUTCOMES)
        shares = {key: share(spec.get(key, 0), join(path, key)) for key in OUTCOMES}
        if abs(sum(shares.values()) - 1) > 1e-6:
            raise ValueError(f"{path}: the shares must sum to 1, not {sum(shares.values()):g}")
        return cls(**shares)

    def to_dict(self) -> dict[str, float]:
        return {"delivered": self.delivered, "failed": self.failed, "never_confirmed": self.never_confirmed}


@dataclass(frozen=True)
class Shift:
    """From day ``from_day`` of a run on (day 0 the first), what changes; None: unchanged."""

    from_day: int
    read_delay_factor: float | None = None
    deliver_delay_factor: float | None = None
    read_share_of_delivered: float | None = None
    outcomes: Outcomes | None = None

    @classmethod
    def from_dict(cls, value: Any, path: str) -> Shift:
        spec = json_object(value, path, tuple(cls.__dataclass_fields__), ("from_day",))
        day = spec["from_day"]
        if isinstance(day, bool) or not isinstance(day, int) or day < 0:
            raise ValueError(f"{path}.from_day: must be a whole number of days >= 0, not {json.dumps(day)}")
        factors = {
            key: number(spec[key], join(path, key))
            for key in ("read_delay_factor", "deliver_delay_factor")
            if key in spec
        }
        read_share = spec.get("read_share_of_delivered")
        return cls(
            day,
            **factors,
            read_share_of_delivered=None
            if read_share is None
            else share(read_share, f"{path}.read_share_of_delivered"),
            outcomes=Outcomes.from_dict(spec["outcomes"], f"{path}.outcomes") if "outcomes" in spec else None,
        )

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"from_day": self.from_day}
        for key in ("read_delay_factor", "deliver_delay_factor", "read_share_of_delivered"):
            if getattr(self, key) is not None:
                spec[key] = getattr(self, key)
        if self.outcomes is not None:
            spec["outcomes"] = self.outcomes.to_dict()
        return spec


@dataclass(frozen=True)
class Timings:
    """Seconds after the send of each message; NaN where that step never comes. ``unreported``:
    delivered, but the API never reports it (``read`` with no ``delivered_at``)."""

    deliver: FloatArray
    read: FloatArray
    fail: FloatArray
    unreported: BoolArray

    def __len__(self) -> int:
        return len(self.deliver)

    def scaled(self, factor: float) -> Timings:
        """Every delay times ``factor`` (0.1: ten times faster)."""
        return replace(self, deliver=self.deliver * factor, read=self.read * factor, fail=self.fail * factor)


_KEYS = (
    "name",
    "outcomes",
    "deliver_delay_s",
    "fail_delay_s",
    "read_share_of_delivered",
    "read_delay_s",
    "delivery_unreported_share_of_read",
    "shift",
)


@dataclass(frozen=True)
class SenderModel:
    name: str
    outcomes: Outcomes
    deliver_delay_s: Distribution
    fail_delay_s: Distribution
    read_share_of_delivered: float
    read_delay_s: Distribution  # counted from the delivery
    delivery_unreported_share_of_read: float = 0.0
    shift: Shift | None = None

    @classmethod
    def from_dict(cls, value: Any) -> SenderModel:
        """The model a parsed JSON object describes; ``ValueError`` naming the bad value's path."""
        spec = json_object(value, "", _KEYS, _KEYS[:6])
        if not isinstance(spec["name"], str) or not spec["name"]:
            raise ValueError(f"name: must be a non-empty string, not {json.dumps(spec['name'])}")
        return cls(
            name=spec["name"],
            outcomes=Outcomes.from_dict(spec["outcomes"], "outcomes"),
            deliver_delay_s=parse_distribution(spec["deliver_delay_s"], "deliver_delay_s"),
            fail_delay_s=parse_distribution(spec["fail_delay_s"], "fail_delay_s"),
            read_share_of_delivered=share(spec["read_share_of_delivered"], "read_share_of_delivered"),
            read_delay_s=parse_distribution(spec["read_delay_s"], "read_delay_s"),
            delivery_unreported_share_of_read=share(
                spec.get("delivery_unreported_share_of_read", 0), "delivery_unreported_share_of_read"
            ),
            shift=Shift.from_dict(spec["shift"], "shift") if "shift" in spec else None,
        )

    @classmethod
    def load(cls, source: str | PathLike[str]) -> SenderModel:
        """A model file, or the name of a built-in model (``builtin_models()``)."""
        path = Path(source)
        if not path.is_file():
            if str(source) not in BUILTIN:
                raise ValueError(
                    f"{source}: no such file, nor a built-in model (built-in: {', '.join(BUILTIN)})"
                )
            path = MODELS_DIR / f"{source}.json"
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except ValueError as error:  # JSON syntax errors are ValueErrors too
            raise ValueError(f"{path}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "name": self.name,
            "outcomes": self.outcomes.to_dict(),
            "deliver_delay_s": self.deliver_delay_s.to_dict(),
            "fail_delay_s": self.fail_delay_s.to_dict(),
            "read_share_of_delivered": self.read_share_of_delivered,
            "read_delay_s": self.read_delay_s.to_dict(),
            "delivery_unreported_share_of_read": self.delivery_unreported_share_of_read,
        }
        if self.shift is not None:
            spec["shift"] = self.shift.to_dict()
        return spec

    def confirmed(self) -> SenderModel:
        """The same sender with every message confirmed: the never-confirmed share delivered."""

        def fold(outcomes: Outcomes) -> Outcomes:
            return Outcomes(outcomes.delivered + outcomes.never_confirmed, outcomes.failed, 0.0)

        shift = self.shift
        if shift is not None and shift.outcomes is not None:
            shift = replace(shift, outcomes=fold(shift.outcomes))
        return replace(self, outcomes=fold(self.outcomes), shift=shift)

    def sample(self, rng: np.random.Generator, count: int, day: int = 0) -> Timings:
        """Timings of ``count`` messages sent on ``day`` of a run (day 0 the first)."""
        shifted = self.shift if self.shift is not None and day >= self.shift.from_day else Shift(0)
        outcomes = shifted.outcomes or self.outcomes
        read_share = _given(shifted.read_share_of_delivered, self.read_share_of_delivered)
        draw = rng.random(count)
        delivered = draw < outcomes.delivered
        failed = ~delivered & (draw < outcomes.delivered + outcomes.failed)
        read = delivered & (rng.random(count) < read_share)
        unreported = read & (rng.random(count) < self.delivery_unreported_share_of_read)
        deliver = self.deliver_delay_s.sample(rng, count) * _given(shifted.deliver_delay_factor, 1.0)
        read_at = deliver + self.read_delay_s.sample(rng, count) * _given(shifted.read_delay_factor, 1.0)
        return Timings(
            deliver=np.where(delivered, deliver, np.nan),
            read=np.where(read, read_at, np.nan),
            fail=np.where(failed, self.fail_delay_s.sample(rng, count), np.nan),
            unreported=unreported,
        )
