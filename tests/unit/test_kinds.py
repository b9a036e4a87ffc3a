"""Contract for every registered sensor kind, and the DESIGN.md metric names and units."""

from __future__ import annotations

import math
import re

import pytest

from citydata.kinds import Kind, Metric, all_kinds, get_kind
from citydata.lineprotocol import escape_key, escape_measurement

_IDENT = re.compile(r"[a-z][a-z0-9_]*")

# DESIGN.md "Metric names and units"; None where the design gives no unit text to compare.
DESIGN: dict[str, dict[str, str | None]] = {
    "air": {
        "pm25": "µg/m³",
        "pm10": "µg/m³",
        "o3": "ppb",
        "no2": "ppb",
        "so2": "ppb",
        "co": "ppm",
        "temperature": "°C",
        "humidity": "%",
    },
    "water": {
        "level": "m",
        "flow": "m³/s",
        "do": "mg/L",
        "ph": "",
        "temperature": "°C",
        "turbidity": "NTU",
        "conductivity": "µS/cm",
        "nh3n": "mg/L",
    },
    "traffic": {
        "count": None,  # "vehicles per interval"
        "interval_s": None,
        "speed": "km/h",
        "occupancy": "%",
        "motorcycle": None,
        "car": None,
        "bus": None,
        "truck": None,
    },
}

KINDS = [pytest.param(k, id=k.name) for k in all_kinds().values()]


@pytest.mark.parametrize("kind", KINDS)
def test_kind_is_well_formed(kind: Kind) -> None:
    assert _IDENT.fullmatch(kind.name), kind.name
    assert escape_measurement(kind.name) == kind.name  # a measurement name needing no escapes
    assert kind.description.strip()
    assert kind.metrics, f"{kind.name} has no metrics"
    assert len({m.name for m in kind.metrics}) == len(kind.metrics)
    assert kind.by_name == {m.name: m for m in kind.metrics}
    assert all_kinds()[kind.name] is kind
    assert get_kind(kind.name) is kind


@pytest.mark.parametrize("kind", KINDS)
def test_metrics_are_well_formed(kind: Kind) -> None:
    for m in kind.metrics:
        assert isinstance(m, Metric)
        assert _IDENT.fullmatch(m.name), f"{kind.name}.{m.name} is not a lowercase identifier"
        assert escape_key(m.name) == m.name
        assert m.name != "ts", "ts is the time key of the native payload"
        assert isinstance(m.unit, str) and m.unit == m.unit.strip()
        assert math.isfinite(m.min) and math.isfinite(m.max), m.name
        assert m.min < m.max, f"{kind.name}.{m.name}: min {m.min} >= max {m.max}"
        assert m.check(m.min) is None and m.check(m.max) is None
        assert m.check(math.nextafter(m.max, math.inf)) is not None


@pytest.mark.parametrize("name", sorted(DESIGN))
def test_design_metric_names_and_units(name: str) -> None:
    kind = get_kind(name)
    assert kind is not None, f"DESIGN.md kind {name!r} is not registered"
    missing = sorted(set(DESIGN[name]) - set(kind.by_name))
    assert missing == [], f"{name}: DESIGN.md metrics missing: {missing}"
    for metric, unit in DESIGN[name].items():
        if unit is not None:
            assert kind.by_name[metric].unit == unit, f"{name}.{metric}"


def test_unknown_kind_is_none() -> None:
    assert get_kind("noise") is None
    assert get_kind("") is None


def test_kind_refuses_duplicate_metric_names() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        Kind("x", "dup", (Metric("a", "", 0, 1), Metric("a", "", 0, 2)))


def test_metric_check_explains_itself() -> None:
    m = Metric("pm25", "µg/m³", 0, 1000)
    why = m.check(1500)
    assert why is not None and "pm25" in why and "1500" in why and "µg/m³" in why
    nan = m.check(math.nan)
    assert nan is not None and "finite" in nan
