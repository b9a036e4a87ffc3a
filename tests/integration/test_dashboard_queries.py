"""Every panel's every query and every annotation query, as Grafana would send them, against a
real InfluxDB holding the simulated city's last 2 days (the `city` fixture: the Lam Phaya fleet
through a real collector, dead letters, the collector's health points, the derived series and
the alert state changes of the last 2 hours).

Grafana cannot run here; this is the proof that the dashboards show data. The cases are read
from the built dashboards, so a new panel is checked without new test code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from citydata.alerts.evaluate import MEASUREMENT as ALERTS
from citydata.influx import InfluxClient
from citydata.kinds import all_kinds
from citydata.retention import HOUR_NS
from dashboards.boards.traffic import TOTAL
from dashboards.build import build_all
from dashboards.common import hourly_extreme, hourly_mean, hourly_ratio
from tests.city import FIRING_RULES, RESOLVED_RULES, City
from tests.grafana import Target, duration_ns, panels, resolve, targets, variables
from tests.grafana import expand as grafana_expand

pytestmark = pytest.mark.integration

MODELS = build_all()
TARGETS = [t for name, model in MODELS.items() for t in targets(name, model)]


def annotation_targets(name: str, model: dict[str, Any]) -> Iterator[tuple[Target, dict[str, Any]]]:
    """Each annotation query of a dashboard (Grafana's InfluxDB annotation target: the query
    and its title, text and tags columns), as a Target, with that target."""
    for annotation in model.get("annotations", {}).get("list", []):
        target = annotation.get("target") or {}
        if "query" in target:
            uid = annotation["datasource"]["uid"]
            yield Target(name, annotation["name"], "annotation", target["query"], uid), target


ANNOTATIONS = [a for name, model in MODELS.items() for a in annotation_targets(name, model)]
TIME_FILTER = "time >= now() - 2d"  # the dashboards' range widened to the city's 2 days
CITY_RANGE = "2d"
INTERVAL = "5m"  # what Grafana picks for 2 days on a ~600-pixel panel


def _values(influx: InfluxClient, q: str) -> list[str]:
    """The values a variable query offers."""
    out = []
    for series in influx.query(q):
        # Grafana's column of each SHOW: TAG VALUES "value", FIELD KEYS "fieldKey",
        # MEASUREMENTS "name"; else the last column.
        column = next(
            (c for c in ("value", "fieldKey", "name") if c in series.columns), series.columns[-1]
        )
        out += [str(row[column]) for row in series.records()]
    return sorted(set(out))


@pytest.fixture(scope="module")
def resolved(city: Any) -> dict[str, dict[str, list[str]]]:
    """Each dashboard's variables with every value they offer (Grafana's "All")."""
    return {
        name: resolve(model, lambda q: _values(city.influx, q), TIME_FILTER, INTERVAL)
        for name, model in MODELS.items()
    }


def test_there_are_panels_to_check() -> None:
    assert len(TARGETS) >= 30, [t.id for t in TARGETS]


@pytest.mark.parametrize(
    "name,var", [(n, v["name"]) for n, m in MODELS.items() for v in variables(m)]
)
def test_each_template_variable_offers_values(
    name: str, var: str, resolved: dict[str, dict[str, list[str]]]
) -> None:
    assert resolved[name][var], f"{name}: ${var} offers nothing"


def _with_values(influx: InfluxClient, q: str) -> list[Any]:
    """The series of `q` with at least one value besides the time."""
    return [
        s
        for s in influx.query(q)
        if any(
            v is not None
            for row in s.values
            for column, v in zip(s.columns, row, strict=True)
            if column != "time"
        )
    ]


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_each_panel_query_returns_values(
    target: Target, city: Any, resolved: dict[str, dict[str, list[str]]]
) -> None:
    # A panel's own window ("now" panels: the last 2 h or 15 min) ends at the city's last
    # round of readings, as if Grafana's clock stood there; health points come later.
    window = duration_ns(target.time_from or CITY_RANGE)
    time_filter = f"time > {city.end_ns - window}"
    q = grafana_expand(target.query, resolved[target.dashboard], time_filter, INTERVAL)
    assert _with_values(city.influx, q), f"no series with values for {q}"


def test_there_are_alert_annotations_on_the_overview_and_each_kind_and_platform_board() -> None:
    boards = {t.dashboard for t, _ in ANNOTATIONS}
    assert boards >= {"overview", "air", "water", "traffic", "platform"}, boards


@pytest.mark.parametrize(
    "target,annotation",
    [pytest.param(t, a, id=t.id) for t, a in ANNOTATIONS],
)
def test_each_annotation_query_returns_events(
    target: Target,
    annotation: dict[str, Any],
    city: City,
    resolved: dict[str, dict[str, list[str]]],
) -> None:
    """Grafana expands `$timeFilter` to the dashboard's range and the variables as in panels,
    then reads each row as an event: its title, text and tags from the named columns."""
    q = grafana_expand(target.query, resolved[target.dashboard], TIME_FILTER, INTERVAL)
    series = _with_values(city.influx, q)
    assert series, f"no events for {q}"
    wanted = {annotation["titleColumn"], annotation["textColumn"]}
    wanted |= set(annotation["tagsColumn"].split(","))
    for s in series:
        assert wanted <= set(s.columns), (wanted, s.columns)


# --- the firing list and the zone ---------------------------------------------------------------


def _overview_query(english: str) -> str:
    """The query of the overview's panel or annotation whose English title is `english`."""
    found = [t for t in TARGETS if t.dashboard == "overview"]
    found += [t for t, _ in ANNOTATIONS if t.dashboard == "overview"]
    (q,) = [t.query for t in found if t.panel.endswith(english)]
    return q


def test_the_firing_list_is_every_alert_whose_latest_change_is_to_firing(
    city: City, resolved: dict[str, dict[str, list[str]]]
) -> None:
    q = grafana_expand(
        _overview_query("Firing alerts"), resolved["overview"], TIME_FILTER, INTERVAL
    )
    rows = city.influx.records(q)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for point in city.influx.records(f'SELECT * FROM "{ALERTS}"'):  # oldest first
        latest[(point["rule"], point["sensor_id"])] = point
    firing = {key: p for key, p in latest.items() if p["state"] == "firing"}
    # the city's rules that fired and resolved later are gone, the ones still firing listed
    assert {rule for rule, _ in firing} == set(FIRING_RULES)
    assert {rule for (rule, _), p in latest.items() if p["state"] == "resolved"} == set(
        RESOLVED_RULES
    )
    assert sorted((r["time"], r["sensor_id"], r["title"], r["text"]) for r in rows) == sorted(
        (p["time"], subject, p["title"], p["text"]) for (_, subject), p in firing.items()
    )  # "time" is the time of the change to firing
    # InfluxDB 1.x gives the rows of a subquery in its series' order (it ignores ORDER BY
    # time there); the table shows them newest first, sorted by its "Since" column, the time.
    (panel,) = [p for p in panels(MODELS["overview"]) if p["title"].endswith("Firing alerts")]
    since = next(o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == "Time")[
        "properties"
    ][0]["value"]
    assert panel["options"]["sortBy"] == [{"displayName": since, "desc": True}]
    assert {r["severity"] for r in rows} == {"info", "warning", "critical"}


def test_with_a_zone_chosen_the_alerts_are_its_stations_and_the_platform(
    city: City, resolved: dict[str, dict[str, list[str]]]
) -> None:
    """The city is one zone: as if a zone held only two of its stations."""
    values = resolved["overview"] | {"in_zone": ["lp-air-01", "lp-traffic-02"]}
    q = grafana_expand(_overview_query("Firing alerts"), values, TIME_FILTER, INTERVAL)
    assert {r["sensor_id"] for r in city.influx.records(q)} == {"lp-air-01", "lp-traffic-02"}
    q = grafana_expand(_overview_query("Alerts firing"), values, TIME_FILTER, INTERVAL)
    subjects = {r["sensor_id"] for r in city.influx.records(q)}
    assert subjects == {"lp-air-01", "lp-traffic-02", "influxdb"}  # the platform's, everywhere


def test_nothing_firing_is_the_no_alerts_message_not_an_error(
    influx: InfluxClient, resolved: dict[str, dict[str, list[str]]]
) -> None:
    """A database without alerts (a new town, or all quiet): no rows, and Grafana shows the
    panel's no-value text."""
    q = grafana_expand(
        _overview_query("Firing alerts"), resolved["overview"], TIME_FILTER, INTERVAL
    )
    assert influx.query(q) == []
    (panel,) = [p for p in panels(MODELS["overview"]) if p["title"].endswith("Firing alerts")]
    assert panel["fieldConfig"]["defaults"]["noValue"] == "ไม่มีการแจ้งเตือน · No alerts firing"


# --- long term: the hourly series give what the raw readings give ----------------------------


def _by_series(influx: InfluxClient, q: str) -> dict[tuple[tuple[str, str], ...], list[Any]]:
    return {tuple(sorted((s.tags or {}).items())): s.values for s in influx.query(q)}


def _same(raw: dict[Any, list[Any]], hourly: dict[Any, list[Any]]) -> int:
    """The values compared; fails on any difference beyond float rounding."""
    assert raw.keys() == hourly.keys()
    compared = 0
    for key, rows in raw.items():
        assert [t for t, _ in rows] == [t for t, _ in hourly[key]], key
        for (t, a), (_, b) in zip(rows, hourly[key], strict=True):
            assert b == pytest.approx(a, rel=1e-9, abs=1e-9), (key, t)
            compared += 1
    return compared


@pytest.mark.parametrize("kind", sorted(all_kinds()))
@pytest.mark.parametrize("every", ["1h", "1d"])
def test_the_long_term_queries_give_what_the_raw_readings_give(
    kind: str, every: str, city: City, resolved: dict[str, dict[str, list[str]]]
) -> None:
    """For every metric of the kind, over whole hours both hold: the long-term panels' mean,
    min and max from the hourly series equal the raw readings' own, bucket by bucket."""
    start = (city.start_ns // HOUR_NS + 1) * HOUR_NS
    window = f"time >= {start} AND time < {city.hourly_before_ns}"

    def run(q: str) -> dict[tuple[tuple[str, str], ...], list[Any]]:
        return _by_series(city.influx, grafana_expand(q, resolved[kind], window, every))

    compared = 0
    for m in all_kinds()[kind].metrics:
        raw = f'FROM "{kind}" WHERE $timeFilter GROUP BY time($__interval), "sensor_id" fill(none)'
        compared += _same(
            run(f'SELECT mean("{m.name}") {raw}'), run(hourly_mean(kind, m.name, "x"))
        )
        for fn in ("min", "max"):
            hourly = hourly_extreme(kind, m.name, fn, "x")
            compared += _same(run(f'SELECT {fn}("{m.name}") {raw}'), run(hourly))
    if kind == "traffic":  # vehicles per minute
        raw_volume = (
            f'SELECT sum("{TOTAL}") / (sum("interval_s") / 60) FROM "traffic" WHERE $timeFilter '
            'GROUP BY time($__interval), "sensor_id" fill(none)'
        )
        hourly_volume = hourly_ratio(kind, TOTAL, "interval_s", "x", scale=60)
        compared += _same(run(raw_volume), run(hourly_volume))
    assert compared > 50  # the city holds two days of each kind


def test_each_kind_board_and_the_sensor_board_chart_the_hourly_series() -> None:
    hourly = {t.dashboard for t in TARGETS if '"forever".' in t.query}
    assert hourly == {*all_kinds(), "sensor"}, hourly
