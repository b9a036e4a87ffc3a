"""Traffic: volume, speed and occupancy per detector, congestion over time and now, the class
mix, and volume by hour of the week.

Measured values come from the raw `traffic` readings; congestion from `city_traffic` (the same
judgment as the API, docs/derived.md). Volume is vehicles per minute, `sum(count)` over the
counting time `sum(interval_s)`, so 1-, 5- and 15-minute detectors compare, and a reading
every 5 minutes of a 1-minute count still gives the rate rather than a fifth of it.
"""

from __future__ import annotations

from typing import TypeVar

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import piechart, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import piechart as pm

from citydata.kinds import Kind, Metric, all_kinds
from dashboards.common import (
    DATASOURCE,
    GREY,
    LONG_TERM,
    PER_SENSOR,
    STALE,
    TIMEZONE,
    WHERE_SELECTED,
    Panel,
    column,
    dashed,
    hourly_ratio,
    kind_alert_annotations,
    long_term_means,
    long_term_panel,
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
    traffic_mappings,
    unit,
    with_stale,
    zone_variable,
)

NAME = "traffic"
KIND = "traffic"
JUDGED = '"city_traffic"'
VEH_PER_MIN = "suffix: veh/min"
PER_MINUTE = '(sum("interval_s") / 60)'  # counting minutes in the interval, to divide counts by
NOW = "15m"  # "now" panels: city_traffic is written every minute, older is not "now"
# Readings come every 1-5 minutes and the backfilled judgments every 5: finer buckets only add
# gaps. Grafana never picks a smaller $__interval than this.
READINGS = "5m"
OCCUPANCY_CONGESTED = 25.0  # % on a point detector: usually congestion (DOMAIN.md section 4)
TOTAL = "count"  # the class counts are the metrics counted in vehicles, other than the total


def _kind() -> Kind:
    return all_kinds()[KIND]


def _classes() -> list[Metric]:
    """The vehicle classes the kind registers (motorcycles a class of their own)."""
    return [m for m in _kind().metrics if m.unit == "vehicles" and m.name != TOTAL]


def _congestion_mappings() -> list[dm.ValueMapping]:
    """Severity to words and colour; a stale reading's severity (+ STALE) in grey."""
    return with_stale(traffic_mappings())


# --- measured ---------------------------------------------------------------------------------


def volume() -> Panel:
    q = (
        f'SELECT sum("{TOTAL}") / {PER_MINUTE} AS "volume" FROM "{KIND}" WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    return (
        timeseries_panel(
            title("ปริมาณรถ รายจุด", "Volume by detector"),
            [query(q, "A", "$tag_sensor_id")],
            VEH_PER_MIN,
        )
        .description(
            "Vehicles per minute: the vehicles counted over the minutes counted "
            "(sum of count / sum of interval_s x 60), so detectors counting 1, 5 or 15 minutes "
            "compare. A gap: the detector was silent longer than its offline limit."
        )
        .interval(READINGS)
        .insert_nulls(offline_gap_ms(_kind()))
    )


def speed() -> Panel:
    measured = (
        f'SELECT mean("speed") AS "speed" FROM "{KIND}" WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    free_flow = (
        f'SELECT mean("free_flow") AS "free_flow" FROM {JUDGED} WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    return (
        timeseries_panel(
            title("ความเร็วเฉลี่ย เทียบความเร็วปกติ", "Mean speed against free-flow speed"),
            [
                query(measured, "A", "$tag_sensor_id"),
                query(free_flow, "B", "$tag_sensor_id " + title("ความเร็วปกติ", "free-flow")),
            ],
            unit(_kind().by_name["speed"]),
        )
        .description(
            "Solid: mean speed of the readings. Dashed: the detector's registered free-flow "
            "speed; congestion is judged by the ratio of the two (DOMAIN.md section 4)."
        )
        .interval(READINGS)
        .insert_nulls(offline_gap_ms(_kind()))
        .override_by_query("B", dashed())
    )


def occupancy() -> Panel:
    q = (
        f'SELECT mean("occupancy") AS "occupancy" FROM "{KIND}" WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    return (
        timeseries_panel(
            title("อัตราการครอบครองช่องจราจร", "Occupancy"),
            [query(q, "A", "$tag_sensor_id")],
            unit(_kind().by_name["occupancy"]),
        )
        .description(
            "Share of time a vehicle is over the detector. The dashed line: above about 25 % "
            "a point detector usually sees congestion (a rule of thumb)."
        )
        .interval(READINGS)
        .insert_nulls(offline_gap_ms(_kind()))
        .min(0)
        .max(100)
        .thresholds(steps("transparent", (OCCUPANCY_CONGESTED, "#FF8C00")))
        .thresholds_style(cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED))
    )


# --- congestion -------------------------------------------------------------------------------


def congestion_timeline() -> Panel:
    q = (
        f'SELECT max("severity") + {STALE} * max("stale") AS "severity" FROM {JUDGED} '
        f"WHERE {WHERE_SELECTED} {PER_SENSOR} fill(null)"
    )
    return (
        state_timeline_panel(
            title("ระดับการจราจรติดขัด รายจุด", "Congestion by detector"),
            [query(q, "A", "$tag_sensor_id")],
        )
        .description(
            "The worst congestion in each interval, judged by speed against the free-flow "
            "speed. Grey 'stale': the newest reading was too old. Grey 'no data': nothing "
            "judged (no reading, or no vehicles to take a speed from)."
        )
        .interval(READINGS)
        .mappings(_congestion_mappings())
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.FIXED).fixed_color(GREY))
    )


def congestion_now() -> Panel:
    q = (
        f'SELECT last("severity") + {STALE} * last("stale") AS "severity" FROM {JUDGED} '
        f'WHERE {WHERE_SELECTED} GROUP BY "sensor_id"'
    )
    return (
        stat_panel(
            title("สภาพจราจรตอนนี้ รายจุด", "Congestion now, by detector"),
            [query(q, "A", "$tag_sensor_id")],
            "none",
        )
        .description(
            "The newest judgment of each detector in the last 15 minutes. Grey: the newest "
            "reading is stale. No tile: nothing judged in the last 15 minutes."
        )
        .time_from(NOW)
        .height(5)
        .reduce_options(newest())
        .mappings(_congestion_mappings())
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.FIXED).fixed_color(GREY))
    )


# --- vehicle classes --------------------------------------------------------------------------


def _class_columns(per_minute: bool) -> str:
    per = f" / {PER_MINUTE}" if per_minute else ""
    return ", ".join(f'sum("{m.name}"){per} AS "{m.name}"' for m in _classes())


ClassPanel = TypeVar("ClassPanel", piechart.Panel, timeseries.Panel)


def _class_names(panel: ClassPanel) -> ClassPanel:
    """Each class column under its registry title (Thai and English)."""
    for m in _classes():
        panel = panel.override_by_name(m.name, column(metric_title(m)))
    return panel


def class_mix() -> Panel:
    q = f'SELECT {_class_columns(False)} FROM "{KIND}" WHERE {WHERE_SELECTED}'
    panel = (
        piechart.Panel()
        .title(title("สัดส่วนประเภทรถ", "Vehicle class mix"))
        .description("Vehicles counted in each class over the dashboard's range.")
        .datasource(DATASOURCE)
        .targets([query(q, "A", "$col")])
        .unit(unit(_kind().by_name[TOTAL]))
        .height(8)
        .span(8)
        .no_value(title("ไม่มีข้อมูล", "No data"))
        .pie_type(pm.PieChartType.DONUT)
        .display_labels([pm.PieChartLabels.PERCENT])
        .reduce_options(newest())
        .legend(
            piechart.PieChartLegendOptions()
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.RIGHT)
            .show_legend(True)
            .values([pm.PieChartLegendValues.VALUE, pm.PieChartLegendValues.PERCENT])
        )
    )
    return _class_names(panel)


def class_volume() -> Panel:
    q = (
        f'SELECT {_class_columns(True)} FROM "{KIND}" WHERE {WHERE_SELECTED} '
        "GROUP BY time($__interval) fill(none)"
    )
    panel = (
        timeseries_panel(
            title("ปริมาณรถ ตามประเภท", "Volume by vehicle class"),
            [query(q, "A", "$col")],
            VEH_PER_MIN,
        )
        .description(
            "Vehicles per minute of each class, per detector: the chosen detectors' counts over "
            "their counting minutes."
        )
        .span(16)
        .interval(READINGS)
        .insert_nulls(offline_gap_ms(_kind()))
        .fill_opacity(40)
        .stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL))
    )
    return _class_names(panel)


# --- hour of the week -------------------------------------------------------------------------


def _transform(id_: str, options: dict[str, object]) -> dm.DataTransformerConfig:
    return dm.DataTransformerConfig(id_val=id_, options=options)


DAY_HOUR = "day\\hour"  # the first column groupingToMatrix makes: "<row field>\<column field>"
HOURS = [f"{h:02d}" for h in range(24)]


def _hour_of_week() -> list[dm.DataTransformerConfig]:
    """Hourly rows to a weekday x hour grid in Bangkok time (see hour_of_week)."""
    # One JSON object per hour, e.g. {"day":"1 Mon","hour":"07"}: moment's format with the
    # literal parts in [brackets]; "E" (ISO weekday, Monday 1) makes the days sort in order.
    as_json = '[{"day":"]E ddd[","hour":"]HH["}]'
    return [
        _transform(
            "formatTime", {"timeField": "Time", "outputFormat": as_json, "timezone": TIMEZONE}
        ),
        _transform("extractFields", {"source": "Time", "format": "json", "replace": False}),
        _transform(
            "groupBy",
            {
                "fields": {
                    "day": {"operation": "groupby", "aggregations": []},
                    "hour": {"operation": "groupby", "aggregations": []},
                    "volume": {"operation": "aggregate", "aggregations": ["mean"]},
                }
            },
        ),
        _transform(
            "groupingToMatrix",
            {
                "rowField": "day",
                "columnField": "hour",
                "valueField": "volume (mean)",
                "emptyValue": "null",
            },
        ),
        _transform("sortBy", {"sort": [{"field": DAY_HOUR, "desc": False}]}),
        _transform(
            "organize",
            {
                "indexByName": {DAY_HOUR: 0, **{h: i for i, h in enumerate(HOURS, 1)}},
                "renameByName": {DAY_HOUR: title("วัน \\ ชั่วโมง", "Day \\ hour")},
            },
        ),
    ]


def hour_of_week() -> Panel:
    """Volume by weekday and hour, over the dashboard's range (a week by default).

    InfluxQL has no date parts, so the hour of the week cannot be grouped in the query, and
    Grafana's heatmap panel puts time on its x axis, so it cannot draw a weekday-by-hour grid.
    The query gives the hourly volume (GROUP BY time(1h): whole UTC hours are whole Bangkok
    hours, UTC+7 has no half hours and no summer time); Grafana formats each hour's start in
    Asia/Bangkok, groups the same weekday and hour of several weeks into their mean and pivots
    them into a 7 x 24 table whose cells are coloured by volume: the heatmap.
    """
    q = (
        f'SELECT sum("{TOTAL}") / {PER_MINUTE} AS "volume" FROM "{KIND}" WHERE {WHERE_SELECTED} '
        "GROUP BY time(1h) fill(none)"
    )
    cells = cm.TableColoredBackgroundCellOptions(mode=cm.TableCellBackgroundDisplayMode.GRADIENT)
    return (
        table_panel(
            title("ปริมาณรถ ตามวันและชั่วโมงของสัปดาห์", "Volume by hour of the week"),
            [table_query(q)],
        )
        .description(
            "Mean vehicles per minute per detector, in Bangkok time: each weekday and hour "
            "averaged over the weeks in the dashboard's range. Empty: no readings that hour."
        )
        .height(9)
        .unit(VEH_PER_MIN)
        .decimals(1)
        .cell_options(cells)
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.CONTINUOUS_GR_YL_RD))
        .transformations(_hour_of_week())
        .override_by_name(
            DAY_HOUR, [dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "auto"})]
        )
    )


def long_term() -> list[Panel]:
    """Volume, speed and occupancy per detector from the hourly series."""
    volume_q = hourly_ratio(KIND, TOTAL, "interval_s", "volume", scale=60)
    return [
        long_term_panel(
            title("ปริมาณรถ รายจุด", "Volume by detector"),
            [query(volume_q, "A", "$tag_sensor_id")],
            VEH_PER_MIN,
        ),
        *long_term_means(KIND, [_kind().by_name["speed"], _kind().by_name["occupancy"]]),
    ]


def dashboard() -> db.Dashboard:
    d = (
        new_dashboard(
            "citydata-traffic",
            "การจราจร",
            "Traffic",
            "Volume, speed and occupancy per detector, congestion over time and now, vehicle "
            "classes, volume by hour of the week.",
        )
        .time("now-7d", "now")
        .with_variable(zone_variable())
        .with_variable(sensor_variable(KIND))
        .annotations(kind_alert_annotations(KIND))
    )
    sections: list[tuple[str, str, list[Panel]]] = [
        ("ระดับการจราจรติดขัด", "Congestion", [congestion_now(), congestion_timeline()]),
        (
            "ปริมาณ ความเร็ว และการครอบครอง",
            "Volume, speed, occupancy",
            [volume(), speed(), occupancy()],
        ),
        ("ประเภทรถและช่วงเวลา", "Classes and hours", [class_mix(), class_volume(), hour_of_week()]),
        (*LONG_TERM, long_term()),
    ]
    for th, en, panels in sections:
        d = d.with_row(db.Row(title(th, en)))
        for panel in panels:
            d = d.with_panel(panel)
    return d
