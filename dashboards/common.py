"""What every dashboard shares: the datasource, time zone, Thai-with-English titles, template
variables, units, the official colours, and small panel builders with those defaults."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import stat, statetimeline, table, timeseries
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from citydata.alerts.evaluate import MEASUREMENT as ALERTS_MEASUREMENT
from citydata.alerts.messages import SEVERITY
from citydata.aqi import AQI_BANDS
from citydata.aqi import LEVELS as AQI_LEVELS
from citydata.kinds import Kind, Metric
from citydata.retention import HOURLY_RP, hourly_measurement
from citydata.traffic import LEVELS as TRAFFIC_LEVELS
from citydata.water import STATUS_WORDS
from dashboards.influxql import InfluxQL

DATASOURCE_UID = "citydata-influxdb"  # dashboards/provisioning/datasources/citydata.yaml
DATASOURCE = dm.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)
TIMEZONE = "Asia/Bangkok"
TAGS = ["citydata"]
GREY = "#8E8E8E"  # offline, no data: never a colour a current value can have
# Water status colours, normal to overflow (DOMAIN.md section 3 names the statuses).
WATER_COLOURS = ("#00B050", "#FFD700", "#FF8C00", "#E00000", "#7030A0")

# Grafana unit ids for the kinds' units; anything else is shown as a suffix.
UNITS = {
    "°C": "celsius",
    "%": "percent",
    "km/h": "velocitykmh",
    "m³/s": "flowcms",
    "ppm": "ppm",
    "ppb": "ppb",
    "s": "s",
    "": "none",
}
# The filter of a panel of a zone's sensors (the time range, the zones and sensors chosen) and
# its grouping: one series per sensor, a point per interval.
WHERE_SELECTED = '$timeFilter AND "zone" =~ /^$zone$/ AND "sensor_id" =~ /^$sensor$/'
PER_SENSOR = 'GROUP BY time($__interval), "sensor_id"'
# Long-term panels read the hourly series (docs/retention.md), kept for ever; Grafana never
# asks them for buckets finer than an hour.
HOURLY_INTERVAL = "1h"
Targets = Sequence[cogbuilder.Builder[cogvariants.Dataquery]]
Panel = cogbuilder.Builder[dm.Panel]


def title(th: str, en: str) -> str:
    """Thai first, English after: every title and legend the operators read."""
    return f"{th} · {en}"


def unit(metric: Metric, datum: bool = False) -> str:
    """The Grafana unit of a metric; a water level is in metres above the datum (m MSL)."""
    if datum:
        return "suffix: m MSL"
    return UNITS.get(metric.unit, f"suffix: {metric.unit}")


def offline_gap_ms(kind: Kind) -> int:
    """A time series breaks its line where a sensor was silent longer than its kind's offline
    limit (Grafana's insertNulls, ms)."""
    return int(kind.offline_after_s * 1000)


def metric_title(metric: Metric) -> str:
    return title(metric.title_th, metric.description)


def kind_title(kind: Kind) -> str:
    return title(kind.title_th, kind.title_en)


def query(text: str, ref_id: str = "A", alias: str | None = None) -> InfluxQL:
    q = InfluxQL(text).ref_id(ref_id).datasource(DATASOURCE)
    return q.alias(alias) if alias is not None else q


def table_query(text: str, ref_id: str = "A") -> InfluxQL:
    return query(text, ref_id).result_format("table")


def new_dashboard(uid: str, th: str, en: str, description: str) -> db.Dashboard:
    """A dashboard with the house defaults: Bangkok time, last 24 h, refresh every minute."""
    return (
        db.Dashboard(title(th, en))
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .timezone(TIMEZONE)
        .time("now-24h", "now")
        .refresh("1m")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .week_start("monday")
        .link(
            db.DashboardLink(title("แดชบอร์ดอื่น", "Other dashboards"))
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .keep_time(True)
            .include_vars(True)
        )
    )


# --- template variables ---------------------------------------------------------------------


def zone_variable() -> db.QueryVariable:
    """Zones of every registered station (from the station snapshot), several at once."""
    return query_variable(
        "zone", title("พื้นที่", "Zone"), 'SHOW TAG VALUES FROM "city_station" WITH KEY = "zone"'
    )


def sensor_variable(measurement: str, multi: bool = True) -> db.QueryVariable:
    """The sensors of a measurement in the chosen zones."""
    q = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "sensor_id" WHERE "zone" =~ /^$zone$/'
    return query_variable("sensor", title("สถานี", "Sensor"), q, multi=multi)


def query_variable(name: str, label: str, q: str, multi: bool = True) -> db.QueryVariable:
    """A variable from an InfluxQL query, refreshed with the time range; several values and
    "All" when `multi`."""
    v = (
        db.QueryVariable(name)
        .label(label)
        .query(q)
        .datasource(DATASOURCE)
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(multi)
    )
    return v.include_all(True) if multi else v


# --- colours and value mappings ---------------------------------------------------------------


def steps(base: str, *edges: tuple[float, str]) -> db.ThresholdsConfig:
    """Absolute thresholds: `base` colour below the first edge, then each (edge, colour)."""
    rows = [dm.Threshold(value=None, color=base)]
    rows += [dm.Threshold(value=v, color=c) for v, c in edges]
    return db.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(rows)


def aqi_thresholds() -> db.ThresholdsConfig:
    """The PCD colour of each AQI band (0-25 blue ... 201- red)."""
    edges = [(float(band.lo), AQI_LEVELS[n].hex) for n, band in enumerate(AQI_BANDS, 1)][1:]
    return steps(AQI_LEVELS[1].hex, *edges)


def mapping(value: int, text: str, colour: str) -> dm.ValueMap:
    return dm.ValueMap(options={str(value): dm.ValueMappingResult(text=text, color=colour)})


def aqi_level_mappings() -> list[dm.ValueMapping]:
    return [
        mapping(n, title(level.name_th, level.name_en), level.hex)
        for n, level in AQI_LEVELS.items()
    ]


def water_status_mappings(offset: int = 0) -> list[dm.ValueMapping]:
    """status_rank 0-4 (or `state` 1-5 with offset 1) to its words and colour."""
    return [
        mapping(rank + offset, title(*words), WATER_COLOURS[rank])
        for rank, words in enumerate(STATUS_WORDS.values())
    ]


def traffic_mappings(offset: int = 0) -> list[dm.ValueMapping]:
    """severity 0-3 (or `state` 1-4 with offset 1) to its words and colour."""
    return [
        mapping(severity + offset, title(th, en), hex_)
        for severity, _colour, hex_, th, en in TRAFFIC_LEVELS.values()
    ]


def offline_mapping() -> dm.ValueMapping:
    return mapping(0, title("ออฟไลน์ / ไม่มีข้อมูล", "Offline / no data"), GREY)


def no_data_mapping() -> dm.ValueMapping:
    """Null (an interval without a point, from `fill(null)`) in grey as "no data": a state
    timeline must not carry the last state across a gap as if it were still current."""
    return dm.SpecialValueMap(
        options=dm.DashboardSpecialValueMapOptions(
            match=dm.SpecialValueMatch.NULL_AND_NAN,
            result=dm.ValueMappingResult(text=title("ไม่มีข้อมูล", "No data"), color=GREY),
        )
    )


STALE = 10  # added to a status or severity when its reading is stale (docs/derived.md `stale`)


def with_stale(scale: list[dm.ValueMapping]) -> list[dm.ValueMapping]:
    """A status scale (values 0..n-1) to words and colours; the same values + STALE, from a
    stale reading, in grey; null as "no data"."""
    stale = dm.RangeMap(
        options=dm.DashboardRangeMapOptions(
            from_val=STALE,
            to=STALE + len(scale) - 1,
            result=dm.ValueMappingResult(text=title("ข้อมูลเก่า", "Stale reading"), color=GREY),
        )
    )
    return [*scale, stale, no_data_mapping()]


# Grafana's named colours, so that they follow its light and dark themes.
SEVERITY_COLOURS = {"info": "blue", "warning": "orange", "critical": "red"}


def severity_mappings() -> list[dm.ValueMapping]:
    """An alert's severity (info, warning, critical) to its Thai and English word and colour."""
    return [
        dm.ValueMap(
            options={
                name: dm.ValueMappingResult(
                    text=title(th, en.capitalize()), color=SEVERITY_COLOURS[name]
                )
            }
        )
        for name, (th, en) in SEVERITY.items()
    ]


def colour_by_thresholds() -> db.FieldColor:
    return db.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS)


# --- field overrides and options shared by panels ---------------------------------------------


def dashed(colour: str | None = None) -> list[dm.DynamicConfigValue]:
    """Override properties for a reference line (a threshold, a class minimum): thin, dashed,
    optionally in a fixed colour."""
    values = [
        dm.DynamicConfigValue(id_val="custom.lineStyle", value={"fill": "dash", "dash": [10, 6]}),
        dm.DynamicConfigValue(id_val="custom.lineWidth", value=1),
    ]
    if colour is not None:
        values.append(
            dm.DynamicConfigValue(id_val="color", value={"mode": "fixed", "fixedColor": colour})
        )
    return values


def column(name: str, unit_: str | None = None) -> list[dm.DynamicConfigValue]:
    """Override properties naming a table column (Thai and English) and giving its unit."""
    values = [dm.DynamicConfigValue(id_val="displayName", value=name)]
    if unit_ is not None:
        values.append(dm.DynamicConfigValue(id_val="unit", value=unit_))
    return values


def merged() -> dm.DataTransformerConfig:
    """One table with a row per station: InfluxDB answers `GROUP BY "sensor_id"` with a series
    per station, which Grafana would otherwise show as separate tables."""
    return dm.DataTransformerConfig(id_val="merge", options={})


def newest() -> cb.ReduceDataOptions:
    """A stat or bar gauge showing each series' newest value (the SDK leaves calcs empty)."""
    return cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)


# --- panels -----------------------------------------------------------------------------------


def timeseries_panel(name: str, targets: Targets, unit_: str, height: int = 8) -> timeseries.Panel:
    """Lines, the legend as a table with last and mean, no data shown as "no data"."""
    return (
        timeseries.Panel()
        .title(name)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit_)
        .height(height)
        .span(12)
        .no_value(title("ไม่มีข้อมูล", "No data"))
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs(["lastNotNull", "mean", "max"])
        )
        .span_nulls(False)
        .line_width(2)
    )


def stat_panel(name: str, targets: Targets, unit_: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(name)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .unit(unit_)
        .height(6)
        .span(24)
        .no_value(title("ไม่มีข้อมูล", "No data"))
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .reduce_options(newest())
        .graph_mode(cm.BigValueGraphMode.NONE)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
    )


def state_timeline_panel(name: str, targets: Targets) -> statetimeline.Panel:
    return (
        statetimeline.Panel()
        .title(name)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .height(8)
        .span(24)
        .no_value(title("ไม่มีข้อมูล", "No data"))
        .show_value(cm.VisibilityMode.NEVER)
        .merge_values(True)
    )


def table_panel(name: str, targets: Targets) -> table.Panel:
    return (
        table.Panel()
        .title(name)
        .datasource(DATASOURCE)
        .targets(list(targets))
        .height(8)
        .span(24)
        .no_value(title("ไม่มีข้อมูล", "No data"))
    )


# --- alerts: the `alerts` measurement, one point per state change (citydata/alerts/evaluate.py) --

ALERTS = f'"{ALERTS_MEASUREMENT}"'
# Annotation colours: when an alert began firing, and when it resolved.
CHANGE_COLOURS = {"firing": "red", "resolved": "green"}
CHANGE_NAMES = {
    "firing": ("การแจ้งเตือนเริ่มขึ้น", "Alerts firing"),
    "resolved": ("การแจ้งเตือนกลับสู่ปกติ", "Alerts resolved"),
}


class InfluxAnnotation(dm.AnnotationTarget):
    """What Grafana's InfluxDB datasource runs for an annotation in InfluxQL mode (the target
    its annotation editor saves): a raw query with `$timeFilter`, and which of the columns it
    returns are each event's title, text and tags (`tagsColumn`: names separated by commas).
    The SDK's target models only the fields of Grafana's own annotation store."""

    def __init__(self, query: str, title_column: str, text_column: str, tags: list[str]) -> None:
        super().__init__()
        self.query = query
        self.title_column = title_column
        self.text_column = text_column
        self.tags_columns = tags

    def to_json(self) -> dict[str, object]:
        return {
            "refId": "Anno",
            "query": self.query,
            "rawQuery": True,
            "fromAnnotations": True,
            "titleColumn": self.title_column,
            "textColumn": self.text_column,
            "tagsColumn": ",".join(self.tags_columns),
        }


class _Built(cogbuilder.Builder[dm.AnnotationTarget]):
    """A target made already, for the SDK's `AnnotationQuery.target`, which takes a builder."""

    def __init__(self, target: dm.AnnotationTarget) -> None:
        self._internal = target

    def build(self) -> dm.AnnotationTarget:
        return self._internal


def alert_annotations(where: str = "") -> list[cogbuilder.Builder[dm.AnnotationQuery]]:
    """Each alert's changes to firing (red) and to resolved (green) as annotations: the rule's
    Thai title, the Thai message for its subject, and the rule, severity and subject as tags.
    `where`: InfluxQL conditions choosing the alerts (a kind, the chosen sensors)."""
    out: list[cogbuilder.Builder[dm.AnnotationQuery]] = []
    for state, colour in CHANGE_COLOURS.items():
        q = (
            f'SELECT "title", "text", "rule", "severity", "sensor_id" FROM {ALERTS} '
            f"WHERE $timeFilter AND \"state\" = '{state}'" + (f" AND {where}" if where else "")
        )
        target = InfluxAnnotation(q, "title", "text", ["rule", "severity", "sensor_id"])
        out.append(
            db.AnnotationQuery()
            .name(title(*CHANGE_NAMES[state]))
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color(colour)
            .target(_Built(target))
        )
    return out


def kind_alert_annotations(kind: str) -> list[cogbuilder.Builder[dm.AnnotationQuery]]:
    """A kind's board marks the alerts of that kind about the chosen sensors."""
    return alert_annotations(f'"kind" = \'{kind}\' AND "sensor_id" =~ /^$sensor$/')


# --- long term: the hourly series ------------------------------------------------------------
# Raw readings are kept for CITYDATA_INFLUX_RAW_RETENTION (2 years by default); each kind's
# hourly mean, min, max and count per metric for ever (`"forever"."<kind>_1h"`, fields
# mean_<m>, min_<m>, max_<m>, count_<m>). These queries give, per sensor and bucket, exactly what
# the same aggregate of the raw readings gives: a mean weights each hour by its count of
# readings, a sum is each hour's mean times its count.


def hourly_source(kind: str) -> str:
    """The hourly series of `kind`, a kind's name or a variable ("${kind}")."""
    return f'"{HOURLY_RP}"."{hourly_measurement(kind)}"'


def hourly_mean(kind: str, metric: str, name: str, where: str = WHERE_SELECTED) -> str:
    """The mean of `metric` per interval per sensor, as the raw readings' mean."""
    inner = (
        f'SELECT "mean_{metric}" * "count_{metric}" AS "s", "count_{metric}" AS "c" '
        f"FROM {hourly_source(kind)} WHERE {where}"
    )
    return f'SELECT sum("s") / sum("c") AS "{name}" FROM ({inner}) WHERE $timeFilter {_PER_HOURS}'


def hourly_ratio(kind: str, numerator: str, denominator: str, name: str, scale: float = 1) -> str:
    """sum(numerator) / (sum(denominator) / scale) per interval per sensor, as over the raw
    readings (traffic's vehicles per minute: count over interval_s / 60)."""
    inner = (
        f'SELECT "mean_{numerator}" * "count_{numerator}" AS "n", '
        f'"mean_{denominator}" * "count_{denominator}" AS "d" '
        f"FROM {hourly_source(kind)} WHERE {WHERE_SELECTED}"
    )
    return (
        f'SELECT sum("n") / (sum("d") / {scale:g}) AS "{name}" FROM ({inner}) '
        f"WHERE $timeFilter {_PER_HOURS}"
    )


def hourly_extreme(kind: str, metric: str, fn: str, name: str, where: str = WHERE_SELECTED) -> str:
    """The min or max (`fn`) of `metric` per interval per sensor, as over the raw readings."""
    return (
        f'SELECT {fn}("{fn}_{metric}") AS "{name}" FROM {hourly_source(kind)} WHERE {where} '
        f"{_PER_HOURS}"
    )


_PER_HOURS = f"{PER_SENSOR} fill(none)"

LONG_TERM = (
    "ระยะยาว: ค่ารายชั่วโมง เก็บตลอดไป",
    "Long term: hourly values, kept for ever",
)
LONG_TERM_NOTE = (
    "From the hourly series the database keeps for ever (docs/retention.md), so a chart of "
    "years reads one point per hour instead of every reading; the values are those of the raw "
    "readings. Up to the last whole hour; the raw panels above show the minutes since."
)


def long_term_panel(name: str, targets: Targets, unit_: str) -> timeseries.Panel:
    """A chart over the hourly series: never finer than an hour, a gap where an hour is
    missing."""
    return (
        timeseries_panel(name, targets, unit_)
        .description(LONG_TERM_NOTE)
        .interval(HOURLY_INTERVAL)
        .insert_nulls(2 * 3600 * 1000)
    )


def long_term_means(kind: str, metrics: Iterable[Metric]) -> list[Panel]:
    """One long-term chart per metric of `kind`: the hourly mean per sensor."""
    return [
        long_term_panel(
            metric_title(m),
            [query(hourly_mean(kind, m.name, m.name), "A", "$tag_sensor_id")],
            unit(m),
        )
        for m in metrics
    ]
