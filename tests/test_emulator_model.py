"""Sender timing models (emulator/model.py): the JSON format, its validation, and sampling."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_octopods.emulator.distributions import (
    Exponential,
    Fixed,
    Lognormal,
    Mixture,
    Uniform,
    parse_distribution,
)
from airflow_provider_octopods.emulator.model import (
    BUILTIN,
    MODELS_DIR,
    SenderModel,
    as_model,
    builtin_models,
)
from airflow_provider_octopods.emulator.state import (
    DELIVERED,
    FAILED,
    READ,
    SENT,
    EmulatorState,
    timed_lifecycle,
)
from tests.refresh_cases import SLOW_READERS


def _model(**changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(SLOW_READERS)), **changes}


def _rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.mark.parametrize(
    ("spec", "expected", "median"),
    [
        ({"fixed": 30}, Fixed(30.0), 30.0),
        ({"uniform": {"low": 10, "high": 20}}, Uniform(10.0, 20.0), 15.0),
        ({"exponential": {"mean": 60}}, Exponential(60.0), 60 * math.log(2)),
        ({"lognormal": {"median": 245, "sigma": 1.2}}, Lognormal(245.0, 1.2), 245.0),
        (
            {"mixture": [{"weight": 3, "fixed": 1}, {"weight": 1, "fixed": 100}]},
            Mixture(((3.0, Fixed(1.0)), (1.0, Fixed(100.0)))),
            1.0,
        ),
    ],
)
def test_each_distribution_parses_and_samples_its_median(
    spec: dict[str, Any], expected: object, median: float
) -> None:
    parsed = parse_distribution(spec, "d")
    assert parsed == expected
    assert parsed.to_dict() == spec
    drawn = parsed.sample(_rng(), 20_000)
    assert drawn.shape == (20_000,)
    assert np.median(drawn) == pytest.approx(median, rel=0.05)


def test_mixture_weights_are_normalised() -> None:
    mixture = parse_distribution({"mixture": [{"weight": 30, "fixed": 1}, {"weight": 10, "fixed": 2}]}, "d")
    assert np.mean(mixture.sample(_rng(), 20_000) == 2) == pytest.approx(0.25, abs=0.02)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "blue"}, "the model: unknown key 'colour'"),
        ({"name": ""}, "name: must be a non-empty string"),
        (
            {"outcomes": {"delivered": 0.9, "failed": 0.06}},
            "outcomes: the shares must sum to 1, not 0.96",
        ),
        ({"outcomes": {"delivered": 1.5, "failed": -0.5}}, "outcomes.delivered: must be a share in [0, 1]"),
        ({"outcomes": {"delivered": 1, "bounced": 0}}, "outcomes: unknown key 'bounced'"),
        ({"deliver_delay_s": {"gamma": {"shape": 2}}}, "deliver_delay_s: unknown key 'gamma'"),
        ({"deliver_delay_s": {}}, "deliver_delay_s: must name exactly one distribution"),
        (
            {"deliver_delay_s": {"fixed": 1, "exponential": {"mean": 1}}},
            "deliver_delay_s: must name exactly one distribution",
        ),
        ({"deliver_delay_s": {"fixed": -3}}, "deliver_delay_s.fixed: must be >= 0, not -3"),
        ({"deliver_delay_s": {"fixed": float("inf")}}, "deliver_delay_s.fixed: must be finite"),
        ({"deliver_delay_s": {"fixed": float("nan")}}, "deliver_delay_s.fixed: must be finite"),
        ({"deliver_delay_s": {"fixed": "30"}}, 'deliver_delay_s.fixed: must be a number, not "30"'),
        ({"deliver_delay_s": {"fixed": True}}, "deliver_delay_s.fixed: must be a number, not true"),
        ({"fail_delay_s": {"uniform": {"low": 5, "high": 1}}}, "fail_delay_s.uniform.high: must be >= low"),
        ({"fail_delay_s": {"uniform": {"low": 5}}}, "fail_delay_s.uniform: missing key 'high'"),
        ({"fail_delay_s": {"exponential": {"mean": 1, "rate": 2}}}, "fail_delay_s.exponential: unknown key"),
        (
            {"fail_delay_s": {"lognormal": {"median": 0, "sigma": 1}}},
            "fail_delay_s.lognormal.median: must be > 0, not 0",
        ),
        ({"read_delay_s": {"mixture": []}}, "read_delay_s.mixture: must be a non-empty list"),
        (
            {
                "read_delay_s": {
                    "mixture": [
                        {"weight": 1, "fixed": 2},
                        {"weight": 1, "lognormal": {"median": 3, "sigma": -1}},
                    ]
                }
            },
            "read_delay_s.mixture[1].lognormal.sigma: must be >= 0, not -1",
        ),
        ({"read_delay_s": {"mixture": [{"fixed": 2}]}}, "read_delay_s.mixture[0]: missing key 'weight'"),
        (
            {"read_delay_s": {"mixture": [{"weight": 0, "fixed": 2}]}},
            "read_delay_s.mixture: the weights must not all be 0",
        ),
        ({"read_share_of_delivered": 1.2}, "read_share_of_delivered: must be a share in [0, 1], not 1.2"),
        ({"delivery_unreported_share_of_read": -0.1}, "delivery_unreported_share_of_read: must be >= 0"),
        ({"shift": {"read_delay_factor": 2}}, "shift: missing key 'from_day'"),
        ({"shift": {"from_day": 1.5}}, "shift.from_day: must be a whole number of days >= 0, not 1.5"),
        ({"shift": {"from_day": 3, "read_delay_factor": -2}}, "shift.read_delay_factor: must be >= 0"),
        ({"shift": {"from_day": 3, "outcomes": {"failed": 0.5}}}, "shift.outcomes: the shares must sum to 1"),
        ({"shift": {"from_day": 3, "when": "later"}}, "shift: unknown key 'when'"),
    ],
)
def test_a_bad_value_is_named_by_its_path(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        SenderModel.from_dict(_model(**changes))


def test_a_missing_key_is_named() -> None:
    spec = _model()
    del spec["read_delay_s"]
    with pytest.raises(ValueError, match=r"^the model: missing key 'read_delay_s'$"):
        SenderModel.from_dict(spec)


def test_a_bad_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(_model(read_share_of_delivered=2)))
    with pytest.raises(
        ValueError, match=f"^{re.escape(str(path))}: read_share_of_delivered: must be a share"
    ):
        SenderModel.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: Expecting property name"):
        SenderModel.load(path)
    with pytest.raises(ValueError, match="nor a built-in model \\(built-in: campaigns, late_readers"):
        SenderModel.load(tmp_path / "absent.json")


def test_to_dict_round_trips(tmp_path: Path) -> None:
    model = SenderModel.from_dict(SLOW_READERS)
    assert model.to_dict() == SLOW_READERS
    path = tmp_path / "slow.json"
    path.write_text(json.dumps(model.to_dict()))
    assert SenderModel.load(path) == model
    assert SenderModel.load(str(path)) == model


def test_the_built_in_models_all_load_and_round_trip() -> None:
    assert builtin_models() == BUILTIN == ("campaigns", "late_readers", "receipts_off", "shift")
    names = {SenderModel.load(name).name for name in BUILTIN}
    assert names == {"campaigns", "late readers", "receipts off", "shift mid-run"}
    for name in BUILTIN:
        spec = json.loads((MODELS_DIR / f"{name}.json").read_text())
        assert SenderModel.from_dict(spec).to_dict() == {"delivery_unreported_share_of_read": 0.0, **spec}
    assert as_model("campaigns") == SenderModel.load("campaigns")
    assert as_model(None) is None


def test_the_campaigns_model_is_the_emulators_old_campaign_mix() -> None:
    """The figures of the campaign the emulator drew before models: 6 % failed, 2 % never
    confirmed, 45 % read after a reported delivery and 2 % read with none reported."""
    model = SenderModel.load("campaigns")
    timings = model.sample(_rng(), 20_000)
    read = ~np.isnan(timings.read)
    assert np.mean(~np.isnan(timings.fail)) == pytest.approx(0.06, abs=0.006)
    assert np.mean(read & ~timings.unreported) == pytest.approx(0.45, abs=0.015)
    assert np.mean(timings.unreported) == pytest.approx(0.02, abs=0.004)
    none = np.isnan(timings.deliver) & np.isnan(timings.fail)
    assert np.mean(none) == pytest.approx(0.02, abs=0.004)
    assert np.nanmedian(timings.deliver) == pytest.approx(math.exp(1.4), rel=0.05)
    assert np.median(timings.read[read] - timings.deliver[read]) == pytest.approx(math.exp(5.5), rel=0.08)
    assert np.nanmin(timings.fail) >= 1 and np.nanmax(timings.fail) <= 30


def test_sampled_shares_and_medians_follow_the_model() -> None:
    model = SenderModel.from_dict(_model(delivery_unreported_share_of_read=0.25))
    timings = model.sample(_rng(), 20_000)
    delivered = ~np.isnan(timings.deliver)
    read = ~np.isnan(timings.read)
    assert np.mean(delivered) == pytest.approx(0.92, abs=0.01)
    assert np.mean(read[delivered]) == pytest.approx(0.55, abs=0.015)
    assert np.mean(timings.unreported[read]) == pytest.approx(0.25, abs=0.015)
    assert not np.any(timings.unreported & ~read)
    assert np.nanmedian(timings.deliver) == pytest.approx(4, rel=0.06)
    assert np.nanmean(timings.fail) == pytest.approx(60, rel=0.06)
    # 70 % around 10 minutes, 30 % around a day: the 35th percentile is in the first part.
    delay = timings.read[read] - timings.deliver[read]
    assert np.mean(delay > 6 * 3600) == pytest.approx(0.3, abs=0.03)


def test_the_shift_applies_from_its_day() -> None:
    model = SenderModel.from_dict(_model())
    before, on, after = (model.sample(_rng(), 20_000, day=day) for day in (13, 14, 20))
    assert np.array_equal(before.read, SenderModel.from_dict(_model()).sample(_rng(), 20_000).read, True)

    def share(t: Any) -> float:
        return float(np.mean(~np.isnan(t.read)[~np.isnan(t.deliver)]))

    assert share(before) == pytest.approx(0.55, abs=0.015)
    assert share(on) == pytest.approx(0.3, abs=0.015) and share(after) == pytest.approx(0.3, abs=0.015)
    delays = [np.nanmedian(t.read - t.deliver) for t in (before, on)]
    assert delays[1] / delays[0] == pytest.approx(3, rel=0.15)


def test_a_shift_can_change_outcomes_and_delivery() -> None:
    shift = {"from_day": 1, "outcomes": {"failed": 1.0}, "deliver_delay_factor": 0}
    model = SenderModel.from_dict(_model(shift=shift))
    assert np.all(~np.isnan(model.sample(_rng(), 100, day=1).fail))
    assert np.mean(~np.isnan(model.sample(_rng(), 1000, day=0).fail)) < 0.2
    zero = SenderModel.from_dict(_model(shift={"from_day": 0, "deliver_delay_factor": 0}))
    assert np.nanmax(zero.sample(_rng(), 100).deliver) == 0


def test_confirmed_delivers_the_never_confirmed() -> None:
    spec = _model(shift={"from_day": 2, "outcomes": {"delivered": 0.5, "never_confirmed": 0.5}})
    confirmed = SenderModel.from_dict(spec).confirmed()
    assert confirmed.outcomes.delivered == pytest.approx(0.94) and confirmed.outcomes.never_confirmed == 0
    assert confirmed.shift is not None and confirmed.shift.outcomes is not None
    assert confirmed.shift.outcomes.delivered == 1.0


def test_one_messages_timings_make_its_lifecycle() -> None:
    model = SenderModel.from_dict(_model(delivery_unreported_share_of_read=0.5))
    timings = model.sample(_rng(), 2_000)
    kinds = set()
    for index in range(len(timings)):
        steps = timed_lifecycle(timings, index)
        kinds.add(tuple(status for _, status in steps))
        assert steps[0] == (0.0, SENT)
        assert [at for at, _ in steps] == sorted(at for at, _ in steps)
    assert kinds == {(SENT,), (SENT, FAILED), (SENT, DELIVERED), (SENT, DELIVERED, READ), (SENT, READ)}


def test_add_campaign_follows_the_states_model() -> None:
    failing = SenderModel.from_dict(_model(outcomes={"failed": 1.0}, fail_delay_s={"fixed": 3}))
    state = EmulatorState(model=failing)
    ids = state.add_campaign(50, spread_hours=24, evenly=True)
    messages = [state.messages[m] for m in ids]
    assert {m.steps for m in messages} == {((0.0, SENT), (3.0, FAILED))}
    assert all(m.failure_reason for m in messages)
    sent = [m.created_at for m in messages]
    assert np.allclose(np.diff(sent), 24 * 3600 / 50)
    assert state.now() - sent[-1] == pytest.approx(24 * 3600 / 50, abs=1)


def test_add_campaign_without_unconfirmed_confirms_every_message() -> None:
    state = EmulatorState(seed=3)
    confirmed = state.add_campaign(2_000, unconfirmed=False)
    assert all(len(state.messages[m].steps) > 1 for m in confirmed)
    default = state.add_campaign(2_000)
    unconfirmed = [m for m in default if len(state.messages[m].steps) == 1]
    assert 0.01 < len(unconfirmed) / 2_000 < 0.03


def test_add_campaign_meets_the_shift_on_its_day() -> None:
    model = SenderModel.from_dict(_model(shift={"from_day": 1, "outcomes": {"failed": 1.0}}))
    state = EmulatorState(model=model)
    first_day = state.add_campaign(200, spread_hours=0)
    state.advance(86_400)
    second_day = state.add_campaign(200, spread_hours=0)
    assert any(state.messages[m].steps[-1][1] != FAILED for m in first_day)
    assert all(state.messages[m].steps[-1][1] == FAILED for m in second_day)


# --- any valid model samples ordered timings --------------------------------------------------

_seconds = st.floats(0, 1e6, allow_nan=False)
_simple = st.one_of(
    st.builds(lambda s: {"fixed": s}, _seconds),
    st.tuples(_seconds, _seconds).map(lambda p: {"uniform": {"low": min(p), "high": max(p)}}),
    st.builds(lambda m: {"exponential": {"mean": m}}, _seconds),
    st.builds(lambda m, s: {"lognormal": {"median": m, "sigma": s}}, st.floats(1e-3, 1e6), st.floats(0, 3)),
)
_distribution = st.one_of(
    _simple,
    st.lists(
        st.builds(lambda w, d: {"weight": w, **d}, st.floats(0.01, 10), _simple), min_size=1, max_size=3
    ).map(lambda parts: {"mixture": parts}),
)
_share_st = st.floats(0, 1)


@st.composite
def _models(draw: st.DrawFn) -> dict[str, Any]:
    delivered = draw(_share_st)
    failed = draw(st.floats(0, 1 - delivered))
    spec = {
        "name": "any",
        "outcomes": {"delivered": delivered, "failed": failed, "never_confirmed": 1 - delivered - failed},
        "deliver_delay_s": draw(_distribution),
        "fail_delay_s": draw(_distribution),
        "read_share_of_delivered": draw(_share_st),
        "read_delay_s": draw(_distribution),
        "delivery_unreported_share_of_read": draw(_share_st),
    }
    if draw(st.booleans()):
        spec["shift"] = {"from_day": draw(st.integers(0, 30)), "read_delay_factor": draw(st.floats(0, 10))}
    return spec


@settings(max_examples=150, deadline=None)
@given(spec=_models(), day=st.integers(0, 40), seed=st.integers(0, 2**32))
def test_any_valid_model_samples_ordered_timings(spec: dict[str, Any], day: int, seed: int) -> None:
    model = SenderModel.from_dict(spec)
    assert SenderModel.from_dict(model.to_dict()) == model
    timings = model.sample(np.random.default_rng(seed), 200, day)
    delivered, read, failed = (~np.isnan(a) for a in (timings.deliver, timings.read, timings.fail))
    # Exactly one outcome: delivered (maybe read), failed, or neither (never confirmed).
    assert not np.any(delivered & failed)
    assert np.all(~read | delivered)
    assert np.all(timings.deliver[read] <= timings.read[read])
    assert np.all(timings.deliver[delivered] >= 0) and np.all(timings.fail[failed] >= 0)
    assert not np.any(timings.unreported & ~read)
