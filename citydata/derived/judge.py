"""Every station judged as of one whole hour (AQI) or minute (water, traffic, map snapshot),
through the judgments the API makes (`citydata.stations`, `citydata.readings.last_seen`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import get_args

from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.readings.last_seen import last_seen
from citydata.registry import Registry, Sensor
from citydata.stations.aqi import AIR, AqiStation, aqi_now
from citydata.stations.base import stations_of
from citydata.stations.traffic import TRAFFIC, TrafficStation, traffic_statuses
from citydata.stations.water import WATER, WaterStation, water_statuses
from citydata.water import LevelCode

_NS = 1_000_000_000
# normal, watch, warning, critical, overflow: a status's rank is its place in this order.
LEVEL_CODES: tuple[str, ...] = get_args(LevelCode)


def status_rank(status: str) -> int:
    """A water level status as a number: 0 normal, 1 watch, 2 warning, 3 critical, 4 overflow."""
    return LEVEL_CODES.index(status)


@dataclass(frozen=True)
class Stations:
    """The registered stations, retired ones left out, by kind (read once per cycle)."""

    by_kind: Mapping[str, list[Sensor]]

    @classmethod
    def read(cls, registry: Registry) -> Stations:
        return cls({kind: stations_of(registry, kind, None) for kind in sorted(all_kinds())})

    def of(self, kind: str) -> list[Sensor]:
        return self.by_kind.get(kind, [])

    def all(self) -> list[Sensor]:
        return sorted((s for group in self.by_kind.values() for s in group), key=lambda s: s.id)


@dataclass(frozen=True)
class Snapshot:
    """One station on the map: when last heard from (at or before the minute), online, state."""

    sensor: Sensor
    seen_ns: int | None
    online: bool
    state: int  # 0 offline or not judged; see docs/derived.md


@dataclass(frozen=True)
class HourJudgments:
    """Every air station's AQI as of one whole hour."""

    time_ns: int
    aqi: list[AqiStation]

    def levels(self) -> dict[str, int]:
        """The AQI level (1-5) of each station that has an AQI."""
        return {a.sensor_id: a.aqi.level for a in self.aqi if a.aqi and a.aqi.level is not None}


@dataclass(frozen=True)
class MinuteJudgments:
    """Every water station, traffic detector and map snapshot as of one whole minute."""

    time_ns: int
    water: list[WaterStation]
    traffic: list[TrafficStation]
    stations: list[Snapshot]


def judge_hour(
    influx: InfluxClient, registry: Registry, end_ns: int, above_200: str
) -> HourJudgments:
    """Every air station's AQI as of the whole hour `end_ns` (citydata.stations.aqi.aqi_now)."""
    found = aqi_now(influx, registry, end_ns, above_200=above_200)
    return HourJudgments(end_ns, found.items)


def _states(water: list[WaterStation], traffic: list[TrafficStation]) -> dict[str, int]:
    """Map states of the judged water stations (status rank + 1) and detectors (severity + 1)."""
    states = {
        w.sensor_id: status_rank(w.level.status.status) + 1
        for w in water
        if w.level is not None and w.level.status is not None
    }
    states.update({t.sensor_id: t.congestion.severity + 1 for t in traffic if t.congestion})
    return states


def snapshot(sensor: Sensor, seen_ns: int | None, now_ns: int, state: int) -> Snapshot:
    """The station as of `now_ns`: online when heard from within its kind's offline limit."""
    online = seen_ns is not None and not sensor.offline_after((now_ns - seen_ns) / _NS)
    return Snapshot(sensor, seen_ns, online, state if online else 0)


def judge_minute(
    influx: InfluxClient, stations: Stations, now_ns: int, aqi_levels: Mapping[str, int]
) -> MinuteJudgments:
    """Every station as of the whole minute `now_ns`; air stations' states are `aqi_levels`
    (of the hour the minute belongs to)."""
    water, traffic = stations.of(WATER), stations.of(TRAFFIC)
    judged_water = water_statuses(influx, water, now_ns=now_ns) if water else []
    judged_traffic = traffic_statuses(influx, traffic, now_ns=now_ns) if traffic else []
    states = _states(judged_water, judged_traffic)
    states.update({s.id: aqi_levels[s.id] for s in stations.of(AIR) if s.id in aqi_levels})
    everyone = stations.all()
    seen = last_seen(influx, everyone, now_ns)
    snaps = [snapshot(s, seen.get(s.id), now_ns, states.get(s.id, 0)) for s in everyone]
    return MinuteJudgments(now_ns, judged_water, judged_traffic, snaps)
