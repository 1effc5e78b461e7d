"""Before the first request, the folders a snapshot writes to are shown to be writable: what no
retry can change fails without retries, naming the setting and the path; a passing fault is an
ordinary, retried error. (A read-only mount and a file in the way, through Airflow, are in
test_snapshot_failures.)"""

from __future__ import annotations

import errno
from pathlib import Path
from types import SimpleNamespace

import fsspec
import pytest
from airflow.sdk import ObjectStoragePath
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_octopods.errors import OctopodsConfigError
from airflow_provider_octopods.snapshot.preflight import probe_writable


def test_a_local_probe_leaves_nothing_behind(tmp_path: Path) -> None:
    folder = tmp_path / "root" / "snapshot_date=2026-12-06"
    probe_writable(ObjectStoragePath(f"file://{folder}"), "output_path")
    assert list(tmp_path.iterdir()) == []  # not even the folders it had to make


def test_an_object_store_probe_is_put_and_removed() -> None:
    # fsspec's in-memory store: ObjectStoragePath registers no "memory" scheme. The store is
    # one per process, shared with other tests: this one's bucket is named for it alone.
    store = fsspec.filesystem("memory")
    folder = SimpleNamespace(protocol="memory", path="/preflight/statuses/snapshot_date=2026-12-06", fs=store)
    probe_writable(folder, "output_path")
    assert store.find("/preflight") == []


class Refusing:
    """An object store that refuses a put with ``error``: no real store here can be made to."""

    def __init__(self, error: OSError) -> None:
        self.error = error

    def makedirs(self, path: str, exist_ok: bool) -> None: ...

    def pipe_file(self, path: str, data: bytes) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (PermissionError(errno.EACCES, "Access Denied"), AirflowFailException),
        (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"), AirflowException),
    ],
)
def test_what_no_retry_changes_fails_without_retries(error: OSError, raised: type[Exception]) -> None:
    folder = SimpleNamespace(protocol="s3", path="bucket/statuses", fs=Refusing(error))
    folder.__str__ = lambda: "s3://bucket/statuses"  # type: ignore[method-assign]
    with pytest.raises(raised) as info:
        probe_writable(folder, "output_path")
    assert "output_path" in str(info.value) and error.strerror in str(info.value)
    assert isinstance(info.value, OctopodsConfigError) == (raised is AirflowFailException)
