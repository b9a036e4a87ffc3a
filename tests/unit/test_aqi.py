"""Thai AQI (PCD method): band edges, gaps, rounding, the 2023 switch, level 5, display."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from citydata.aqi import (
    AVERAGING_HOURS,
    LEVELS,
    POLLUTANTS,
    UNITS,
    AqiResult,
    calculate,
    level_of,
    sub_index,
)

# Band edges written out from DOMAIN.md's table (not read from the module): both ends of each of
# levels 1-4, then the lowest level-5 value.
EDGES = {
    "pm25": ("0", "15.0", "15.1", "25.0", "25.1", "37.5", "37.6", "75.0", "75.1"),
    "pm10": ("0", "50", "51", "80", "81", "120", "121", "180", "181"),
    "o3": ("0", "35", "36", "50", "51", "70", "71", "120", "121"),
    "co": ("0", "4.4", "4.5", "6.4", "6.5", "9.0", "9.1", "30.0", "30.1"),
    "no2": ("0", "60", "61", "106", "107", "170", "171", "340", "341"),
    "so2": ("0", "100", "101", "200", "201", "300", "301", "400", "401"),
}
EDGE_AQI = (0, 25, 26, 50, 51, 100, 101, 200)
EDGE_LEVEL = (1, 1, 2, 2, 3, 3, 4, 4)
PM25_OLD_EDGES = ("0", "25", "26", "37", "38", "50", "51", "90")

BEFORE = datetime(2023, 5, 1, tzinfo=UTC)
AFTER = datetime(2023, 7, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("pollutant", "value", "aqi", "level"),
    [
        (pollutant, float(value), aqi, level)
        for pollutant, edges in EDGES.items()
        for value, aqi, level in zip(edges, EDGE_AQI, EDGE_LEVEL, strict=False)
    ],
)
def test_band_edges(pollutant: str, value: float, aqi: int, level: int) -> None:
    sub = sub_index(pollutant, value)
    assert (sub.aqi, sub.level, sub.estimate) == (aqi, level, False)


@pytest.mark.parametrize(
    ("pollutant", "extrapolated"),
    [
        # 99/37.4*(75.1-37.6)+101 = 200.27 -> 200, not "> 200", so 201
        ("pm25", 201),
        # 99/59*(181-121)+101 = 201.68 -> 202
        ("pm10", 202),
        # 99/49*(121-71)+101 = 202.02 -> 202
        ("o3", 202),
        # 99/20.9*(30.1-9.1)+101 = 200.47 -> 200, so 201
        ("co", 201),
        # 99/169*(341-171)+101 = 200.59 -> 201
        ("no2", 201),
        # 99/99*(401-301)+101 = 201
        ("so2", 201),
    ],
)
def test_lowest_level_5_value_is_an_estimate(pollutant: str, extrapolated: int) -> None:
    value = float(EDGES[pollutant][-1])
    for method, aqi in (("extrapolate", extrapolated), ("cap", 201)):
        sub = sub_index(pollutant, value, above_200=method)
        assert (sub.aqi, sub.level, sub.estimate) == (aqi, 5, True)


@pytest.mark.parametrize(
    ("pollutant", "value", "aqi", "level"),
    [
        (pollutant, (float(edges[i]) + float(edges[i + 1])) / 2, EDGE_AQI[i + 1], EDGE_LEVEL[i + 1])
        for pollutant, edges in EDGES.items()
        for i in (1, 3, 5)
    ],
)
def test_gaps_between_bands_fall_in_the_upper_band_at_its_lowest_index(
    pollutant: str, value: float, aqi: int, level: int
) -> None:
    assert (sub_index(pollutant, value).aqi, sub_index(pollutant, value).level) == (aqi, level)


@pytest.mark.parametrize(
    ("pollutant", "value", "aqi", "level"),
    [
        # PM2.5 15.05 <= 25.0, so band 2: 24/9.9*(15.05-15.1)+26 = 25.88 -> 26
        ("pm25", 15.05, 26, 2),
        # 25.05 <= 37.5, band 3: 49/12.4*(25.05-25.1)+51 = 50.80 -> 51
        ("pm25", 25.05, 51, 3),
        ("pm25", 37.55, 101, 4),
        # PM10 120.5, band 4: 99/59*(120.5-121)+101 = 100.16 -> 100 would read as level 3,
        # so a gap value takes its band's lowest index, 101.
        ("pm10", 120.5, 101, 4),
        ("pm10", 120.01, 101, 4),  # the formula alone gives 99.34 -> 99, less than at 120
        ("co", 4.45, 26, 2),  # 24/1.9*(4.45-4.5)+26 = 25.37 -> 25 alone; 26
    ],
)
def test_gap_values_worked_by_hand(pollutant: str, value: float, aqi: int, level: int) -> None:
    sub = sub_index(pollutant, value)
    assert (sub.aqi, sub.level) == (aqi, level)


def test_pm25_75_05_is_level_5() -> None:
    sub = sub_index("pm25", 75.05)
    assert (sub.level, sub.estimate, sub.aqi) == (5, True, 201)


@pytest.mark.parametrize(
    ("pollutant", "value", "aqi"),
    [
        # (50-26)/(25.0-15.1)*(20.0-15.1)+26 = 37.88 -> 38
        ("pm25", 20.0, 38),
        # (100-51)/(120-81)*(100-81)+51 = 74.87 -> 75
        ("pm10", 100, 75),
        # (50-26)/(50-36)*(40-36)+26 = 32.86 -> 33
        ("o3", 40, 33),
        # (200-101)/(30.0-9.1)*(15.0-9.1)+101 = 128.95 -> 129
        ("co", 15.0, 129),
        # (100-51)/(170-107)*(150-107)+51 = 84.44 -> 84
        ("no2", 150, 84),
        # (200-101)/(400-301)*(350-301)+101 = 150
        ("so2", 350, 150),
    ],
)
def test_values_worked_by_hand(pollutant: str, value: float, aqi: int) -> None:
    assert sub_index(pollutant, value).aqi == aqi


@pytest.mark.parametrize(
    ("pollutant", "value", "aqi"),
    [
        # 25/15.0*7.5 = 12.5 -> 13 (Python's round() gives 12)
        ("pm25", 7.5, 13),
        # 25/100*10 = 2.5 -> 3 (round() gives 2)
        ("so2", 10, 3),
        # 25/4.4*0.44 = 2.5 -> 3
        ("co", 0.44, 3),
        # 24/45*(61.9375-61)+26 = 0.5+26 = 26.5 -> 27
        ("no2", 61.9375, 27),
        # 25/50*1 = 0.5 -> 1 (round() gives 0)
        ("pm10", 1, 1),
    ],
)
def test_half_up_rounding(pollutant: str, value: float, aqi: int) -> None:
    assert sub_index(pollutant, value).aqi == aqi


@pytest.mark.parametrize(
    ("pollutant", "value"),
    [("pm25", 37.5), ("pm10", 120), ("o3", 70), ("co", 9.0), ("no2", 170), ("so2", 300)],
)
def test_aqi_100_at_each_national_standard(pollutant: str, value: float) -> None:
    result = calculate({pollutant: value})
    assert (result.aqi, result.level, result.dominant) == (100, 3, pollutant)


def test_missing_pollutants_are_left_out_not_zero() -> None:
    result = calculate({"pm25": 20.0, "pm10": None, "o3": None})
    assert [sub.pollutant for sub in result.sub_indices] == ["pm25"]
    assert (result.aqi, result.dominant) == (38, "pm25")
    assert [sub.pollutant for sub in calculate({"pm10": 0.0}).sub_indices] == ["pm10"]


def test_no_data_gives_no_aqi() -> None:
    for values in ({}, {"pm25": None, "co": None}):
        result = calculate(values)
        assert result == AqiResult(
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


def test_overall_is_the_highest_sub_index_and_names_its_pollutant() -> None:
    # PM2.5 20.0 -> 38, PM10 100 -> 75, O3 40 -> 33 (worked above)
    result = calculate({"pm25": 20.0, "pm10": 100, "o3": 40})
    assert [(sub.pollutant, sub.aqi) for sub in result.sub_indices] == [
        ("pm25", 38),
        ("pm10", 75),
        ("o3", 33),
    ]
    assert (result.aqi, result.level, result.dominant, result.colour) == (75, 3, "pm10", "yellow")


def test_sub_indices_carry_unit_and_averaging_period() -> None:
    result = calculate({"pm25": 12.3, "co": 1.2, "so2": 4})
    by_name = {sub.pollutant: sub for sub in result.sub_indices}
    assert by_name["pm25"].concentration == 12.3
    assert (by_name["pm25"].unit, by_name["pm25"].averaging_hours) == ("µg/m³", 24)
    assert (by_name["co"].unit, by_name["co"].averaging_hours) == ("ppm", 8)
    assert (by_name["so2"].unit, by_name["so2"].averaging_hours) == ("ppb", 1)


def test_averaging_periods_and_units() -> None:
    assert dict(AVERAGING_HOURS) == {"pm25": 24, "pm10": 24, "o3": 8, "co": 8, "no2": 1, "so2": 1}
    assert set(UNITS) == set(POLLUTANTS)


@pytest.mark.parametrize(
    ("value", "aqi", "level"),
    [(float(v), a, lv) for v, a, lv in zip(PM25_OLD_EDGES, EDGE_AQI, EDGE_LEVEL, strict=True)],
)
def test_pm25_row_before_june_2023(value: float, aqi: int, level: int) -> None:
    sub = sub_index("pm25", value, at=BEFORE)
    assert (sub.aqi, sub.level) == (aqi, level)


def test_pm25_old_row_level_5_from_91() -> None:
    assert sub_index("pm25", 90.5, at=BEFORE).level == 5  # in the gap above 90
    assert sub_index("pm25", 91, at=BEFORE).level == 5


def test_same_pm25_differs_across_the_2023_switch() -> None:
    # before: 24/11*(30-26)+26 = 34.73 -> 35 (level 2); after: 49/12.4*(30-25.1)+51 = 70.36 -> 70
    before, after = calculate({"pm25": 30}, at=BEFORE), calculate({"pm25": 30}, at=AFTER)
    assert (before.aqi, before.level, before.colour) == (35, 2, "green")
    assert (after.aqi, after.level, after.colour) == (70, 3, "yellow")
    assert calculate({"pm25": 30}).aqi == 70  # no time: the rules in force now


def test_switch_only_changes_pm25() -> None:
    for pollutant in ("pm10", "o3", "co", "no2", "so2"):
        assert sub_index(pollutant, 55, at=BEFORE) == sub_index(pollutant, 55, at=AFTER)


@pytest.mark.parametrize(
    ("at", "new_row"),
    [
        # midnight 1 June 2023 in Thailand is 2023-05-31T17:00Z
        (datetime(2023, 5, 31, 17, 0, tzinfo=UTC), True),
        (datetime(2023, 5, 31, 16, 59, 59, tzinfo=UTC), False),
        (datetime(2023, 6, 1, 0, 0, tzinfo=timezone(timedelta(hours=7))), True),
        (datetime(2023, 5, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=7))), False),
        # naive means ICT
        (datetime(2023, 6, 1, 0, 0), True),
        (datetime(2023, 5, 31, 23, 59, 59), False),
        # 2023-05-31 20:00 in New York is already 1 June 07:00 in Thailand
        (datetime(2023, 5, 31, 20, 0, tzinfo=timezone(timedelta(hours=-4))), True),
    ],
)
def test_switch_boundary_and_time_zones(at: datetime, new_row: bool) -> None:
    assert calculate({"pm25": 30}, at=at).level == (3 if new_row else 2)


@pytest.mark.parametrize(
    ("method", "aqi"),
    [
        # the level-4 line continued: 99/37.4*(100-37.6)+101 = 266.18 -> 266
        ("extrapolate", 266),
        ("cap", 201),
    ],
)
def test_level_5_is_an_estimate_with_either_method(method: str, aqi: int) -> None:
    result = calculate({"pm25": 100, "pm10": 30}, above_200=method)
    assert (result.aqi, result.level, result.estimate, result.dominant) == (aqi, 5, True, "pm25")
    assert (result.colour, result.colour_hex, result.name_en) == (
        "red",
        "#F04646",
        "Affects health",
    )
    assert result.sub_indices[0].estimate and not result.sub_indices[1].estimate


def test_extrapolate_just_above_level_4_still_reads_above_200() -> None:
    # 99/37.4*(75.1-37.6)+101 = 200.27 -> 200, which is not "> 200"
    assert sub_index("pm25", 75.1).aqi == 201
    assert sub_index("so2", 500).aqi == 200 + 100  # 99/99*(500-301)+101 = 300


def test_default_method_is_extrapolate() -> None:
    assert calculate({"pm25": 100}).aqi == 266


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="above_200"):
        calculate({"pm25": 10}, above_200="clip")
    with pytest.raises(ValueError, match="above_200"):
        calculate({}, above_200="clip")


@pytest.mark.parametrize("pollutant", POLLUTANTS)
def test_negative_concentration_is_refused(pollutant: str) -> None:
    with pytest.raises(ValueError, match=f"{pollutant} concentration -1.0 .* is negative"):
        calculate({pollutant: -1.0})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True, "12"])
def test_non_numbers_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="pm25 concentration"):
        calculate({"pm25": value})  # type: ignore[dict-item]


def test_unknown_pollutant_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown pollutant.*pm2_5"):
        calculate({"pm2_5": 10.0})


@pytest.mark.parametrize(
    ("pm25", "level", "colour", "hex_", "name_th", "name_en"),
    [
        (10, 1, "blue", "#3BCCFF", "ดีมาก", "Very good"),
        (20, 2, "green", "#92D050", "ดี", "Good"),
        (30, 3, "yellow", "#FFFF00", "ปานกลาง", "Moderate"),
        (50, 4, "orange", "#FFA200", "เริ่มมีผลกระทบต่อสุขภาพ", "Starting to affect health"),
        (100, 5, "red", "#F04646", "มีผลกระทบต่อสุขภาพ", "Affects health"),
    ],
)
def test_colours_and_names_per_domain_table(
    pm25: float, level: int, colour: str, hex_: str, name_th: str, name_en: str
) -> None:
    result = calculate({"pm25": pm25})
    assert (result.level, result.colour, result.colour_hex) == (level, colour, hex_)
    assert (result.name_th, result.name_en) == (name_th, name_en)
    assert result.advice_th and result.advice_en
    assert (result.advice_th, result.advice_en) == (
        LEVELS[level].advice_th,
        LEVELS[level].advice_en,
    )


def test_advice_follows_the_agencies_guidance() -> None:
    assert LEVELS[1].advice_en == LEVELS[2].advice_en
    assert "ประชาชนในกลุ่มเสี่ยง" in LEVELS[3].advice_th
    assert "mask" in LEVELS[4].advice_en and "หน้ากาก" in LEVELS[4].advice_th
    assert "doctor" in LEVELS[5].advice_en and "แพทย์" in LEVELS[5].advice_th


def test_result_is_frozen() -> None:
    result = calculate({"pm25": 10})
    with pytest.raises(ValueError, match="frozen"):
        result.aqi = 1


@pytest.mark.parametrize(("aqi", "level"), [(0, 1), (25, 1), (26, 2), (100, 3), (200, 4), (201, 5)])
def test_level_of(aqi: int, level: int) -> None:
    assert level_of(aqi) == level


# (500: the highest concentration every pollutant accepts; CO stations measure up to 500 ppm)
concentrations = st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False)


@given(
    pollutant=st.sampled_from(POLLUTANTS),
    a=concentrations,
    b=concentrations,
    at=st.sampled_from([None, BEFORE, AFTER]),
    method=st.sampled_from(["extrapolate", "cap"]),
)
def test_aqi_never_falls_as_a_concentration_rises(
    pollutant: str, a: float, b: float, at: datetime | None, method: str
) -> None:
    low, high = sorted((a, b))
    low_result = calculate({pollutant: low}, at=at, above_200=method)
    high_result = calculate({pollutant: high}, at=at, above_200=method)
    assert low_result.aqi is not None and high_result.aqi is not None
    assert low_result.aqi <= high_result.aqi
    assert low_result.level is not None and high_result.level is not None
    assert low_result.level <= high_result.level
    # the number always reads as the level it is reported with
    assert level_of(low_result.aqi) == low_result.level
    assert low_result.estimate == (low_result.level == 5)


@pytest.mark.parametrize(("pollutant", "limit"), [("pm25", 1000), ("co", 500), ("no2", 2000)])
def test_concentration_beyond_what_a_station_measures_is_refused(
    pollutant: str, limit: float
) -> None:
    assert calculate({pollutant: limit}).level == 5  # the limit itself is still a reading
    with pytest.raises(ValueError, match=f"{pollutant} concentration .* is above {limit}"):
        calculate({pollutant: limit * 1.01})
    with pytest.raises(ValueError, match="check the units"):
        calculate({pollutant: 6.0e307})
