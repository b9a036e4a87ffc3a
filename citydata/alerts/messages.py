"""The words of an alert: a rule's templates filled for one subject, and one message per rule
and transition listing every subject (a zone-wide haze is one message naming ten stations,
not ten messages), in the recipient's language(s), for each of its addresses."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from citydata.alerts.notice import CHANNELS, Channel
from citydata.alerts.rulefile import Recipient
from citydata.alerts.rules import Rule
from citydata.alerts.sources import clock
from citydata.alerts.store import AlertState, NewNotice
from citydata.timeutil import as_datetime

Kind = Literal["firing", "resolved", "reminder"]
SEVERITY: dict[str, tuple[str, str]] = {
    "info": ("แจ้งเพื่อทราบ", "INFO"),
    "warning": ("เตือน", "WARNING"),
    "critical": ("วิกฤต", "CRITICAL"),
}
HEADING: dict[str, tuple[str, str]] = {
    "firing": ("", ""),
    "resolved": ("กลับสู่ปกติ", "RESOLVED"),
    "reminder": ("ยังคงเกิดอยู่", "STILL ACTIVE"),
}


def number(value: float | None) -> str:
    """A value as people read it: 4 not 4.0, 2.05 not 2.0499999."""
    if value is None or not math.isfinite(value):
        return "-"
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render(rule: Rule, state: AlertState, lang: Literal["th", "en"], now_ns: int) -> str:
    """The rule's message template in `lang`, filled for one subject."""
    info = state.info
    severity = SEVERITY[rule.severity][0 if lang == "th" else 1]
    threshold = info.get("threshold", getattr(rule.when, "value", ""))
    fields = _Blank(
        name=str(info.get(f"name_{lang}", state.subject)),
        sensor_id=state.subject,
        value=number(state.value),
        unit=str(info.get("unit", "")),
        zone=str(info.get("zone", "")),
        site=str(info.get("site", "")),
        threshold=number(threshold) if isinstance(threshold, int | float) else str(threshold),
        detail=str(info.get(f"detail_{lang}", "")),
        rule=rule.name,
        severity=severity,
        time=clock(now_ns),
        title=rule.title_th if lang == "th" else rule.title_en,
    )
    template = rule.message_th if lang == "th" else rule.message_en
    return " ".join(template.format_map(fields).split())


@dataclass(frozen=True)
class Group:
    """One message's worth: a rule, what happened, and the subjects it happened to."""

    rule: Rule
    kind: Kind
    states: Sequence[AlertState]
    time_ns: int


def _subject_line(group: Group, lang: Literal["th", "en"]) -> str:
    rule, n = group.rule, len(group.states)
    th = lang == "th"
    title = rule.title_th if th else rule.title_en
    tag = HEADING[group.kind][0 if th else 1] or SEVERITY[rule.severity][0 if th else 1]
    places = f"{n} จุด" if th else f"{n} place{'s' if n != 1 else ''}"
    return f"[{tag}] {title}: {places}"


def _body(group: Group, lang: Literal["th", "en"]) -> str:
    th = lang == "th"
    at = clock(group.time_ns)
    lines = [_subject_line(group, lang), f"เวลา {at} น." if th else f"at {at} ICT"]
    for state in group.states:
        text = render(group.rule, state, lang, group.time_ns)
        if group.kind == "resolved":
            text = f"{text} ({'กลับสู่ปกติ' if th else 'resolved'})"
        elif state.firing_ns is not None and group.kind == "reminder":
            text = f"{text} ({'ตั้งแต่' if th else 'since'} {clock(state.firing_ns)})"
        lines.append(f"• {text}")
    return "\n".join(lines)


def texts(group: Group, lang: str) -> tuple[str, str]:
    """(subject, body) for a recipient's language: th, en, or both (Thai first)."""
    if lang in ("th", "en"):
        one: Literal["th", "en"] = "th" if lang == "th" else "en"
        return _subject_line(group, one), _body(group, one)
    subject = f"{_subject_line(group, 'th')} / {_subject_line(group, 'en')}"
    return subject, f"{_body(group, 'th')}\n\n{_body(group, 'en')}"


def payload(group: Group) -> dict[str, Any]:
    """The structured form (the webhook's body, and kept with every notice)."""
    rule = group.rule
    return {
        "rule": rule.name,
        "transition": group.kind,
        "severity": rule.severity,
        "title_th": rule.title_th,
        "title_en": rule.title_en,
        "labels": dict(rule.labels),
        "time": as_datetime(group.time_ns).isoformat().replace("+00:00", "Z"),
        "alerts": [
            {
                "subject": s.subject,
                "value": s.value,
                "since": as_datetime(s.since_ns).isoformat().replace("+00:00", "Z"),
                "text_th": render(rule, s, "th", group.time_ns),
                "text_en": render(rule, s, "en", group.time_ns),
                **{
                    k: v
                    for k, v in s.info.items()
                    if k in ("name_th", "name_en", "kind", "zone", "site", "unit")
                },
            }
            for s in group.states
        ],
    }


def notices(
    group: Group, recipients: Mapping[str, Recipient], channels: frozenset[Channel]
) -> list[NewNotice]:
    """One notice per address of every recipient the rule names, on the channels configured."""
    out: list[NewNotice] = []
    data = payload(group)
    seen: set[tuple[str, str]] = set()
    for name in group.rule.recipients:
        who = recipients.get(name)
        if who is None:
            continue
        subject, text = texts(group, who.lang)
        for channel in CHANNELS:
            if channel not in channels:
                continue
            for address in getattr(who, channel):
                if (channel, address) in seen:
                    continue  # two recipients sharing a group get it once
                seen.add((channel, address))
                out.append(NewNotice(channel, address, subject, text, data | {"recipient": name}))
    return out
