"""One number per sensor from a window of a metric (newest, mean, value back then), and the
platform's own figures over a window: what alert rules read each cycle."""

from __future__ import annotations

from typing import Literal

from citydata.health import MEASUREMENT
from citydata.influx import InfluxClient, quote_ident

_SENSOR = quote_ident("sensor_id")


def _per_sensor(influx: InfluxClient, q: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for row in influx.records(q):
        value = row.get("v")
        if value is not None and row.get("sensor_id") is not None:
            out[str(row["sensor_id"])] = float(value)
    return out


def window_values(
    influx: InfluxClient,
    how: Literal["last", "mean"],
    kind: str,
    metric: str,
    start_ns: int,
    end_ns: int,
) -> dict[str, float]:
    """Each sensor's newest value (`last`) or mean of `metric` in (start_ns, end_ns]."""
    q = (
        f"SELECT {how}({quote_ident(metric)}) AS v FROM {quote_ident(kind)} "
        f"WHERE time > {start_ns} AND time <= {end_ns} GROUP BY {_SENSOR}"
    )
    return _per_sensor(influx, q)


def deadletters_over(influx: InfluxClient, start_ns: int, end_ns: int) -> dict[str, float]:
    """Messages each collector instance (`collector@host`) dead-lettered in (start_ns, end_ns]:
    the increases of its cumulative count, a restart's reset not counted as negative."""
    q = (
        f"SELECT non_negative_difference({quote_ident('dead_lettered')}) AS v "
        f"FROM {quote_ident(MEASUREMENT)} WHERE time > {start_ns} AND time <= {end_ns} "
        f"GROUP BY {quote_ident('collector')}, {quote_ident('host')}"
    )
    out: dict[str, float] = {}
    for row in influx.records(q):
        if row.get("v") is not None:
            key = f"{row['collector']}@{row['host']}"
            out[key] = out.get(key, 0.0) + float(row["v"])
    return out
