"""Fault injection and fleet files: each fault at its configured rate, with the effect it names."""

from __future__ import annotations

import itertools
import json
import math
from datetime import datetime
from pathlib import Path

import pytest

from simulators.faults import BURST_LENGTH, FaultRates, Outgoing
from simulators.fleet import LAM_PHAYA
from simulators.fleetfile import EXAMPLE, load_fleet, parse_fleet
from simulators.publisher import Simulation, encode

T0 = datetime.fromisoformat("2026-03-01T00:00+07:00").timestamp()
STEP = 300.0
ROUNDS = 600
RATES = FaultRates(
    dropout=0.05, stuck=0.04, spike=0.03, drift=0.002, malformed=0.02,
    duplicate=0.03, skew=0.02, burst=0.01, silent=0.0005, skew_s=3600,
)  # fmt: skip


def run(rates: FaultRates, seed: int = 5) -> tuple[Simulation, list[list[Outgoing]]]:
    sim = Simulation(LAM_PHAYA, seed, rates)
    return sim, [list(sim.round(T0 + k * STEP)) for k in range(ROUNDS)]


@pytest.mark.parametrize("name", RATES.names)
def test_each_fault_appears_at_its_configured_rate(name: str) -> None:
    sim, _ = run(RATES)
    n, hits, p = sim.injector.trials[name], sim.injector.counts[name], getattr(RATES, name)
    tolerance = 4 * math.sqrt(n * p * (1 - p)) + 1  # four standard deviations of a binomial
    assert n > 1000 and abs(hits - n * p) <= tolerance, (name, n, hits)
    assert hits > 0


def test_no_faults_by_default_and_faults_leave_clean_readings_alone() -> None:
    _, clean = run(FaultRates())
    _, faulty = run(RATES)
    flat_clean = {(m.sensor.sensor_id, m.t): m for r in clean for m in r}
    assert not any(m.faults for m in flat_clean.values())
    assert len(flat_clean) == len(LAM_PHAYA) * ROUNDS
    untouched = [m for r in faulty for m in r if not m.faults]
    assert untouched and all(
        flat_clean[(m.sensor.sensor_id, m.t)].values == m.values for m in untouched
    )


def test_each_fault_has_its_effect() -> None:
    sim, rounds = run(RATES)
    msgs = [m for r in rounds for m in r]
    for m in msgs:
        _topic, body = encode(m)
        if m.malformed:
            with pytest.raises(json.JSONDecodeError):
                json.loads(body)
        else:
            ts = datetime.fromisoformat(json.loads(body)["ts"]).timestamp()
            assert ts == m.t and (m.t - T0) % STEP == (3600 % STEP if "skew" in m.faults else 0)
    dupes = [m for m in msgs if "duplicate" in m.faults]
    assert dupes and all(msgs.count(m) == 2 for m in dupes)
    per_sensor: dict[str, list[Outgoing]] = {}
    for m in msgs:
        per_sensor.setdefault(m.sensor.sensor_id, []).append(m)
    silent = [sid for sid, ms in per_sensor.items() if len(ms) < ROUNDS * 0.5]
    assert len(silent) <= sim.injector.counts["silent"]
    burst_rounds = [r for r in rounds if sum("burst" in m.faults for m in r) >= BURST_LENGTH]
    assert burst_rounds  # held back, then released together
    spikes = [m for m in msgs if "spike" in m.faults]
    assert spikes
    drifting = [m for m in msgs if "drift" in m.faults]
    assert drifting and all(
        m.t >= drifting[0].t or m.sensor != drifting[0].sensor for m in drifting
    )


def test_stuck_sensors_repeat_their_previous_values() -> None:
    sim = Simulation(LAM_PHAYA[:1], 1, FaultRates(stuck=0.2))
    msgs = [m for k in range(500) for m in sim.round(T0 + k * STEP)]
    for prev, m in itertools.pairwise(msgs):
        if "stuck" in m.faults:
            assert m.values == prev.values
    assert 60 < sum("stuck" in m.faults for m in msgs) < 140


def test_a_fleet_file_names_sensors_zone_and_faults(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    spec = load_fleet(path)
    assert [s.sensor_id for s in spec.sensors] == ["lp-air-01"]
    assert spec.zone == "lam-phaya" and spec.faults.dropout == 0.01
    assert parse_fleet({"faults": {"spike": 0.1}}).sensors == LAM_PHAYA


@pytest.mark.parametrize(
    "data, message",
    [
        ({"faults": {"dropuot": 0.1}}, "unknown fault"),
        ({"faults": {"dropout": 2}}, "between 0 and 1"),
        ({"sensorz": []}, "unknown key"),
        ({"sensors": [{"id": "a", "kind": "noise", "lat": 1, "lon": 2}]}, "unknown kind"),
        ({"sensors": [{"id": "a", "kind": "air"}]}, "lacks"),
    ],
)
def test_a_bad_fleet_file_says_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fleet(data)
