"""Scenarios over the fleet's readings, judged the way the platform judges them: each episode's
onset, hold and recovery give the intended water status, AQI level or congestion through
`citydata`, and normal readings come back after; an outage is silent exactly in its window."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from citydata.aqi import calculate
from citydata.cli import build_parser, main
from citydata.kinds import all_kinds
from citydata.traffic import congestion
from citydata.water import level_status
from simulators.claims import Claims, claim_payload, parse_claim
from simulators.fleet import LAM_PHAYA
from simulators.models import model_for
from simulators.publisher import Simulation
from simulators.registration import registry_entries
from simulators.scenarios import Plan, Target, Timeline, all_scenarios, plan

ENTRIES = {e.id: e for e in registry_entries(LAM_PHAYA)}
CANDIDATES = [Target(s, ENTRIES[s.sensor_id]) for s in LAM_PHAYA]
DRY = datetime.fromisoformat("2026-03-02T07:00+07:00").timestamp()  # a weekday's rush hour
STEP_S = 5.0


def planned(name: str, start: float = DRY, **options: Any) -> Plan:
    return plan(all_scenarios()[name], CANDIDATES, **options).at(start)


def episode(p: Plan, after_s: float = 300.0) -> Iterator[tuple[Target, float, dict[str, float]]]:
    """(target, seconds since the start, normal readings) from a minute before the start to
    `after_s` after the end, every STEP_S, with the models' own noise."""
    rng = random.Random(1)
    t = -60.0
    while t <= p.timeline.end_s + after_s:
        for target in p.targets.values():
            yield target, t, model_for(target.sim.kind)(target.sim, p.start + t, rng)
        t += STEP_S


def test_every_scenario_has_a_test_here() -> None:
    assert sorted(all_scenarios()) == sorted(CHECKS)


@pytest.mark.parametrize("name", sorted(all_scenarios()))
def test_a_scenario_is_bounded_and_leaves_normal_readings_alone_outside_its_episode(
    name: str,
) -> None:
    p = planned(name)
    assert p.targets and 0 < p.timeline.end_s <= 40 * 60
    assert all(not p.scenario.kinds or t.sim.kind in p.scenario.kinds for t in p.targets.values())
    for target, t, normal in episode(p):
        got = p.scenario.readings(target, t, normal)
        if t < 0 or t >= p.timeline.end_s:
            assert got == normal, (target.id, t)
        for metric, value in (got or {}).items():
            assert all_kinds()[target.sim.kind].by_name[metric].check(value) is None


def test_haze_climbs_to_level_5_holds_and_clears() -> None:
    p = planned("haze")
    assert len(p.targets) == 10  # regional smoke: every air station
    tl = p.timeline
    for target, t, normal in episode(p):
        got = p.scenario.readings(target, t, normal)
        assert got is not None
        level = calculate({"pm25": got["pm25"]}).level
        if tl.phase(t) == "hold":
            assert 144 <= got["pm25"] <= 188  # 150-180, wandering 4 %
            assert level == 5  # were it the 24-hour mean
            assert got["pm10"] / got["pm25"] == pytest.approx(normal["pm10"] / normal["pm25"], 0.01)
        elif tl.phase(t) in ("before", "after") or t == 0:
            assert got == normal


def test_a_haze_history_makes_the_next_24_hour_aqi_level_5_even_beside_live_readings() -> None:
    """--scenario-history publishes the day before at the peak, one reading per interval; were
    a live simulator's normal readings at the same rate in those hours too, each hourly mean is
    at worst half peak, half normal: still level 5."""
    p = planned("haze", sensor_ids=["lp-air-02"])
    (target,) = p.targets.values()
    rng = random.Random(2)
    hourly: list[float] = []
    for hour in range(24):
        peak, live = [], []
        for k in range(0, 3600, 60):
            t = p.start - (24 - hour) * 3600 + k
            normal = model_for("air")(target.sim, t, rng)
            got = p.at_peak(target.sim, t, normal)
            assert got is not None
            peak.append(got["pm25"])
            live.append(normal["pm25"])
        assert calculate({"pm25": statistics.fmean(peak)}).level == 5
        hourly.append(statistics.fmean(peak + live))
    assert calculate({"pm25": statistics.fmean(hourly)}).level == 5


@pytest.mark.parametrize("tide_h", [0.0, 2.0, 4.0, 6.2, 8.0, 10.5])
def test_a_flood_passes_watch_warning_and_critical_and_recedes_at_any_tide(
    tide_h: float,
) -> None:
    p = planned("flood", start=DRY + tide_h * 3600)
    assert sorted(p.targets) == ["lp-water-01", "lp-water-02", "lp-water-03", "lp-water-04"]
    tl = p.timeline
    for target in p.targets.values():
        levels = dict(target.sensor.thresholds["level"])
        seen: list[str] = []
        for tg, t, normal in episode(p):
            if tg is not target:
                continue
            got = p.scenario.readings(target, t, normal)
            assert got is not None
            status = level_status(got["level"], levels).status
            seen.append(status)
            if tl.phase(t) == "hold":
                assert got["level"] >= levels["critical"] + 0.15 - 1e-9
                assert status in ("critical", "overflow")
            elif t <= 0 or tl.phase(t) == "after":
                assert got == normal and status == "normal"  # the dry season's tide
        rising = seen[: seen.index("critical")]
        assert {"watch", "warning"} <= set(rising), target.id  # in that order, on the way up
        assert rising.index("watch") < rising.index("warning")


def test_a_flood_rises_on_top_of_the_tide_from_the_normal_level() -> None:
    p = planned("flood", sensor_ids=["lp-water-01"])
    (target,) = p.targets.values()
    normal = {"level": 1.3, "do": 5.0}
    early = p.scenario.readings(target, 30.0, normal)  # a tenth into the rise: 2.5 % of it
    assert early is not None and 1.3 < early["level"] < 1.35 and early["do"] == 5.0
    assert p.scenario.readings(target, p.timeline.end_s, normal) == normal


@pytest.mark.parametrize("hour", [3.0, 7.5, 13.0, 17.5])
def test_a_jam_is_stop_and_go_with_a_full_detector_then_clears(hour: float) -> None:
    p = planned("jam", start=DRY + (hour - 7) * 3600)
    (target,) = p.targets.values()
    assert target.id == "lp-traffic-01"  # Route 3233: the busiest road
    free = target.sensor.thresholds["speed"]["free_flow"]
    tl = p.timeline
    held = 0.0
    for _, t, normal in episode(p):
        got = p.scenario.readings(target, t, normal)
        assert got is not None
        judged = congestion(got["speed"], free, got["occupancy"])
        if tl.phase(t) == "hold":
            held += STEP_S
            assert judged.level == "stop_and_go" and judged.occupancy_congested
            assert sum(got[c] for c in ("motorcycle", "car", "bus", "truck")) == got["count"]
        elif tl.phase(t) in ("before", "after"):
            assert got == normal
    assert held >= 18 * 60


def test_an_outage_is_silent_exactly_for_longer_than_the_offline_limit() -> None:
    p = planned("outage")
    (target,) = p.targets.values()
    limit = target.sensor.offline_limit_s
    assert target.id == "lp-air-01" and limit == 1800
    assert p.timeline == Timeline(0.0, limit + 180, 0.0)
    normal = {"pm25": 10.0}
    silent = [t for t in range(-60, 2400) if p.scenario.readings(target, t, normal) is None]
    assert silent == list(range(0, int(limit) + 180))
    assert "back at 33 min" in " ".join(p.scenario.notes(list(p.targets.values()), 0))


def test_an_outage_follows_the_registered_offline_limit_and_warns_when_too_short() -> None:
    fast = [
        replace(c, sensor=c.sensor.model_copy(update={"meta": {"offline_after_s": "300"}}))
        if c.id == "lp-water-03"
        else c
        for c in CANDIDATES
    ]
    scenario = all_scenarios()["outage"]
    p = plan(scenario, fast, sensor_ids=["lp-water-03"])
    assert p.timeline.end_s == 480  # 5 min of silence makes it offline, 3 more to see it
    short = plan(scenario, fast, sensor_ids=["lp-water-03"], minutes=4)
    assert "it will stay online" in scenario.notes(list(short.targets.values()), 0)[0]


CHECKS: dict[str, Callable[..., None]] = {
    "haze": test_haze_climbs_to_level_5_holds_and_clears,
    "flood": test_a_flood_passes_watch_warning_and_critical_and_recedes_at_any_tide,
    "jam": test_a_jam_is_stop_and_go_with_a_full_detector_then_clears,
    "outage": test_an_outage_is_silent_exactly_for_longer_than_the_offline_limit,
}


def test_the_timeline_ramps_smoothly_and_scales_in_proportion() -> None:
    tl = Timeline(120, 600, 120)
    assert [tl.intensity(t) for t in (-1, 0, 60, 120, 700, 780, 840, 900)] == pytest.approx(
        [0, 0, 0.5, 1, 1, 0.5, 0, 0]
    )
    assert tl.scaled(28) == Timeline(240, 1200, 240)
    assert tl.phase(0) == "onset" and tl.phase(840) == "after"


def test_the_operator_narrows_the_sensors_and_sees_the_timeline() -> None:
    p = planned("haze", sensor_ids=["lp-air-03", "lp-air-03"], minutes=7)
    assert list(p.targets) == ["lp-air-03"] and p.timeline == Timeline(60, 300, 60)
    start = datetime.fromisoformat("2026-03-02T12:01:00+07:00").timestamp()
    assert p.at(start).describe() == (
        "haze at lp-air-03 (Wat Lam Phaya): rising 12:01:00-12:02:00, holding to 12:07:00, "
        "clearing to 12:08:00 ICT"
    )
    assert planned("flood", zone="lam-phaya").targets
    cases: list[tuple[dict[str, Any], str]] = [
        ({"sensor_ids": ["lp-air-99"]}, "not in the simulated fleet"),
        ({"sensor_ids": ["lp-water-01"]}, "lp-water-01 is a water sensor"),
        ({"zone": "elsewhere"}, "no sensor to affect in zone 'elsewhere'"),
        ({"minutes": 0.0}, "must be positive"),
    ]
    for options, message in cases:
        with pytest.raises(ValueError, match=message):
            planned("haze", **options)


def test_an_overlay_leaves_the_other_sensors_readings_as_they_were() -> None:
    p = planned("haze", sensor_ids=["lp-air-01"])
    plain, overlaid = Simulation(LAM_PHAYA, 4), Simulation(LAM_PHAYA, 4, overlay=p.overlay)
    t = p.start + p.timeline.peak_s
    a = {m.sensor.sensor_id: m.values for m in plain.round(t)}
    b = {m.sensor.sensor_id: m.values for m in overlaid.round(t)}
    assert b.pop("lp-air-01")["pm25"] > 140 and a.pop("lp-air-01")["pm25"] < 140
    assert a == b
    silent = planned("outage", sensor_ids=["lp-water-02"])
    ids = [m.sensor.sensor_id for m in Simulation(LAM_PHAYA, 4, overlay=silent.overlay).round(DRY)]
    assert len(ids) == len(LAM_PHAYA) - 1 and "lp-water-02" not in ids


def test_claims_are_held_until_released_or_lapsed_and_bad_ones_are_ignored() -> None:
    claims = Claims()

    def hear(topic: str, body: bytes) -> None:
        msg = type("Msg", (), {"topic": topic, "payload": body})()
        claims.on_message(None, None, msg)  # type: ignore[arg-type]

    hear("citydata/simulator/claims/a", claim_payload(["lp-air-01", "lp-air-02"], 1000.0))
    hear("citydata/simulator/claims/b", claim_payload(["lp-water-01"], 2000.0))
    hear("citydata/simulator/claims/c", b'{"sensors": "lp-air-03", "until": 3000}')
    assert claims.held(500) == {"lp-air-01", "lp-air-02", "lp-water-01"}
    assert claims.held(1500) == {"lp-water-01"}  # a's lapsed
    hear("citydata/simulator/claims/b", b"")
    assert claims.held(1500) == frozenset()
    assert parse_claim(b"") is None
    with pytest.raises(ValueError):
        parse_claim(b'{"sensors": [], "until": true}')


def test_the_options_are_in_the_help_with_each_scenarios_own_length(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--help"])
    flat = " ".join(capsys.readouterr().out.split())
    for option in ("--scenario ", "--scenario-minutes", "--scenario-history", "--sensor", "--zone"):
        assert option in flat
    for name in ("haze", "flood", "jam"):
        minutes = all_scenarios()[name].timeline([]).end_s / 60
        assert f"{name} {minutes:g}" in flat


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--sensor", "lp-air-01"], "only go with --scenario"),
        (["--scenario-history", "24"], "only go with --scenario"),
        (["--scenario", "haze", "--speed", "60"], "real time from now; drop --speed"),
        (["--scenario", "haze", "--backfill-days", "1"], "drop --backfill-days"),
        (["--scenario", "haze", "--scenario-history", "-1"], "0 or more hours"),
    ],
)
def test_scenario_options_out_of_place_exit_2(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path))
    assert main(["simulate", *argv]) == 2
    assert message in capsys.readouterr().err
