"""Sender timing models: how a sender's messages are delivered, read or failed, as a JSON file.

One description serves the emulator (``--model``, ``Emulator(model=...)``, the pytest fixture's
``--octopods-model``) and the refresh simulation. The format is documented in
docs/sender-models.md; built-in models live in ``models/`` beside this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

MODELS_DIR = Path(__file__).parent / "models"
BUILTIN: tuple[str, ...] = tuple(sorted(p.stem for p in MODELS_DIR.glob("*.json")))
OUTCOMES = ("delivered", "failed", "never_confirmed")

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]


def as_model(source: SenderModel | str | PathLike[str] | None) -> SenderModel | None:
    """A model as given, or loaded from a file path or a built-in name; None stays None."""
    return source if source is None or isinstance(source, SenderModel) else SenderModel.load(source)


def builtin_models() -> tuple[str, ...]:
    """Names ``SenderModel.load`` accepts besides file paths (file names in ``models/``)."""
    return BUILTIN


# --- reading JSON values strictly, naming where a bad one is ------------------------------------


def _number(value: Any, path: str, *, minimum: float = 0.0, above: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{path}: must be a number, not {json.dumps(value)}")
    if not math.isfinite(value):
        raise ValueError(f"{path}: must be finite, not {value}")
    if value < minimum or (above and value == minimum):
        raise ValueError(f"{path}: must be {'>' if above else '>='} {minimum:g}, not {value:g}")
    return float(value)


def _share(value: Any, path: str) -> float:
    share = _number(value, path)
    if share > 1:
        raise ValueError(f"{path}: must be a share in [0, 1], not {share:g}")
    return share


def _object(
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


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# --- distributions of delays, in seconds -------------------------------------------------------


@dataclass(frozen=True)
class Fixed:
    seconds: float

    def sample(self, rng: np.random.Generator, count: int) -> FloatArray:
        return np.full(count, self.seconds)

    def to_dict(self) -> dict[str, Any]:
        return {"fixed": self.seconds}


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    def sample(self, rng: np.random.Generator, count: int) -> FloatArray:
        return rng.uniform(self.low, self.high, count)

    def to_dict(self) -> dict[str, Any]:
        return {"uniform": {"low": self.low, "high": self.high}}


@dataclass(frozen=True)
class Exponential:
    mean: float

    def sample(self, rng: np.random.Generator, count: int) -> FloatArray:
        return rng.exponential(self.mean, count)

    def to_dict(self) -> dict[str, Any]:
        return {"exponential": {"mean": self.mean}}


@dataclass(frozen=True)
class Lognormal:
    median: float
    sigma: float

    def sample(self, rng: np.random.Generator, count: int) -> FloatArray:
        return rng.lognormal(math.log(self.median), self.sigma, count)

    def to_dict(self) -> dict[str, Any]:
        return {"lognormal": {"median": self.median, "sigma": self.sigma}}


@dataclass(frozen=True)
class Mixture:
    """Weighted parts; weights as written (they need not sum to 1), normalised when sampling."""

    parts: tuple[tuple[float, Distribution], ...]

    def sample(self, rng: np.random.Generator, count: int) -> FloatArray:
        weights = np.array([weight for weight, _ in self.parts])
        chosen = rng.choice(len(self.parts), size=count, p=weights / weights.sum())
        out = np.empty(count)
        for index, (_, part) in enumerate(self.parts):
            where = chosen == index
            out[where] = part.sample(rng, int(where.sum()))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"mixture": [{"weight": weight, **part.to_dict()} for weight, part in self.parts]}


Distribution: TypeAlias = Fixed | Uniform | Exponential | Lognormal | Mixture
DISTRIBUTIONS = ("fixed", "uniform", "exponential", "lognormal", "mixture")


def _one_kind(value: Any, path: str, extra: tuple[str, ...] = ()) -> tuple[str, Any]:
    spec = _object(value, path, (*extra, *DISTRIBUTIONS))
    kinds = [key for key in spec if key in DISTRIBUTIONS]
    if len(kinds) != 1:
        raise ValueError(f"{path}: must name exactly one distribution of {', '.join(DISTRIBUTIONS)}")
    return kinds[0], spec[kinds[0]]


def parse_distribution(value: Any, path: str) -> Distribution:
    """``{"lognormal": {"median": 4, "sigma": 1}}`` and the like; errors name ``path``."""
    kind, body = _one_kind(value, path)
    where = _join(path, kind)
    if kind == "fixed":
        return Fixed(_number(body, where))
    if kind == "mixture":
        return _parse_mixture(body, where)
    names = {"uniform": ("low", "high"), "exponential": ("mean",), "lognormal": ("median", "sigma")}[kind]
    fields = _object(body, where, names, names)
    if kind == "uniform":
        low, high = _number(fields["low"], f"{where}.low"), _number(fields["high"], f"{where}.high")
        if high < low:
            raise ValueError(f"{where}.high: must be >= low ({low:g}), not {high:g}")
        return Uniform(low, high)
    if kind == "exponential":
        return Exponential(_number(fields["mean"], f"{where}.mean"))
    return Lognormal(
        _number(fields["median"], f"{where}.median", above=True), _number(fields["sigma"], f"{where}.sigma")
    )


def _parse_mixture(body: Any, path: str) -> Mixture:
    if not isinstance(body, list) or not body:
        raise ValueError(f"{path}: must be a non-empty list of weighted distributions")
    parts = []
    for index, item in enumerate(body):
        where = f"{path}[{index}]"
        kind, _ = _one_kind(item, where, ("weight",))
        if "weight" not in item:
            raise ValueError(f"{where}: missing key 'weight'")
        weight = _number(item["weight"], f"{where}.weight")
        parts.append((weight, parse_distribution({kind: item[kind]}, where)))
    if sum(weight for weight, _ in parts) <= 0:
        raise ValueError(f"{path}: the weights must not all be 0")
    return Mixture(tuple(parts))


# --- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcomes:
    delivered: float
    failed: float
    never_confirmed: float

    @classmethod
    def from_dict(cls, value: Any, path: str) -> Outcomes:
        """Missing outcomes count 0; the shares must sum to 1."""
        spec = _object(value, path, OUTCOMES)
        shares = {key: _share(spec.get(key, 0), _join(path, key)) for key in OUTCOMES}
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
        spec = _object(value, path, tuple(cls.__dataclass_fields__), ("from_day",))
        day = spec["from_day"]
        if isinstance(day, bool) or not isinstance(day, int) or day < 0:
            raise ValueError(f"{path}.from_day: must be a whole number of days >= 0, not {json.dumps(day)}")
        factors = {
            key: _number(spec[key], _join(path, key))
            for key in ("read_delay_factor", "deliver_delay_factor")
            if key in spec
        }
        share = spec.get("read_share_of_delivered")
        return cls(
            day,
            **factors,
            read_share_of_delivered=None
            if share is None
            else _share(share, f"{path}.read_share_of_delivered"),
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
        spec = _object(value, "", _KEYS, _KEYS[:6])
        if not isinstance(spec["name"], str) or not spec["name"]:
            raise ValueError(f"name: must be a non-empty string, not {json.dumps(spec['name'])}")
        return cls(
            name=spec["name"],
            outcomes=Outcomes.from_dict(spec["outcomes"], "outcomes"),
            deliver_delay_s=parse_distribution(spec["deliver_delay_s"], "deliver_delay_s"),
            fail_delay_s=parse_distribution(spec["fail_delay_s"], "fail_delay_s"),
            read_share_of_delivered=_share(spec["read_share_of_delivered"], "read_share_of_delivered"),
            read_delay_s=parse_distribution(spec["read_delay_s"], "read_delay_s"),
            delivery_unreported_share_of_read=_share(
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
