"""The newest health figures of each collector instance (citydata.health's measurement)."""

from __future__ import annotations

import time
from datetime import datetime

from pydantic import BaseModel

from citydata.health import MEASUREMENT
from citydata.influx import InfluxClient, quote_ident
from citydata.timeutil import as_datetime

STALE_INTERVALS = 3  # health figures older than this many intervals are stale
_NS = 1_000_000_000
_TAGS = ("time", "collector", "host")


class CollectorStatus(BaseModel):
    """The newest health figures one collector instance recorded, and how old they are."""

    collector: str
    host: str
    time: datetime
    age_s: float
    stale: bool
    figures: dict[str, float]


def collector_statuses(
    influx: InfluxClient, stale_after_s: float, now_ns: int | None = None
) -> list[CollectorStatus]:
    """The newest health point of every collector instance that ever recorded one, by
    collector id then host; stale when older than `stale_after_s`. InfluxError when InfluxDB
    cannot be asked."""
    q = (
        f"SELECT * FROM {quote_ident(MEASUREMENT)} "
        f"GROUP BY {quote_ident('collector')}, {quote_ident('host')} ORDER BY time DESC LIMIT 1"
    )
    now = time.time_ns() if now_ns is None else now_ns
    found = influx.query(q)
    items = []
    for series in found:
        for row in series.records():
            ns = int(row["time"])
            age = max(0.0, (now - ns) / _NS)
            figures = {
                k: float(v)
                for k, v in row.items()
                if k not in _TAGS and isinstance(v, int | float) and not isinstance(v, bool)
            }
            items.append(
                CollectorStatus(
                    collector=row["collector"],
                    host=row["host"],
                    time=as_datetime(ns),
                    age_s=round(age, 3),
                    stale=age > stale_after_s,
                    figures=figures,
                )
            )
    items.sort(key=lambda s: (s.collector, s.host))
    return items
