"""Alert rules as operators write them: the shipped file is valid, and every problem of a bad
file is reported at once, at its line and place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from citydata.alerts.rulefile import load_rules, parse_rules, rule_data, rule_from
from citydata.alerts.rules import INDEX_KIND, Compare, Outside, RulesError
from citydata.cli import main
from tests.alerting import SHIPPED, rules_text

GOOD: dict[str, Any] = {
    "name": "pm25-high",
    "title_th": "ฝุ่นสูง",
    "title_en": "PM2.5 high",
    "select": {"kind": "air", "zone": "town"},
    "value": {"metric": "pm25", "aggregate": "mean_1h"},
    "when": {"op": ">", "value": 75},
    "clear": {"op": "<", "value": 60},
    "for": "5m",
    "message_th": "{name}: {value} {unit}",
    "message_en": "{name}: {value} {unit}",
    "recipients": ["team"],
    "repeat": "3h",
}


def problems(rules: list[dict[str, Any]], recipients: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(rules_text(rules, recipients), "rules.yaml")
    return caught.value.problems


def test_the_shipped_rules_are_valid_and_cover_what_the_city_needs() -> None:
    found = load_rules(SHIPPED)
    names = {r.name for r in found.rules}
    assert {
        "aqi-level-4",
        "aqi-level-5",
        "river-watch",
        "river-warning",
        "river-critical",
        "do-below-class",
        "traffic-severe",
        "sensor-offline",
        "collector-silent",
        "influx-refusing",
        "influx-unreachable",
        "spool-filling",
        "deadletter-burst",
    } <= names
    do = next(r for r in found.rules if r.name == "do-below-class")
    assert do.for_ == 1800  # DO below the class for 30 minutes
    severe = next(r for r in found.rules if r.name == "traffic-severe")
    assert severe.for_ == 900
    engineers = {r.name for r in found.rules if "engineers" in r.recipients}
    assert {"sensor-offline", "collector-silent", "spool-filling"} <= engineers


def test_a_rule_round_trips_through_its_stored_form() -> None:
    rule = rule_from(GOOD)
    data = rule_data(rule)
    assert data["for"] == "5m" and data["repeat"] == "3h"
    assert rule_from(data) == rule


def test_every_problem_is_reported_with_its_line_and_place() -> None:
    bad = [
        GOOD | {"for": "soon"},
        GOOD | {"name": "Bad Name", "message_en": "{station}"},
        GOOD | {"name": "third", "recipients": ["nobody"]},
    ]
    found = problems(bad)
    text = yaml.safe_dump({"recipients": {}, "rules": bad})
    assert text  # the line numbers below are of rules_text's layout
    assert any(
        p.startswith("rules.yaml:") and "rules[0].for: 'soon' is not a duration" in p for p in found
    ), found
    assert any("rules[1].name:" in p for p in found), found
    assert any("rules[1].message_en: names unknown placeholders {station}" in p for p in found)
    assert len(found) == 3  # references are checked once the rules themselves are valid
    assert problems([GOOD | {"name": "third", "recipients": ["nobody"]}]) == [
        "rules.yaml: rules[0].recipients[0]: unknown recipient 'nobody' (team)"
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"value": {"metric": "level"}}, "air has no metric 'level'"),
        ({"select": {}}, "must name the kind"),
        ({"value": {"index": "congestion"}}, "the congestion index judges traffic stations"),
        ({"value": {"index": "water_margin"}, "select": {"kind": "water"}}, "needs a threshold"),
        ({"value": {"index": "aqi", "threshold": "watch"}}, "only for the water_margin"),
        ({"value": {"platform": "spool_fill"}}, "a platform rule selects no sensors"),
        ({"value": {"sum": "pm25"}}, "must name one of metric, index or platform"),
        ({"when": {"op": "=="}}, "Input should be"),
        ({"when": {"outside": [9, 5]}}, "low < high"),
        ({"clear": {"op": "<", "value": 80}}, "overlaps when"),
        ({"when": {"rise": 5, "over": "1h"}}, "a rise is judged on a metric's last value"),
        ({"repeat": "10s"}, "at least 1m"),
        ({"severity": "panic"}, "'info', 'warning' or 'critical'"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_incoherent_rules_are_refused_with_a_reason(change: dict[str, Any], message: str) -> None:
    found = problems([GOOD | change])
    assert any(message in p for p in found), found


def test_a_duplicate_name_and_a_recipient_without_address_are_refused() -> None:
    found = problems([GOOD, GOOD], {"team": {"lang": "th"}})
    assert any(
        "recipients.team: Value error, has no address" in p or "has no address" in p for p in found
    ), found
    found = problems([GOOD, GOOD])
    assert found == ["rules.yaml: rules[1].name: 'pm25-high' is used by an earlier rule"]


def test_recipient_addresses_are_checked() -> None:
    found = problems(
        [GOOD], {"team": {"line": ["@lamphaya"], "email": ["nobody"], "webhook": ["ftp://x"]}}
    )
    assert len(found) == 3 and all("recipients.team." in p for p in found), found


def test_conditions_hold_as_written() -> None:
    assert Compare(op=">=", value=4).holds(4) and not Compare(op=">", value=4).holds(4)
    assert Outside(outside=(6.5, 8.5)).holds(6.4) and not Outside(outside=(6.5, 8.5)).holds(6.5)
    assert set(INDEX_KIND) >= {
        "aqi",
        "aqi_level",
        "water_margin",
        "do_margin",
        "congestion",
        "offline",
    }


def test_alerts_check_lists_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(rules_text([GOOD | {"for": "soon", "severity": "panic"}]), encoding="utf-8")
    assert main(["alerts", "check", str(SHIPPED), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert f"{SHIPPED}: 15 rules, 4 recipients: valid" in out
    assert f"{bad}:" in err and "rules[0].for" in err and "rules[0].severity" in err
