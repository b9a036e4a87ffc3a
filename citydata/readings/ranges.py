"""One sensor's metric over a time range: raw points, or one value per bucket (GROUP BY time)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from citydata.errors import RangeTooLarge, UnknownMetric
from citydata.influx import InfluxClient, quote_ident, quote_literal
from citydata.kinds import Kind
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
