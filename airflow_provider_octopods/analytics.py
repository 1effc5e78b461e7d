"""Delivery analytics: status snapshots turned into the figures delivery teams track.

The rates are defined once, in ``DEFINITIONS`` (docs/analytics.md shows it). Every rate is a
share of all the snapshot's messages, error rows included: a message whose status could not
be read is not known to be delivered, so a failed fetch never raises a rate, and the obvious
``count(*) FILTER (...) / count(*)`` over the snapshot gives the same figures. Error rows are
a figure of their own; the day's shares add up (delivered or read, failed, still sent, any
other status, error rows). A ``read`` counts as delivered even when no delivery was reported,
since WhatsApp implies delivery on read. Failure reasons are ranked by count.

- time to deliver: ``delivered_at - sent_at``, over messages with a reported delivery (a read
  without ``delivered_at`` has no delivery time and is left out of it).
- time to read: ``read_at - sent_at``, over messages read.
Percentiles p50, p90, p99, in seconds; for the day and by hour of send (UTC). A row with no
send time (an error row, or a status given without one) counts in the day's figures, in no
hour's.

The rows come from a Parquet snapshot (``read_snapshot``) or from the Iceberg table of current
statuses (``read_table``: now, or as of an earlier snapshot), in the same columns.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

try:
    import pandas as pd
except ImportError as exc:  # the core install leaves the analytics out
    raise ImportError(
        "Delivery analytics need pandas and matplotlib: pip install 'airflow-provider-octopods[analytics]'"
    ) from exc

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PERCENTILES = (0.5, 0.9, 0.99)
# The columns delivery_report reads: a day's other columns (phone numbers, ids, errors) are
# most of its bytes, and a million rows of them take longer to read than the report to compute.
REPORT_COLUMNS = ("status", "sent_at", "delivered_at", "read_at", "failure_reason")
DELIVERED_OR_READ = ("delivered", "read")
# The table operator's Asset (iceberg.catalog.TableRef.asset_uri), told apart without pyiceberg.
ICEBERG_URI = "iceberg://"

# The one statement of the rates: docs/analytics.md includes it, the terminal summary and the
# picture print it, and the report's Parquet tables carry it as their columns' metadata.
# --8<-- [start:definitions]
DEFINITIONS = {
    "messages": "all messages of the snapshot, one row each, error rows included",
    "delivery_rate": "(delivered + read) / messages",
    "read_rate": "read / (delivered + read)",
    "failure_rate": "failed / messages",
    "error_rows": "messages whose status could not be read (status null, error_code set)",
    "error_rate": "error_rows / messages",
}
# --8<-- [end:definitions]


# Where each message stands: the stages of the funnel, each a share of all messages; they add
# up to the messages (a status Octopods may add later is "other"; "unknown": the error rows).
STAGES = ("sent", "delivered", "read", "failed", "other", "unknown")


def stages(summary: dict[str, Any]) -> dict[str, int]:
    """Messages by where they stand (``STAGES``): every message in exactly one stage."""
    by_status = summary["by_status"]
    counted = {stage: int(by_status.get(stage, 0)) for stage in STAGES[:4]}
    other = summary["messages"] - summary["error_rows"] - sum(counted.values())
    return {**counted, "other": other, "unknown": summary["error_rows"]}


def duration_text(seconds: float | None) -> str:
    """A latency as the terminal summary and the picture both say it: 3.7 s, 3.5 min, 2.1 h."""
    if seconds is None:
        return "n/a"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def share_text(value: float | None) -> str:
    """A rate or share as the terminal summary and the picture both say it: 46.3%."""
    return "n/a" if value is None else f"{value:.1%}"


HEADLINE = ("messages", "delivery_rate", "failure_rate", "read_rate", "error_rate", "error_rows")


def headline(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """The day's headline figures (``HEADLINE``) as the terminal summary and the Delivery view
    both say them: ``("delivery_rate", "92.5%")``, ``("messages", "3,300")``."""
    return [
        (name, share_text(summary[name]) if name.endswith("_rate") else f"{summary[name]:,}")
        for name in HEADLINE
    ]


@dataclass
class DeliveryReport:
    """The day's figures (``summary``, JSON-able) and the same figures by hour of send."""

    summary: dict[str, Any]
    hourly: pd.DataFrame
    reasons: pd.DataFrame


def _measures(frame: pd.DataFrame) -> pd.DataFrame:
    """What the rates count, per row, computed once for the day: each hour's rates then group
    these numbers instead of comparing the hour's status strings again."""
    status = frame["status"]
    return pd.DataFrame(
        {
            "delivered": status.isin(DELIVERED_OR_READ),
            "read": status == "read",
            "failed": status == "failed",
            "deliver_s": (frame["delivered_at"] - frame["sent_at"]).dt.total_seconds(),
            "read_s": (frame["read_at"] - frame["sent_at"]).dt.total_seconds(),
        }
    )


def _percentiles(values: pd.Series, name: str) -> dict[str, float | None]:
    # All percentiles in one call: one partial sort of the values, not one per percentile.
    found = values.quantile(list(PERCENTILES)) if len(values) else None
    return {
        f"{name}_p{round(q * 100)}_s": (None if found is None else round(float(found[q]), 3))
        for q in PERCENTILES
    }


def _rates(measures: pd.DataFrame) -> dict[str, Any]:
    """The rates over every row of ``measures`` (``_measures``), error rows included (see the
    module's docstring)."""
    total = len(measures)
    delivered = int(measures["delivered"].sum())
    read = int(measures["read"].sum())
    failed = int(measures["failed"].sum())
    return {
        "messages": total,
        "delivery_rate": round(delivered / total, 4) if total else None,
        "read_rate": round(read / delivered, 4) if delivered else None,
        "failure_rate": round(failed / total, 4) if total else None,
        **_percentiles(measures["deliver_s"].dropna(), "time_to_deliver"),
        **_percentiles(measures["read_s"].dropna(), "time_to_read"),
    }


def delivery_report(snapshot: pd.DataFrame) -> DeliveryReport:
    """Compute the report from a snapshot (the columns of ``MessageStatusToParquetOperator``)."""
    errors = int(snapshot["status"].isna().sum())
    reasons = (
        snapshot.loc[snapshot["status"] == "failed", "failure_reason"]
        .fillna("(no reason given)")
        .value_counts()
        .rename_axis("failure_reason")
        .reset_index(name="messages")
    )
    measures = _measures(snapshot)
    summary = {
        **_rates(measures),
        "error_rows": errors,
        "error_rate": round(errors / len(snapshot), 4) if len(snapshot) else None,
        "by_status": {str(k): int(v) for k, v in snapshot["status"].value_counts().items()},
        "failure_reasons": dict(zip(reasons["failure_reason"], reasons["messages"].astype(int), strict=True)),
    }
    hours = snapshot["sent_at"].dt.floor("h")  # NaT on error rows: in no hour
    hourly = pd.DataFrame(
        [{"sent_hour": hour, **_rates(group)} for hour, group in measures.groupby(hours, sort=True)]
    )
    return DeliveryReport(summary=summary, hourly=hourly, reasons=reasons)


def read_snapshot(path: str | Path, columns: tuple[str, ...] | None = None) -> pd.DataFrame:
    """A snapshot partition (a directory of part files) or one file, as a DataFrame; or the
    Iceberg table of an ``iceberg://<iceberg_conn_id>/<namespace>/<table>`` Asset URI (the
    table operator's), opened through that Airflow connection. ``columns``: only these
    (``REPORT_COLUMNS`` for a report)."""
    if str(path).startswith(ICEBERG_URI):
        return read_table(_table_of(str(path), None), columns=columns)
    selected = None if columns is None else list(columns)
    frame: pd.DataFrame = pq.read_table(str(path), partitioning=None, columns=selected).to_pandas()
    return frame


def read_committed(
    uri: str, commits: Sequence[int], columns: tuple[str, ...] | None = None, aws_conn_id: str | None = None
) -> pd.DataFrame:
    """The Iceberg table of an Asset URI as of the last of ``commits`` (snapshot ids) in its
    history: a run's shards commit one each, and the last holds all of them. ``aws_conn_id``:
    the warehouse's keys, as the table operator's parameter gives them."""
    table = _table_of(uri, aws_conn_id)
    order = {snapshot.snapshot_id: index for index, snapshot in enumerate(table.snapshots())}
    return read_table(table, snapshot_id=max(commits, key=lambda c: order.get(c, -1)), columns=columns)


def read_table(
    table: Any,
    snapshot_id: int | None = None,
    as_of: datetime | None = None,
    columns: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """The rows of the Iceberg table of current statuses (a pyiceberg ``Table``), with the
    columns ``read_snapshot`` gives (or only ``columns``): now, or as of a snapshot id or a
    moment (the snapshot current then), to report on the statuses as they were."""
    if as_of is not None:
        snapshot = table.snapshot_as_of_timestamp(round(as_of.timestamp() * 1000))
        if snapshot is None:
            raise ValueError(f"Iceberg table {table.name()} has no snapshot as of {as_of.isoformat()}")
        snapshot_id = snapshot.snapshot_id
    fields = ("*",) if columns is None else columns
    frame: pd.DataFrame = table.scan(snapshot_id=snapshot_id, selected_fields=fields).to_arrow().to_pandas()
    return frame


def _table_of(uri: str, aws_conn_id: str | None) -> Any:
    from airflow_provider_octopods.iceberg.catalog import TableRef, catalog

    conn_id, ref = TableRef.from_asset_uri(uri)
    return catalog(conn_id, aws_conn_id).load_table((*ref.namespace, ref.name))


def write_report(
    report: DeliveryReport, folder: str | Path, title: str = "WhatsApp delivery"
) -> dict[str, str]:
    """Write ``summary.parquet``, ``hourly.parquet``, ``failure_reasons.parquet`` and the
    picture ``report.png`` into ``folder``; return their paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "summary": str(out / "summary.parquet"),
        "hourly": str(out / "hourly.parquet"),
        "failure_reasons": str(out / "failure_reasons.parquet"),
        "picture": str(out / "report.png"),
    }
    flat = {k: v for k, v in report.summary.items() if not isinstance(v, dict)}
    pq.write_table(_with_definitions(pd.DataFrame([flat])), paths["summary"])
    pq.write_table(_with_definitions(report.hourly), paths["hourly"])
    report.reasons.to_parquet(paths["failure_reasons"], index=False)
    render_picture(report, paths["picture"], title)
    return paths


def _with_definitions(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as Arrow, each rate's column carrying its definition (field metadata)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    fields = [
        f.with_metadata({"definition": DEFINITIONS[f.name]}) if f.name in DEFINITIONS else f
        for f in table.schema
    ]
    return pa.Table.from_arrays(table.columns, schema=pa.schema(fields, metadata=table.schema.metadata))


def render_picture(report: DeliveryReport, path: str, title: str) -> None:
    """One PNG: the status funnel, the latency percentiles, the failure reasons, and the
    delivery rate by hour of send."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.pyplot as plt

    s = report.summary
    fig, axes = plt.subplots(2, 2, figsize=(13, 8), constrained_layout=True)
    fig.suptitle(
        f"{title}: {s['messages']:,} messages, delivery rate {share_text(s['delivery_rate'])}, "
        f"failure rate {share_text(s['failure_rate'])}, error rows {s['error_rows']:,} "
        f"({share_text(s['error_rate'])}), read rate {share_text(s['read_rate'])}",
        fontsize=13,
    )
    _plot_funnel(axes[0][0], s)
    _plot_latency(axes[0][1], s)
    _plot_reasons(axes[1][0], report.reasons)
    _plot_by_hour(axes[1][1], report.hourly)
    fig.supxlabel(
        "; ".join(f"{name} = {DEFINITIONS[name]}" for name in ("delivery_rate", "failure_rate", "read_rate")),
        fontsize=9,
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_funnel(ax: Axes, s: dict[str, Any]) -> None:
    """Where each message stands: the stages add up to all messages, each with its share."""
    counts = stages(s)
    total = max(s["messages"], 1)
    labels = [f"{stage}\n{share_text(count / total)}" for stage, count in counts.items()]
    colors = ["#f0ad4e", "#25d366", "#1f77b4", "#d9534f", "#9467bd", "#7f7f7f"]
    ax.barh(labels[::-1], list(counts.values())[::-1], color=colors[::-1])
    ax.set_title(f"Where the {s['messages']:,} messages stand (shares of all messages)")
    ax.set_xlabel("messages")
    for i, v in enumerate(list(counts.values())[::-1]):
        ax.text(v, i, f" {v:,}", va="center")


def _plot_latency(ax: Axes, s: dict[str, Any]) -> None:
    """Time to deliver and time to read at p50, p90, p99, side by side."""
    labels = ["p50", "p90", "p99"]
    deliver = [s[f"time_to_deliver_{p}_s"] or 0 for p in labels]
    read = [s[f"time_to_read_{p}_s"] or 0 for p in labels]
    x = range(len(labels))
    ax.bar([i - 0.2 for i in x], deliver, width=0.4, label="time to deliver", color="#25d366")
    ax.bar([i + 0.2 for i in x], read, width=0.4, label="time to read", color="#1f77b4")
    ax.set_xticks(list(x), labels)
    if any(v > 0 for v in deliver + read):
        ax.set_yscale("log")  # seconds to deliver, minutes to hours to read: both must show
    ax.set_ylabel("seconds after send (log scale)")
    ax.set_title("Latency percentiles")
    for i, (d, r) in enumerate(zip(deliver, read, strict=True)):
        ax.text(i - 0.2, d, duration_text(d), ha="center", va="bottom", fontsize=9)
        ax.text(i + 0.2, r, duration_text(r), ha="center", va="bottom", fontsize=9)
    ax.legend(loc="upper left")


def _plot_reasons(ax: Axes, reasons: pd.DataFrame) -> None:
    """The six most frequent failure reasons."""
    top = reasons.head(6)
    ax.barh([_wrap(r) for r in top["failure_reason"]][::-1], list(top["messages"])[::-1], color="#d9534f")
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("Failure reasons")
    ax.set_xlabel("messages")


def _plot_by_hour(ax: Axes, hourly: pd.DataFrame) -> None:
    """Delivery, read and failure rates by hour of send, in percent, over the messages sent in
    each hour (grey bars, right axis): a rate over few messages weighs little."""
    if len(hourly):
        from matplotlib.ticker import PercentFormatter

        hours = list(hourly["sent_hour"].dt.strftime("%H:00"))
        counts = ax.twinx()
        counts.bar(hours, hourly["messages"], color="#d9d9d9", zorder=0)
        counts.set_ylabel("messages sent in the hour")
        counts.set_ylim(0, 1.2 * max(int(hourly["messages"].max()), 1))  # below the legend too
        ax.set_zorder(counts.get_zorder() + 1)
        ax.patch.set_visible(False)
        for name, color in (
            ("delivery_rate", "#25d366"),
            ("read_rate", "#1f77b4"),
            ("failure_rate", "#d9534f"),
        ):
            ax.plot(hours, hourly[name] * 100, marker="o", label=name.replace("_", " "), color=color)
        ax.yaxis.set_major_formatter(PercentFormatter())
        ax.set_ylim(0, 120)  # rates end at 100%: the band above is the legend's
        ax.legend(loc="upper center", ncols=3, fontsize=9)
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    ax.set_title("By hour of send (UTC)")


def _wrap(text: str, width: int = 30) -> str:
    return textwrap.fill(text, width, max_lines=2, placeholder="…")
