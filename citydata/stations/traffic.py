"""Traffic detectors now: congestion of the newest interval by speed ratio (DOMAIN.md section 4).

From the registry: thresholds.speed.free_flow (km/h), the detector's free-flow speed; without it
the Thai fallback bands by speed alone are used, and the entry says so.
thresholds.occupancy.congested (%, default 25) sets the occupancy hint.
"""

from __future__ import annotations

import time
from datetime import datetime

from pydantic import BaseModel

from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.readings.latest import LatestReading, latest_of_kinds
from citydata.registry import Registry, Sensor
from citydata.stations.base import Newest, Station, newest, station, stations_of
from citydata.timeutil import as_datetime
from citydata.traffic import Congestion, congestion

TRAFFIC = "traffic"  # the kind, and the measurement, of traffic detectors
FREE_FLOW = ("speed", "free_flow")  # thresholds.speed.free_flow, km/h
OCCUPANCY = ("occupancy", "congested")  # thresholds.occupancy.congested, %
DEFAULT_OCCUPANCY_PCT = 25.0


class TrafficStation(Station):
    """One detector's newest interval and its congestion; notes say what could not be judged."""

    newest: Newest | None
    values: dict[str, float]  # every metric of the newest interval
    free_flow_kmh: float | None
    congestion: Congestion | None
    notes: list[str]


class TrafficStations(BaseModel):
    """Every traffic detector, by id."""

    time: datetime
    items: list[TrafficStation]


def _setting(sensor: Sensor, where: tuple[str, str]) -> float | None:
    return sensor.thresholds.get(where[0], {}).get(where[1])


def judge(sensor: Sensor, reading: LatestReading | None, now_ns: int) -> TrafficStation:
    """The detector's congestion from its newest interval (None: no reading) as of `now_ns`."""
    notes: list[str] = []
    free_flow = _setting(sensor, FREE_FLOW)
    occupancy_limit = _setting(sensor, OCCUPANCY) or DEFAULT_OCCUPANCY_PCT
    result = None
    if reading is None:
        notes.append("no reading")
    elif "speed" not in reading.values:
        notes.append("the newest interval has no speed")
    elif reading.values.get("count") == 0:
        notes.append("no vehicles in the newest interval: its speed says nothing of congestion")
    else:
        if free_flow is None:
            notes.append(
                "no free-flow speed registered (thresholds.speed.free_flow, km/h): "
                "Thai fallback bands by speed alone (> 25 km/h green, 15-25 yellow, < 15 red)"
            )
        try:
            result = congestion(
                reading.values["speed"], free_flow, reading.values.get("occupancy"), occupancy_limit
            )
        except ValueError as exc:
            notes.append(f"congestion not judged: {exc}")
    return TrafficStation(
        **station(sensor).model_dump(),
        newest=newest(sensor, reading.time_ns, now_ns) if reading else None,
        values=reading.values if reading else {},
        free_flow_kmh=free_flow,
        congestion=result,
        notes=notes,
    )


def traffic_statuses(
    influx: InfluxClient,
    sensors: list[Sensor],
    sensor_id: str | None = None,
    now_ns: int | None = None,
) -> list[TrafficStation]:
    """Each of `sensors` (traffic detectors; only `sensor_id`'s series read when given)
    judged as of `now_ns` (default now), in the same order; readings after an explicit
    `now_ns` are left out (a past time judged as it was then)."""
    until_ns = now_ns
    now_ns = time.time_ns() if now_ns is None else now_ns
    kind = all_kinds()[TRAFFIC]
    expected = {s.id: kind.name for s in sensors}
    found = latest_of_kinds(
        influx,
        [kind],
        sensor_ids=[sensor_id] if sensor_id else None,
        expected=expected,
        now_ns=now_ns,
        until_ns=until_ns,
    )
    latest = {r.sensor_id: r for r in found}
    return [judge(s, latest.get(s.id), now_ns) for s in sensors]


def traffic_now(
    influx: InfluxClient, registry: Registry, zone: str | None = None
) -> TrafficStations:
    """Every traffic detector (in `zone`, when given) judged now, by id."""
    items = traffic_statuses(influx, stations_of(registry, TRAFFIC, zone))
    return TrafficStations(time=as_datetime(time.time_ns()), items=items)


def traffic_station_now(influx: InfluxClient, sensor: Sensor) -> TrafficStation:
    """One traffic detector judged now."""
    return traffic_statuses(influx, [sensor], sensor.id)[0]
