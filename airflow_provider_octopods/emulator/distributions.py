"""Distributions of delays, in seconds, as a model file writes them: ``fixed``, ``uniform``,
``exponential``, ``lognormal`` and a weighted ``mixture`` of those; each samples with numpy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from airflow_provider_octopods.emulator.json_values import join, json_object, number

FloatArray: TypeAlias = npt.NDArray[np.float64]


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
    spec = json_object(value, path, (*extra, *DISTRIBUTIONS))
    kinds = [key for key in spec if key in DISTRIBUTIONS]
    if len(kinds) != 1:
        raise ValueError(f"{path}: must name exactly one distribution of {', '.join(DISTRIBUTIONS)}")
    return kinds[0], spec[kinds[0]]


def parse_distribution(value: Any, path: str) -> Distribution:
    """``{"lognormal": {"median": 4, "sigma": 1}}`` and the like; errors name ``path``."""
    kind, body = _one_kind(value, path)
    where = join(path, kind)
    if kind == "fixed":
        return Fixed(number(body, where))
    if kind == "mixture":
        return _parse_mixture(body, where)
    names = {"uniform": ("low", "high"), "exponential": ("mean",), "lognormal": ("median", "sigma")}[kind]
    fields = json_object(body, where, names, names)
    if kind == "uniform":
        low, high = number(fields["low"], f"{where}.low"), number(fields["high"], f"{where}.high")
        if high < low:
            raise ValueError(f"{where}.high: must be >= low ({low:g}), not {high:g}")
        return Uniform(low, high)
    if kind == "exponential":
        return Exponential(number(fields["mean"], f"{where}.mean"))
    return Lognormal(
        number(fields["median"], f"{where}.median", above=True), number(fields["sigma"], f"{where}.sigma")
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
        weight = number(item["weight"], f"{where}.weight")
        parts.append((weight, parse_distribution({kind: item[kind]}, where)))
    if sum(weight for weight, _ in parts) <= 0:
        raise ValueError(f"{path}: the weights must not all be 0")
    return Mixture(tuple(parts))
