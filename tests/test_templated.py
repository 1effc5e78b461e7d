"""A templated list of message ids as Airflow renders it: a list as it is, or the text of one
(JSON or a Python literal) when the DAG does not render native objects."""

from __future__ import annotations

import pytest

from airflow_provider_octopods.templated import as_list


@pytest.mark.parametrize(
    ("rendered", "expected"),
    [
        ([1, "2"], [1, "2"]),
        ((1, 2), [1, 2]),
        ("[1, 2, 3]", [1, 2, 3]),  # JSON text, as an XCom list renders
        ("['7', 8]", ["7", 8]),  # a Python literal, as str() of a list renders
        ("[]", []),
    ],
)
def test_a_rendered_list_is_read(rendered: object, expected: list[object]) -> None:
    assert as_list(rendered, "message_ids") == expected


@pytest.mark.parametrize("rendered", ["7", "{'a': 1}", "not a list", 7, None])
def test_what_is_not_a_list_is_refused_naming_the_argument(rendered: object) -> None:
    with pytest.raises(ValueError, match="message_ids must be a list of message ids"):
        as_list(rendered, "message_ids")


def test_a_number_past_pythons_digit_limit_stays_text() -> None:
    """Refused later as one input, instead of the whole list failing to parse."""
    huge = "9" * 5000
    assert as_list(f"[1, {huge}]", "message_ids") == [1, huge]
