"""Water: each station's level against its watch, warning, critical and bank lines, its status now
and over time, the margin to the next line and the tide-aware rate of rise, dissolved oxygen
against the water class's minimum, pH, turbidity, and every other water metric of the registry.

Judgments (status, thresholds, margin, rise rate, class minimum) come from `city_water`, the
same as the API (docs/derived.md); measured values come from the raw `water` readings.
"""

from __future__ import annotations

import re

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from citydata.kinds import Kind, Metric, all_kinds
from citydata.water import THRESHOLDS
from dashboards.common import (
    GREY,
    LONG_TERM,
    PER_SENSOR,
    STALE,
    WATER_COLOURS,
    WHERE_SELECTED,
    Panel,
    column,
    dashed,
    hourly_extreme,
    hourly_mean,
    kind_alert_annotations,
    long_term_means,
    long_term_panel,
    merged,
    metric_title,
    new_dashboard,
    newest,
    offline_gap_ms,
    query,
    sensor_variable,
    stat_panel,
    state_timeline_panel,
    steps,
    table_panel,
    table_query,
    timeseries_panel,
    title,
    unit,
    water_status_mappings,
    with_stale,
    zone_variable,
)
from dashboards.influxql import InfluxQL

NAME = "water"
KIND = "water"
JUDGED = '"city_water"'
TOPICS = ("level", "do", "ph", "turbidity")  # panels of their own; the rest share one panel
NOW = "15m"  # "now" panels: city_water is written every minute, older is not "now"
MINUTELY = "1m"  # city_water's cadence: finer intervals would only add gaps
PH_RANGE = (5.0, 9.0)  # NEB notification No. 8, classes 2-4 (DOMAIN.md section 2)
LEVEL_COLOUR = "#1F60C4"
LINE_WORDS = {  # each threshold as a line on the chart: (Thai, English)
    "watch": ("ระดับเฝ้าระวัง", "watch"),
    "warning": ("ระดับเตือนภัย", "warning"),
    "critical": ("ระดับวิกฤต", "critical"),
    "bank": ("ระดับตลิ่ง", "bank"),
}


def _kind() -> Kind:
    return all_kinds()[KIND]


def _metric(name: str) -> Metric:
    return _kind().by_name[name]


def _measured(metric: Metric, ref: str = "A") -> InfluxQL:
    """The raw readings' mean per interval per sensor."""
    q = (
        f'SELECT mean("{metric.name}") AS "{metric.name}" FROM "{KIND}" WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    return query(q, ref, "$tag_sensor_id")


def _gapped(panel: timeseries.Panel) -> timeseries.Panel:
    """A gap where a sensor was silent longer than the kind's offline limit."""
    return panel.insert_nulls(offline_gap_ms(_kind()))


def _status_mappings() -> list[dm.ValueMapping]:
    """Status rank to words and colour; a stale level's status (rank + STALE) in grey."""
    return with_stale(water_status_mappings())


# --- now ----------------------------------------------------------------------------------------


def status_now() -> Panel:
    q = (
        f'SELECT last("status_rank") + {STALE} * last("stale") AS "status" FROM {JUDGED} '
        f'WHERE {WHERE_SELECTED} GROUP BY "sensor_id"'
    )
    return (
        stat_panel(
            title("สถานะระดับน้ำตอนนี้ รายสถานี", "River status now, by station"),
            [query(q, "A", "$tag_sensor_id")],
            "none",
        )
        .description(
            "Normal, watch, warning, critical or overflowing the bank, judged against each "
            "station's registered levels. Grey: the newest level reading is stale. No tile: "
            "nothing judged in the last 15 minutes."
        )
        .time_from(NOW)
        .height(5)
        .reduce_options(newest())
        .mappings(_status_mappings())
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.FIXED).fixed_color(GREY))
    )


def river_now() -> Panel:
    q = (
        'SELECT last("level") AS "level", last("status_rank") + '
        f'{STALE} * last("stale") AS "status", last("next_threshold") AS "next_threshold", '
        'last("margin_m") AS "margin_m", last("rise_m_per_h") AS "rise_m_per_h", '
        'last("do") AS "do", last("do_min") AS "do_min", last("level_age_s") AS "level_age_s" '
        f'FROM {JUDGED} WHERE {WHERE_SELECTED} GROUP BY "sensor_id"'
    )
    lines = [_text_mapping(t, title(*LINE_WORDS[t])) for t in THRESHOLDS]
    return (
        table_panel(
            title("แม่น้ำและคลองตอนนี้ รายสถานี", "Rivers and canals now, by station"),
            [table_query(q)],
        )
        .description(
            "Level, status, how far below the next line it is, the tide-aware rate of rise, and "
            "DO against the water class's minimum, as judged in the last 15 minutes."
        )
        .time_from(NOW)
        .with_transformation(merged())
        .override_by_name("Time", column(title("ณ เวลา", "As of"), "dateTimeAsLocal"))
        .override_by_name("sensor_id", column(title("สถานี", "Station")))
        .override_by_name(
            "level", column(metric_title(_metric("level")), unit(_metric("level"), datum=True))
        )
        .override_by_name(
            "status",
            [
                *column(title("สถานะ", "Status")),
                dm.DynamicConfigValue(id_val="mappings", value=_status_mappings()),
                dm.DynamicConfigValue(
                    id_val="custom.cellOptions", value={"type": "color-background"}
                ),
            ],
        )
        .override_by_name(
            "next_threshold",
            [
                *column(title("ระดับถัดไป", "Next line")),
                dm.DynamicConfigValue(id_val="mappings", value=lines),
            ],
        )
        .override_by_name("margin_m", column(title("ต่ำกว่าระดับถัดไป", "Below next line"), "lengthm"))
        .override_by_name("rise_m_per_h", column(title("อัตราการขึ้น", "Rise rate"), "suffix: m/h"))
        .override_by_name("do", column(metric_title(_metric("do")), unit(_metric("do"))))
        .override_by_name("do_min", column(title("DO ขั้นต่ำ", "DO minimum"), unit(_metric("do"))))
        .override_by_name("level_age_s", column(title("อายุค่าระดับ", "Level reading age"), "s"))
    )


def _text_mapping(value: str, text: str) -> dm.ValueMapping:
    return dm.ValueMap(options={value: dm.ValueMappingResult(text=text)})


# --- level and status ---------------------------------------------------------------------------


def level_lines() -> Panel:
    """One panel per station (repeated over $sensor): its level and its four lines."""
    level = _metric("level")
    measured = (
        f'SELECT mean("level") AS "{title(level.title_th, "level")}" FROM "{KIND}" '
        f"WHERE {WHERE_SELECTED} {PER_SENSOR} fill(none)"
    )
    lines = ", ".join(f'last("{t}") AS "{title(*LINE_WORDS[t])}"' for t in THRESHOLDS)
    judged = f"SELECT {lines} FROM {JUDGED} WHERE {WHERE_SELECTED} {PER_SENSOR} fill(none)"
    panel = (
        timeseries_panel(
            title("ระดับน้ำ $sensor เทียบระดับเตือน", "Water level at $sensor against its lines"),
            [query(measured, "A", "$col"), query(judged, "B", "$col")],
            unit(level, datum=True),
        )
        .description(
            "Measured level (mean per interval) with the station's registered watch, warning, "
            "critical and bank levels (dashed). One panel per chosen station."
        )
        .span(24)
        .repeat("sensor")
        .repeat_direction("h")
        .max_per_row(2)
        .override_by_query(
            "A",
            [
                dm.DynamicConfigValue(
                    id_val="color", value={"mode": "fixed", "fixedColor": LEVEL_COLOUR}
                )
            ],
        )
    )
    for rank, threshold in enumerate(THRESHOLDS, 1):
        panel = panel.override_by_name(title(*LINE_WORDS[threshold]), dashed(WATER_COLOURS[rank]))
    return _gapped(panel)


def status_timeline() -> Panel:
    q = (
        f'SELECT max("status_rank") + {STALE} * max("stale") AS "status" FROM {JUDGED} '
        f"WHERE {WHERE_SELECTED} {PER_SENSOR} fill(null)"
    )
    return (
        state_timeline_panel(
            title("สถานะระดับน้ำย้อนหลัง รายสถานี", "River status history, by station"),
            [query(q, "A", "$tag_sensor_id")],
        )
        .description("The worst status in each interval. Grey: stale level or nothing judged.")
        .interval(MINUTELY)
        .mappings(_status_mappings())
    )


def margin() -> Panel:
    q = (
        f'SELECT min("margin_m") AS "margin" FROM {JUDGED} WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    return (
        timeseries_panel(
            title("ระยะต่ำกว่าระดับเตือนถัดไป", "Margin below the next line"),
            [query(q, "A", "$tag_sensor_id")],
            "lengthm",
        )
        .description(
            "How far the level is below the next line above it (watch, then warning, critical, "
            "bank): the smallest in each interval. It jumps when the level crosses a line."
        )
        .interval(MINUTELY)
        .min(0)
    )


def rise_rate() -> Panel:
    q = (
        f'SELECT mean("rise_m_per_h") AS "rise" FROM {JUDGED} WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    return (
        timeseries_panel(
            title("อัตราการขึ้นของระดับน้ำ", "Rate of rise (tide-aware)"),
            [query(q, "A", "$tag_sensor_id")],
            "suffix: m/h",
        )
        .description(
            "Judged over a window longer than the tide's twice-daily swing, so the tide alone "
            "does not show as a rise. Absent until enough history exists."
        )
        .interval(MINUTELY)
        .axis_centered_zero(True)
    )


# --- water quality ------------------------------------------------------------------------------


def dissolved_oxygen() -> Panel:
    do = _metric("do")
    minimum = (
        f'SELECT last("do_min") AS "do_min" FROM {JUDGED} WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    floor = "$tag_sensor_id " + title("ขั้นต่ำตามประเภทแหล่งน้ำ", "class minimum")
    return _gapped(
        timeseries_panel(
            title("ออกซิเจนละลายน้ำเทียบเกณฑ์ขั้นต่ำ", "Dissolved oxygen against its class minimum"),
            [_measured(do), query(minimum, "B", floor)],
            unit(do),
        )
        .span(24)
        .description(
            "Probe DO (mean per interval) and the minimum of each site's water class (NEB No. 8; "
            "dashed). A live warning, not a compliance verdict (that needs lab statistics)."
        )
        .override_by_query("B", dashed("#E02F44"))
        .min(0)
    )


def ph() -> Panel:
    metric = _metric("ph")
    low, high = PH_RANGE
    return _gapped(
        timeseries_panel(metric_title(metric), [_measured(metric)], unit(metric))
        .description("Dashed: the 5-9 range of surface water classes 2-4 (NEB No. 8).")
        .thresholds(steps("#E02F44", (low, "#56A64B"), (high, "#E02F44")))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
    )


def turbidity() -> Panel:
    metric = _metric("turbidity")
    return _gapped(timeseries_panel(metric_title(metric), [_measured(metric)], unit(metric)))


def other_metrics() -> Panel:
    """Every water metric without a panel of its own, in one query, each with its unit: a new
    metric appears without edits, and one the stations do not measure leaves no empty panel."""
    rest = [m for m in _kind().metrics if m.name not in TOPICS]
    fields = ", ".join(f'mean("{m.name}") AS "{metric_title(m)}"' for m in rest)
    q = f'SELECT {fields} FROM "{KIND}" WHERE {WHERE_SELECTED} {PER_SENSOR} fill(none)'
    panel = timeseries_panel(
        title("ตัวชี้วัดอื่นของน้ำ", "Other water measurements"),
        [query(q, "A", "$tag_sensor_id $col")],
        "none",
    ).description(
        ", ".join(m.description for m in rest) + ": each on an axis of its own unit; a metric "
        "the chosen stations do not measure has no line."
    )
    for metric in rest:
        panel = panel.override_by_regexp(
            f".* {_js_escape(metric_title(metric))}$",
            [dm.DynamicConfigValue(id_val="unit", value=unit(metric))],
        )
    return _gapped(panel.span(24))


def _js_escape(text: str) -> str:
    """`text` as a literal in a JavaScript regular expression (Grafana matches in the browser)."""
    return re.sub(r"[\\^$.*+?()[\]{}|/]", lambda m: "\\" + m.group(0), text)


def long_term() -> list[Panel]:
    """The level's hourly mean and highest (floods over the years), then the mean of each
    metric with a panel of its own above."""
    level = _metric("level")
    highest = hourly_extreme(KIND, "level", "max", "max")
    level_panel = long_term_panel(
        title("ระดับน้ำ เฉลี่ยและสูงสุด", "Level, mean and highest"),
        [
            query(hourly_mean(KIND, "level", "mean"), "A", "$tag_sensor_id"),
            query(highest, "B", "$tag_sensor_id " + title("สูงสุด", "highest")),
        ],
        unit(level, datum=True),
    ).override_by_query("B", dashed())
    return [level_panel, *long_term_means(KIND, [_metric(n) for n in TOPICS if n != "level"])]


def dashboard() -> db.Dashboard:
    d = (
        new_dashboard(
            "citydata-water",
            "น้ำ",
            "Water",
            "River and canal levels against each station's lines, status, margin and rise "
            "rate; dissolved oxygen against its class, pH, turbidity and every water metric.",
        )
        .with_variable(zone_variable())
        .with_variable(sensor_variable(KIND))
        .annotations(kind_alert_annotations(KIND))
    )
    sections: list[tuple[str, str, list[Panel]]] = [
        (
            "ระดับน้ำ",
            "Water level",
            [status_now(), river_now(), level_lines(), status_timeline(), margin(), rise_rate()],
        ),
        (
            "คุณภาพน้ำ",
            "Water quality",
            [dissolved_oxygen(), ph(), turbidity(), other_metrics()],
        ),
        (*LONG_TERM, long_term()),
    ]
    for th, en, panels in sections:
        d = d.with_row(db.Row(title(th, en)))
        for panel in panels:
            d = d.with_panel(panel)
    return d
