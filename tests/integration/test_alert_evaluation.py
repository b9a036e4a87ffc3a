"""Alert evaluation against a real InfluxDB, stepped through simulated days by the test: the
shipped rules fire and resolve once per episode, grouped per rule; hysteresis stops a storm;
a tidal day fires no flood rule while a storm surge does; a restart neither repeats nor
misses a transition; maintenance and silences; sensors gone quiet; the platform's health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from citydata.alerts.rulefile import parse_rules
from citydata.alerts.rules import RulesError
from citydata.alerts.sources import INFLUXDB
from citydata.health import MEASUREMENT as HEALTH
from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.registry import Registry
from citydata.timeutil import parse_rfc3339
from tests.alerting import (
    HOUR_NS,
    NS,
    AlertCity,
    every,
    rules_text,
    shipped,
    tide,
    water_station,
)
from tests.helpers import make_station

pytestmark = pytest.mark.integration
T0 = parse_rfc3339("2026-11-01T00:00:00Z")
MIN = 60 * NS
AIR = ("air-1", "air-2", "air-3")


@pytest.fixture
def city(influx: InfluxClient, tmp_path: Path) -> Iterator[AlertCity]:
    with Registry.open(f"sqlite:///{tmp_path}/registry.db") as registry:
        yield AlertCity(influx, registry)


def haze(city: AlertCity) -> None:
    """Three air stations: PM2.5 20 µg/m³ for a day, 120 for a day (haze), then 20 again."""
    city.add(*(make_station(sid, "air") for sid in AIR))

    def pm(t: int) -> dict[str, float]:
        value = 120.0 if T0 + 24 * HOUR_NS <= t < T0 + 48 * HOUR_NS else 20.0
        return {"pm25": value, "pm10": value * 1.3}

    for sid in AIR:
        city.write("air", sid, every(T0, T0 + 100 * HOUR_NS, 600), pm)


HAZE_RULES = ("aqi-level-4", "aqi-level-5", "pm25-hour-high")


def test_a_haze_episode_gives_one_firing_and_one_resolved_message_per_rule_and_channel(
    city: AlertCity,
) -> None:
    haze(city)
    city.rules(rules_text(shipped(*HAZE_RULES, repeat=None)))
    city.run(T0 + 20 * HOUR_NS, T0 + 100 * HOUR_NS, HOUR_NS)
    for rule in HAZE_RULES:
        for channel in ("line", "email", "webhook"):
            fired = city.sent(rule, "firing", channel)
            resolved = city.sent(rule, "resolved", channel)
            assert (len(fired), len(resolved)) == (1, 1), (rule, channel)
            # one message naming the three stations, not three messages
            assert sorted(a["subject"] for a in fired[0].payload["alerts"]) == list(AIR)
            assert fired[0].created_ns < resolved[0].created_ns
    assert len(city.notices()) == len(HAZE_RULES) * 3 * 2
    aqi4 = city.sent("aqi-level-4", "firing")[0]
    assert "คุณภาพอากาศเริ่มมีผลกระทบต่อสุขภาพ" in aqi4.text  # Thai first ...
    assert "Air quality starting to affect health" in aqi4.text  # ... then English (lang both)
    # the AQI rules fire on the hourly 24-h AQI, hours after the haze began; PM2.5 within the hour
    start = T0 + 24 * HOUR_NS
    assert city.sent("pm25-hour-high", "firing")[0].created_ns <= start + 2 * HOUR_NS
    assert (
        city.sent("aqi-level-5", "firing")[0].created_ns
        > city.sent("aqi-level-4", "firing")[0].created_ns
    )


def test_states_survive_a_restart_and_a_lost_cycle_without_repeating_or_missing(
    city: AlertCity, monkeypatch: pytest.MonkeyPatch
) -> None:
    haze(city)
    city.rules(rules_text(shipped(*HAZE_RULES, repeat=None)))
    city.run(T0 + 20 * HOUR_NS, T0 + 40 * HOUR_NS, HOUR_NS)  # firing by now
    assert {s[0] for s in city.store.states()} == set(HAZE_RULES)
    shown = city.store.states()[("aqi-level-4", "air-1")].info  # what GET /alerts shows
    assert shown["text_th"].startswith("สถานี air-1: AQI") and shown["title_en"]
    city.restart()  # the service stopped and started again: only the database is kept

    real_apply = city.store.apply
    calls = {"n": 0}

    def crash_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 10:  # killed in the middle of a cycle: the transaction never commits
            raise RuntimeError("killed")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(city.store, "apply", crash_once)
    city.run(T0 + 41 * HOUR_NS, T0 + 100 * HOUR_NS, HOUR_NS)
    assert calls["n"] > 10
    for rule in HAZE_RULES:
        assert len(city.sent(rule, "firing")) == 1, rule
        assert len(city.sent(rule, "resolved")) == 1, rule
        assert [e.transition for e in city.events(rule) if e.subject == "air-1"] in (
            ["pending", "firing", "resolved"],
            ["firing", "resolved"],
        )


def flapping_rules(*names: str) -> str:
    base: dict[str, Any] = {
        "title_th": "PM2.5 สูง",
        "title_en": "PM2.5 high",
        "select": {"kind": "air"},
        "value": {"metric": "pm25"},
        "when": {"op": ">", "value": 75},
        "message_th": "{name}: PM2.5 {value} {unit}",
        "message_en": "{name}: PM2.5 {value} {unit}",
        "recipients": ["team"],
    }
    rules = [
        base | {"name": "with-hysteresis", "clear": {"op": "<", "value": 60}},
        base | {"name": "without-hysteresis"},
    ]
    return rules_text([r for r in rules if not names or r["name"] in names])


def test_a_value_flapping_around_the_threshold_sends_no_storm_with_hysteresis(
    city: AlertCity,
) -> None:
    city.add(make_station("air-1", "air"))
    city.write(
        "air",
        "air-1",
        every(T0, T0 + 3 * HOUR_NS, 60),
        lambda t: {"pm25": 80.0 if (t // MIN) % 2 else 70.0},
    )
    city.rules(flapping_rules())
    city.run(T0 + MIN, T0 + 3 * HOUR_NS)
    assert len(city.sent("with-hysteresis", "firing")) == 1
    assert city.sent("with-hysteresis", "resolved") == []
    # the same values without a clear condition: a storm, which is why rules have one
    assert len(city.sent("without-hysteresis", "firing")) > 50


def test_a_tidal_day_fires_no_flood_rule_and_a_storm_surge_does(city: AlertCity) -> None:
    city.add(water_station("river-1"))
    surge_at = T0 + 48 * HOUR_NS

    def surge(t: int) -> float:
        h = (t - surge_at) / HOUR_NS
        return max(0.0, min(1.6, 0.4 * h, 1.6 - 0.4 * (h - 8)))  # up 4 h, hold 4 h, down 4 h

    city.write(
        "water",
        "river-1",
        every(T0, T0 + 72 * HOUR_NS, 300),
        lambda t: {"level": round(tide(t) + surge(t), 3), "do": 5.0},
    )
    river = ("river-watch", "river-warning", "river-critical", "river-rising-fast")
    city.rules(rules_text(shipped(*river, repeat=None)))
    city.run(T0 + 13 * HOUR_NS, surge_at, 10 * MIN)  # a day and a half of tide alone
    assert city.store.history(limit=10) == []
    assert city.notices() == []
    city.run(surge_at + 10 * MIN, T0 + 72 * HOUR_NS, 10 * MIN)
    for rule in river:
        assert len(city.sent(rule, "firing")) == 1, rule
        assert len(city.sent(rule, "resolved")) == 1, rule
    critical = city.sent("river-critical", "firing")[0]
    assert "วิกฤต" in critical.text and "ม.รทก." in critical.text


def test_a_rise_rule_on_the_river_level_shorter_than_a_tide_cycle_is_refused() -> None:
    naive = {
        "name": "naive-rise",
        "title_th": "น้ำขึ้น",
        "title_en": "rising",
        "select": {"kind": "water"},
        "value": {"metric": "level"},
        "when": {"rise": 0.3, "over": "3h"},
        "message_th": "x",
        "message_en": "x",
        "recipients": ["team"],
    }
    with pytest.raises(RulesError, match=r"rules\[0\].*tide"):
        parse_rules(rules_text([naive]))
    parse_rules(rules_text([naive | {"when": {"rise": 0.3, "over": "25h"}}]))


def test_a_sensor_in_maintenance_raises_nothing_and_a_silence_mutes_but_keeps_history(
    city: AlertCity,
) -> None:
    city.add(make_station("air-1", "air"), make_station("air-2", "air", status="maintenance"))
    for sid in ("air-1", "air-2"):
        city.write("air", sid, every(T0, T0 + 2 * HOUR_NS, 60), lambda t: {"pm25": 90.0})
    city.rules(flapping_rules("with-hysteresis"))
    at = datetime.fromtimestamp(T0 / NS, UTC)
    city.store.add_silence(
        rule="with-hysteresis",
        subject="air-1",
        reason="calibration drive",
        created_by="test",
        starts_at=at,
        ends_at=at + timedelta(minutes=30),
    )
    city.run(T0 + MIN, T0 + 20 * MIN)

    assert city.notices() == []  # air-1 silenced, air-2 in maintenance
    fired = city.events("with-hysteresis", "firing")
    assert [(e.subject, e.silenced) for e in fired] == [("air-1", True)]
    city.run(T0 + 21 * MIN, T0 + 40 * MIN)  # the silence is over: told once, late
    told = city.sent("with-hysteresis", "firing")
    assert [[a["subject"] for a in n.payload["alerts"]] for n in told] == [["air-1"]]


def test_a_silent_sensor_fires_offline_and_resolves_when_it_reports_again(city: AlertCity) -> None:
    city.add(make_station("air-1", "air"), make_station("air-2", "air"))
    city.write("air", "air-1", every(T0, T0 + 4 * HOUR_NS, 60), lambda t: {"pm25": 10.0})
    gap = [t for t in every(T0, T0 + 4 * HOUR_NS, 60) if not (T0 + HOUR_NS <= t < T0 + 2 * HOUR_NS)]
    city.write("air", "air-2", gap, lambda t: {"pm25": 10.0})
    city.rules(rules_text(shipped("sensor-offline", repeat=None)))
    city.run(T0 + 30 * MIN, T0 + 3 * HOUR_NS, 5 * MIN)
    fired = city.sent("sensor-offline", "firing")
    assert [[a["subject"] for a in n.payload["alerts"]] for n in fired] == [["air-2"]]
    # offline after the kind's 30 minutes of silence, judged at the next 5-minute cycle
    assert T0 + HOUR_NS + 30 * MIN <= fired[0].created_ns <= T0 + HOUR_NS + 35 * MIN
    assert len(city.sent("sensor-offline", "resolved")) == 1


def test_influxdb_unreachable_fires_after_its_for_duration(tmp_path: Path) -> None:
    with Registry.open(f"sqlite:///{tmp_path}/registry.db") as registry:
        gone = InfluxClient("http://127.0.0.1:9", "nowhere", timeout=0.5)
        city = AlertCity(gone, registry)
        city.rules(rules_text(shipped("influx-unreachable", repeat=None)))
        city.run(T0, T0 + 5 * MIN)
        events = city.events("influx-unreachable")
        assert [(e.transition, e.subject) for e in events] == [
            ("pending", INFLUXDB),
            ("firing", INFLUXDB),
        ]
        assert events[1].time_ns == T0 + 3 * MIN
        assert len(city.sent("influx-unreachable", "firing", "email")) == 1
        gone.close()


def test_platform_checks_read_the_collectors_health(city: AlertCity) -> None:
    now = T0 + HOUR_NS
    lines = []
    for i, t in enumerate(every(now - 10 * MIN, now, 10)):
        fresh = {"spool_bytes": 9e8, "dead_lettered": float(5 * i), "influx_alarm": 0.0}
        lines.append(encode_point(HEALTH, {"collector": "c1", "host": "h1"}, fresh, t))
    stale = {"spool_bytes": 0.0, "dead_lettered": 0.0, "influx_alarm": 1.0}
    lines.append(encode_point(HEALTH, {"collector": "c2", "host": "h2"}, stale, now - 600 * NS))
    city.influx.write_lines(lines)
    city.rules(
        rules_text(
            shipped(
                "collector-silent",
                "spool-filling",
                "deadletter-burst",
                "influx-refusing",
                repeat=None,
            )
        )
    )
    city.run(now, now + 2 * MIN)
    states = city.store.states()
    assert states[("collector-silent", "c2@h2")].state == "firing"
    assert states[("collector-silent", "c2@h2")].value == pytest.approx(600 + 120)
    assert ("collector-silent", "c1@h1") not in states  # reported 0-2 minutes ago
    assert states[("spool-filling", "c1@h1")].value == pytest.approx(90.0)
    # 5 per 10 s: 145 in the 5 minutes before `now`, 85 two minutes later, still above the
    # clear line of 20
    assert states[("deadletter-burst", "c1@h1")].state == "firing"
    assert states[("deadletter-burst", "c1@h1")].value == pytest.approx(85)
    refusing = [(e.transition, e.time_ns - now) for e in city.events("influx-refusing")]
    assert refusing == [("pending", 0), ("firing", 2 * MIN)]  # for: 2m
