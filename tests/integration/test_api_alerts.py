"""The alerts resource through the real app and registry: rules (create, replace, disable, every
problem of an invalid one), the alerts and history the alerts service writes, acknowledgement,
recipients and silences, with keys of each role."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from api.app import create_app
from api.routers.alert_rules import SERVER_FIELDS
from citydata.alerts.rulefile import load_rules, rule_data
from citydata.alerts.schema import rule_input_schema
from citydata.alerts.store import AlertState, AlertStore, Event, Transition
from citydata.influx import InfluxClient
from citydata.registry import Registry
from citydata.settings import Settings, load_settings
from tests.apiclient import TestClient, problem
from tests.helpers import api_key

pytestmark = pytest.mark.integration

RULES_FILE = Path(__file__).resolve().parents[2] / "deploy" / "alerts.yaml"
S = 1_000_000_000
NEW: dict[str, Any] = {
    "name": "pm10-hour-high",
    "title_th": "ฝุ่น PM10 เฉลี่ย 1 ชั่วโมงสูง",
    "title_en": "PM10 one-hour mean high",
    "select": {"kind": "air", "zone": "lam-phaya"},
    "value": {"metric": "pm10", "aggregate": "mean_1h"},
    "when": {"op": ">", "value": 120},
    "clear": {"op": "<", "value": 100},
    "for": "10m",
    "message_th": "{name}: PM10 {value} {unit}",
    "message_en": "{name}: PM10 {value} {unit}",
    "recipients": ["health", "engineers"],
}


@pytest.fixture
def api_settings(influx: InfluxClient, tmp_path: Path) -> Settings:
    """Settings whose registry holds the shipped rules and recipients (deploy/alerts.yaml)."""
    settings = load_settings(
        {}, influx_url=influx.url, influx_db=influx.database, data_dir=tmp_path / "var"
    )
    with Registry.from_settings(settings) as registry:
        AlertStore(registry).load(load_rules(RULES_FILE))
    return settings


@pytest.fixture
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


@pytest.fixture
def store(api_settings: Settings) -> Iterator[AlertStore]:
    """The app's alerts tables, for what the alerts service would write."""
    with Registry.from_settings(api_settings) as registry:
        yield AlertStore(registry)


@pytest.fixture
def operator(api_settings: Settings) -> dict[str, str]:
    return {"X-API-Key": api_key(api_settings, "operator")}


@pytest.fixture
def reader(api_settings: Settings) -> dict[str, str]:
    return {"X-API-Key": api_key(api_settings, "read")}


def _locs(response: Any) -> dict[tuple[str | int, ...], str]:
    """Each invalid input's place and message, from a 422 problem."""
    body = problem(response, 422)
    return {tuple(e["loc"]): e["msg"] for e in body["errors"]}


# --- rules -----------------------------------------------------------------------------------


def test_the_shipped_rules_are_listed_as_loaded(client: TestClient) -> None:
    items = client.get("/alerts/rules").json()["items"]
    shipped = load_rules(RULES_FILE).rules
    assert [r["name"] for r in items] == sorted(r.name for r in shipped)
    assert {r["origin"] for r in items} == {"file"}
    one = client.get("/alerts/rules/pm25-hour-high").json()
    expected = rule_data(next(r for r in shipped if r.name == "pm25-hour-high"))
    assert {k: v for k, v in one.items() if k in expected} == expected
    assert set(one) - set(expected) == {"origin", "created_at", "updated_at"}
    assert one["for"] == "5m" and one["repeat"] == "3h" and one["enabled"] is True
    problem(client.get("/alerts/rules/no-such-rule"), 404)


def test_create_replace_and_disable_a_rule(client: TestClient, operator: dict[str, str]) -> None:
    created = client.post("/alerts/rules", json=NEW, headers=operator)
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/alerts/rules/pm10-hour-high"
    body = created.json()
    assert body["origin"] == "api" and body["for"] == "10m" and body["enabled"] is True
    assert body["select"] == {"kind": "air", "zone": ["lam-phaya"]}
    assert client.get("/alerts/rules/pm10-hour-high").json() == body

    again = problem(client.post("/alerts/rules", json=NEW, headers=operator), 409)
    assert "pm10-hour-high" in again["detail"]

    changed = NEW | {"when": {"op": ">", "value": 150}, "severity": "critical"}
    replaced = client.put("/alerts/rules/pm10-hour-high", json=changed, headers=operator)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["when"] == {"op": ">", "value": 150.0}
    assert replaced.json()["severity"] == "critical"
    assert replaced.json()["created_at"] == body["created_at"]

    off = client.patch("/alerts/rules/pm10-hour-high", json={"enabled": False}, headers=operator)
    assert off.status_code == 200 and off.json()["enabled"] is False
    assert client.get("/alerts/rules/pm10-hour-high").json()["enabled"] is False
    on = client.patch("/alerts/rules/pm10-hour-high", json={"enabled": True}, headers=operator)
    assert on.json()["enabled"] is True and on.json()["when"]["value"] == 150.0


def test_changing_a_file_rule_makes_it_the_apis(
    client: TestClient, operator: dict[str, str], store: AlertStore
) -> None:
    off = client.patch("/alerts/rules/sensor-offline", json={"enabled": False}, headers=operator)
    assert off.json()["origin"] == "api"
    # loading the rules file again keeps the operator's change
    assert "sensor-offline" in store.load(load_rules(RULES_FILE)).kept
    assert client.get("/alerts/rules/sensor-offline").json()["enabled"] is False


def test_replace_refuses_another_name_and_unknown_rules(
    client: TestClient, operator: dict[str, str]
) -> None:
    rule = NEW | {"name": "pm25-hour-high"}
    locs = _locs(client.put("/alerts/rules/aqi-level-4", json=rule, headers=operator))
    assert list(locs) == [("body", "name")]
    assert "'aqi-level-4'" in locs[("body", "name")]
    answered = client.get("/alerts/rules/aqi-level-4").json()
    locs = _locs(client.put("/alerts/rules/aqi-level-4", json=answered, headers=operator))
    assert locs == {("body", k): "is set by the server; leave it out" for k in SERVER_FIELDS}
    problem(client.put("/alerts/rules/no-such-rule", json=NEW, headers=operator), 404)
    problem(
        client.patch("/alerts/rules/no-such-rule", json={"enabled": False}, headers=operator), 404
    )
    bad = client.patch("/alerts/rules/aqi-level-4", json={"enabled": "no"}, headers=operator)
    assert ("body", "enabled") in _locs(bad)


def test_an_invalid_rule_is_refused_with_every_problem_at_its_place(
    client: TestClient, operator: dict[str, str]
) -> None:
    rule = {k: v for k, v in NEW.items() if k != "message_en"} | {
        "for": "soon",
        "recipients": ["health", "nobody"],
        "message_th": "{name}: {pm10}",
        "colour": "red",
    }
    locs = _locs(client.post("/alerts/rules", json=rule, headers=operator))
    assert set(locs) == {
        ("body", "for"),
        ("body", "message_th"),
        ("body", "message_en"),
        ("body", "colour"),
        ("body", "recipients", 1),
    }
    assert "'soon' is not a duration" in locs[("body", "for")]
    assert "{pm10}" in locs[("body", "message_th")]
    assert "unknown recipient 'nobody'" in locs[("body", "recipients", 1)]
    odd = NEW | {"message_en": {}, "message_th": None, "when": ">= 4", "clear": [1, 2]}
    odd_locs = _locs(client.post("/alerts/rules", json=odd, headers=operator))
    assert (
        odd_locs[("body", "message_en")]
        == odd_locs[("body", "message_th")]
        == "Input should be a valid string"
    )
    assert odd_locs[("body", "when")].startswith("must be {op, value}")
    assert set(odd_locs) == {("body", k) for k in ("message_en", "message_th", "when", "clear")}
    assert client.get("/alerts/rules/pm10-hour-high").status_code == 404


def test_a_rule_incoherent_as_a_whole_lists_each_place(
    client: TestClient, operator: dict[str, str]
) -> None:
    """Checks of the rule as a whole (its source, its clear) are each at their own place."""
    rule = NEW | {"select": {}, "clear": {"op": ">", "value": 110}, "repeat": "10s"}
    response = client.post("/alerts/rules", json=rule, headers=operator)
    locs = _locs(response)
    assert set(locs) == {("body", "select", "kind"), ("body", "clear"), ("body", "repeat")}
    assert "must name the kind" in locs[("body", "select", "kind")]
    assert "overlaps" in locs[("body", "clear")]
    assert response.json()["detail"].startswith("body.select.kind: ")


def test_the_rule_schema_takes_every_shipped_rule(client: TestClient) -> None:
    """The documented body accepts the rules file's rules as rule_data writes them, durations
    as text or seconds, and one name where a list is read."""
    schema = client.get("/openapi.json").json()["paths"]["/alerts/rules"]["post"]
    body = schema["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == set(rule_input_schema()["properties"])
    assert [t["type"] for t in body["schema"]["properties"]["for"]["anyOf"]] == ["string", "number"]
    assert "$ref" not in str(body["schema"])
    validator = jsonschema_rs.validator_for(body["schema"])
    for rule in load_rules(RULES_FILE).rules:
        assert validator.is_valid(rule_data(rule)), rule.name
    for example in body["examples"].values():
        assert validator.is_valid(example["value"])
    assert validator.is_valid(NEW | {"for": 600, "select": {"kind": "air", "zone": "x"}})
    assert not validator.is_valid(NEW | {"for": True})
    assert not validator.is_valid(NEW | {"colour": "red"})


# --- access ----------------------------------------------------------------------------------


def test_writes_need_an_operator_key(
    client: TestClient, reader: dict[str, str], operator: dict[str, str]
) -> None:
    silence = {"rule": "aqi-level-4", "ends_at": _later(1), "reason": "test"}
    writes: list[tuple[str, str, Any]] = [
        ("POST", "/alerts/rules", NEW),
        ("PUT", "/alerts/rules/aqi-level-4", NEW | {"name": "aqi-level-4"}),
        ("PATCH", "/alerts/rules/aqi-level-4", {"enabled": False}),
        ("POST", "/alerts/aqi-level-4/lp-air-01/ack", None),
        ("POST", "/alerts/silences", silence),
        ("DELETE", "/alerts/silences/0123", None),
        ("GET", "/alerts/recipients", None),
    ]
    for method, path, body in writes:
        problem(client.request(method, path, json=body, headers=reader), 403)
        problem(client.request(method, path, json=body), 401)
    assert client.get("/alerts/rules/aqi-level-4").json()["enabled"] is True
    assert client.get("/alerts/recipients", headers=operator).status_code == 200


def test_reading_is_anonymous_when_enabled(client: TestClient, api_settings: Settings) -> None:
    reads = ["/alerts", "/alerts/history", "/alerts/rules", "/alerts/silences"]
    for path in reads:
        assert client.get(path).status_code == 200, path
    closed = api_settings.model_copy(update={"api_anonymous_read": False})
    with TestClient(create_app(closed)) as private:
        for path in reads:
            problem(private.get(path), 401)
        reader = {"X-API-Key": api_key(closed, "read")}
        assert private.get("/alerts/rules", headers=reader).status_code == 200


def test_recipients_with_their_channels_and_addresses(
    client: TestClient, operator: dict[str, str]
) -> None:
    items = {
        r["name"]: r for r in client.get("/alerts/recipients", headers=operator).json()["items"]
    }
    assert list(items) == ["disaster", "engineers", "health", "traffic"]
    assert items["engineers"] == {
        "name": "engineers",
        "lang": "both",
        "channels": ["email", "webhook"],
        "line": [],
        "email": ["engineers@lamphaya.example"],
        "webhook": ["https://hooks.lamphaya.example/citydata"],
    }
    assert items["traffic"]["channels"] == ["line"] and items["traffic"]["lang"] == "th"


# --- alerts now, history, acknowledgement ------------------------------------------------------


def _state(rule: str, subject: str, severity: str, since_ns: int, **more: Any) -> AlertState:
    info = {
        "severity": severity,
        "title_th": f"หัวข้อ {rule}",
        "title_en": f"Title {rule}",
        "name_th": f"สถานี {subject}",
        "name_en": f"Station {subject}",
        "kind": "water",
        "zone": "lam-phaya",
        "text_th": f"ข้อความ {subject}",
        "text_en": f"Message {subject}",
        "unit": "m",
    }
    return AlertState(rule, subject, more.pop("state", "firing"), since_ns, info=info, **more)


def _event(rule: str, subject: str, transition: Transition, time_ns: int) -> Event:
    return Event(time_ns, rule, subject, transition, "warning", 1.5, "ไทย", "English")


def _seed(store: AlertStore) -> int:
    """Three alerts and six events as the alerts service writes them; their base time."""
    t0 = (time.time_ns() // S - 3600) * S
    states = [
        _state("river-warning", "lp-water-01", "warning", t0 + 60 * S, firing_ns=t0 + 60 * S),
        _state("river-critical", "lp-water-02", "critical", t0 + 120 * S, firing_ns=t0 + 120 * S),
        _state("river-critical", "lp-water-01", "critical", t0, firing_ns=t0, value=2.3),
        _state("do-below-class", "lp-water-03", "warning", t0 + 30 * S, state="pending"),
    ]
    events = [
        _event("river-critical", "lp-water-01", "pending", t0 - 60 * S),
        _event("river-critical", "lp-water-01", "firing", t0),
        _event("do-below-class", "lp-water-03", "pending", t0 + 30 * S),
        _event("river-warning", "lp-water-01", "firing", t0 + 60 * S),
        _event("river-critical", "lp-water-02", "firing", t0 + 120 * S),
        _event("river-warning", "lp-water-04", "resolved", t0 + 180 * S),
    ]
    store.apply(states, [], events, [], t0 + 180 * S)
    return t0


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns / S, UTC).isoformat().replace("+00:00", "Z")


def _later(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def test_alerts_critical_first_then_oldest(client: TestClient, store: AlertStore) -> None:
    t0 = _seed(store)
    items = client.get("/alerts").json()["items"]
    assert [(a["rule"], a["subject"]) for a in items] == [
        ("river-critical", "lp-water-01"),
        ("river-critical", "lp-water-02"),
        ("do-below-class", "lp-water-03"),
        ("river-warning", "lp-water-01"),
    ]
    first = items[0]
    assert first["since"] == first["firing_since"] == _rfc3339(t0)
    assert first["value"] == 2.3 and first["acknowledged_by"] is None
    assert first["name_en"] == "Station lp-water-01" and first["text_th"] == "ข้อความ lp-water-01"
    assert first["unit"] == "m" and first["site"] is None
    assert items[2]["state"] == "pending" and items[2]["firing_since"] is None

    def subjects(query: str) -> list[str]:
        return [
            f"{a['rule']}/{a['subject']}" for a in client.get(f"/alerts?{query}").json()["items"]
        ]

    assert subjects("state=pending") == ["do-below-class/lp-water-03"]
    assert subjects("severity=warning&state=firing") == ["river-warning/lp-water-01"]
    assert subjects("rule=river-critical") == [
        "river-critical/lp-water-01",
        "river-critical/lp-water-02",
    ]
    assert "severity" in str(_locs(client.get("/alerts?severity=urgent")))


def test_an_alert_without_info_shows_its_rules_title_and_severity(
    client: TestClient, store: AlertStore
) -> None:
    store.apply([AlertState("aqi-level-5", "lp-air-01", "firing", time.time_ns())], [], [], [], 0)
    (alert,) = client.get("/alerts").json()["items"]
    assert alert["severity"] == "critical"
    assert alert["title_en"] == "Air quality affects health" and alert["text_en"] is None


def test_history_newest_first_in_pages(client: TestClient, store: AlertStore) -> None:
    t0 = _seed(store)
    page = client.get("/alerts/history?limit=4").json()
    assert [e["time_ns"] for e in page["items"]] == [t0 + d * S for d in (180, 120, 60, 30)]
    assert page["items"][0]["transition"] == "resolved"
    assert page["items"][0]["time"] == _rfc3339(t0 + 180 * S)
    assert page["next"] == f"/alerts/history?limit=4&before={page['items'][-1]['id']}"
    rest = client.get(page["next"]).json()
    assert [e["time_ns"] for e in rest["items"]] == [t0, t0 - 60 * S] and rest["next"] is None

    def times(query: str) -> list[int]:
        return [
            (e["time_ns"] - t0) // S for e in client.get(f"/alerts/history?{query}").json()["items"]
        ]

    assert times(f"since={_rfc3339(t0)}&until={_rfc3339(t0 + 120 * S)}") == [60, 30, 0]
    assert times("rule=river-critical&subject=lp-water-01") == [0, -60]
    one = client.get("/alerts/history?limit=1&rule=river-warning").json()
    assert (
        one["next"] == f"/alerts/history?limit=1&rule=river-warning&before={one['items'][0]['id']}"
    )
    locs = _locs(client.get("/alerts/history?since=yesterday&until=2026-01-01T00:00:00"))
    assert set(locs) == {("query", "since"), ("query", "until")}
    assert set(_locs(client.get("/alerts/history?limit=0"))) == {("query", "limit")}


def test_acknowledge_an_alert(
    client: TestClient, store: AlertStore, operator: dict[str, str]
) -> None:
    _seed(store)
    before = datetime.now(UTC)
    response = client.post("/alerts/river-critical/lp-water-02/ack", headers=operator)
    assert response.status_code == 200, response.text
    alert = response.json()
    assert alert["acknowledged_by"] == "test operator" and alert["state"] == "firing"
    assert datetime.fromisoformat(alert["acknowledged_at"]) >= before.replace(microsecond=0)
    (listed,) = [a for a in client.get("/alerts").json()["items"] if a["subject"] == "lp-water-02"]
    assert listed["acknowledged_by"] == "test operator"
    (event, *_) = client.get("/alerts/history").json()["items"]
    assert (event["transition"], event["by"], event["rule"], event["subject"]) == (
        "acknowledged",
        "test operator",
        "river-critical",
        "lp-water-02",
    )
    assert event["severity"] == "critical" and "test operator" in event["text_en"]
    gone = problem(client.post("/alerts/river-warning/lp-water-04/ack", headers=operator), 404)
    assert "lp-water-04" in gone["detail"]


# --- silences --------------------------------------------------------------------------------


def test_silences_created_listed_and_ended(client: TestClient, operator: dict[str, str]) -> None:
    body = {
        "rule": "sensor-offline",
        "subject": "lp-air-03",
        "ends_at": _later(2),
        "reason": "battery",
    }
    created = client.post("/alerts/silences", json=body, headers=operator)
    assert created.status_code == 201, created.text
    silence = created.json()
    assert created.headers["location"] == f"/alerts/silences/{silence['id']}"
    assert silence["active"] is True and silence["created_by"] == "test operator"
    assert silence["labels"] == {} and silence["reason"] == "battery"
    later = {
        "labels": {"team": "health"},
        "starts_at": _later(1),
        "ends_at": _later(3),
        "reason": "x",
    }
    future = client.post("/alerts/silences", json=later, headers=operator).json()
    assert future["active"] is False and future["rule"] is None

    def listed(query: str = "") -> list[str]:
        return [s["id"] for s in client.get(f"/alerts/silences{query}").json()["items"]]

    assert listed() == [future["id"], silence["id"]]
    assert listed("?active=true") == [silence["id"]]
    assert listed("?active=false") == [future["id"]]

    ended = client.delete(f"/alerts/silences/{silence['id']}", headers=operator)
    assert ended.status_code == 200 and ended.json()["active"] is False
    assert datetime.fromisoformat(ended.json()["ends_at"]) <= datetime.now(UTC)
    assert listed("?active=true") == []
    problem(client.delete("/alerts/silences/no-such-silence", headers=operator), 404)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"rule": "aqi-level-4", "ends_at": "2020-01-01T00:00:00Z", "reason": "x"}, ["ends_at"]),
        ({"rule": "aqi-level-4", "ends_at": "tomorrow", "reason": "x"}, ["ends_at"]),
        ({"rule": "aqi-level-4", "ends_at": "<in 1h>", "reason": "  "}, ["reason"]),
        ({"rule": "aqi-level-4", "ends_at": "<in 1h>"}, ["reason"]),
        ({"ends_at": "<in 1h>", "reason": "x", "labels": {}}, []),
        ({"rule": "Bad Name", "ends_at": "<in 1h>", "reason": "x"}, ["rule"]),
        ({"rule": "aqi-level-4", "ends_at": "<in 1h>", "reason": "x", "until": "x"}, ["until"]),
        (
            {"rule": "aqi-level-4", "starts_at": "<in 2h>", "ends_at": "<in 1h>", "reason": "x"},
            ["ends_at"],
        ),
        ({"subject": "a", "ends_at": "<in 1h>", "reason": "x", "labels": {"Team": "a"}}, None),
        ({"subject": "a", "ends_at": 4102444800, "reason": "x"}, ["ends_at"]),
    ],
)
def test_invalid_silences_are_refused(
    client: TestClient, operator: dict[str, str], body: dict[str, Any], where: list[str] | None
) -> None:
    """Each problem at its place (`[]`: the body as a whole; None: only where is checked)."""
    for key, value in body.items():
        if isinstance(value, str) and value.startswith("<in "):
            body[key] = _later(float(value[4]))
    locs = _locs(client.post("/alerts/silences", json=body, headers=operator))
    if where is None:
        assert all(loc[:2] == ("body", "labels") for loc in locs), locs
    else:
        expected: set[tuple[str, ...]] = {("body", w) for w in where} or {("body",)}
        assert set(locs) == expected, locs
    assert client.get("/alerts/silences").json()["items"] == []
