"""The dashboards as built: committed JSON up to date, one datasource, the house defaults.

What each query returns is tested against real InfluxDB in
tests/integration/test_dashboard_queries.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from citydata.cli import main
from citydata.kinds import all_kinds
from dashboards.build import JSON_DIR, PROVISIONING_DIR, build_all, stale, text
from dashboards.common import DATASOURCE_UID, TIMEZONE
from tests.grafana import panels, targets, variables

MODELS = build_all()
THAI = re.compile("[\u0e00-\u0e7f]")
# Dashboards of one place's stations choose zone and sensor; platform health is city-wide.
CITY_WIDE = {"platform"}


def test_the_committed_json_is_a_fresh_build() -> None:
    """Regenerate with `citydata dashboards build` after changing dashboards/boards/."""
    assert stale(MODELS) == []


def test_build_check_fails_on_a_changed_file(tmp_path: Path) -> None:
    for name, model in MODELS.items():
        (tmp_path / f"{name}.json").write_text(text(model), encoding="utf-8")
    assert main(["dashboards", "build", "--check", "--out", str(tmp_path)]) == 0
    first = next(iter(MODELS))
    (tmp_path / f"{first}.json").write_text("{}\n", encoding="utf-8")
    assert main(["dashboards", "build", "--check", "--out", str(tmp_path)]) == 1


def test_build_writes_the_named_dashboard(tmp_path: Path) -> None:
    name = next(iter(MODELS))
    assert main(["dashboards", "build", name, "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [f"{name}.json"]
    assert (tmp_path / f"{name}.json").read_text(encoding="utf-8") == (
        JSON_DIR / f"{name}.json"
    ).read_text(encoding="utf-8")


def test_an_unknown_dashboard_is_one_line_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboards", "build", "nope", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nope'" in err and "platform" in err
    assert not list(tmp_path.iterdir())


def test_every_panel_queries_the_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (PROVISIONING_DIR / "datasources" / "citydata.yaml").read_text(encoding="utf-8")
    )
    uids = [d["uid"] for d in provisioned["datasources"]]
    assert uids == [DATASOURCE_UID]
    for name, model in MODELS.items():
        for panel in panels(model):
            if panel.get("type") in ("row", "text"):
                continue
            assert panel["datasource"]["uid"] == DATASOURCE_UID, (name, panel["title"])
        for target in targets(name, model):
            assert target.datasource_uid == DATASOURCE_UID, target.id
        for var in variables(model):
            if var["type"] == "query":
                assert var["datasource"]["uid"] == DATASOURCE_UID, (name, var["name"])
        for annotation in _annotations(model):
            assert annotation["datasource"]["uid"] == DATASOURCE_UID, (name, annotation["name"])


def test_the_dashboard_provider_loads_the_json_folder() -> None:
    provider = yaml.safe_load(
        (PROVISIONING_DIR / "dashboards" / "citydata.yaml").read_text(encoding="utf-8")
    )
    (entry,) = provider["providers"]
    assert entry["type"] == "file" and entry["options"]["path"]


@pytest.mark.parametrize("name", list(MODELS))
def test_house_defaults(name: str) -> None:
    model: dict[str, Any] = MODELS[name]
    assert model["uid"] and model["timezone"] == TIMEZONE
    assert THAI.search(model["title"]) and " · " in model["title"]
    for panel in panels(model):
        assert THAI.search(panel["title"]) and " · " in panel["title"], panel["title"]
        if panel.get("type") in ("timeseries", "stat", "bargauge", "gauge"):
            assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
    names = [v["name"] for v in variables(model)]
    if name not in CITY_WIDE:
        assert "zone" in names, name


def _annotations(model: dict[str, Any]) -> list[dict[str, Any]]:
    return list(model.get("annotations", {}).get("list", []))


# Each board's alert marks: which alerts (beyond their state) each shows.
ALERT_FILTERS = {
    "overview": '"sensor_id" =~ /^$in_zone$/ OR "sensor_id" !~ /^$stations$/',
    "air": '"kind" = \'air\' AND "sensor_id" =~ /^$sensor$/',
    "water": '"kind" = \'water\' AND "sensor_id" =~ /^$sensor$/',
    "traffic": '"kind" = \'traffic\' AND "sensor_id" =~ /^$sensor$/',
    "platform": "\"kind\" = 'platform'",
}


@pytest.mark.parametrize("name", list(ALERT_FILTERS))
def test_alerts_are_marked_red_when_firing_and_green_when_resolved(name: str) -> None:
    """Grafana's InfluxDB annotation target: the query and the columns of each event's title,
    text and tags, every one of them selected by the query."""
    found = {a["iconColor"]: a for a in _annotations(MODELS[name])}
    assert set(found) == {"red", "green"}, name
    for colour, state in (("red", "firing"), ("green", "resolved")):
        annotation = found[colour]
        assert THAI.search(annotation["name"]) and " · " in annotation["name"]
        assert annotation["enable"] is True
        target = annotation["target"]
        assert target["fromAnnotations"] is True and target["rawQuery"] is True
        q = target["query"]
        assert "$timeFilter" in q and f"\"state\" = '{state}'" in q and ALERT_FILTERS[name] in q
        selected = re.findall(r'"(\w+)"', q.split(" FROM ")[0])
        columns = [target["titleColumn"], target["textColumn"], *target["tagsColumn"].split(",")]
        assert sorted(columns) == sorted(selected), (name, columns)


def test_the_firing_list_colours_each_severity() -> None:
    (panel,) = [p for p in panels(MODELS["overview"]) if p["title"].endswith("Firing alerts")]
    (override,) = [
        o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == "severity"
    ]
    (mappings,) = [p["value"] for p in override["properties"] if p["id"] == "mappings"]
    colours = {k: v["color"] for m in mappings for k, v in m["options"].items()}
    assert colours == {"critical": "red", "warning": "orange", "info": "blue"}
    assert panel["fieldConfig"]["defaults"]["noValue"] == "ไม่มีการแจ้งเตือน · No alerts firing"


def test_every_kind_and_metric_has_thai_and_english_titles() -> None:
    for kind in all_kinds().values():
        assert THAI.search(kind.title_th) and kind.title_en, kind.name
        for metric in kind.metrics:
            assert THAI.search(metric.title_th) and metric.description, (kind.name, metric.name)
