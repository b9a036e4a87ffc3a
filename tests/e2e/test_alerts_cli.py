"""`citydata alerts ...` and `citydata derive --alerts` as operators run them: a rule that
fires on the readings reaches a LINE server (a local fake that checks LINE's rules) from a
real process; a bad rules file stops the service at start with every problem listed; the
channel test sends one message per address."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from citydata.influx import InfluxClient
from citydata.lineprotocol import encode_point
from citydata.registry import Registry
from tests.alert_servers import LINE_TOKEN, FakeLine
from tests.alerting import rules_text
from tests.e2e.test_cli import citydata
from tests.helpers import make_station

pytestmark = pytest.mark.e2e
GROUP = "C" + "5" * 32
RULE = {
    "name": "pm25-now",
    "title_th": "ฝุ่น PM2.5 สูง",
    "title_en": "PM2.5 high",
    "select": {"kind": "air"},
    "value": {"metric": "pm25"},
    "when": {"op": ">", "value": 75},
    "clear": {"op": "<", "value": 60},
    "message_th": "{name}: PM2.5 {value} {unit}",
    "message_en": "{name}: PM2.5 {value} {unit}",
    "recipients": ["health"],
}


def _env(influx: InfluxClient, tmp_path: Path, line: FakeLine, rules: Path) -> dict[str, str]:
    return {
        "CITYDATA_INFLUX_URL": influx.url,
        "CITYDATA_INFLUX_DB": influx.database,
        "CITYDATA_DATA_DIR": str(tmp_path / "var"),
        "CITYDATA_ALERTS_RULES_FILE": str(rules),
        "CITYDATA_ALERTS_LINE_API_URL": line.url,
        "CITYDATA_ALERTS_LINE_TOKEN": LINE_TOKEN,
    }


@pytest.fixture
def line() -> Iterator[FakeLine]:
    with FakeLine() as fake:
        yield fake
    assert not fake.problems


def _registered(env: dict[str, str], tmp_path: Path) -> None:
    """air-1 in the registry the commands of `env` read (CITYDATA_DATA_DIR/registry.db)."""
    with Registry.open(f"sqlite:///{env['CITYDATA_DATA_DIR']}/registry.db") as registry:
        registry.add(make_station("air-1", "air"))


@pytest.mark.parametrize("command", [("derive", "--alerts", "--once"), ("alerts", "run", "--once")])
def test_a_reading_over_the_line_reaches_line_from_the_service(
    influx: InfluxClient, tmp_path: Path, line: FakeLine, command: tuple[str, ...]
) -> None:
    rules = tmp_path / "alerts.yaml"
    rules.write_text(rules_text([RULE], {"health": {"lang": "th", "line": [GROUP]}}), "utf-8")
    env = _env(influx, tmp_path, line, rules)
    _registered(env, tmp_path)
    now = time.time_ns()
    influx.write_lines(
        [encode_point("air", {"sensor_id": "air-1"}, {"pm25": 150.0}, now - 90 * 10**9)]
    )
    proc = citydata(*command, env=env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out, err)
    [(_, push)] = line.pushes
    assert push["to"] == GROUP
    text = push["messages"][0]["text"]
    assert text.startswith("[เตือน] ฝุ่น PM2.5 สูง: 1 จุด") and "สถานี air-1: PM2.5 150 µg/m³" in text
    listed = citydata("alerts", "list", env=env)
    out, err = listed.communicate(timeout=60)
    assert "firing" in out and "pm25-now" in out and "air-1" in out, (out, err)
    written = influx.records('SELECT "state", "active" FROM "alerts"')
    assert [(r["state"], r["active"]) for r in written] == [("firing", 1.0)]


def test_a_bad_rules_file_stops_the_service_listing_every_problem(
    influx: InfluxClient, tmp_path: Path, line: FakeLine
) -> None:
    rules = tmp_path / "alerts.yaml"
    bad = RULE | {"for": "a while", "recipients": ["nobody"], "severity": "panic"}
    rules.write_text(rules_text([bad], {"health": {"line": [GROUP]}}), "utf-8")
    proc = citydata("alerts", "run", env=_env(influx, tmp_path, line, rules))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert "rules[0].for" in err and "rules[0].severity" in err and f"{rules}:" in err


def test_alerts_test_sends_one_message_per_address_and_says_what_each_answered(
    influx: InfluxClient, tmp_path: Path, line: FakeLine
) -> None:
    rules = tmp_path / "alerts.yaml"
    other = "U" + "6" * 32
    rules.write_text(
        rules_text([RULE], {"health": {"line": [GROUP, other]}, "x": {"email": ["a@b.org"]}}),
        "utf-8",
    )
    env = _env(influx, tmp_path, line, rules)
    loaded = citydata("alerts", "load", str(rules), env=env)
    out, err = loaded.communicate(timeout=60)
    assert loaded.returncode == 0 and "added: pm25-now" in out, (out, err)
    proc = citydata("alerts", "test", "--channel", "line", env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (out, err)
    assert f"{GROUP}: sent" in out and f"{other}: sent" in out
    assert sorted(body["to"] for _, body in line.pushes) == sorted([GROUP, other])
    nomail = citydata("alerts", "test", "--channel", "email", env=env)
    out, err = nomail.communicate(timeout=60)
    assert nomail.returncode == 2 and "not configured" in err
