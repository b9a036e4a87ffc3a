"""Congestion by speed ratio to free flow, the Thai speed fallback, and the occupancy hint."""

from __future__ import annotations

import math

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st

from citydata.traffic import congestion

FREE_FLOW = 80.0  # km/h: the ratio edges fall at 60, 40 and 20 km/h


@pytest.mark.parametrize(
    ("speed", "level", "colour"),
    [
        (100.0, "free", "green"),  # faster than the baseline is still free-flowing
        (60.01, "free", "green"),
        (60.0, "free", "green"),  # 0.75 exactly: ">= 0.75" is green
        (59.99, "moderate", "yellow"),
        (40.01, "moderate", "yellow"),
        (40.0, "moderate", "yellow"),  # 0.50 exactly: the band keeps its lower edge
        (39.99, "heavy", "orange"),
        (20.01, "heavy", "orange"),
        (20.0, "heavy", "orange"),  # 0.25 exactly: "< 0.25" is red, so 0.25 is orange
        (19.99, "stop_and_go", "red"),
        (0.0, "stop_and_go", "red"),
    ],
)
def test_speed_ratio_bands_at_every_edge(speed: float, level: str, colour: str) -> None:
    result = congestion(speed, FREE_FLOW)
    assert (result.level, result.colour, result.method) == (level, colour, "speed_ratio")
    assert result.ratio == pytest.approx(speed / FREE_FLOW, rel=1e-12)


def test_ratio_edge_is_exact_in_decimal() -> None:
    # 22.575 / 30.1 is 0.75 in decimal but 0.7499999... as a float division.
    assert 22.575 / 30.1 < 0.75
    result = congestion(22.575, 30.1)
    assert result.level == "free"
    assert result.ratio == 0.75


@pytest.mark.parametrize(
    ("level", "severity", "colour", "hex_", "thai", "english", "speed"),
    [
        ("free", 0, "green", "#00B050", "คล่องตัว", "Free-flowing", 70.0),
        ("moderate", 1, "yellow", "#FFD700", "ชะลอตัว", "Moderate", 50.0),
        ("heavy", 2, "orange", "#FF8C00", "ติดขัด", "Heavy", 30.0),
        ("stop_and_go", 3, "red", "#E00000", "ติดขัดมาก", "Stop-and-go", 10.0),
    ],
)
def test_each_level_carries_colour_and_names(
    level: str, severity: int, colour: str, hex_: str, thai: str, english: str, speed: float
) -> None:
    result = congestion(speed, FREE_FLOW)
    assert (result.level, result.severity, result.colour, result.colour_hex) == (
        level,
        severity,
        colour,
        hex_,
    )
    assert (result.name_th, result.name_en) == (thai, english)


@pytest.mark.parametrize(
    ("speed", "level", "colour"),
    [
        (90.0, "free", "green"),
        (25.01, "free", "green"),
        (25.0, "moderate", "yellow"),  # "> 25 green": 25 itself is yellow
        (20.0, "moderate", "yellow"),
        (15.0, "moderate", "yellow"),  # "< 15 red": 15 itself is yellow
        (14.99, "stop_and_go", "red"),
        (0.0, "stop_and_go", "red"),
    ],
)
def test_thai_fallback_without_a_baseline(speed: float, level: str, colour: str) -> None:
    result = congestion(speed)
    assert (result.level, result.colour, result.method) == (level, colour, "thai_fallback")
    assert result.ratio is None
    assert result.free_flow_kmh is None


def test_fallback_has_no_orange_band() -> None:
    colours = {congestion(tenth / 10).colour for tenth in range(0, 1001)}
    assert colours == {"green", "yellow", "red"}


@pytest.mark.parametrize(
    ("occupancy", "threshold", "congested"),
    [
        (None, 25.0, None),
        (10.0, 25.0, False),
        (25.0, 25.0, False),  # "above" the threshold: 25 % itself is not
        (25.01, 25.0, True),
        (28.0, 30.0, False),
        (30.5, 30.0, True),
        (100.0, 25.0, True),
    ],
)
def test_occupancy_hint(occupancy: float | None, threshold: float, congested: bool | None) -> None:
    result = congestion(70.0, FREE_FLOW, occupancy_pct=occupancy, occupancy_threshold_pct=threshold)
    assert result.occupancy_congested is congested
    assert result.level == "free"  # the hint never changes the speed-based level


def test_occupancy_threshold_defaults_to_25() -> None:
    assert congestion(70.0, occupancy_pct=25.0).occupancy_congested is False
    assert congestion(70.0, occupancy_pct=26.0).occupancy_congested is True
    assert congestion(70.0).occupancy_threshold_pct == 25.0


@pytest.mark.parametrize(
    ("kwargs", "complaint"),
    [
        ({"speed_kmh": -1.0}, "speed cannot be negative"),
        ({"speed_kmh": math.nan}, "speed must be a finite"),
        ({"speed_kmh": 50.0, "free_flow_kmh": 0.0}, "free-flow speed must be positive"),
        ({"speed_kmh": 50.0, "free_flow_kmh": -60.0}, "free-flow speed must be positive"),
        ({"speed_kmh": 50.0, "free_flow_kmh": math.inf}, "free-flow speed must be a finite"),
        ({"speed_kmh": 50.0, "occupancy_pct": 101.0}, "occupancy must be 0-100"),
        ({"speed_kmh": 50.0, "occupancy_pct": -1.0}, "occupancy must be 0-100"),
        ({"speed_kmh": 50.0, "occupancy_threshold_pct": 150.0}, "occupancy threshold"),
    ],
)
def test_impossible_input_is_refused(kwargs: dict[str, float], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        congestion(**kwargs)


def test_result_is_frozen() -> None:
    result = congestion(50.0, FREE_FLOW)
    with pytest.raises(pydantic.ValidationError):
        result.level = "free"


speeds = st.floats(min_value=0, max_value=250, allow_nan=False, allow_infinity=False)


@given(
    a=speeds,
    b=speeds,
    free_flow=st.none() | st.floats(min_value=5, max_value=150, allow_nan=False),
)
def test_level_never_improves_as_speed_falls(a: float, b: float, free_flow: float | None) -> None:
    faster, slower = max(a, b), min(a, b)
    fast, slow = congestion(faster, free_flow), congestion(slower, free_flow)
    assert slow.severity >= fast.severity
    assert slow.method == fast.method
