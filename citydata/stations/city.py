"""The city now, as its public page shows it (`GET /` and `GET /city`): every station's judgment
(the very objects `GET /aqi`, `/water/status` and `/traffic/status` answer), each sensor's newest
reading and whether it is offline, each air station's AQI hour by hour over the last 48 hours,
each water station's level over the same 48 hours (15-minute means: the tide shows), and the
alerts firing about stations. Built whole, once per refresh, by the API's snapshot; nothing in
it is computed per request."""

from __future__ import annotations

import time
from datetime import datetime

from pydantic import BaseModel, Field

from citydata import aqi, traffic
from citydata.alerts.inforce import Alert, alerts_in_force
from citydata.alerts.store import AlertStore
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.readings.hourly import HOUR_NS, hourly_means
from citydata.readings.latest import latest_of_kinds
from citydata.readings.ranges import EVERY_NS, Every, sensor_range
from citydata.registry import Registry
from citydata.stations.aqi import AIR, AqiStations, aqi_now, history_point
from citydata.stations.aqi_windows import LONGEST_H, floor_hour, moving_averages
from citydata.stations.traffic import TrafficStations, traffic_now
from citydata.stations.water import WATER, WaterStations, water_now
from citydata.timeutil import as_datetime

HISTORY_H = 48
LEVEL_EVERY = Every.m15
STATION_KINDS = ("air", "water", "traffic")
_NS = 1_000_000_000


def _luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour '#RRGGBB'."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2.1 contrast ratio of two colours (1 to 21)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_on(background: str) -> str:
    """Black or white, whichever contrasts more with `background` (the official AQI and
    congestion colours are fixed; the text on them must still reach WCAG AA)."""
    return max(("#000000", "#FFFFFF"), key=lambda text: contrast(background, text))


class Shade(BaseModel):
    """One level of a scale as the page shows it: its colour, the text colour that reads on
    it, and its names."""

    key: str  # "1".."5" for the AQI, free/moderate/heavy/stop_and_go for traffic
    colour_hex: str
    text_hex: str
    name_th: str
    name_en: str
    advice_th: str | None = None
    advice_en: str | None = None
    range: str | None = None  # the AQI numbers of the level, "0-25"


class Legend(BaseModel):
    """The AQI levels (PCD colours, names, advice) and the congestion levels."""

    aqi: list[Shade]
    traffic: list[Shade]


def legend() -> Legend:
    ranges = ["0-25", "26-50", "51-100", "101-200", "> 200"]
    air = [
        Shade(
            key=str(n),
            colour_hex=level.hex,
            text_hex=text_on(level.hex),
            name_th=level.name_th,
            name_en=level.name_en,
            advice_th=level.advice_th,
            advice_en=level.advice_en,
            range=ranges[n - 1],
        )
        for n, level in sorted(aqi.LEVELS.items())
    ]
    roads = [
        Shade(key=key, colour_hex=hex_, text_hex=text_on(hex_), name_th=th, name_en=en)
        for key, (_, _, hex_, th, en) in traffic.LEVELS.items()
    ]
    return Legend(aqi=air, traffic=roads)


class Seen(BaseModel):
    """A sensor's newest reading (of any metric) and whether it is too old to trust."""

    sensor_id: str
    kind: str
    time: datetime | None  # null: never heard from
    age_s: float | None
    offline: bool  # silent longer than its offline limit, or never heard from
    values: dict[str, float]


class AqiStrip(BaseModel):
    """An air station's AQI at each whole hour from `start`, one hour apart (null: too few
    hours of data for any pollutant), by the rule of `GET /aqi`."""

    sensor_id: str
    start: datetime
    aqi: list[int | None]
    level: list[int | None]


class LevelSeries(BaseModel):
    """A water station's level, the mean of each `every_s` from `start` (null: no reading),
    in metres above its datum; its thresholds are in the station's `level.thresholds`."""

    sensor_id: str
    start: datetime
    every_s: int
    values: list[float | None]


class Availability(BaseModel):
    """Whether the view is current: false when the last refresh could not read the data (the
    numbers are then the last ones read, as of `time`)."""

    current: bool = True
    since: datetime | None = None  # unreadable since (null when current)
    reason_en: str | None = None
    reason_th: str | None = None


class CityView(BaseModel):
    """Everything the public page shows, as of `time`."""

    time: datetime
    availability: Availability = Availability()
    air: AqiStations
    water: WaterStations
    traffic: TrafficStations
    seen: list[Seen]
    aqi_48h: list[AqiStrip]
    level_48h: list[LevelSeries]
    alerts: list[Alert] = Field(description="firing alerts about stations, critical first")
    legend: Legend


def newest_seen(influx: InfluxClient, registry: Registry, now_ns: int) -> list[Seen]:
    """The newest reading of every station (retired ones left out), by id."""
    sensors = [s for s in registry.list() if s.status != "retired" and s.kind in STATION_KINDS]
    kinds = [all_kinds()[k] for k in STATION_KINDS if k in all_kinds()]
    found = {
        r.sensor_id: r
        for r in latest_of_kinds(influx, kinds, expected={s.id: s.kind for s in sensors})
    }
    seen = []
    for sensor in sorted(sensors, key=lambda s: s.id):
        reading = found.get(sensor.id)
        age_s = None if reading is None else (now_ns - reading.time_ns) / _NS
        seen.append(
            Seen(
                sensor_id=sensor.id,
                kind=sensor.kind,
                time=None if reading is None else reading.time,
                age_s=age_s,
                offline=age_s is None or sensor.offline_after(age_s),
                values={} if reading is None else reading.values,
            )
        )
    return seen


def aqi_strips(
    influx: InfluxClient, air: AqiStations, now_ns: int, above_200: str
) -> list[AqiStrip]:
    """Each air station's AQI at the last HISTORY_H whole hours up to `now_ns`: one query of
    hourly means for every station, each hour then judged as `aqi_history` judges it."""
    last = floor_hour(now_ns)
    first = last - (HISTORY_H - 1) * HOUR_NS
    hourly = hourly_means(
        influx, AIR, aqi.POLLUTANTS, first - LONGEST_H * HOUR_NS, last + 1, sensor_id=None
    )
    strips = []
    for item in air.items:
        hours = hourly.get(item.sensor_id, {})
        points = [
            history_point(t, moving_averages(hours, t), above_200)
            for t in range(first, last + 1, HOUR_NS)
        ]
        strips.append(
            AqiStrip(
                sensor_id=item.sensor_id,
                start=as_datetime(first),
                aqi=[p.aqi for p in points],
                level=[p.level for p in points],
            )
        )
    return strips


def level_series(influx: InfluxClient, water: WaterStations, now_ns: int) -> list[LevelSeries]:
    """Each water station's level over the last HISTORY_H hours, LEVEL_EVERY means."""
    every_ns = EVERY_NS[LEVEL_EVERY]
    end = (now_ns // every_ns + 1) * every_ns
    start = end - HISTORY_H * HOUR_NS
    kind = all_kinds()[WATER]
    out = []
    for item in water.items:
        found = sensor_range(influx, kind, item.sensor_id, "level", (start, end), LEVEL_EVERY)
        values: list[float | None] = [None] * (HISTORY_H * HOUR_NS // every_ns)
        for point in found.points:
            index = (point.time_ns - start) // every_ns
            if 0 <= index < len(values) and point.value is not None:
                values[index] = round(point.value, 3)
        out.append(
            LevelSeries(
                sensor_id=item.sensor_id,
                start=as_datetime(start),
                every_s=every_ns // _NS,
                values=values,
            )
        )
    return out


def city_view(
    influx: InfluxClient,
    registry: Registry,
    now_ns: int | None = None,
    *,
    above_200: str = "extrapolate",
) -> CityView:
    """The city as of `now_ns` (default now). InfluxError or RegistryError when either cannot
    be read: the caller keeps what it had and says it is not current."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    air = aqi_now(influx, registry, now_ns, above_200=above_200)
    water = water_now(influx, registry)
    roads = traffic_now(influx, registry)
    stations = {s.sensor_id for s in (*air.items, *water.items, *roads.items)}
    alerts = [
        a
        for a in alerts_in_force(AlertStore(registry))
        if a.state == "firing" and a.subject in stations
    ]
    return CityView(
        time=as_datetime(now_ns),
        air=air,
        water=water,
        traffic=roads,
        seen=newest_seen(influx, registry, now_ns),
        aqi_48h=aqi_strips(influx, air, now_ns, above_200),
        level_48h=level_series(influx, water, now_ns),
        alerts=alerts,
        legend=legend(),
    )
