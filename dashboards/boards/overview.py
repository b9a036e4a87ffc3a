"""City overview: the control room's first screen. The alerts firing now, every station on a
map in the colour of its state, the AQI of each air station now, the river against its lines,
the roads now, and each alert's firing and resolving marked on the charts.

The stations' panels read the derived series (docs/derived.md), which hold the same judgments
as the API: InfluxQL alone cannot compute a Thai AQI or a station's water status. The alerts
come from the `alerts` measurement the alerts service writes at each state change.
"""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders import bargauge, geomap, stat
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import geomap as gm

from citydata.kinds import all_kinds
from dashboards.common import (
    ALERTS,
    DATASOURCE,
    Panel,
    alert_annotations,
    aqi_level_mappings,
    aqi_thresholds,
    colour_by_thresholds,
    column,
    kind_title,
    new_dashboard,
    newest,
    offline_mapping,
    query,
    query_variable,
    severity_mappings,
    stat_panel,
    steps,
    table_panel,
    table_query,
    timeseries_panel,
    title,
    traffic_mappings,
    water_status_mappings,
    zone_variable,
)
from dashboards.influxql import InfluxQL

NAME = "overview"
IN_ZONE = '"zone" =~ /^$zone$/'
# "Now" panels look this far back, so a station that went quiet shows "no data", never its
# old value as current: the AQI is hourly, the other judgments every minute.
AQI_NOW = "2h"
JUDGED_NOW = "15m"
# An alert's subject is a station in the chosen zones, or no station at all (a collector,
# InfluxDB, a dead-letter reason: the platform, which serves every zone). The `alerts` points
# carry no zone; the two hidden variables list the stations of the chosen zones and every one.
SUBJECT_IN_ZONE = '("sensor_id" =~ /^$in_zone$/ OR "sensor_id" !~ /^$stations$/)'
# The firing list looks this far back for each alert's latest change, whatever the dashboard's
# range: an alert firing unchanged for longer drops off the list.
FIRING_DAYS = 90
# Colours of each kind's `state` on the map (docs/derived.md: 0 offline, then its scale).
STATE_MAPPINGS: dict[str, Callable[[], list[dm.ValueMapping]]] = {
    "air": aqi_level_mappings,
    "water": lambda: water_status_mappings(offset=1),
    "traffic": lambda: traffic_mappings(offset=1),
}


def _stations(kind: str, ref: str) -> InfluxQL:
    return table_query(
        'SELECT last("latitude") AS "latitude", last("longitude") AS "longitude", '
        'last("state") AS "state", last("online") AS "online", last("name_th") AS "name_th", '
        'last("name_en") AS "name_en", last("age_s") AS "age_s" FROM "city_station" '
        f'WHERE $timeFilter AND "kind" = \'{kind}\' AND {IN_ZONE} GROUP BY "sensor_id"',
        ref,
    )


def _layer(kind: str, ref: str) -> cb.MapLayerOptions:
    style = {
        "color": {"field": "state", "fixed": "#8E8E8E"},
        "size": {"fixed": 10, "min": 6, "max": 14},
        "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
        "text": {"field": "name_th", "mode": "field"},
        "textConfig": {"fontSize": 11, "offsetY": -14, "textAlign": "center"},
    }
    return (
        cb.MapLayerOptions()
        .type("markers")
        .name(kind_title(all_kinds()[kind]))
        .config({"style": style, "showLegend": True})
        .location(
            cb.FrameGeometrySource()
            .mode(cm.FrameGeometrySourceMode.COORDS)
            .latitude("latitude")
            .longitude("longitude")
        )
        .filter_data({"id": "byRefId", "options": ref})
        .tooltip(True)
    )


def station_map() -> Panel:
    """One marker layer per kind with a state scale; other kinds' stations are in the table."""
    kinds = [k for k in STATE_MAPPINGS if k in all_kinds()]
    refs = [chr(ord("A") + i) for i in range(len(kinds))]
    panel = (
        geomap.Panel()
        .title(title("สถานีทั้งหมด ตามสถานะล่าสุด", "Every station by its current state"))
        .description(
            "Air: Thai AQI level in the PCD colours. Water: normal, watch, warning, critical, "
            "overflowing. Traffic: congestion. Grey: offline or not judged."
        )
        .datasource(DATASOURCE)
        .targets([_stations(k, r) for k, r in zip(kinds, refs, strict=True)])
        .height(14)
        .span(14)
        .view(geomap.MapViewConfig().id("fit").all_layers(True).zoom(14).padding(10))
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
        .basemap(cb.MapLayerOptions().type("default").name(title("แผนที่", "Basemap")))
        .layers([_layer(k, r) for k, r in zip(kinds, refs, strict=True)])
        .tooltip(geomap.TooltipOptions().mode(gm.TooltipMode.DETAILS))
        .time_from(JUDGED_NOW)
    )
    for kind, ref in zip(kinds, refs, strict=True):
        mappings = [offline_mapping(), *STATE_MAPPINGS[kind]()]
        panel = panel.override_by_query(
            ref,
            [
                dm.DynamicConfigValue(id_val="mappings", value=mappings),
                dm.DynamicConfigValue(
                    id_val="color", value={"mode": dm.FieldColorModeId.THRESHOLDS}
                ),
            ],
        )
    return panel.unit("none")


def aqi_now() -> Panel:
    q = f'SELECT last("aqi") FROM "city_aqi" WHERE $timeFilter AND {IN_ZONE} GROUP BY "sensor_id"'
    return (
        bargauge.Panel()
        .title(title("ดัชนีคุณภาพอากาศล่าสุด รายสถานี", "Thai AQI now, by station"))
        .description("The AQI of the last whole hour (PCD method, 24 h PM averages).")
        .datasource(DATASOURCE)
        .targets([query(q, "A", "$tag_sensor_id")])
        .unit("none")
        .min(0)
        .max(300)
        .height(14)
        .span(10)
        .thresholds(aqi_thresholds())
        .color_scheme(colour_by_thresholds())
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .show_unfilled(True)
        .reduce_options(newest())
        .time_from(AQI_NOW)
        .no_value(title("ไม่มีข้อมูล", "No data"))
    )


def stations_online() -> Panel:
    q = (
        'SELECT sum("online") AS "online", count("online") AS "stations" FROM '
        '(SELECT last("online") AS "online" FROM "city_station" WHERE $timeFilter AND '
        f'{IN_ZONE} GROUP BY "sensor_id")'
    )
    return (
        stat_panel(title("สถานีออนไลน์", "Stations online"), [query(q, "A")], "none")
        .span(6)
        .height(5)
        .time_from(JUDGED_NOW)
        .color_mode(cm.BigValueColorMode.VALUE)
        .thresholds(steps("#1F60C4"))
    )


def _worst(measurement: str, field: str, name: str, window: str) -> stat.Panel:
    """The highest of the stations' newest `field` in the window: the town's worst now."""
    q = (
        f'SELECT max("{field}") FROM (SELECT last("{field}") AS "{field}" FROM "{measurement}" '
        f'WHERE $timeFilter AND {IN_ZONE} GROUP BY "sensor_id")'
    )
    return stat_panel(name, [query(q, "A")], "none").span(6).height(5).time_from(window)


def worst_aqi() -> Panel:
    return (
        _worst("city_aqi", "aqi", title("AQI สูงสุดในเมือง", "Worst AQI in town"), AQI_NOW)
        .thresholds(aqi_thresholds())
        .color_scheme(colour_by_thresholds())
    )


def worst_water() -> Panel:
    name = title("สถานะน้ำที่น่าห่วงที่สุด", "Worst river status")
    return _worst("city_water", "status_rank", name, JUDGED_NOW).mappings(water_status_mappings())


def worst_traffic() -> Panel:
    name = title("จุดที่รถติดที่สุด", "Worst congestion")
    return _worst("city_traffic", "severity", name, JUDGED_NOW).mappings(traffic_mappings())


def river_levels() -> Panel:
    lines = ", ".join(f'last("{t}") AS "{t}"' for t in ("watch", "warning", "critical", "bank"))
    q = (
        f'SELECT mean("level") AS "level", {lines} FROM "city_water" WHERE $timeFilter AND '
        f'{IN_ZONE} GROUP BY time($__interval), "sensor_id" fill(none)'
    )
    dashed = [
        dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 6]}),
        dm.DynamicConfigValue(id_val="custom.lineWidth", value=1),
    ]
    return (
        timeseries_panel(
            title(
                "ระดับน้ำเทียบระดับเฝ้าระวัง เตือนภัย วิกฤต และตลิ่ง",
                "River level against watch, warning, critical and bank",
            ),
            [query(q, "A", "$tag_sensor_id $col")],
            "suffix: m MSL",
        )
        .span(24)
        .override_by_regexp(".*(watch|warning|critical|bank)$", dashed)
    )


def road_status() -> Panel:
    q = (
        'SELECT last("severity") AS "severity", last("speed") AS "speed_kmh", '
        'last("occupancy") AS "occupancy_pct" FROM "city_traffic" WHERE $timeFilter AND '
        f'{IN_ZONE} GROUP BY "sensor_id"'
    )
    return (
        table_panel(title("สภาพจราจรตอนนี้ รายจุด", "Roads now, by detector"), [table_query(q)])
        .span(24)
        .time_from(JUDGED_NOW)
        .override_by_name(
            "severity", [dm.DynamicConfigValue(id_val="mappings", value=traffic_mappings())]
        )
    )


def _station_variable(name: str, label: str, where: str = "") -> db.QueryVariable:
    """A hidden variable of station ids, every one selected ("All")."""
    q = 'SHOW TAG VALUES FROM "city_station" WITH KEY = "sensor_id"' + where
    return (
        query_variable(name, label, q)
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
        .hide(dm.VariableHide.HIDE_VARIABLE)
    )


def zone_stations_variable() -> db.QueryVariable:
    label = title("สถานีในพื้นที่ที่เลือก", "Stations in the chosen zones")
    return _station_variable("in_zone", label, f" WHERE {IN_ZONE}")


def stations_variable() -> db.QueryVariable:
    return _station_variable("stations", title("สถานีทั้งหมด", "Every station"))


def _cells(name: str) -> list[dm.DynamicConfigValue]:
    """A table column coloured by its value mappings' colours."""
    cell = dm.DynamicConfigValue(id_val="custom.cellOptions", value={"type": "color-background"})
    return [*column(name), cell]


def firing_alerts() -> Panel:
    """Each rule and subject whose latest change is to firing. One selector (`last`) keeps the
    other fields of the same point and its time, the time of that change; grouping by rule and
    subject only (not severity or kind) lets a later point with other tags end it."""
    latest = (
        'SELECT last("active") AS "active", "severity", "title", "text", "value" '
        f"FROM {ALERTS} WHERE time > now() - {FIRING_DAYS}d AND {SUBJECT_IN_ZONE} "
        'GROUP BY "rule", "sensor_id"'
    )
    # No ORDER BY: InfluxDB 1.x ignores ORDER BY time over a subquery (the rows come in its
    # series' order), so the table sorts them, newest first.
    q = (
        f'SELECT "severity", "title", "sensor_id", "text", "value" FROM ({latest}) '
        'WHERE "active" = 1'
    )
    since = title("เริ่มเมื่อ", "Since")
    return (
        table_panel(title("การแจ้งเตือนที่กำลังเกิดขึ้น", "Firing alerts"), [table_query(q)])
        .description(
            "Every alert firing now, newest first, whatever the time range chosen: each rule "
            f"and subject whose latest change in the last {FIRING_DAYS} days is to firing. "
            "Subjects are the stations of the chosen zones, and the platform (collectors, "
            "InfluxDB)."
        )
        .span(24)
        .no_value(title("ไม่มีการแจ้งเตือน", "No alerts firing"))
        .override_by_name("Time", column(since, "dateTimeFromNow"))
        .sort_by([cb.TableSortByFieldState().display_name(since).desc(True)])
        .override_by_name(
            "severity",
            [
                *_cells(title("ระดับ", "Severity")),
                dm.DynamicConfigValue(id_val="mappings", value=severity_mappings()),
            ],
        )
        .override_by_name("title", column(title("การแจ้งเตือน", "Alert")))
        .override_by_name("sensor_id", column(title("สถานีหรือระบบ", "Subject")))
        .override_by_name("text", column(title("ข้อความ", "Message")))
        .override_by_name("value", column(title("ค่า", "Value"), "none"))
    )


def dashboard() -> db.Dashboard:
    d = new_dashboard(
        "citydata-overview",
        "ภาพรวมเมือง",
        "City overview",
        "The alerts firing now; every station on the map by its state; air, river and roads now.",
    )
    d = (
        d.with_variable(zone_variable())
        .with_variable(zone_stations_variable())
        .with_variable(stations_variable())
        .annotations(alert_annotations(SUBJECT_IN_ZONE))
    )
    for panel in (
        firing_alerts(),
        stations_online(),
        worst_aqi(),
        worst_water(),
        worst_traffic(),
        station_map(),
        aqi_now(),
        river_levels(),
        road_status(),
    ):
        d = d.with_panel(panel)
    return d
