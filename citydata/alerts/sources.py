"""What a rule reads each cycle: one number per subject (a sensor, a collector, InfluxDB),
taken from the derived-series cycle's judgments (the station AQI, water and traffic judgments
of `citydata.stations`, the map snapshot) or from InfluxDB (metric windows, platform figures).
No judgment is made twice: the indices are read off the cycle's objects."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from citydata.alerts.rules import AGGREGATE_S, IndexValue, MetricValue, PlatformValue, Rise, Rule
from citydata.derived.judge import HourJudgments, MinuteJudgments, status_rank
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.readings.collector_health import collector_statuses
from citydata.readings.window import deadletters_over, window_values
from citydata.registry import Sensor
from citydata.timeutil import as_datetime

_NS = 1_000_000_000
_ICT_S = 7 * 3600
INFLUXDB = "influxdb"  # the subject of influxdb_unreachable


@dataclass(frozen=True)
class Observation:
    """One subject's value for one rule this cycle; None: nothing to judge (no data, in
    maintenance), the state is held. `info` is what messages and the API show."""

    subject: str
    value: float | None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class View:
    """Everything a cycle offers the rules: the judgments, the sensors and InfluxDB."""

    time_ns: int
    minute: MinuteJudgments | None  # None when the cycle failed (InfluxDB unreachable)
    hour: HourJudgments | None  # the newest AQI hour judged
    sensors: Mapping[str, Sensor]  # every sensor judged this cycle (retired ones left out)
    influx: InfluxClient
    spool_max_bytes: float
    failure: str | None = None  # why the cycle failed
    _cache: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def cached(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """One query per cycle however many rules read it."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


def clock(ns: int) -> str:
    """HH:MM in Thailand's time (ICT)."""
    return f"{as_datetime(ns + _ICT_S * _NS):%H:%M}"


def sensor_info(sensor: Sensor, unit: str = "") -> dict[str, Any]:
    return {
        "name_th": sensor.name_th,
        "name_en": sensor.name_en,
        "kind": sensor.kind,
        "zone": sensor.zone,
        "site": sensor.site,
        "unit": unit,
    }


def selected(rule: Rule, sensors: Mapping[str, Sensor]) -> list[Sensor]:
    """The sensors a rule watches, in id order."""
    sel, kind = rule.select, rule.kind
    return [
        s
        for s in sorted(sensors.values(), key=lambda s: s.id)
        if (kind is None or s.kind == kind)
        and (not sel.zone or s.zone in sel.zone)
        and (not sel.site or s.site in sel.site)
        and (not sel.ids or s.id in sel.ids)
    ]


def observe(rule: Rule, view: View) -> list[Observation]:
    """Every subject of `rule` with its value now. A sensor in maintenance (or not yet
    installed) is observed with no value: it raises nothing."""
    if isinstance(rule.value, PlatformValue):
        return _platform(rule.value, view)
    if view.minute is None:
        return []  # no judgments this cycle: every sensor's state is held
    found: dict[str, tuple[float | None, dict[str, Any]]]
    if isinstance(rule.value, IndexValue):
        found = _index(rule.value, view)
    else:
        found = _metric(rule, rule.value, view)
    out = []
    for sensor in selected(rule, view.sensors):
        value, info = found.get(sensor.id, (None, {}))
        if sensor.status != "active":
            value = None
        out.append(Observation(sensor.id, value, {**sensor_info(sensor), **info}))
    return out


def _detail(th: str, en: str, **more: Any) -> dict[str, Any]:
    return {"detail_th": th, "detail_en": en, **more}


def _index(value: IndexValue, view: View) -> dict[str, tuple[float | None, dict[str, Any]]]:
    index, minute = value.index, view.minute
    assert minute is not None
    out: dict[str, tuple[float | None, dict[str, Any]]] = {}
    if index in ("aqi", "aqi_level"):
        for a in view.hour.aqi if view.hour else []:
            if a.aqi is None or a.aqi.aqi is None or a.stale:
                continue
            number = a.aqi.aqi if index == "aqi" else a.aqi.level
            detail = _detail(
                f"({a.aqi.name_th}; {a.aqi.advice_th})", f"({a.aqi.name_en}; {a.aqi.advice_en})"
            )
            out[a.sensor_id] = (float(number) if number is not None else None, detail)
    elif index == "offline":
        for snap in minute.stations:
            seen = (
                _detail(f"ตั้งแต่ {clock(snap.seen_ns)} น.", f"since {clock(snap.seen_ns)} ICT")
                if snap.seen_ns is not None
                else _detail("(ยังไม่เคยได้รับข้อมูล)", "(never heard from)")
            )
            out[snap.sensor.id] = (0.0 if snap.online else 1.0, seen)
    elif index == "congestion":
        for t in minute.traffic:
            c = t.congestion
            if c is not None and t.newest is not None and not t.newest.stale:
                text = (
                    f"{c.name_th} ({c.speed_kmh:g} กม./ชม.)",
                    f"{c.name_en} ({c.speed_kmh:g} km/h)",
                )
                out[t.sensor_id] = (float(c.severity), _detail(*text))
    else:
        out = _water(value, minute)
    return out


def _water(value: IndexValue, minute: MinuteJudgments) -> dict[str, Any]:
    out: dict[str, tuple[float | None, dict[str, Any]]] = {}
    for w in minute.water:
        if value.index == "do_margin":
            do = w.do
            if do is None or do.newest.stale or do.status is None:
                continue
            if do.status.minimum_mg_l is None:
                continue
            margin = round(do.value_mg_l - do.status.minimum_mg_l, 3)
            out[w.sensor_id] = (margin, _detail(do.status.message_th, do.status.message_en))
            continue
        level = w.level
        if level is None or level.newest.stale:
            continue
        status = level.status
        detail = _detail(status.message_th, status.message_en) if status else {}
        if value.index == "water_status" and status is not None:
            out[w.sensor_id] = (float(status_rank(status.status)), detail)
        elif value.index == "water_margin" and value.threshold in level.thresholds:
            line = level.thresholds[value.threshold]
            out[w.sensor_id] = (round(level.value_m - line, 3), detail | {"threshold": line})
        elif value.index == "water_rise" and level.rise is not None:
            out[w.sensor_id] = (round(level.rise.rate_m_per_h, 4), detail)
    return out


def _metric(
    rule: Rule, value: MetricValue, view: View
) -> dict[str, tuple[float | None, dict[str, Any]]]:
    kind = all_kinds()[rule.select.kind or ""]
    unit = kind.by_name[value.metric].unit
    now = view.time_ns
    span = AGGREGATE_S[value.aggregate]

    def read(end_ns: int) -> dict[str, float]:
        # `last`: the newest reading still fresh (within the kind's offline limit)
        how: Literal["last", "mean"] = "last" if span is None else "mean"
        start = end_ns - int((kind.offline_after_s if span is None else span) * _NS)
        key = (how, kind.name, value.metric, start, end_ns)
        found = view.cached(
            key, lambda: window_values(view.influx, how, kind.name, value.metric, start, end_ns)
        )
        return dict(found)

    current = read(now)
    if isinstance(rule.when, Rise):
        then = read(now - int(rule.when.over * _NS))
        return {
            sid: (round(v - then[sid], 6), {"unit": unit, "now": v, "then": then[sid]})
            for sid, v in current.items()
            if sid in then
        }
    return {sid: (round(v, 3), {"unit": unit}) for sid, v in current.items()}


def _platform(value: PlatformValue, view: View) -> list[Observation]:
    check = value.platform
    if check == "influxdb_unreachable":
        failed = view.failure is not None
        info = {"name_th": "InfluxDB", "name_en": "InfluxDB", "kind": "platform", "unit": ""}
        detail = _detail(f"({view.failure})", f"({view.failure})") if failed else {}
        return [Observation(INFLUXDB, 1.0 if failed else 0.0, info | detail)]
    if view.failure is not None:
        return []  # cannot ask InfluxDB: hold
    if check == "deadletters":
        start = view.time_ns - int(value.window * _NS)
        counts = view.cached(
            ("deadletters", start), lambda: deadletters_over(view.influx, start, view.time_ns)
        )
        return [
            Observation(name, n, _platform_info(name, "messages"))
            for name, n in sorted(counts.items())
        ]
    statuses = view.cached(
        ("collectors",), lambda: collector_statuses(view.influx, float("inf"), view.time_ns)
    )
    out = []
    for s in statuses:
        name = f"{s.collector}@{s.host}"
        if check == "collector_silent":
            out.append(Observation(name, round(s.age_s), _platform_info(name, "s")))
        elif check == "influx_alarm" and "influx_alarm" in s.figures:
            out.append(Observation(name, s.figures["influx_alarm"], _platform_info(name, "")))
        elif check == "spool_fill" and "spool_bytes" in s.figures:
            limit = s.figures.get("spool_max_bytes") or view.spool_max_bytes
            fill = round(100 * s.figures["spool_bytes"] / limit, 1)
            out.append(Observation(name, fill, _platform_info(name, "%")))
    return out


def _platform_info(name: str, unit: str) -> dict[str, Any]:
    return {"name_th": name, "name_en": name, "kind": "platform", "unit": unit}
