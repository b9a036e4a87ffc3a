"""Readings: the latest of each sensor, and one sensor's metric over a time range."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.auth import ReadAccess
from api.deps import InfluxDep, KindQuery, LatestCacheDep, RegistryDep
from api.params import EndQuery, StartQuery, time_range
from api.problems import problem_responses
from citydata.kinds import all_kinds
from citydata.reading import SENSOR_ID_PATTERN
from citydata.readings import latest
from citydata.readings.latest import LatestReading
from citydata.readings.ranges import Agg, Every, ReadingRange, check_metrics, sensor_range

router = APIRouter(tags=["readings"])


class LatestReadings(BaseModel):
    """The latest reading of each sensor matching the filters, by kind then sensor id."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "sensor_id": "lp-air-01",
                            "kind": "air",
                            "time": "2026-01-31T07:00:00Z",
                            "time_ns": 1769842800000000000,
                            "values": {"pm25": 41.5, "pm10": 63.0, "humidity": 71.0},
                        }
                    ]
                }
            ]
        }
    )

    items: list[LatestReading]


@router.get("/readings/latest", response_model=LatestReadings, responses=problem_responses(422))
def latest_readings(
    influx: InfluxDep,
    registry: RegistryDep,
    cache: LatestCacheDep,
    _: ReadAccess,
    kind: KindQuery = None,
    sensor_id: Annotated[
        str | None, Query(description="only this sensor", pattern=SENSOR_ID_PATTERN)
    ] = None,
) -> LatestReadings:
    """The latest reading of each sensor, with every metric of its last point. Answers for
    whole kinds may be up to CITYDATA_API_LATEST_CACHE_S seconds old."""
    items = latest.latest_readings(influx, registry, cache, kind=kind, sensor_id=sensor_id)
    return LatestReadings(items=items)


@router.get(
    "/sensors/{sensor_id}/readings",
    response_model=ReadingRange,
    tags=["sensors"],
    responses=problem_responses(404, 422),
)
def sensor_readings(
    sensor_id: str,
    registry: RegistryDep,
    influx: InfluxDep,
    _: ReadAccess,
    metric: Annotated[str, Query(description="one metric of the sensor's kind, e.g. pm25")],
    start: StartQuery = None,
    end: EndQuery = None,
    every: Annotated[
        Every | None, Query(description="bucket width; raw points when absent")
    ] = None,
    agg: Annotated[Agg, Query(description="function per bucket (with every)")] = "mean",
) -> ReadingRange:
    """One sensor's metric over [start, end), raw or aggregated; at most MAX_POINTS points."""
    kind = all_kinds()[registry.get(sensor_id).kind]  # the registry holds known kinds only
    check_metrics(kind, [metric], "metric")  # before the times: the problem it was first
    return sensor_range(influx, kind, sensor_id, metric, time_range(start, end), every, agg)
