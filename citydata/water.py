"""River level, dissolved oxygen and tide-aware rate of rise for water stations (DOMAIN.md 2-3)."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict

Threshold = Literal["watch", "warning", "critical", "bank"]
LevelCode = Literal["normal", "watch", "warning", "critical", "overflow"]
THRESHOLDS: tuple[Threshold, ...] = ("watch", "warning", "critical", "bank")
_STATUS_OF: dict[Threshold, LevelCode] = {
    "watch": "watch",
    "warning": "warning",
    "critical": "critical",
    "bank": "overflow",
}
STATUS_WORDS: dict[LevelCode, tuple[str, str]] = {  # (Thai, English), DOMAIN.md section 3
    "normal": ("ปกติ", "Normal"),
    "watch": ("เฝ้าระวัง", "Watch"),
    "warning": ("เตือนภัย", "Warning"),
    "critical": ("วิกฤต", "Critical"),
    "overflow": ("น้ำล้นตลิ่ง", "Overflowing the bank"),
}
_THRESHOLD_WORDS: dict[Threshold, tuple[str, str]] = {
    "watch": ("ระดับเฝ้าระวัง", "the watch level"),
    "warning": ("ระดับเตือนภัย", "the warning level"),
    "critical": ("ระดับวิกฤต", "the critical level"),
    "bank": ("ระดับตลิ่ง", "the bank level"),
}
_CENT = Decimal("0.01")

# NEB notification No. 8 (1994) minimum DO, mg/L. Class 1 ("natural") has no number in the
# table, but water kept as class 1 must be at least as good as class 2, so class 2's minimum is
# the floor a probe can warn against. Class 5 (navigation only) sets no DO minimum.
DO_MINIMUM: dict[int, Decimal] = {2: Decimal("6.0"), 3: Decimal("4.0"), 4: Decimal("2.0")}
_DO_CRITERION_CLASS = {1: 2, 2: 2, 3: 3, 4: 4}

M2_PERIOD_H = 12.42  # principal lunar semidiurnal tide: the Tha Chin's twice-daily swing


class LevelStatus(BaseModel):
    """A river level judged against the station's thresholds, with the margin in metres."""

    model_config = ConfigDict(frozen=True)

    level_m: float
    datum: str
    status: LevelCode
    status_th: str
    status_en: str
    next_threshold: Threshold | None  # lowest threshold above the level, if any
    margin_m: float | None  # how far below next_threshold the level is
    exceeded: Threshold | None  # highest threshold reached, if any
    excess_m: float | None  # how far above `exceeded` the level is
    message_th: str
    message_en: str


class DoStatus(BaseModel):
    """A live dissolved-oxygen reading against the site's water-class minimum (not compliance)."""

    model_config = ConfigDict(frozen=True)

    do_mg_l: float
    water_class: int
    criterion_class: int | None  # the class whose DO minimum was applied
    minimum_mg_l: float | None
    state: Literal["below", "meets", "no_minimum"]
    shortfall_mg_l: float | None  # minimum - DO when below, 0.0 when it meets
    message_th: str
    message_en: str


class RiseRate(BaseModel):
    """Change of level between two instants at the same tide phase, per hour."""

    model_config = ConfigDict(frozen=True)

    rate_m_per_h: float
    change_m: float
    start: datetime
    end: datetime
    lag_h: float
    method: Literal["same_tide_phase"] = "same_tide_phase"


def _dec(value: float, what: str) -> Decimal:
    if isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number (got {value!r})")
    return Decimal(str(value))  # the shortest repr: 2.1 is 2.1, not 2.100000000000000088...


def _fmt(value: Decimal) -> str:
    """Half-up to two decimals, as Thai agencies print levels."""
    return str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _checked_thresholds(thresholds: Mapping[str, float]) -> list[tuple[Threshold, Decimal]]:
    unknown = sorted(set(thresholds) - set(THRESHOLDS))
    if unknown:
        raise ValueError(f"unknown level thresholds {unknown} (known: {', '.join(THRESHOLDS)})")
    given = [(n, _dec(thresholds[n], f"threshold {n}")) for n in THRESHOLDS if n in thresholds]
    if not given:
        raise ValueError("no level thresholds for this station: its status cannot be judged")
    for (low_name, low), (high_name, high) in pairwise(given):
        if not low < high:
            raise ValueError(
                f"level thresholds must increase watch < warning < critical < bank: "
                f"{low_name} {low} is not below {high_name} {high}"
            )
    return given


def level_status(
    level_m: float, thresholds: Mapping[str, float], datum: str = "MSL"
) -> LevelStatus:
    """Judge `level_m` against the station's thresholds (any of watch, warning, critical, bank).

    Reaching a threshold exactly counts as reaching it (2.10 against critical 2.10 is critical;
    at the bank level exactly the river is treated as overflowing). The status is judged on the
    unrounded level; only the messages are rounded, half-up to centimetres.
    """
    level = _dec(level_m, "level")
    given = _checked_thresholds(thresholds)
    reached = [(name, value) for name, value in given if level >= value]
    above = [(name, value) for name, value in given if level < value]
    exceeded = reached[-1] if reached else None
    nxt = above[0] if above else None
    status: LevelCode = _STATUS_OF[exceeded[0]] if exceeded else "normal"
    unit_th, unit_en = _units(datum)
    head_th = f"ระดับน้ำ {_fmt(level)} {unit_th}"
    head_en = f"Water level {_fmt(level)} {unit_en}"
    if nxt is not None:
        margin = nxt[1] - level
        words_th, words_en = _THRESHOLD_WORDS[nxt[0]]
        message_th = f"{head_th} ต่ำกว่า{words_th} {_fmt(margin)} ม."
        message_en = f"{head_en}, {_fmt(margin)} m below {words_en}"
    else:
        assert exceeded is not None  # at least one threshold is given
        excess = level - exceeded[1]
        words_th, words_en = _THRESHOLD_WORDS[exceeded[0]]
        message_th = f"{head_th} สูงกว่า{words_th} {_fmt(excess)} ม."
        message_en = f"{head_en}, {_fmt(excess)} m above {words_en}"
    status_th, status_en = STATUS_WORDS[status]
    return LevelStatus(
        level_m=level_m,
        datum=datum,
        status=status,
        status_th=status_th,
        status_en=status_en,
        next_threshold=nxt[0] if nxt else None,
        margin_m=float(nxt[1] - level) if nxt else None,
        exceeded=exceeded[0] if exceeded else None,
        excess_m=float(level - exceeded[1]) if exceeded else None,
        message_th=message_th,
        message_en=message_en,
    )


def _units(datum: str) -> tuple[str, str]:
    """ม.รทก. (metres above mean sea level) for MSL; otherwise name the local datum."""
    if datum.strip().upper() == "MSL":
        return "ม.รทก.", "m MSL"
    return f"ม. (เทียบระดับอ้างอิง {datum})", f"m (datum {datum})"


def do_status(do_mg_l: float, water_class: int) -> DoStatus:
    """Compare a probe's dissolved oxygen with the NEB No. 8 minimum for the site's class.

    Class 1 is checked against class 2's minimum (6.0 mg/L), the least natural water must
    have; class 5 has no DO minimum, so the state is "no_minimum". A probe reading at the
    minimum meets it. The wording is a live warning, never a compliance verdict: compliance is
    judged on the 20th percentile of lab samples (DOMAIN.md section 2).
    """
    if isinstance(water_class, bool) or water_class not in (1, 2, 3, 4, 5):
        raise ValueError(f"water class must be 1 to 5 (got {water_class!r})")
    do = _dec(do_mg_l, "dissolved oxygen")
    if do < 0:
        raise ValueError(f"dissolved oxygen cannot be negative (got {do_mg_l!r})")
    head_th = f"ออกซิเจนละลายน้ำ (DO) {_fmt(do)} มก./ล."
    head_en = f"Dissolved oxygen {_fmt(do)} mg/L"
    criterion = _DO_CRITERION_CLASS.get(water_class)
    if criterion is None:
        return DoStatus(
            do_mg_l=do_mg_l,
            water_class=water_class,
            criterion_class=None,
            minimum_mg_l=None,
            state="no_minimum",
            shortfall_mg_l=None,
            message_th=f"{head_th}: แหล่งน้ำประเภทที่ {water_class} ไม่มีเกณฑ์ DO ขั้นต่ำ",
            message_en=f"{head_en}: class {water_class} water has no DO minimum",
        )
    minimum = DO_MINIMUM[criterion]
    below = do < minimum
    shortfall = minimum - do if below else Decimal(0)
    probe_th = "(ค่าจากหัววัดอัตโนมัติ ไม่ใช่ผลการประเมินตามมาตรฐาน)"
    probe_en = "(live probe reading, not a compliance verdict)"
    if below:
        message_th = (
            f"{head_th} ต่ำกว่าเกณฑ์ DO แหล่งน้ำประเภทที่ {criterion} "
            f"({_fmt(minimum)} มก./ล.) {_fmt(shortfall)} มก./ล. {probe_th}"
        )
        message_en = (
            f"{head_en}: below class-{criterion} DO ({_fmt(minimum)} mg/L) "
            f"by {_fmt(shortfall)} mg/L {probe_en}"
        )
    else:
        message_th = (
            f"{head_th} ไม่ต่ำกว่าเกณฑ์ DO แหล่งน้ำประเภทที่ {criterion} "
            f"({_fmt(minimum)} มก./ล.) {probe_th}"
        )
        message_en = f"{head_en}: meets class-{criterion} DO ({_fmt(minimum)} mg/L) {probe_en}"
    return DoStatus(
        do_mg_l=do_mg_l,
        water_class=water_class,
        criterion_class=criterion,
        minimum_mg_l=float(minimum),
        state="below" if below else "meets",
        shortfall_mg_l=float(shortfall),
        message_th=message_th,
        message_en=message_en,
    )


def rise_rate(
    series: Sequence[tuple[datetime, float]], window_h: float = 12.5, max_gap_h: float = 1.0
) -> RiseRate | None:
    """Rate of rise (m/h) of the latest level over a whole number of tidal cycles.

    A naive rate over an hour or two measures the tide, which on the lower Tha Chin moves the
    level tens of centimetres an hour twice a day. So the latest level is compared with the
    level at the same tide phase: `window_h` is snapped to the nearest whole number of
    semidiurnal cycles (12.42 h; the default 12.5 h gives one cycle, 25 h gives two, which also
    cancels most of the diurnal inequality). The earlier level is interpolated linearly
    between its neighbouring samples. The result is None when the series does not reach back
    that far or has a gap longer than `max_gap_h` hours around the earlier instant.
    """
    if not math.isfinite(window_h) or window_h < M2_PERIOD_H / 2:
        raise ValueError(
            f"window_h must be at least half a tidal cycle ({M2_PERIOD_H / 2} h), got {window_h}"
        )
    if not series:
        return None
    points = sorted(series, key=lambda point: point[0])
    cycles = max(1, round(window_h / M2_PERIOD_H))
    lag_h = cycles * M2_PERIOD_H
    end, end_level = points[-1]
    start = end - timedelta(hours=lag_h)
    then = _level_at(points, start, timedelta(hours=max_gap_h))
    if then is None:
        return None
    change = end_level - then
    return RiseRate(rate_m_per_h=change / lag_h, change_m=change, start=start, end=end, lag_h=lag_h)


def _level_at(
    points: Sequence[tuple[datetime, float]], when: datetime, max_gap: timedelta
) -> float | None:
    times = [t for t, _ in points]
    i = bisect_left(times, when)
    if i < len(times) and times[i] == when:
        return points[i][1]
    if i == 0 or i == len(times):
        return None
    (t0, v0), (t1, v1) = points[i - 1], points[i]
    if t1 - t0 > max_gap:
        return None
    return v0 + (v1 - v0) * ((when - t0) / (t1 - t0))
