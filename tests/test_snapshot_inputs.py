"""Input files of message ids: the column, the header, what else is ignored, and a file that
cannot be one refused with a typed error that fails the task without retries."""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_octopods.errors import OctopodsInputError
from airflow_provider_octopods.snapshot.inputs import read_refs


def parquet(table: pa.Table) -> io.BytesIO:
    out = io.BytesIO()
    pq.write_table(table, out)
    out.seek(0)
    return out


def test_csv_cells_are_text_and_other_columns_ignored() -> None:
    data = b'phone,message_id,note\n+1,3851828,x\n+2,00042,"a, b"\n'
    assert list(read_refs(io.BytesIO(data), "sent.csv")) == ["3851828", "00042"]
    assert list(read_refs(io.BytesIO(gzip.compress(data)), "sent.csv.gz")) == ["3851828", "00042"]


def test_parquet_of_ints_or_strings() -> None:
    table = pa.table({"message_id": pa.array([1, 2], pa.int64()), "other": ["a", "b"]})
    assert list(read_refs(parquet(table), "sent.parquet")) == [1, 2]
    assert list(read_refs(parquet(pa.table({"message_id": ["7"]})), "sent")) == ["7"]


@pytest.mark.parametrize(
    ("data", "name", "says"),
    [
        (
            b"id,phone\n1,+1\n",
            "s3://b/sent.csv",
            "s3://b/sent.csv has no 'message_id' column: its header row",
        ),
        (None, "sent.parquet", "sent.parquet has no 'message_id' column: its columns (id, phone)"),
        (b"message_id\n1\n", "sent.txt", "sent.txt cannot be read as Parquet (the name is not *.csv)"),
        (b"message_id\n1\n\xff\xfe\n", "sent.csv", "sent.csv cannot be read as CSV"),
    ],
)
def test_a_file_that_cannot_be_an_ids_file_is_refused_for_good(
    data: bytes | None, name: str, says: str
) -> None:
    stream = io.BytesIO(data) if data is not None else parquet(pa.table({"id": [1], "phone": ["+1"]}))
    with pytest.raises(OctopodsInputError) as info:
        list(read_refs(stream, name))
    assert says in str(info.value)
    assert isinstance(info.value, AirflowFailException)  # no retry reads it differently
