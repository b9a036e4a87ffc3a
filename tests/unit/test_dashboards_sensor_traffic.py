"""The sensor-detail and traffic dashboards as built: their panels follow the kind registry, one
sensor at a time, every query filtered by zone and sensor.

What the queries return is tested against real InfluxDB in
tests/integration/test_dashboard_queries.py.
"""

from __future__ import annotations

import inspect
from typing import Any, get_args

import pytest

from api.routers.operations import dead_letters
from citydata import kinds
from citydata.health import DEADLETTERS
from citydata.kinds import Kind, Metric
from citydata.registry.model import Status
from dashboards.boards import sensor, traffic
from dashboards.build import build
from dashboards.common import TIMEZONE, metric_title, unit
from tests.grafana import panels, variables

SELECTED = '"zone" =~ /^$zone$/ AND "sensor_id" =~ /^$sensor$/'
NOISE = Kind(
    name="noise",
    title_en="Noise",
    title_th="เสียง",
    description="Sound level meter",
    offline_after_s=600.0,
    metrics=(Metric("laeq", "dBA", 0, 200, "Equivalent sound level", title_th="ระดับเสียงเฉลี่ย"),),
)


def _variable(model: dict[str, Any], name: str) -> dict[str, Any]:
    (var,) = [v for v in variables(model) if v["name"] == name]
    return var


def _panel(model: dict[str, Any], english: str) -> dict[str, Any]:
    (panel,) = [p for p in panels(model) if p["title"].split(" · ")[-1].startswith(english)]
    return panel


def _override(panel: dict[str, Any], name: str) -> dict[str, Any]:
    """The properties of the override matching field `name`, by id."""
    (found,) = [o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == name]
    return {p["id"]: p["value"] for p in found["properties"]}


def test_a_new_kind_gets_its_panels_without_editing_the_dashboard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registered = kinds.all_kinds()
    monkeypatch.setattr(kinds, "all_kinds", lambda: {**registered, NOISE.name: NOISE})
    model = build(sensor.NAME)
    assert "noise" in _variable(model, "sensor")["query"]
    assert "noise" in _variable(model, "kind")["query"]
    assert "laeq" in _variable(model, "metric")["regex"]
    readings = _panel(model, "Reading:")
    assert readings["repeat"] == "metric"
    assert "laeq" in readings["targets"][0]["query"]
    props = _override(readings, "noise.mean_laeq")
    assert props["displayName"] == "ระดับเสียงเฉลี่ย · Equivalent sound level"
    assert props["unit"] == "suffix: dBA"
    assert props["custom.insertNulls"] == 600_000


@pytest.mark.parametrize(
    "kind,metric",
    [(k, m) for k in kinds.all_kinds().values() for m in k.metrics],
    ids=lambda x: x.name,
)
def test_every_registered_metric_has_its_title_and_unit(kind: Kind, metric: Metric) -> None:
    props = _override(_panel(build(sensor.NAME), "Reading:"), sensor.series_name(kind, metric))
    assert props["displayName"] == metric_title(metric)
    assert props["unit"] == unit(metric)


def test_the_sensor_detail_shows_one_sensor_of_any_kind() -> None:
    model = build(sensor.NAME)
    one = _variable(model, "sensor")
    assert one["multi"] is False and not one.get("includeAll")
    for kind in kinds.all_kinds():
        assert kind in one["query"]
    hidden = [v["name"] for v in variables(model) if v.get("hide") == 2]
    assert {"kind", "metric", "api"} <= set(hidden)
    assert _variable(model, "metric")["current"]["value"] == ["$__all"]


def test_the_dead_letter_link_asks_the_api_about_the_sensor() -> None:
    """Per-reason counts are per collector: the sensor's own dead letters come from the API."""
    panel = _panel(build(sensor.NAME), "Dead letters")
    (link,) = panel["links"]
    assert "/operations/deadletters?sensor_id=${sensor" in link["url"]
    assert "sensor_id" in inspect.signature(dead_letters).parameters
    assert "not per sensor" in panel["description"]


@pytest.mark.parametrize("name", [sensor.NAME, traffic.NAME])
def test_every_sensor_query_is_filtered_by_zone_and_sensor(name: str) -> None:
    model = build(name)
    for panel in panels(model):
        for target in panel.get("targets", []):
            if DEADLETTERS in target["query"]:
                continue  # counted per collector, not per sensor (see its description)
            assert SELECTED in target["query"], (panel["title"], target["query"])


def test_the_class_mix_is_every_registered_class_but_the_total() -> None:
    q = _panel(build(traffic.NAME), "Vehicle class mix")["targets"][0]["query"]
    classes = [m.name for m in kinds.all_kinds()["traffic"].metrics if m.unit == "vehicles"]
    for name in classes:
        assert (f'sum("{name}")' in q) is (name != traffic.TOTAL), name


def test_hours_of_the_week_are_bangkok_hours() -> None:
    panel = _panel(build(traffic.NAME), "Volume by hour of the week")
    assert "GROUP BY time(1h)" in panel["targets"][0]["query"]
    (fmt,) = [t for t in panel["transformations"] if t["id"] == "formatTime"]
    assert fmt["options"]["timezone"] == TIMEZONE == "Asia/Bangkok"


def test_traffic_units() -> None:
    model = build(traffic.NAME)
    units = {
        p["title"].split(" · ")[-1]: p["fieldConfig"]["defaults"].get("unit")
        for p in panels(model)
        if p["type"] != "row"
    }
    assert units["Volume by detector"] == "suffix: veh/min"
    assert units["Mean speed against free-flow speed"] == "velocitykmh"
    assert units["Occupancy"] == "percent"


def test_every_registry_status_has_its_words() -> None:
    assert set(sensor.STATUS_WORDS) == set(get_args(Status))
