"""The state machine of one rule and subject, and the words of its messages: pure functions of
the clock they are given."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from citydata.alerts.messages import Group, notices, number, payload, texts
from citydata.alerts.rulefile import Recipient, rule_from
from citydata.alerts.sources import Observation
from citydata.alerts.state import step
from citydata.alerts.store import AlertState

NS = 1_000_000_000
MIN = 60 * NS
RULE: dict[str, Any] = {
    "name": "river-warning",
    "title_th": "ระดับน้ำถึงระดับเตือนภัย",
    "title_en": "River at warning level",
    "select": {"kind": "water"},
    "value": {"index": "water_margin", "threshold": "warning"},
    "when": {"op": ">=", "value": 0},
    "clear": {"op": "<", "value": -0.05},
    "for": "10m",
    "message_th": "{name}: {detail}",
    "message_en": "{name}: {detail}",
    "recipients": ["disaster"],
}
INFO = {"name_th": "ท่าจีน", "name_en": "Tha Chin", "detail_th": "สูง", "detail_en": "high"}


def seen(value: float | None) -> Observation:
    return Observation("river-1", value, INFO)


def walk(
    values: Sequence[float | None], rule: dict[str, Any] = RULE
) -> list[tuple[str, str | None]]:
    """(state after, change) for one value a minute."""
    r, state = rule_from(rule), None
    out: list[tuple[str, str | None]] = []
    for i, value in enumerate(values):
        state, change = step(r, state, seen(value), i * MIN)
        out.append((state.state if state else "inactive", change))
    return out


def test_pending_for_its_duration_then_firing_then_resolved_at_the_clear_line() -> None:
    got = walk([-0.2, 0.0] + [0.1] * 10 + [-0.02, -0.06, -0.2])
    assert got[0] == ("inactive", None)
    assert got[1] == ("pending", "pending")
    assert got[2:11] == [("pending", None)] * 9
    assert got[11] == ("firing", "firing")  # held 10 minutes since the minute it began
    assert got[12] == ("firing", None)  # -0.02: under the line but above the clear line
    assert got[13] == ("inactive", "resolved")


def test_a_pending_alert_that_stops_holding_goes_back_to_inactive() -> None:
    assert [c for _, c in walk([0.1, 0.1, -0.01])] == ["pending", None, "inactive"]


def test_no_value_holds_the_state_whatever_it_is() -> None:
    got = walk([0.1] * 11 + [None] * 30 + [0.1])
    assert got[10] == ("firing", "firing")
    assert all(state == ("firing", None) for state in got[11:])


def test_without_for_it_fires_at_once_and_without_clear_it_resolves_when_when_fails() -> None:
    rule = RULE | {"for": "0s"}
    rule.pop("clear")
    assert [c for _, c in walk([0.1, -0.01], rule)] == ["firing", "resolved"]


def firing(subject: str, value: float) -> AlertState:
    info = {
        "name_th": f"สถานี {subject}",
        "name_en": f"Station {subject}",
        "detail_th": "ระดับน้ำ 1.86 ม.รทก.",
        "detail_en": "level 1.86 m MSL",
        "kind": "water",
    }
    return AlertState("river-warning", subject, "firing", 0, firing_ns=0, value=value, info=info)


def test_one_message_lists_every_station_thai_first_for_both_languages() -> None:
    group = Group(
        rule_from(RULE), "firing", [firing("r1", 0.06), firing("r2", 0.02)], 7 * 3600 * NS
    )
    subject, body = texts(group, "both")
    assert subject == "[เตือน] ระดับน้ำถึงระดับเตือนภัย: 2 จุด / [WARNING] River at warning level: 2 places"
    th, en = body.split("\n\n")
    assert th.splitlines() == [
        "[เตือน] ระดับน้ำถึงระดับเตือนภัย: 2 จุด",
        "เวลา 14:00 น.",  # 07:00 UTC in Thailand
        "• สถานี r1: ระดับน้ำ 1.86 ม.รทก.",
        "• สถานี r2: ระดับน้ำ 1.86 ม.รทก.",
    ]
    assert en.splitlines()[1] == "at 14:00 ICT"
    assert texts(group, "en")[0] == "[WARNING] River at warning level: 2 places"
    data = payload(group)
    assert [a["subject"] for a in data["alerts"]] == ["r1", "r2"]
    assert data["transition"] == "firing" and data["time"] == "1970-01-01T07:00:00Z"


def test_resolved_and_reminder_messages_say_so() -> None:
    rule = rule_from(RULE)
    assert texts(Group(rule, "resolved", [firing("r1", -0.1)], 0), "th")[0].startswith("[กลับสู่ปกติ]")
    reminder = texts(Group(rule, "reminder", [firing("r1", 0.1)], 3600 * NS), "en")
    assert reminder[0].startswith("[STILL ACTIVE]") and "(since 07:00)" in reminder[1]


def test_each_address_once_on_each_configured_channel() -> None:
    rule = rule_from(RULE | {"recipients": ["disaster", "mayor"]})
    group = Group(rule, "firing", [firing("r1", 0.1)], 0)
    shared = "C" + "1" * 32
    recipients = {
        "disaster": Recipient(lang="th", line=[shared], email=["d@example.org"]),
        "mayor": Recipient(lang="en", line=[shared], webhook=["https://example.org/h"]),
    }
    sent = notices(group, recipients, frozenset({"line", "webhook"}))
    assert [(n.channel, n.address, n.payload["recipient"]) for n in sent] == [
        ("line", shared, "disaster"),
        ("webhook", "https://example.org/h", "mayor"),
    ]
    assert len({n.key for n in sent}) == 2  # each notice its own retry key


def test_numbers_read_as_people_write_them() -> None:
    assert [number(4.0), number(2.0499999), number(0.1), number(None)] == ["4", "2.05", "0.1", "-"]
