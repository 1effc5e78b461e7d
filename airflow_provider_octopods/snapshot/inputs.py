"""The message ids a snapshot covers: checked, deduplicated, and what was refused reported."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from airflow_provider_octopods.errors import InvalidMessageReference, OctopodsInputError
from airflow_provider_octopods.protocol.refs import MAX_MESSAGE_ID, message_id_of
from airflow_provider_octopods.protocol.text import shown

ID_COLUMN = "message_id"
SAMPLES = 5


@dataclass
class MessageInputs:
    """Unique valid ids (sorted int64), and the inputs that could not be ids."""

    ids: np.ndarray[Any, np.dtype[np.int64]]
    received: int = 0
    invalid: int = 0
    invalid_samples: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.received - self.invalid - len(self.ids)

    @property
    def samples_text(self) -> str:
        """The samples of inputs that are not ids, for a message."""
        return ", ".join(self.invalid_samples)


def collect(refs: Iterable[object], base_url: str) -> MessageInputs:
    """Check every input once; keep the valid ids in 8 bytes each, not as Python objects."""
    valid = array("q")
    received = invalid = 0
    samples: list[str] = []
    for ref in refs:
        received += 1
        if type(ref) is int and 0 < ref <= MAX_MESSAGE_ID:  # the common case, without a call
            valid.append(ref)
            continue
        try:
            valid.append(message_id_of(ref, base_url))
        except InvalidMessageReference:
            invalid += 1
            if len(samples) < SAMPLES:
                samples.append(shown(ref))
    ids = np.unique(np.frombuffer(valid, dtype=np.int64)) if valid else np.empty(0, dtype=np.int64)
    return MessageInputs(ids=ids, received=received, invalid=invalid, invalid_samples=samples)


def read_refs(stream: IO[bytes], name: str, batch_rows: int = 65_536) -> Iterator[object]:
    """The ``message_id`` column of a Parquet or CSV file, streamed in batches; a file that is
    not one of them, or has no such column, is refused (``OctopodsInputError``).

    CSV (a name ending in ``.csv`` or ``.csv.gz``): UTF-8, comma-separated, a header row naming
    the columns; the cells of ``message_id`` are read as text. Anything else is read as Parquet.
    Other columns are ignored in both."""
    try:
        if name.lower().endswith((".csv", ".csv.gz")):
            yield from _csv_refs(stream, name)
        else:
            yield from _parquet_refs(stream, name, batch_rows)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        kind = "CSV" if name.lower().endswith((".csv", ".csv.gz")) else "Parquet (the name is not *.csv)"
        raise OctopodsInputError(f"{name} cannot be read as {kind}: {shown(str(exc), 300)}") from None


def _no_column(name: str, columns: list[str] | None) -> OctopodsInputError:
    where = "its header row" if columns is None else f"its columns ({', '.join(columns[:20]) or 'none'})"
    return OctopodsInputError(
        f"{name} has no {ID_COLUMN!r} column: {where} must name one, holding the message ids"
    )


def _csv_refs(stream: IO[bytes], name: str) -> Iterator[object]:
    options = pa_csv.ConvertOptions(include_columns=[ID_COLUMN], column_types={ID_COLUMN: pa.string()})
    source = pa.CompressedInputStream(stream, "gzip") if name.lower().endswith(".gz") else stream
    try:
        # No reading ahead in threads: a reader left mid-file by an error must not outlive it.
        reading = pa_csv.ReadOptions(use_threads=False)
        reader = pa_csv.open_csv(source, read_options=reading, convert_options=options)
    except pa.ArrowKeyError:
        raise _no_column(name, None) from None
    for batch in reader:
        # Cells stay text: message_id_of reads digits of any length without raising.
        yield from batch.column(0).to_pylist()


def _parquet_refs(stream: IO[bytes], name: str, batch_rows: int) -> Iterator[object]:
    parquet = pq.ParquetFile(stream)
    if ID_COLUMN not in parquet.schema_arrow.names:
        raise _no_column(name, parquet.schema_arrow.names)
    for batch in parquet.iter_batches(batch_size=batch_rows, columns=[ID_COLUMN]):
        yield from batch.column(0).to_pylist()
