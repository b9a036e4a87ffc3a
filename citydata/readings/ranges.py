"""One sensor's metric over a time range: raw points, or one value per bucket (GROUP BY time)."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from citydata.errors import RangeTooLarge, UnknownMetric
from citydata.influx import InfluxClient, quote_ident, quote_literal
from citydata.kinds import Kind
from citydata.retention import HOUR_NS, HOURLY_RP, hourly_complete_before, hourly_measurement
from citydata.timeutil import as_datetime

MAX_POINTS = 10_000
_NS = 1_000_000_000
DAY_NS = 86_400 * _NS


class Every(StrEnum):
    """Bucket width of an aggregate (InfluxQL duration literals)."""

    m1 = "1m"
    m5 = "5m"
    m15 = "15m"
    h1 = "1h"
    d1 = "1d"


EVERY_NS = {
    Every.m1: 60 * _NS,
    Every.m5: 300 * _NS,
    Every.m15: 900 * _NS,
    Every.h1: 3600 * _NS,
    Every.d1: DAY_NS,
}


# The InfluxQL function applied to each bucket.
Agg = Literal["mean", "min", "max", "last", "count"]


class Point(BaseModel):
    """One raw point, or one bucket (its start time) of an aggregate; null for an empty bucket."""

    time: datetime
    time_ns: int
    value: float | None


class ReadingRange(BaseModel):
    """One sensor's metric over [start, end): raw points, or one value per `every` bucket."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "sensor_id": "lp-air-01",
                    "kind": "air",
                    "metric": "pm25",
                    "unit": "µg/m³",
                    "start": "2026-01-31T00:00:00Z",
                    "end": "2026-01-31T02:00:00Z",
                    "every": "1h",
                    "agg": "mean",
                    "points": [
                        {
                            "time": "2026-01-31T00:00:00Z",
                            "time_ns": 1769817600000000000,
                            "value": 38.2,
                        },
                        {
                            "time": "2026-01-31T01:00:00Z",
                            "time_ns": 1769821200000000000,
                            "value": 40.1,
                        },
                    ],
                }
            ]
        }
    )

    sensor_id: str
    kind: str
    metric: str
    unit: str
    start: datetime
    end: datetime
    every: Every | None
    agg: Agg | None
    points: list[Point]


def check_metrics(kind: Kind, names: Sequence[str], field: str) -> None:
    """UnknownMetric (at argument `field`) naming every one of `names` not a metric of `kind`."""
    unknown = [name for name in names if name not in kind.by_name]
    if unknown:
        raise UnknownMetric(
            f"{kind.name} sensors have no metric {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(kind.by_name)}",
            field,
        )


def _range_query(
    kind: str, sensor_id: str, metric: str, span: tuple[int, int], every: Every | None, agg: Agg
) -> str:
    where = (
        f"WHERE {quote_ident('sensor_id')} = {quote_literal(sensor_id)} "
        f"AND time >= {int(span[0])} AND time < {int(span[1])}"
    )
    if every is None:
        return (
            f"SELECT {quote_ident(metric)} AS {quote_ident('value')} FROM {quote_ident(kind)} "
            f"{where} ORDER BY time ASC LIMIT {MAX_POINTS + 1}"
        )
    # `agg` and `every` are enum members, never free text.
    return (
        f"SELECT {agg.upper()}({quote_ident(metric)}) AS {quote_ident('value')} "
        f"FROM {quote_ident(kind)} {where} GROUP BY time({every.value})"
    )


def _too_many(what: str) -> RangeTooLarge:
    return RangeTooLarge(
        f"{what} more than {MAX_POINTS} points; narrow start/end or use a wider every "
        f"({', '.join(e.value for e in Every)})"
    )


def sensor_range(
    influx: InfluxClient,
    kind: Kind,
    sensor_id: str,
    metric: str,
    span: tuple[int, int],
    every: Every | None = None,
    agg: Agg = "mean",
) -> ReadingRange:
    """One sensor's `metric` over [start, end) in epoch ns, raw or one `agg` per `every`
    bucket; UnknownMetric, or RangeTooLarge beyond MAX_POINTS points."""
    check_metrics(kind, [metric], "metric")
    if every is not None and math.ceil((span[1] - span[0]) / EVERY_NS[every]) + 1 > MAX_POINTS:
        raise _too_many("the request would give")
    rows = None
    if every in (Every.h1, Every.d1) and agg != "last":
        rows = _from_hourly(influx, kind.name, sensor_id, metric, span, every, agg)
    if rows is None:
        rows = influx.records(_range_query(kind.name, sensor_id, metric, span, every, agg))
    if every is None and len(rows) > MAX_POINTS:
        raise _too_many("the range holds")
    return ReadingRange(
        sensor_id=sensor_id,
        kind=kind.name,
        metric=metric,
        unit=kind.by_name[metric].unit,
        start=as_datetime(span[0]),
        end=as_datetime(span[1]),
        every=every,
        agg=agg if every is not None else None,
        points=[_point(row) for row in rows],
    )


# Per bucket start: [sum, count, min, max] of the values in it.
_Stats = dict[int, list[float]]


def _from_hourly(
    influx: InfluxClient,
    kind: str,
    sensor_id: str,
    metric: str,
    span: tuple[int, int],
    every: Every,
    agg: Agg,
) -> list[dict[str, Any]] | None:
    """The rows `_range_query` gives, computed from the hourly series for the whole hours it
    holds for good and from raw readings for the rest of the span (docs/retention.md); None
    when the hourly series is not there or would cover no hour of the span."""
    final = hourly_complete_before(influx, kind, time.time_ns())
    if final is None:
        return None
    a = -(-span[0] // HOUR_NS) * HOUR_NS
    b = min(span[1] // HOUR_NS * HOUR_NS, final)
    if a >= b:
        return None
    stats: _Stats = {}
    where = f"{quote_ident('sensor_id')} = {quote_literal(sensor_id)}"
    m = quote_ident(metric)
    raw = f"SUM({m}), COUNT({m}), MIN({m}), MAX({m}) FROM {quote_ident(kind)}"
    for lo, hi in ((span[0], a), (b, span[1])):
        if lo < hi:
            _add(stats, influx, f"SELECT {raw} WHERE {where} AND", (lo, hi), every)
    parts = ", ".join(
        f"{quote_ident(f'{fn}_{metric}')}{op} AS {quote_ident(alias)}"
        for fn, op, alias in (
            ("mean", f" * {quote_ident('count_' + metric)}", "s"),
            ("count", "", "c"),
            ("min", "", "lo"),
            ("max", "", "hi"),
        )
    )
    hourly = f"{quote_ident(HOURLY_RP)}.{quote_ident(hourly_measurement(kind))}"
    inner = f"SELECT {parts} FROM {hourly} WHERE {where} AND {_between((a, b))}"
    outer = 'SELECT SUM("s"), SUM("c"), MIN("lo"), MAX("hi")'
    _add(stats, influx, f"{outer} FROM ({inner}) WHERE", (a, b), every)
    if not any(count for _, count, _, _ in stats.values()):
        return []  # as InfluxDB answers a range without a reading: no buckets at all
    step = EVERY_NS[every]
    return [
        {"time": t, "value": _value(stats.get(t), agg)}
        for t in range(span[0] // step * step, span[1], step)
    ]


def _between(span: tuple[int, int]) -> str:
    return f"time >= {int(span[0])} AND time < {int(span[1])}"


def _add(
    stats: _Stats, influx: InfluxClient, select: str, span: tuple[int, int], every: Every
) -> None:
    """Merge in the [sum, count, min, max] per `every` bucket of `select` (ending in WHERE or
    AND) over `span`."""
    q = f"{select} {_between(span)} GROUP BY time({every.value})"
    for series in influx.query(q):
        for t, total, count, lo, hi in series.values:
            if not count:
                continue
            old = stats.setdefault(int(t), [0.0, 0.0, math.inf, -math.inf])
            old[0] += float(total)
            old[1] += float(count)
            old[2] = min(old[2], float(lo))
            old[3] = max(old[3], float(hi))


def _value(stats: list[float] | None, agg: Agg) -> float | None:
    if stats is None or not stats[1]:
        return 0.0 if agg == "count" else None
    total, count, lo, hi = stats
    return {"mean": total / count, "count": count, "min": lo, "max": hi}[agg]


def _point(row: dict[str, Any]) -> Point:
    ns = int(row["time"])
    value = row["value"]
    return Point(time=as_datetime(ns), time_ns=ns, value=None if value is None else float(value))


def field_since(
    influx: InfluxClient,
    measurement: str,
    field: str,
    since_ns: int,
    sensor_id: str | None = None,
    until_ns: int | None = None,
) -> dict[str, list[tuple[datetime, float]]]:
    """Every value of `field` since `since_ns` (up to `until_ns` when given), per sensor (only
    `sensor_id`'s when given), in time order."""
    only = f"{quote_ident('sensor_id')} = {quote_literal(sensor_id)} AND " if sensor_id else ""
    until = f" AND time <= {until_ns}" if until_ns is not None else ""
    q = (
        f"SELECT {quote_ident(field)} FROM {quote_ident(measurement)} WHERE {only}"
        f"time >= {since_ns}{until} GROUP BY {quote_ident('sensor_id')}"
    )
    out: dict[str, list[tuple[datetime, float]]] = {}
    for row in influx.records(q):
        if row.get(field) is not None:
            out.setdefault(row["sensor_id"], []).append(
                (as_datetime(int(row["time"])), float(row[field]))
            )
    return out
