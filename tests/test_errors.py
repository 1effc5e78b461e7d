"""The typed errors: what each means for a wait (one action per class), and each one's way
back from a trigger event (``to_dict`` then ``error_from_dict``) with every field it carries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_provider_octopods.errors import (
    InvalidMessageReference,
    OctopodsAuthError,
    OctopodsConnectionError,
    OctopodsError,
    OctopodsRateLimitError,
    OctopodsRequestError,
    OctopodsResponseError,
    OctopodsServerError,
    OctopodsTLSError,
    OctopodsTriggerError,
    _error_classes,
    error_action,
    error_from_dict,
)


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (OctopodsAuthError("key"), "end_wait"),
        (OctopodsTLSError("cert", kind="tls"), "end_wait"),
        (OctopodsTriggerError("bug"), "end_wait"),
        (OctopodsError("unclassified"), "end_wait"),
        (ValueError("not ours"), "end_wait"),
        (OctopodsRequestError("not found"), "fail_message"),
        (InvalidMessageReference("not an id"), "fail_message"),
        (OctopodsServerError("503"), "retry_later"),
        (OctopodsResponseError("garbled"), "retry_later"),
        (OctopodsRateLimitError("429"), "retry_later"),
        (OctopodsConnectionError("dropped", kind="dropped"), "retry_later"),
    ],
)
def test_error_action_of_each_class(error: BaseException, action: str) -> None:
    assert error_action(error) == action


@pytest.mark.parametrize(
    "error",
    [
        OctopodsAuthError("refused", http_status=401, error_code=6, request_id="r1"),
        OctopodsTLSError("cert", kind="tls", message_id=5),
        OctopodsRequestError("nope", http_status=400, error_code=2, error="Message not found."),
    ],
)
def test_errors_come_back_typed_from_an_event(error: OctopodsError) -> None:
    back = error_from_dict(error.to_dict())
    assert type(back) is type(error)
    assert str(back) == str(error)


def _example(cls: type[OctopodsError]) -> OctopodsError:
    fields = {
        "http_status": 429,
        "error_code": 3,
        "error": "slow down",
        "request_id": "r-1",
        "message_id": 42,
    }
    if issubclass(cls, OctopodsConnectionError):
        return cls("no answer", kind="dropped", **fields)
    if issubclass(cls, OctopodsRateLimitError):
        return cls("429", retry_at=datetime(2026, 12, 6, 12, 0, 1, 250_000, tzinfo=UTC), **fields)
    return cls("refused", **fields)


@pytest.mark.parametrize("cls", _error_classes(OctopodsError), ids=lambda c: c.__name__)
def test_every_error_class_comes_back_whole_from_an_event(cls: type[OctopodsError]) -> None:
    error = _example(cls)
    back = error_from_dict(error.to_dict())
    assert type(back) is cls
    assert back.to_dict() == error.to_dict()
    assert str(back) == str(error)


def test_the_registry_knows_every_error_class() -> None:
    """A class added anywhere under OctopodsError is known without a list to keep by hand."""
    names = {c.__name__ for c in _error_classes(OctopodsError)}
    assert {
        "OctopodsRateLimitError",
        "OctopodsTLSError",
        "OctopodsConfigError",
        "OctopodsInputError",
    } <= names


def test_an_unknown_type_comes_back_as_a_trigger_error() -> None:
    back = error_from_dict({"type": "SomethingNewer", "summary": "from a later version", "request_id": "r"})
    assert type(back) is OctopodsTriggerError
    assert back.request_id == "r"


@pytest.mark.parametrize("cls", _error_classes(OctopodsError), ids=lambda c: c.__name__)
def test_retryable_is_the_action_retry_later(cls: type[OctopodsError]) -> None:
    error = _example(cls)
    assert error.retryable == (error_action(error) == "retry_later")
