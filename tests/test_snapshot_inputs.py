"""The inputs: collecting refs into ids (checked, deduplicated, the invalid ones counted and
sampled), and input files of message ids: the column, the header, what else is ignored, and a
file that cannot be one refused with a typed error that fails the task without retries."""

from __future__ import annotations

import gzip
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_octopods.errors import OctopodsInputError
from airflow_provider_octopods.snapshot import inputs
from airflow_provider_octopods.snapshot.inputs import read_refs

BASE = "https://app.octopods.io"


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


def test_collect_checks_dedupes_and_reports() -> None:
    refs: list[object] = [5, 3, 5, "3", f"{BASE}/api/v1/whatsapp/messages/7", "abc", -1, True, None, 2**63]
    got = inputs.collect(refs, BASE)
    assert got.ids.tolist() == [3, 5, 7]
    assert (got.received, got.invalid, got.duplicates) == (10, 5, 2)
    assert got.invalid_samples == ["'abc'", "-1", "True", "None", str(2**63)]


def test_ids_of_thousands_of_digits_in_files_are_invalid_inputs() -> None:
    huge = "9" * 5000
    csv = io.BytesIO(f"message_id\n12\n{huge}\n{'0' * 5000}13\n".encode())
    parquet = io.BytesIO()
    pq.write_table(pa.table({"message_id": ["12", huge, "13"]}), parquet)
    parquet.seek(0)
    for stream, name in ((csv, "sent.csv"), (parquet, "sent.parquet")):
        got = inputs.collect(inputs.read_refs(stream, name), BASE)
        assert got.ids.tolist() == [12, 13]
        assert got.invalid == 1
        assert got.invalid_samples[0].startswith("'9999")
        assert len(got.invalid_samples[0]) < 110


def test_a_rendered_list_with_a_number_of_thousands_of_digits_keeps_the_other_ids() -> None:
    from airflow_provider_octopods.templated import as_list

    got = inputs.collect(as_list("[12, " + "9" * 5000 + ", 13]", "message_ids"), BASE)
    assert got.ids.tolist() == [12, 13]
    assert got.invalid == 1


def test_read_refs_from_csv_and_parquet() -> None:
    csv = io.BytesIO(b"phone,message_id\n+1,12\n+2, 13\n+3,https://x.example/1\n")
    assert list(inputs.read_refs(csv, "sent.csv")) == ["12", " 13", "https://x.example/1"]
    buffer = io.BytesIO()
    pq.write_table(pa.table({"message_id": [1, 2, None]}), buffer)
    buffer.seek(0)
    assert list(inputs.read_refs(buffer, "sent.parquet")) == [1, 2, None]
    other = io.BytesIO()
    pq.write_table(pa.table({"id": [1]}), other)
    other.seek(0)
    with pytest.raises(ValueError, match="no 'message_id' column"):
        list(inputs.read_refs(other, "other.parquet"))
