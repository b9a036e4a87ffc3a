"""Outage: a sensor goes silent for longer than its offline limit, then reports again."""

from __future__ import annotations

from collections.abc import Sequence

from simulators.scenarios._common import Target, Timeline

NAME = "outage"
TITLE_TH = "อุปกรณ์ขัดข้อง: เซนเซอร์หยุดส่งข้อมูลนานกว่าเกณฑ์ออฟไลน์ แล้วกลับมาส่งตามปกติ"
TITLE_EN = "a sensor sends nothing for longer than its offline limit, then resumes"
KINDS: tuple[str, ...] = ()  # any kind
PHASES = ("", "silent", "")
# Past the offline limit: the derived series judge "online" once a whole minute, and an alert
# rule may want the state to last a minute or two.
MARGIN_S = 180.0


def choose(candidates: Sequence[Target]) -> list[Target]:
    """One sensor: of those offline soonest (the shortest limit), the first by id."""
    if not candidates:
        return []
    ordered = sorted(candidates, key=lambda c: c.id)
    return [min(ordered, key=lambda c: c.sensor.offline_limit_s)]


def timeline(targets: Sequence[Target]) -> Timeline:
    """Silent from the start for the longest offline limit among them plus MARGIN_S."""
    longest = max((t.sensor.offline_limit_s for t in targets), default=0.0)
    return Timeline(0.0, longest + MARGIN_S, 0.0)


def readings(target: Target, t: float, normal: dict[str, float]) -> dict[str, float] | None:
    """Nothing while the episode lasts."""
    return None if target.timeline.phase(t) == "hold" else normal


def notes(targets: Sequence[Target], history_h: float) -> list[str]:
    out: list[str] = []
    for target in targets:
        limit, silent = target.sensor.offline_limit_s, target.timeline.end_s
        said = f"{target.id} counts as offline after {limit / 60:g} min of silence"
        if silent <= limit:
            out.append(f"{said}: {silent / 60:g} min is too short, it will stay online")
        else:
            out.append(
                f"{said} (its kind's limit, or meta.offline_after_s in the registry): offline "
                f"from about {limit / 60:g} min in, back at {silent / 60:g} min"
            )
    return out
