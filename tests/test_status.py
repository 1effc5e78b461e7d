"""status: the outcome table (a status against the target) agrees with the stage order."""

from __future__ import annotations

import pytest

from airflow_provider_octopods.status import OUTCOMES, Outcome, outcome, rank


def test_outcome_table_agrees_with_the_stage_order() -> None:
    for (status, target), result in OUTCOMES.items():
        if status == "failed":
            assert result is Outcome.FAILED
        else:
            assert (result is Outcome.MET) == (rank(status) >= rank(target))
    with pytest.raises(ValueError, match="target_status"):
        outcome("sent", "failed")
