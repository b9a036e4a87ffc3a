"""Hourly means of some fields of a measurement, per sensor (GROUP BY time(1h))."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from citydata.influx import InfluxClient, quote_ident, quote_literal

HOUR_NS = 3600 * 1_000_000_000

# sensor id -> hour start (epoch ns) -> field -> the hour's mean, None when it has no value
HourlyMeans = dict[str, dict[int, dict[str, float | None]]]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def hourly_means(
    influx: InfluxClient,
    measurement: str,
    fields: Sequence[str],
    start_ns: int,
    end_ns: int,
    sensor_id: str | None = None,
) -> HourlyMeans:
    """Each sensor's (or only `sensor_id`'s) hourly mean of every one of `fields` over
    [start, end), whole hours, by sensor id, then hour start; hours without a value are absent."""
    means = ", ".join(f"MEAN({quote_ident(f)}) AS {quote_ident(f)}" for f in fields)
    only = f"{quote_ident('sensor_id')} = {quote_literal(sensor_id)} AND " if sensor_id else ""
    q = (
        f"SELECT {means} FROM {quote_ident(measurement)} "
        f"WHERE {only}time >= {start_ns} AND time < {end_ns} "
        f"GROUP BY time(1h), {quote_ident('sensor_id')}"
    )
    out: HourlyMeans = {}
    for row in influx.records(q):
        hours = out.setdefault(row["sensor_id"], {})
        hours[int(row["time"])] = {f: _float(row.get(f)) for f in fields}
    return out
