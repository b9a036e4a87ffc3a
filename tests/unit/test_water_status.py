"""River level against station thresholds, DO against the water class, tide-aware rate of rise."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pydantic
import pytest

from citydata.water import M2_PERIOD_H, do_status, level_status, rise_rate

# The shape of T.15's settings (DOMAIN.md section 3; the numbers are per-station settings).
T15 = {"watch": 1.8, "warning": 2.0, "critical": 2.1, "bank": 2.3}
T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("level", "status"),
    [
        (0.0, "normal"),
        (1.79, "normal"),
        (math.nextafter(1.8, 0), "normal"),
        (1.8, "watch"),
        (1.81, "watch"),
        (1.99, "watch"),
        (2.0, "warning"),
        (2.01, "warning"),
        (math.nextafter(2.1, 0), "warning"),
        (2.1, "critical"),
        (2.11, "critical"),
        (2.29, "critical"),
        (2.3, "overflow"),  # brim-full counts as overflowing: the conservative side
        (2.31, "overflow"),
        (5.0, "overflow"),
    ],
)
def test_status_at_and_around_every_threshold(level: float, status: str) -> None:
    assert level_status(level, T15).status == status


@pytest.mark.parametrize(
    ("status", "thai", "english"),
    [
        ("normal", "ปกติ", "Normal"),
        ("watch", "เฝ้าระวัง", "Watch"),
        ("warning", "เตือนภัย", "Warning"),
        ("critical", "วิกฤต", "Critical"),
        ("overflow", "น้ำล้นตลิ่ง", "Overflowing the bank"),
    ],
)
def test_status_words(status: str, thai: str, english: str) -> None:
    level = {"normal": 1.0, "watch": 1.9, "warning": 2.05, "critical": 2.2, "overflow": 2.4}
    result = level_status(level[status], T15)
    assert (result.status, result.status_th, result.status_en) == (status, thai, english)


def test_worked_example_from_domain_md() -> None:
    # 2.04 is past warning (2.0) and 2.10 - 2.04 = 0.06 short of critical.
    result = level_status(2.04, T15)
    assert result.status == "warning"
    assert result.message_th == "ระดับน้ำ 2.04 ม.รทก. ต่ำกว่าระดับวิกฤต 0.06 ม."
    assert result.message_en == "Water level 2.04 m MSL, 0.06 m below the critical level"
    assert (result.next_threshold, result.margin_m) == ("critical", 0.06)
    assert (result.exceeded, result.excess_m) == ("warning", 0.04)


def test_margin_names_the_next_threshold_up() -> None:
    result = level_status(1.5, T15)
    assert (result.next_threshold, result.margin_m) == ("watch", 0.3)
    assert (result.exceeded, result.excess_m) == (None, None)
    assert result.message_th == "ระดับน้ำ 1.50 ม.รทก. ต่ำกว่าระดับเฝ้าระวัง 0.30 ม."


def test_exactly_at_a_threshold_reports_the_next_one() -> None:
    result = level_status(2.1, T15)
    assert (result.exceeded, result.excess_m) == ("critical", 0.0)
    assert (result.next_threshold, result.margin_m) == ("bank", 0.2)
    assert result.message_th == "ระดับน้ำ 2.10 ม.รทก. ต่ำกว่าระดับตลิ่ง 0.20 ม."


def test_overflow_says_how_far_above_the_bank() -> None:
    result = level_status(2.45, T15)
    assert result.status == "overflow"
    assert (result.next_threshold, result.margin_m) == (None, None)
    assert (result.exceeded, result.excess_m) == ("bank", 0.15)
    assert result.message_th == "ระดับน้ำ 2.45 ม.รทก. สูงกว่าระดับตลิ่ง 0.15 ม."
    assert result.message_en == "Water level 2.45 m MSL, 0.15 m above the bank level"


def test_messages_round_half_up_in_decimal() -> None:
    # As a binary float 2.045 is 2.04499..., which round() takes down to 2.04; the margin
    # 2.1 - 2.045 = 0.055 would likewise come out 0.05 in float arithmetic.
    result = level_status(2.045, T15)
    assert result.message_th == "ระดับน้ำ 2.05 ม.รทก. ต่ำกว่าระดับวิกฤต 0.06 ม."
    assert result.margin_m == 0.055


def test_local_datum_is_named_instead_of_msl() -> None:
    result = level_status(2.04, T15, datum="T15-local")
    assert result.datum == "T15-local"
    assert "ม.รทก." not in result.message_th
    assert result.message_th == ("ระดับน้ำ 2.04 ม. (เทียบระดับอ้างอิง T15-local) ต่ำกว่าระดับวิกฤต 0.06 ม.")
    english = "Water level 2.04 m (datum T15-local), 0.06 m below the critical level"
    assert result.message_en == english


@pytest.mark.parametrize(
    ("thresholds", "level", "status", "next_threshold", "exceeded"),
    [
        ({"critical": 2.1}, 2.04, "normal", "critical", None),
        ({"critical": 2.1}, 2.1, "critical", None, "critical"),
        ({"bank": 2.3}, 2.29, "normal", "bank", None),
        ({"bank": 2.3}, 2.3, "overflow", None, "bank"),
        ({"watch": 1.8, "bank": 2.3}, 2.2, "watch", "bank", "watch"),
        ({"warning": 2.0, "critical": 2.1}, 1.5, "normal", "warning", None),
        ({"bank": 2.3, "watch": 1.8}, 1.9, "watch", "bank", "watch"),  # order of keys is free
    ],
)
def test_any_subset_of_thresholds(
    thresholds: dict[str, float],
    level: float,
    status: str,
    next_threshold: str | None,
    exceeded: str | None,
) -> None:
    result = level_status(level, thresholds)
    assert (result.status, result.next_threshold, result.exceeded) == (
        status,
        next_threshold,
        exceeded,
    )


def test_above_the_highest_threshold_without_a_bank() -> None:
    result = level_status(2.2, {"watch": 1.8, "critical": 2.1})
    assert result.status == "critical"
    assert result.message_th == "ระดับน้ำ 2.20 ม.รทก. สูงกว่าระดับวิกฤต 0.10 ม."


@pytest.mark.parametrize(
    ("thresholds", "complaint"),
    [
        ({"watch": 2.0, "warning": 2.0}, "watch 2.0 is not below warning 2.0"),
        ({"warning": 2.2, "critical": 2.1}, "warning 2.2 is not below critical 2.1"),
        ({"watch": 1.8, "critical": 1.7}, "watch 1.8 is not below critical 1.7"),
        ({"critical": 2.4, "bank": 2.3}, "critical 2.4 is not below bank 2.3"),
    ],
)
def test_non_increasing_thresholds_are_refused(
    thresholds: dict[str, float], complaint: str
) -> None:
    with pytest.raises(ValueError, match="must increase") as info:
        level_status(1.0, thresholds)
    assert complaint in str(info.value)


@pytest.mark.parametrize(
    ("level", "thresholds", "complaint"),
    [
        (1.0, {}, "no level thresholds"),
        (1.0, {"alarm": 2.0}, "unknown level thresholds"),
        (1.0, {"watch": math.nan}, "finite"),
        (math.nan, T15, "finite"),
        (math.inf, T15, "finite"),
    ],
)
def test_unjudgeable_input_is_refused(
    level: float, thresholds: dict[str, float], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        level_status(level, thresholds)


def test_results_are_frozen() -> None:
    result = level_status(2.04, T15)
    with pytest.raises(pydantic.ValidationError):
        result.status = "normal"


# --- dissolved oxygen ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("water_class", "do", "state", "minimum", "shortfall"),
    [
        (2, 6.0, "meets", 6.0, 0.0),
        (2, 5.99, "below", 6.0, 0.01),
        (2, 7.5, "meets", 6.0, 0.0),
        (3, 4.0, "meets", 4.0, 0.0),
        (3, 3.99, "below", 4.0, 0.01),
        (3, 2.5, "below", 4.0, 1.5),
        (4, 2.0, "meets", 2.0, 0.0),
        (4, 1.99, "below", 2.0, 0.01),
        (4, 0.0, "below", 2.0, 2.0),
        # Class 1 (natural water) is held to at least class 2's minimum.
        (1, 6.0, "meets", 6.0, 0.0),
        (1, 5.99, "below", 6.0, 0.01),
    ],
)
def test_do_against_each_class_minimum(
    water_class: int, do: float, state: str, minimum: float, shortfall: float
) -> None:
    result = do_status(do, water_class)
    assert (result.state, result.minimum_mg_l, result.shortfall_mg_l) == (
        state,
        minimum,
        shortfall,
    )


def test_class_1_names_the_class_2_criterion() -> None:
    result = do_status(5.0, 1)
    assert (result.water_class, result.criterion_class) == (1, 2)
    assert "below class-2 DO" in result.message_en


def test_class_5_has_no_do_minimum() -> None:
    result = do_status(0.5, 5)
    assert result.state == "no_minimum"
    assert (result.criterion_class, result.minimum_mg_l, result.shortfall_mg_l) == (
        None,
        None,
        None,
    )


def test_do_warning_is_worded_as_a_probe_warning_not_a_verdict() -> None:
    result = do_status(3.5, 3)
    assert result.message_en == (
        "Dissolved oxygen 3.50 mg/L: below class-3 DO (4.00 mg/L) by 0.50 mg/L "
        "(live probe reading, not a compliance verdict)"
    )
    assert "ต่ำกว่าเกณฑ์ DO แหล่งน้ำประเภทที่ 3" in result.message_th
    assert "ไม่ใช่ผลการประเมินตามมาตรฐาน" in result.message_th
    for word in ("fails", "non-compliant", "violat"):
        assert word not in result.message_en.lower()


@pytest.mark.parametrize("water_class", [0, 6, -3, True])
def test_unknown_water_class_is_refused(water_class: int) -> None:
    with pytest.raises(ValueError, match="water class must be 1 to 5"):
        do_status(5.0, water_class)


@pytest.mark.parametrize("do", [-0.1, math.nan, math.inf])
def test_impossible_do_is_refused(do: float) -> None:
    with pytest.raises(ValueError, match="dissolved oxygen"):
        do_status(do, 3)


# --- rate of rise -------------------------------------------------------------------------

STEP = timedelta(minutes=10)


def tide(hours: float, diurnal: float = 0.0) -> float:
    """A lower-Tha-Chin-like tide: 0.6 m semidiurnal swing about 1.2 m, optionally a K1 part."""
    semidiurnal = 0.6 * math.cos(2 * math.pi * hours / M2_PERIOD_H)
    return 1.2 + semidiurnal + diurnal * math.cos(2 * math.pi * hours / 23.93 + 0.7)


def series(days: float, level: object = tide) -> list[tuple[datetime, float]]:
    assert callable(level)
    steps = int(days * 24 * 6)
    return [(T0 + i * STEP, level((i * STEP).total_seconds() / 3600)) for i in range(steps + 1)]


def rates_along(points: list[tuple[datetime, float]], window_h: float = 12.5) -> list[float]:
    """The rate a live alert would have computed at every sample, from the history so far."""
    out = []
    for end in range(len(points)):
        rate = rise_rate(points[: end + 1], window_h)
        if rate is not None:
            out.append(rate.rate_m_per_h)
    return out


def test_pure_tide_raises_no_alarm_over_days() -> None:
    points = series(days=4)
    # The tide itself moves the level up to 2*pi*0.6/12.42 = 0.30 m/h: a naive hourly rate misfires.
    naive = max(b[1] - a[1] for a, b in zip(points, points[6:], strict=False))
    assert naive > 0.25
    rates = rates_along(points)
    assert len(rates) > 400  # judged at every sample after the first tidal cycle
    assert max(abs(r) for r in rates) < 0.002


def test_real_rise_over_six_hours_is_detected() -> None:
    rise_start_h, days = 72.0, 3.25  # a flood wave on top of the tide, 0.5 m over 6 h

    def level(hours: float) -> float:
        flood = min(max(hours - rise_start_h, 0.0), 6.0) / 6.0 * 0.5
        return tide(hours) + flood

    points = series(days, level)
    assert (points[-1][0] - T0) == timedelta(hours=78)  # the end of the rise
    result = rise_rate(points)
    assert result is not None
    # Same tide phase 12.42 h earlier, before the rise began: the tide cancels, the 0.5 m stays.
    assert result.change_m == pytest.approx(0.5, abs=0.002)
    assert result.rate_m_per_h == pytest.approx(0.5 / M2_PERIOD_H, abs=0.0002)
    before = rates_along(series(days=3))
    assert result.rate_m_per_h > 10 * max(abs(r) for r in before)


def test_two_cycle_window_also_cancels_the_diurnal_inequality() -> None:
    points = series(days=4, level=lambda h: tide(h, diurnal=0.15))
    one_cycle = rates_along(points, window_h=12.5)
    two_cycles = rates_along(points, window_h=25)
    # 12.42 h is half a K1 day, so one cycle sees the diurnal part at the opposite phase.
    assert max(abs(r) for r in one_cycle) > 0.015
    assert max(abs(r) for r in two_cycles) < 0.003


@pytest.mark.parametrize(
    ("window_h", "lag_h"), [(12.5, 12.42), (12.0, 12.42), (25.0, 24.84), (40.0, 37.26)]
)
def test_window_snaps_to_whole_tidal_cycles(window_h: float, lag_h: float) -> None:
    result = rise_rate(series(days=2), window_h)
    assert result is not None
    assert result.lag_h == pytest.approx(lag_h)
    assert result.end - result.start == timedelta(hours=result.lag_h)


def test_window_shorter_than_half_a_cycle_is_refused() -> None:
    with pytest.raises(ValueError, match="at least half a tidal cycle"):
        rise_rate(series(days=1), window_h=3.0)


def test_earlier_level_is_interpolated_between_samples() -> None:
    lag = timedelta(hours=M2_PERIOD_H)
    start = T0 + timedelta(minutes=30)  # halfway between the first two samples: 1.0 and 2.0
    end = start + lag
    points = [(end, 3.0), (T0, 1.0), (T0 + timedelta(hours=1), 2.0)]  # unsorted on purpose
    result = rise_rate(points)
    assert result is not None
    assert (result.start, result.end) == (start, end)
    assert result.change_m == pytest.approx(1.5)
    assert result.rate_m_per_h == pytest.approx(1.5 / M2_PERIOD_H)


def test_too_little_history_or_a_gap_gives_no_rate() -> None:
    assert rise_rate([]) is None
    assert rise_rate(series(days=0.5)) is None  # 12 h < 12.42 h
    points = series(days=2)
    end = points[-1][0]
    hole = [p for p in points if not (timedelta(hours=11) < end - p[0] < timedelta(hours=14))]
    assert rise_rate(hole) is None
    assert rise_rate(hole, max_gap_h=4) is not None
