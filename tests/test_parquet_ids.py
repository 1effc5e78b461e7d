"""Sets of ids as sorted arrays: membership by binary search is ``np.isin``'s, for any ids."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_octopods.parquet.ids import members

ids = st.lists(st.integers(-(2**63), 2**63 - 1), max_size=50)


@given(ids, ids)
def test_members_are_those_np_isin_finds(values: list[int], wanted: list[int]) -> None:
    got = members(np.array(values, dtype=np.int64), np.unique(np.array(wanted, dtype=np.int64)))
    assert got.tolist() == np.isin(values, wanted).tolist()
