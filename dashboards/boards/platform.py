"""Platform health: is every reading getting in, how fast, and what is being refused.

From the collectors' own points (citydata.health): cumulative counters per collector instance,
so rates are derivatives of raw points (exact at any zoom), levels are means per interval.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.models import dashboard as dm

from citydata.health import DEADLETTERS, MEASUREMENT
from dashboards.common import (
    DATASOURCE,
    Panel,
    alert_annotations,
    colour_by_thresholds,
    mapping,
    new_dashboard,
    query,
    stat_panel,
    steps,
    table_panel,
    table_query,
    timeseries_panel,
    title,
)
from dashboards.influxql import InfluxQL

NAME = "platform"
_M = f'"{MEASUREMENT}"'
_PER_COLLECTOR = 'GROUP BY "collector"'
PLATFORM_ALERTS = "\"kind\" = 'platform'"  # the alerts about collectors and InfluxDB


def _rate(field: str, ref: str, words: tuple[str, str]) -> InfluxQL:
    return query(
        f'SELECT non_negative_derivative("{field}", 1s) FROM {_M} WHERE $timeFilter '
        f"{_PER_COLLECTOR}",
        ref,
        f"{title(*words)} $tag_collector",
    )


def throughput() -> Panel:
    return timeseries_panel(
        title("ข้อความเข้าและบันทึกต่อวินาที", "Messages in and stored per second"),
        [
            _rate("received", "A", ("รับ", "in")),
            _rate("written", "B", ("บันทึก", "stored")),
            _rate("dead_lettered", "C", ("ปฏิเสธ", "dead-lettered")),
        ],
        "suffix: msg/s",
    )


def lag() -> Panel:
    q = (
        f'SELECT mean("lag_ms") AS "mean", max("lag_max_ms") AS "max" FROM {_M} '
        'WHERE $timeFilter GROUP BY time($__interval), "collector" fill(none)'
    )
    return timeseries_panel(
        title("เวลาจากรับถึงบันทึกถาวร", "Publish-to-store lag (arrival to durable)"),
        [query(q, "A", "$col $tag_collector")],
        "ms",
    ).span(12)


def write_latency() -> Panel:
    q = (
        'SELECT mean("write_latency_ms") AS "mean", max("write_latency_max_ms") AS "max" '
        f'FROM {_M} WHERE $timeFilter GROUP BY time($__interval), "collector" fill(none)'
    )
    return timeseries_panel(
        title("เวลาเขียนลง InfluxDB", "InfluxDB write latency"),
        [query(q, "A", "$col $tag_collector")],
        "ms",
    ).span(12)


def spool() -> Panel:
    q = (
        f'SELECT max("spool_bytes") AS "spool" FROM {_M} WHERE $timeFilter '
        'GROUP BY time($__interval), "collector" fill(none)'
    )
    depth = (
        f'SELECT max("queue_depth") AS "queue" FROM {_M} WHERE $timeFilter '
        'GROUP BY time($__interval), "collector" fill(none)'
    )
    return timeseries_panel(
        title("ข้อมูลค้างในสพูลและคิว", "Spool depth and receive queue"),
        [
            query(q, "A", title("สพูล", "spool") + " $tag_collector"),
            query(depth, "B", title("คิว", "queue") + " $tag_collector"),
        ],
        "bytes",
    ).override_by_query("B", [dm.DynamicConfigValue(id_val="unit", value="short")])


def deadletters_by_reason() -> Panel:
    # Counts are cumulative per collector instance: differences only within one series.
    q = (
        f'SELECT non_negative_difference("count") FROM "{DEADLETTERS}" '
        'WHERE $timeFilter GROUP BY "reason", "collector", "host"'
    )
    return timeseries_panel(
        title("ข้อความที่ถูกปฏิเสธ ตามเหตุผล", "Dead letters by reason"),
        [query(q, "A", "$tag_reason ($tag_collector)")],
        "short",
    ).span(12)


def deadletters_total() -> Panel:
    q = (
        f'SELECT last("count") FROM "{DEADLETTERS}" WHERE $timeFilter '
        'GROUP BY "reason", "collector"'
    )
    return (
        bargauge.Panel()
        .title(title("ถูกปฏิเสธรวม ตามเหตุผล", "Dead letters since start, by reason"))
        .datasource(DATASOURCE)
        .targets([query(q, "A", "$tag_reason ($tag_collector)")])
        .unit("short")
        .height(8)
        .span(12)
        .thresholds(steps("#8AB8FF", (1, "#FF8C00")))
        .color_scheme(colour_by_thresholds())
    )


def influx_alarm() -> Panel:
    q = f'SELECT last("influx_alarm") FROM {_M} WHERE $timeFilter {_PER_COLLECTOR}'
    return (
        stat_panel(
            title("สัญญาณเตือน InfluxDB", "InfluxDB alarm (credentials refused)"),
            [query(q, "A", "$tag_collector")],
            "none",
        )
        .span(12)
        .mappings(
            [
                mapping(0, title("ปกติ", "OK"), "green"),
                mapping(1, title("InfluxDB ปฏิเสธสิทธิ์", "InfluxDB refuses us"), "red"),
            ]
        )
        .thresholds(steps("green", (1, "red")))
        .color_scheme(colour_by_thresholds())
    )


def collectors() -> Panel:
    q = (
        'SELECT last("received") AS "received", last("written") AS "written", '
        'last("dead_lettered") AS "dead_lettered", last("uptime_s") AS "uptime_s" '
        f'FROM {_M} WHERE $timeFilter GROUP BY "collector", "host"'
    )
    return table_panel(title("ตัวรับข้อมูลแต่ละตัว", "Collectors: last report"), [table_query(q)]).span(
        12
    )


def dashboard() -> db.Dashboard:
    d = new_dashboard(
        "citydata-platform",
        "สุขภาพระบบ",
        "Platform health",
        "Is every reading getting in? Collector throughput, lag, dead letters, spool, "
        "InfluxDB write latency and alarm.",
    ).time("now-6h", "now")
    d = d.annotations(alert_annotations(PLATFORM_ALERTS))
    for panel in (
        throughput(),
        lag(),
        write_latency(),
        spool(),
        deadletters_by_reason(),
        deadletters_total(),
        influx_alarm(),
        collectors(),
    ):
        d = d.with_panel(panel)
    return d
