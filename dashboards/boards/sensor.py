"""Sensor detail: one sensor of any kind, whether it is online and when it was last heard
from, its station snapshot, the city's dead letters, and every metric it reports.

The metric panels come from the kind registry without naming a kind here. The sensor is one
(`$sensor`, from every registered kind's measurement), its kind follows from it (`$kind`: the
registered measurement holding it) and its metrics from that (`$metric`: the measurement's
field keys, kept to the metrics the registry knows). One panel is repeated per metric; the
registry gives each metric its Thai and English title, unit and offline gap as field
overrides. Panels written per kind would show an empty grid for every other kind's metrics,
and could only show values for a sensor of their own kind.
"""

from __future__ import annotations

import re

from grafana_foundation_sdk.builders import bargauge, timeseries
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from citydata import kinds
from citydata.health import DEADLETTERS
from citydata.kinds import Kind, Metric
from dashboards.common import (
    DATASOURCE,
    GREY,
    LONG_TERM,
    WHERE_SELECTED,
    Panel,
    colour_by_thresholds,
    column,
    hourly_mean,
    long_term_panel,
    metric_title,
    new_dashboard,
    newest,
    offline_gap_ms,
    query,
    query_variable,
    stat_panel,
    steps,
    table_panel,
    table_query,
    timeseries_panel,
    title,
    unit,
    zone_variable,
)

NAME = "sensor"
NOW = "15m"  # the station snapshot is written every minute: older is not "now"
# Where operators' browsers reach the citydata API (`citydata local`'s default); a deployment
# sets it in the URL (var-api=...) or in this variable.
API_URL = "http://127.0.0.1:18000"
ONLINE = "#00B050"
# Registry statuses (citydata.registry.model.Status) in Thai and English.
STATUS_WORDS = {
    "active": ("ใช้งาน", "Active"),
    "maintenance": ("ซ่อมบำรุง", "Maintenance"),
    "pending": ("รอติดตั้ง", "Pending"),
    "retired": ("ปลดระวาง", "Retired"),
}


def _kinds() -> list[Kind]:
    """The registered kinds, read at build time (a new kind module is all it takes)."""
    return [kinds.all_kinds()[name] for name in sorted(kinds.all_kinds())]


def _alternatives(names: list[str]) -> str:
    """An InfluxQL / Grafana regex matching exactly one of `names`."""
    return "/^(" + "|".join(re.escape(n) for n in sorted(set(names))) + ")$/"


def _kind_names() -> str:
    return _alternatives([k.name for k in _kinds()])


def _metric_names() -> str:
    return _alternatives([m.name for k in _kinds() for m in k.metrics])


def series_name(kind: Kind, metric: Metric) -> str:
    """The name Grafana gives a metric's series in the readings panel (alias $measurement.$col)."""
    return f"{kind.name}.mean_{metric.name}"


# --- variables --------------------------------------------------------------------------------


def sensor_variable() -> db.QueryVariable:
    """One sensor of any registered kind in the chosen zones."""
    q = f'SHOW TAG VALUES FROM {_kind_names()} WITH KEY = "sensor_id" WHERE "zone" =~ /^$zone$/'
    return query_variable("sensor", title("สถานี", "Sensor"), q, multi=False)


def kind_variable() -> db.QueryVariable:
    """The sensor's kind: the registered measurement its readings are in (hidden)."""
    q = f'SHOW MEASUREMENTS WITH MEASUREMENT =~ {_kind_names()} WHERE "sensor_id" =~ /^$sensor$/'
    return query_variable("kind", title("ชนิด", "Kind"), q, multi=False).hide(
        dm.VariableHide.HIDE_VARIABLE
    )


def metric_variable() -> db.QueryVariable:
    """The registered metrics the sensor's kind has readings of, every one (hidden)."""
    return (
        query_variable("metric", title("ค่าที่วัด", "Metric"), 'SHOW FIELD KEYS FROM "$kind"')
        .regex(_metric_names())
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .hide(dm.VariableHide.HIDE_VARIABLE)
    )


def api_variable() -> db.TextBoxVariable:
    return (
        db.TextBoxVariable("api")
        .label(title("ที่อยู่ API", "API address"))
        .default_value(API_URL)
        .current(dm.VariableOption(selected=True, text=API_URL, value=API_URL))
        .hide(dm.VariableHide.HIDE_VARIABLE)
    )


# --- the station ------------------------------------------------------------------------------


def _online_mappings() -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                "1": dm.ValueMappingResult(text=title("ออนไลน์", "Online"), color=ONLINE),
                "0": dm.ValueMappingResult(text=title("ออฟไลน์", "Offline"), color=GREY),
            }
        )
    ]


def _status_mappings() -> list[dm.ValueMapping]:
    return [
        dm.ValueMap(
            options={
                status: dm.ValueMappingResult(text=title(th, en))
                for status, (th, en) in STATUS_WORDS.items()
            }
        )
    ]


def online() -> Panel:
    q = f'SELECT last("online") AS "online" FROM "city_station" WHERE {WHERE_SELECTED}'
    return (
        stat_panel(title("สถานะการเชื่อมต่อ", "Online"), [query(q, "A", "$tag_sensor_id")], "none")
        .description(
            "Online: a reading within the kind's offline limit, as judged in the last 15 "
            "minutes. No data: nothing judged in the last 15 minutes."
        )
        .time_from(NOW)
        .span(6)
        .height(5)
        .mappings(_online_mappings())
        .color_scheme(db.FieldColor().mode(dm.FieldColorModeId.FIXED).fixed_color(GREY))
        .text_mode(cm.BigValueTextMode.VALUE)
    )


def last_seen() -> Panel:
    q = f'SELECT * FROM "$kind" WHERE {WHERE_SELECTED} ORDER BY time DESC LIMIT 1'
    return (
        stat_panel(title("ได้รับข้อมูลล่าสุด", "Last seen"), [table_query(q)], "dateTimeFromNow")
        .description(
            "When the sensor's newest reading was taken, from the raw readings (not the "
            "derived snapshot). No data: no reading in the dashboard's range."
        )
        .span(6)
        .height(5)
        .reduce_options(newest().fields("/^Time$/"))
        .color_mode(cm.BigValueColorMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE)
    )


def snapshot() -> Panel:
    q = (
        'SELECT "name_th", "name_en", "kind", "zone", "site", "status", "online", "age_s" '
        f'FROM "city_station" WHERE {WHERE_SELECTED} ORDER BY time DESC LIMIT 1'
    )
    columns = {
        "Time": (title("ประเมินเมื่อ", "Judged at"), None),
        "name_th": (title("ชื่อ", "Name (Thai)"), None),
        "name_en": (title("ชื่อภาษาอังกฤษ", "Name"), None),
        "kind": (title("ชนิด", "Kind"), None),
        "zone": (title("พื้นที่", "Zone"), None),
        "site": (title("จุดติดตั้ง", "Site"), None),
        "status": (title("สถานะในทะเบียน", "Registry status"), None),
        "online": (title("การเชื่อมต่อ", "Online"), None),
        "age_s": (title("อายุข้อมูลล่าสุด", "Newest reading's age"), "s"),
    }
    panel = (
        table_panel(title("ข้อมูลสถานีล่าสุด", "Station snapshot"), [table_query(q)])
        .description(
            "The newest station snapshot (city_station) in the range: the registry's name and "
            "status, and whether the sensor was online when judged."
        )
        .span(12)
        .height(5)
    )
    for name, (label, unit_) in columns.items():
        panel = panel.override_by_name(name, column(label, unit_))
    return panel.override_by_name(
        "online", [dm.DynamicConfigValue(id_val="mappings", value=_online_mappings())]
    ).override_by_name(
        "status", [dm.DynamicConfigValue(id_val="mappings", value=_status_mappings())]
    )


def deadletters() -> Panel:
    q = (
        f'SELECT sum("count") AS "count" FROM (SELECT last("count") AS "count" FROM '
        f'"{DEADLETTERS}" WHERE $timeFilter GROUP BY "collector", "host", "reason") '
        'GROUP BY "reason"'
    )
    own = (
        db.DashboardLink(title("ข้อความที่ถูกปฏิเสธของสถานีนี้ (API)", "This sensor's dead letters (API)"))
        .type(dm.DashboardLinkType.LINK)
        .url("${api}/operations/deadletters?sensor_id=${sensor:percentencode}")
        .target_blank(True)
    )
    return (
        bargauge.Panel()
        .title(title("ข้อความที่ถูกปฏิเสธทั้งเมือง ตามเหตุผล", "Dead letters city-wide, by reason"))
        .description(
            "Collectors count dead letters per reason, not per sensor: these are the whole "
            "city's since each collector started. This sensor's own are listed by the API, "
            "GET /operations/deadletters?sensor_id=<sensor> with an operator key (the link "
            "above)."
        )
        .datasource(DATASOURCE)
        .targets([query(q, "A", "$tag_reason")])
        .links([own])
        .unit("short")
        .height(5)
        .span(24)
        .reduce_options(newest())
        .thresholds(steps("#8AB8FF", (1, "#FF8C00")))
        .color_scheme(colour_by_thresholds())
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
        .no_value(title("ไม่มี", "None"))
    )


# --- every metric -----------------------------------------------------------------------------


def _metric_overrides(panel: timeseries.Panel) -> timeseries.Panel:
    """Each registered metric's title, unit and offline gap on its series."""
    for kind in _kinds():
        gap = dm.DynamicConfigValue(id_val="custom.insertNulls", value=offline_gap_ms(kind))
        for m in kind.metrics:
            panel = panel.override_by_name(
                series_name(kind, m), [*column(metric_title(m), unit(m)), gap]
            )
    return panel


def readings() -> Panel:
    """One panel per metric of the sensor (repeated over $metric), all fed by one query of the
    sensor's registered metrics; each repeat keeps its own metric's series."""
    q = (
        f'SELECT mean({_metric_names()}) FROM "$kind" WHERE {WHERE_SELECTED} '
        "GROUP BY time($__interval) fill(none)"
    )
    keep = dm.DataTransformerConfig(
        id_val="filterFieldsByName",
        options={"include": {"pattern": "^(Time|${kind}\\.mean_${metric})$"}},
    )
    panel = (
        timeseries_panel(
            title("ค่าที่วัด", "Reading") + ": ${metric}", [query(q, "A", "$measurement.$col")], "short"
        )
        .description(
            "The sensor's readings of one metric, mean per interval; the legend names the "
            "metric in Thai and English with its unit. A gap: the sensor was silent longer than "
            "its kind's offline limit."
        )
        .span(8)
        .repeat("metric")
        .repeat_direction("h")
        .max_per_row(3)
        .transformations([keep])
    )
    return _metric_overrides(panel)


def long_term() -> Panel:
    """The sensor's metric (repeated over $metric) from the hourly series."""
    q = hourly_mean("${kind}", "${metric}", "${metric}")
    panel = (
        long_term_panel(
            title("ระยะยาว", "Long term") + ": ${metric}", [query(q, "A", "$col")], "short"
        )
        .span(8)
        .repeat("metric")
        .repeat_direction("h")
        .max_per_row(3)
    )
    for m in {m.name: m for kind in _kinds() for m in kind.metrics}.values():
        panel = panel.override_by_name(m.name, column(metric_title(m), unit(m)))
    return panel


def dashboard() -> db.Dashboard:
    d = (
        new_dashboard(
            "citydata-sensor",
            "รายละเอียดสถานี",
            "Sensor detail",
            "One sensor of any kind: online, last seen, station snapshot, dead letters, and "
            "every metric it reports.",
        )
        .with_variable(zone_variable())
        .with_variable(sensor_variable())
        .with_variable(kind_variable())
        .with_variable(metric_variable())
        .with_variable(api_variable())
    )
    sections: list[tuple[str, str, list[Panel]]] = [
        ("สถานี", "Station", [online(), last_seen(), snapshot(), deadletters()]),
        ("ค่าที่วัด", "Readings", [readings()]),
        (*LONG_TERM, [long_term()]),
    ]
    for th, en, panels in sections:
        d = d.with_row(db.Row(title(th, en)))
        for panel in panels:
            d = d.with_panel(panel)
    return d
