"""Delivery analytics: status snapshots turned into the figures delivery teams track.

Metrics (see docs/analytics.md), over the messages of a snapshot that have a status (error
rows are counted apart, in ``error_rows``, and left out of every rate):

- delivery rate: (delivered + read) / all. A ``read`` counts as delivered even when no
  delivery was reported, since WhatsApp implies delivery on read.
- read rate: read / (delivered + read).
- failure rate: failed / all; failure reasons ranked by count.
- time to deliver: ``delivered_at - sent_at``, over messages with a reported delivery (a read
  without ``delivered_at`` has no delivery time and is left out of it).
- time to read: ``read_at - sent_at``, over messages read.
Percentiles p50, p90, p99, in seconds; for the day and by hour of send (UTC).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

PERCENTILES = (0.5, 0.9, 0.99)
DELIVERED_OR_READ = ("delivered", "read")


@dataclass
class DeliveryReport:
    """The day's figures (``summary``, JSON-able) and the same figures by hour of send."""

    summary: dict[str, Any]
    hourly: pd.DataFrame
    reasons: pd.DataFrame


def _seconds(end: pd.Series, start: pd.Series) -> pd.Series:
    return (end - start).dt.total_seconds().dropna()


def _percentiles(values: pd.Series, name: str) -> dict[str, float | None]:
    return {
        f"{name}_p{round(q * 100)}_s": (round(float(values.quantile(q)), 3) if len(values) else None)
        for q in PERCENTILES
    }


def _rates(frame: pd.DataFrame) -> dict[str, Any]:
    total = len(frame)
    delivered = int(frame["status"].isin(DELIVERED_OR_READ).sum())
    read = int((frame["status"] == "read").sum())
    failed = int((frame["status"] == "failed").sum())
    return {
        "messages": total,
        "delivery_rate": round(delivered / total, 4) if total else None,
        "read_rate": round(read / delivered, 4) if delivered else None,
        "failure_rate": round(failed / total, 4) if total else None,
        **_percentiles(_seconds(frame["delivered_at"], frame["sent_at"]), "time_to_deliver"),
        **_percentiles(_seconds(frame["read_at"], frame["sent_at"]), "time_to_read"),
    }


def delivery_report(snapshot: pd.DataFrame) -> DeliveryReport:
    """Compute the report from a snapshot (the columns of ``MessageStatusToParquetOperator``)."""
    has_status = snapshot["status"].notna()
    frame = snapshot[has_status]
    reasons = (
        frame.loc[frame["status"] == "failed", "failure_reason"]
        .fillna("(no reason given)")
        .value_counts()
        .rename_axis("failure_reason")
        .reset_index(name="messages")
    )
    summary = {
        **_rates(frame),
        "by_status": {str(k): int(v) for k, v in frame["status"].value_counts().items()},
        "error_rows": int((~has_status).sum()),
        "failure_reasons": dict(zip(reasons["failure_reason"], reasons["messages"].astype(int), strict=True)),
    }
    hours = frame["sent_at"].dt.floor("h")
    hourly = pd.DataFrame(
        [{"sent_hour": hour, **_rates(group)} for hour, group in frame.groupby(hours, sort=True)]
    )
    return DeliveryReport(summary=summary, hourly=hourly, reasons=reasons)


def read_snapshot(path: str | Path) -> pd.DataFrame:
    """A snapshot partition (a directory of part files) or one file, as a DataFrame."""
    import pyarrow.parquet as pq

    frame: pd.DataFrame = pq.read_table(str(path), partitioning=None).to_pandas()
    return frame


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
    pd.DataFrame([flat]).to_parquet(paths["summary"], index=False)
    report.hourly.to_parquet(paths["hourly"], index=False)
    report.reasons.to_parquet(paths["failure_reasons"], index=False)
    render_picture(report, paths["picture"], title)
    return paths


def render_picture(report: DeliveryReport, path: str, title: str) -> None:
    """One PNG: the status funnel, the latency percentiles, the failure reasons, and the
    delivery rate by hour of send."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file
    import matplotlib.pyplot as plt

    s = report.summary
    fig, axes = plt.subplots(2, 2, figsize=(13, 8), constrained_layout=True)
    fig.suptitle(
        f"{title}: {s['messages']:,} messages, delivery {_pct(s['delivery_rate'])}, "
        f"read {_pct(s['read_rate'])}, failed {_pct(s['failure_rate'])}",
        fontsize=14,
    )
    by_status = s["by_status"]
    funnel = {
        "sent (all)": s["messages"],
        "delivered or read": by_status.get("delivered", 0) + by_status.get("read", 0),
        "read": by_status.get("read", 0),
        "failed": by_status.get("failed", 0),
    }
    ax = axes[0][0]
    ax.barh(
        list(funnel)[::-1], list(funnel.values())[::-1], color=["#d9534f", "#1f77b4", "#25d366", "#7f7f7f"]
    )
    ax.set_title("Status funnel")
    ax.set_xlabel("messages")
    for i, v in enumerate(list(funnel.values())[::-1]):
        ax.text(v, i, f" {v:,}", va="center")

    ax = axes[0][1]
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
        ax.text(i - 0.2, d, _duration(d), ha="center", va="bottom", fontsize=9)
        ax.text(i + 0.2, r, _duration(r), ha="center", va="bottom", fontsize=9)
    ax.legend(loc="upper left")

    ax = axes[1][0]
    reasons = report.reasons.head(6)
    ax.barh(
        [_wrap(r) for r in reasons["failure_reason"]][::-1], list(reasons["messages"])[::-1], color="#d9534f"
    )
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("Failure reasons")
    ax.set_xlabel("messages")

    ax = axes[1][1]
    if len(report.hourly):
        hours = report.hourly["sent_hour"].dt.strftime("%H:00")
        ax.plot(hours, report.hourly["delivery_rate"], marker="o", label="delivery rate", color="#25d366")
        ax.plot(hours, report.hourly["read_rate"], marker="o", label="read rate", color="#1f77b4")
        ax.set_ylim(0, 1.05)
        ax.legend()
    ax.set_title("By hour of send (UTC)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _wrap(text: str, width: int = 30) -> str:
    return textwrap.fill(text, width, max_lines=2, placeholder="…")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
