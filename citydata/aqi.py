"""Thailand's Air Quality Index (PCD method): sub-indices, overall AQI, level, colour, advice."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType
from typing import Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict

from citydata.kinds import all_kinds

ICT = timezone(timedelta(hours=7), "ICT")
# The current PM2.5 row is in force from midnight 1 June 2023, Thai time (2023-05-31T17:00Z).
PM25_2023_FROM = datetime(2023, 6, 1, tzinfo=ICT)
# Above AQI 200 there is no official formula: how to put a number on level 5 is a setting.
# How level 5 is numbered; there is no official formula above 200 (DOMAIN.md: a setting).
AboveMethod = Literal["extrapolate", "cap"]
ABOVE_200_METHODS: tuple[str, ...] = get_args(AboveMethod)
CAP_AQI = 201


class Band(NamedTuple):
    """A band's own bounds, inclusive; level 5's upper bound is infinite."""

    lo: Decimal
    hi: Decimal


def _row(*bands: str) -> tuple[Band, ...]:
    """Bands written as in the PCD table ("0-15.0", ..., "75.1-") to five `Band`s."""
    rows = []
    for text in bands:
        lo, hi = text.split("-")
        rows.append(Band(Decimal(lo), Decimal(hi) if hi else Decimal("Infinity")))
    return tuple(rows)


POLLUTANTS = ("pm25", "pm10", "o3", "co", "no2", "so2")
AQI_BANDS = _row("0-25", "26-50", "51-100", "101-200", "201-")
BANDS_2023: Mapping[str, tuple[Band, ...]] = MappingProxyType(
    {
        "pm25": _row("0-15.0", "15.1-25.0", "25.1-37.5", "37.6-75.0", "75.1-"),
        "pm10": _row("0-50", "51-80", "81-120", "121-180", "181-"),
        "o3": _row("0-35", "36-50", "51-70", "71-120", "121-"),
        "co": _row("0-4.4", "4.5-6.4", "6.5-9.0", "9.1-30.0", "30.1-"),
        "no2": _row("0-60", "61-106", "107-170", "171-340", "341-"),
        "so2": _row("0-100", "101-200", "201-300", "301-400", "401-"),
    }
)
# Only the PM2.5 row differed before 1 June 2023.
PM25_BEFORE_2023 = _row("0-25", "26-37", "38-50", "51-90", "91-")
UNITS: Mapping[str, str] = MappingProxyType(
    {"pm25": "µg/m³", "pm10": "µg/m³", "o3": "ppb", "co": "ppm", "no2": "ppb", "so2": "ppb"}
)
# Moving-average window each concentration must be taken over before it is indexed.
AVERAGING_HOURS: Mapping[str, int] = MappingProxyType(
    {"pm25": 24, "pm10": 24, "o3": 8, "co": 8, "no2": 1, "so2": 1}
)


class Level(NamedTuple):
    """How one AQI level is shown and what people should do."""

    colour: str
    hex: str
    name_th: str
    name_en: str
    advice_th: str
    advice_en: str


_ALL_CLEAR_TH = "ทำกิจกรรมกลางแจ้งได้ตามปกติ"
_ALL_CLEAR_EN = "Outdoor activities as normal."
LEVELS: Mapping[int, Level] = MappingProxyType(
    {
        1: Level("blue", "#3BCCFF", "ดีมาก", "Very good", _ALL_CLEAR_TH, _ALL_CLEAR_EN),
        2: Level("green", "#92D050", "ดี", "Good", _ALL_CLEAR_TH, _ALL_CLEAR_EN),
        3: Level(
            "yellow",
            "#FFFF00",
            "ปานกลาง",
            "Moderate",
            "ประชาชนทั่วไปทำกิจกรรมกลางแจ้งได้ตามปกติ ประชาชนในกลุ่มเสี่ยงหากมีอาการ เช่น ไอ "
            "หายใจลำบาก ระคายเคืองตา ควรลดระยะเวลาการทำกิจกรรมกลางแจ้ง",
            "General public: outdoor activities as normal. At-risk groups: if you have symptoms "
            "such as coughing, difficulty breathing or eye irritation, spend less time outdoors.",
        ),
        4: Level(
            "orange",
            "#FFA200",
            "เริ่มมีผลกระทบต่อสุขภาพ",
            "Starting to affect health",
            "ทุกคนควรเฝ้าระวังสุขภาพ หากมีอาการ เช่น ไอ หายใจลำบาก ระคายเคืองตา "
            "ควรลดการทำกิจกรรมกลางแจ้ง และสวมหน้ากากป้องกันฝุ่นเมื่ออยู่นอกอาคาร",
            "Everyone: watch for symptoms such as coughing, difficulty breathing or eye "
            "irritation; reduce outdoor activity and wear a mask outdoors.",
        ),
        5: Level(
            "red",
            "#F04646",
            "มีผลกระทบต่อสุขภาพ",
            "Affects health",
            "ทุกคนควรงดกิจกรรมกลางแจ้ง หลีกเลี่ยงพื้นที่ที่มีมลพิษทางอากาศสูง หากมีอาการผิดปกติควรรีบพบแพทย์",
            "Everyone: avoid outdoor activity and areas with high air pollution; see a doctor "
            "if you feel unwell.",
        ),
    }
)


class SubIndex(BaseModel):
    """One pollutant's concentration (over its averaging period) and its sub-index."""

    model_config = ConfigDict(frozen=True)

    pollutant: str
    concentration: float
    unit: str
    averaging_hours: int
    aqi: int
    level: int
    estimate: bool  # level 5: the number has no official formula


class AqiResult(BaseModel):
    """The overall AQI (highest sub-index) with its level, colour, names and advice."""

    model_config = ConfigDict(frozen=True)

    aqi: int | None  # None when no pollutant has data
    level: int | None
    colour: str | None
    colour_hex: str | None
    name_th: str | None
    name_en: str | None
    advice_th: str | None
    advice_en: str | None
    dominant: str | None
    estimate: bool
    sub_indices: tuple[SubIndex, ...]


def level_of(aqi: int) -> int:
    """The level (1-5) an AQI number falls in."""
    if aqi < 0:
        raise ValueError(f"AQI {aqi} is negative")
    return next(level for level, band in enumerate(AQI_BANDS, start=1) if aqi <= band.hi)


def bands_for(pollutant: str, at: datetime | None = None) -> tuple[Band, ...]:
    """The pollutant's concentration bands in force at `at` (naive means ICT; None means now)."""
    if pollutant not in BANDS_2023:
        raise ValueError(f"unknown pollutant {pollutant!r}; known: {', '.join(POLLUTANTS)}")
    if pollutant == "pm25" and at is not None:
        aware = at if at.tzinfo is not None else at.replace(tzinfo=ICT)
        if aware < PM25_2023_FROM:
            return PM25_BEFORE_2023
    return BANDS_2023[pollutant]


def _concentration(pollutant: str, value: float) -> Decimal:
    """The value as given, exactly as its shortest text reads (15.05 stays 15.05)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{pollutant} concentration {value!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{pollutant} concentration {value} is not a finite number")
    if value < 0:
        raise ValueError(
            f"{pollutant} concentration {value} {UNITS[pollutant]} is negative; "
            "a concentration cannot be below zero"
        )
    limit = all_kinds()["air"].by_name[pollutant].max
    if value > limit:
        raise ValueError(
            f"{pollutant} concentration {value:g} {UNITS[pollutant]} is above {limit:g}, the "
            "most an air station can measure; check the units"
        )
    return Decimal(repr(value))


def _check_method(above_200: str) -> None:
    if above_200 not in ABOVE_200_METHODS:
        methods = ", ".join(ABOVE_200_METHODS)
        raise ValueError(f"above_200 must be one of {methods}, not {above_200!r}")


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _interpolate(x: Decimal, band: Band, aqi_band: Band) -> int:
    """I = (Ij - Ii) / (Xj - Xi) * (X - Xi) + Ii, rounded half up."""
    # Multiplying before dividing keeps an exact x.5 exact for the rounding.
    return _half_up((aqi_band.hi - aqi_band.lo) * (x - band.lo) / (band.hi - band.lo) + aqi_band.lo)


def sub_index(
    pollutant: str, value: float, at: datetime | None = None, above_200: str = "extrapolate"
) -> SubIndex:
    """One pollutant's sub-index; level 5 is an estimate numbered by `above_200`."""
    _check_method(above_200)
    bands = bands_for(pollutant, at)
    x = _concentration(pollutant, value)

    def result(aqi: int, level: int) -> SubIndex:
        return SubIndex(
            pollutant=pollutant,
            concentration=value,
            unit=UNITS[pollutant],
            averaging_hours=AVERAGING_HOURS[pollutant],
            aqi=aqi,
            level=level,
            estimate=level == 5,
        )

    for level, (band, aqi_band) in enumerate(zip(bands[:4], AQI_BANDS[:4], strict=True), start=1):
        if x <= band.hi:
            # A value between bands (15.05) lies below this band's own lower bound; the formula
            # would give less than Ii (even a lower level's number), so it takes Ii.
            return result(max(_interpolate(x, band, aqi_band), int(aqi_band.lo)), level)
    if above_200 == "cap":
        return result(CAP_AQI, 5)
    # The level-4 line continued; just above level 4 it can still give 200, so at least 201.
    return result(max(_interpolate(x, bands[3], AQI_BANDS[3]), CAP_AQI), 5)


def calculate(
    values: Mapping[str, float | None], at: datetime | None = None, above_200: str = "extrapolate"
) -> AqiResult:
    """The AQI of the pollutants that have data (None or absent ones are left out)."""
    _check_method(above_200)
    unknown = sorted(set(values) - set(POLLUTANTS))
    if unknown:
        raise ValueError(
            f"unknown pollutant(s) {', '.join(unknown)}; known: {', '.join(POLLUTANTS)}"
        )
    subs = tuple(
        sub_index(pollutant, value, at, above_200)
        for pollutant in POLLUTANTS
        if (value := values.get(pollutant)) is not None
    )
    if not subs:
        return AqiResult(
            aqi=None,
            level=None,
            colour=None,
            colour_hex=None,
            name_th=None,
            name_en=None,
            advice_th=None,
            advice_en=None,
            dominant=None,
            estimate=False,
            sub_indices=(),
        )
    top = max(subs, key=lambda sub: sub.aqi)  # a tie goes to the first in POLLUTANTS order
    shown = LEVELS[top.level]
    return AqiResult(
        aqi=top.aqi,
        level=top.level,
        colour=shown.colour,
        colour_hex=shown.hex,
        name_th=shown.name_th,
        name_en=shown.name_en,
        advice_th=shown.advice_th,
        advice_en=shown.advice_en,
        dominant=top.pollutant,
        estimate=top.estimate,
        sub_indices=subs,
    )
