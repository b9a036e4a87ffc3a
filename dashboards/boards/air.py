"""Air quality: the Thai AQI per station now and over time in the PCD colours, PM2.5 and PM10
as measured and as the 24-hour means the AQI is computed from, the stations compared, and every
other air metric of the kind registry.

The AQI, its level, dominant pollutant and pollutant averages come from `city_aqi` (the same
judgments as the API, docs/derived.md); measured values come from the raw `air` readings.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from citydata.aqi import AVERAGING_HOURS, BANDS_2023, POLLUTANTS
from citydata.aqi import LEVELS as AQI_LEVELS
from citydata.kinds import Kind, Metric, all_kinds
from dashboards.common import (
    DATASOURCE,
    LONG_TERM,
    PER_SENSOR,
    WHERE_SELECTED,
    Panel,
    aqi_level_mappings,
    aqi_thresholds,
    colour_by_thresholds,
    column,
    dashed,
    kind_alert_annotations,
    long_term_means,
    mapping,
    merged,
    metric_title,
    new_dashboard,
    newest,
    no_data_mapping,
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
    zone_variable,
)
from dashboards.influxql import InfluxQL

NAME = "air"
KIND = "air"
AQI = '"city_aqi"'
PARTICULATES = ("pm25", "pm10")  # panels of their own; every other metric gets one from the kind
NOW = "2h"  # "now" panels see the last two whole hours' AQI, never an older one as current
HOURLY = "1h"  # city_aqi has one point per whole hour: finer intervals would only add gaps
# Dominant pollutant colours: deliberately none of the PCD level colours.
POLLUTANT_COLOURS = ("#8F3BB8", "#CA95E5", "#1F60C4", "#8AB8FF", "#A16D3E", "#C8A27C")


def _kind() -> Kind:
    return all_kinds()[KIND]


def _bands(pollutant: str) -> db.ThresholdsConfig:
    """A pollutant's PCD bands (2023 row) in the level colours, for dashed lines on a chart."""
    edges = [(float(b.lo), AQI_LEVELS[n].hex) for n, b in enumerate(BANDS_2023[pollutant], 1)]
    return steps(AQI_LEVELS[1].hex, *edges[1:])


def _dashed_thresholds() -> cb.GraphThresholdsStyleConfig:
    return cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)


def _measured(metric: Metric, ref: str = "A") -> InfluxQL:
    """The raw readings' mean per interval per sensor."""
    q = (
        f'SELECT mean("{metric.name}") AS "{metric.name}" FROM "{KIND}" WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    return query(q, ref, "$tag_sensor_id")


def _average(pollutant: str, ref: str) -> InfluxQL:
    """The moving average the AQI takes (`<pollutant>_avg` of city_aqi), per sensor."""
    hours = AVERAGING_HOURS[pollutant]
    q = (
        f'SELECT mean("{pollutant}_avg") AS "avg" FROM {AQI} WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(none)"
    )
    return query(q, ref, "$tag_sensor_id " + title(f"เฉลี่ย {hours} ชม.", f"{hours}-h mean"))


def _raw_panel(metric: Metric, name: str) -> timeseries.Panel:
    """Measured values, a gap where a sensor was silent longer than the kind's offline limit."""
    return timeseries_panel(name, [_measured(metric)], unit(metric)).insert_nulls(
        offline_gap_ms(_kind())
    )


# --- the AQI ----------------------------------------------------------------------------------


def aqi_now() -> Panel:
    q = f'SELECT last("aqi") AS "aqi" FROM {AQI} WHERE {WHERE_SELECTED} GROUP BY "sensor_id"'
    return (
        stat_panel(
            title("ดัชนีคุณภาพอากาศตอนนี้ รายสถานี", "Thai AQI now, by station"),
            [query(q, "A", "$tag_sensor_id")],
            "none",
        )
        .description(
            "The AQI of the last whole hour (PCD method, 24-hour PM means) in the PCD colours. "
            "A station with no AQI in the last two hours shows no tile rather than an old one. "
            "Level names are in the table beside it."
        )
        .time_from(NOW)
        .height(5)
        .reduce_options(newest())
        .thresholds(aqi_thresholds())
        .color_scheme(colour_by_thresholds())
    )


def aqi_history() -> Panel:
    q = f'SELECT max("aqi") AS "aqi" FROM {AQI} WHERE {WHERE_SELECTED} {PER_SENSOR} fill(none)'
    return (
        timeseries_panel(
            title("ดัชนีคุณภาพอากาศย้อนหลัง รายสถานี", "Thai AQI history, by station"),
            [query(q, "A", "$tag_sensor_id")],
            "none",
        )
        .description("Hourly AQI per station over the PCD level bands (background colours).")
        .interval(HOURLY)
        .insert_nulls(2 * 3600 * 1000)
        .thresholds(aqi_thresholds())
        .thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED_AND_AREA)
        )
        .min(0)
    )


def level_timeline() -> Panel:
    q = f'SELECT max("level") AS "level" FROM {AQI} WHERE {WHERE_SELECTED} {PER_SENSOR} fill(null)'
    return (
        state_timeline_panel(
            title("ระดับคุณภาพอากาศ รายสถานี", "AQI level, by station"),
            [query(q, "A", "$tag_sensor_id")],
        )
        .description("The worst PCD level in each interval; grey where the station had no AQI.")
        .interval(HOURLY)
        .span(12)
        .mappings([*aqi_level_mappings(), no_data_mapping()])
    )


def stations_now() -> Panel:
    """The AQI, its level by name, the dominant pollutant and the PM means, per station."""
    q = (
        'SELECT last("aqi") AS "aqi", last("level") AS "level", last("dominant") AS "dominant", '
        'last("pm25_avg") AS "pm25_avg", last("pm10_avg") AS "pm10_avg", '
        f'last("estimate") AS "estimate" FROM {AQI} WHERE {WHERE_SELECTED} GROUP BY "sensor_id"'
    )
    pm = unit(_kind().by_name["pm25"])
    estimate = [mapping(0, "", "transparent"), mapping(1, title("ประมาณการ", "estimate"), "text")]
    return (
        table_panel(
            title("คุณภาพอากาศตอนนี้ รายสถานี", "Air quality now, by station"),
            [table_query(q)],
        )
        .with_transformation(merged())
        .description(
            "The last whole hour. Above AQI 200 there is no official formula: such a number is "
            "marked an estimate."
        )
        .time_from(NOW)
        .span(12)
        .override_by_name("Time", column(title("ณ เวลา", "As of"), "dateTimeAsLocal"))
        .override_by_name("sensor_id", column(title("สถานี", "Station")))
        .override_by_name("aqi", _cells(aqi_thresholds(), title("ค่า AQI", "AQI")))
        .override_by_name(
            "level",
            [
                *_cells(None, title("ระดับ", "Level")),
                dm.DynamicConfigValue(id_val="mappings", value=aqi_level_mappings()),
            ],
        )
        .override_by_name(
            "dominant",
            [
                *column(title("มลพิษหลัก", "Dominant")),
                dm.DynamicConfigValue(id_val="mappings", value=_pollutant_mappings()),
            ],
        )
        .override_by_name("pm25_avg", column(title("PM2.5 เฉลี่ย 24 ชม.", "PM2.5 24-h"), pm))
        .override_by_name("pm10_avg", column(title("PM10 เฉลี่ย 24 ชม.", "PM10 24-h"), pm))
        .override_by_name(
            "estimate",
            [
                *column(title("หมายเหตุ", "Note")),
                dm.DynamicConfigValue(id_val="mappings", value=estimate),
            ],
        )
    )


def _cells(thresholds: db.ThresholdsConfig | None, name: str) -> list[dm.DynamicConfigValue]:
    """A column whose cells are coloured (by thresholds, or by the value mappings' colours)."""
    values = [
        *column(name),
        dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"}),
    ]
    if thresholds is not None:
        values += [
            dm.DynamicConfigValue(id_val="thresholds", value=thresholds.build()),
            dm.DynamicConfigValue(id_val="color", value={"mode": dm.FieldColorModeId.THRESHOLDS}),
        ]
    return values


def _pollutant_mappings() -> list[dm.ValueMapping]:
    """Pollutant keys (`dominant`) to their names and a colour each."""
    metrics = _kind().by_name
    return [
        dm.ValueMap(
            options={
                p: dm.ValueMappingResult(
                    text=metric_title(metrics[p]) if p in metrics else p, color=colour
                )
            }
        )
        for p, colour in zip(POLLUTANTS, POLLUTANT_COLOURS, strict=True)
    ]


def dominant_timeline() -> Panel:
    q = (
        f'SELECT last("dominant") AS "dominant" FROM {AQI} WHERE {WHERE_SELECTED} '
        f"{PER_SENSOR} fill(null)"
    )
    return (
        state_timeline_panel(
            title("มลพิษหลักที่กำหนดค่า AQI", "Dominant pollutant (sets the AQI)"),
            [query(q, "A", "$tag_sensor_id")],
        )
        .interval(HOURLY)
        .mappings([*_pollutant_mappings(), no_data_mapping()])
    )


# --- particulates -------------------------------------------------------------------------------


def particulate_measured(name: str) -> Panel:
    metric = _kind().by_name[name]
    words = title(f"{metric.title_th} ค่าตรวจวัด", f"{metric.description}, as measured")
    return _raw_panel(metric, words).description(
        "Mean of the readings in each interval, per sensor. The PCD bands apply to the 24-hour "
        "mean beside it, not to single readings."
    )


def particulate_24h(name: str) -> Panel:
    metric = _kind().by_name[name]
    return (
        timeseries_panel(
            title(f"{metric.title_th} เฉลี่ย 24 ชม.", f"{metric.description}, 24-hour mean"),
            [_average(name, "A").alias("$tag_sensor_id")],
            unit(metric),
        )
        .description(
            "The moving 24-hour mean each whole hour, as the AQI and the API use it. Dashed: "
            "the lower bounds of the PCD levels (2023 bands)."
        )
        .interval(HOURLY)
        .insert_nulls(2 * 3600 * 1000)
        .thresholds(_bands(name))
        .thresholds_style(_dashed_thresholds())
        .min(0)
    )


def comparison() -> Panel:
    """PM2.5 24-hour means over the range per station: the mean and the worst hour."""
    q = (
        'SELECT mean("pm25_avg") AS "mean", max("pm25_avg") AS "max" '
        f'FROM {AQI} WHERE {WHERE_SELECTED} GROUP BY "sensor_id"'
    )
    return (
        bargauge.Panel()
        .title(
            title(
                "เปรียบเทียบสถานี: PM2.5 เฉลี่ย 24 ชม. (เฉลี่ย / สูงสุด ในช่วงเวลา)",
                "Stations compared: PM2.5 24-h mean (average / worst over the range)",
            )
        )
        .description("Coloured by the PCD PM2.5 bands, which apply to 24-hour means.")
        .datasource(DATASOURCE)
        .targets([query(q, "A", "$tag_sensor_id $col")])
        .unit(unit(_kind().by_name["pm25"]))
        .min(0)
        .height(10)
        .span(12)
        .reduce_options(newest())
        .thresholds(_bands("pm25"))
        .color_scheme(colour_by_thresholds())
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
        .no_value(title("ไม่มีข้อมูล", "No data"))
    )


def _particulates() -> list[Panel]:
    return [p for n in PARTICULATES for p in (particulate_measured(n), particulate_24h(n))]


# --- every other metric of the kind -----------------------------------------------------------


def metric_panel(metric: Metric) -> Panel:
    """A metric as measured; an AQI pollutant adds its AQI averaging mean (dashed) and bands."""
    panel = _raw_panel(metric, metric_title(metric))
    if metric.name not in AVERAGING_HOURS:
        return panel
    return (
        panel.with_target(_average(metric.name, "B"))
        .override_by_query("B", dashed())
        .thresholds(_bands(metric.name))
        .thresholds_style(_dashed_thresholds())
        .description(
            f"Solid: readings, mean per interval. Dashed: the {AVERAGING_HOURS[metric.name]}-hour "
            "mean the AQI takes. Dashed horizontal lines: the PCD level bands."
        )
    )


def dashboard() -> db.Dashboard:
    d = (
        new_dashboard(
            "citydata-air",
            "คุณภาพอากาศ",
            "Air quality",
            "Thai AQI per station now and over time, PM2.5 and PM10 measured and as 24-hour "
            "means, stations compared, every air metric.",
        )
        .with_variable(zone_variable())
        .with_variable(sensor_variable(KIND))
        .annotations(kind_alert_annotations(KIND))
    )
    sections: list[tuple[str, str, list[Panel]]] = [
        (
            "ดัชนีคุณภาพอากาศ",
            "Air Quality Index",
            [aqi_now(), aqi_history(), level_timeline(), stations_now(), comparison()],
        ),
        (
            "ฝุ่นละออง",
            "Particulate matter",
            [*_particulates(), dominant_timeline()],
        ),
        (
            "ก๊าซและสภาพอากาศ",
            "Gases and weather",
            [metric_panel(m) for m in _kind().metrics if m.name not in PARTICULATES],
        ),
        (*LONG_TERM, long_term_means(KIND, _kind().metrics)),
    ]
    for th, en, panels in sections:
        d = d.with_row(db.Row(title(th, en)))
        for panel in panels:
            d = d.with_panel(panel)
    return d
