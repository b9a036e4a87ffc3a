"""Routes: which MQTT topics carry which payload format, and how their fields become metrics."""

from __future__ import annotations

import zoneinfo
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from citydata.kinds import all_kinds

if TYPE_CHECKING:  # the decoders take a Route: importing them here at run time is a cycle
    from citydata.decoders import RawReading


def check_topic_filter(topic: str) -> str:
    """`topic` if it is a valid MQTT topic filter, else ValueError saying why."""
    if not topic or len(topic.encode()) > 65535:
        raise ValueError("must be 1 to 65535 bytes")
    levels = topic.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"{topic!r}: '#' must be a whole last level")
        if "+" in level and level != "+":
            raise ValueError(f"{topic!r}: '+' must be a whole level")
    return topic


class Route(BaseModel):
    """How messages on topics matching `topic` (an MQTT filter) are read and stored.

    `kind` is the sensor kind when the payload does not name one, or `kind_level` the topic
    level (counted from 0) that names it; `fields` renames device field names to metric names
    (`{"pm2_5": "pm25"}`); `scale` and `offset` convert units after renaming (value * scale +
    offset: °F to °C is scale 5/9, offset -160/9); `timezone` is the zone of device clocks that
    send local time without a zone; `auto_register` registers unknown sensors as pending.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = "sensors/#"
    format: str = Field(default="native", min_length=1)
    kind: str | None = None
    kind_level: int | None = Field(default=None, ge=0)
    fields: dict[str, str] = Field(default_factory=dict)
    scale: dict[str, float] = Field(default_factory=dict)
    offset: dict[str, float] = Field(default_factory=dict)
    timezone: str = "Asia/Bangkok"
    auto_register: bool = False

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        return check_topic_filter(value)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Bangkok)") from None
        return value

    def for_topic(self, topic: str) -> Route:
        """This route with the kind `kind_level` names in `topic` (itself without a level)."""
        if self.kind_level is None:
            return self
        levels = topic.split("/")
        kind = levels[self.kind_level] if self.kind_level < len(levels) else ""
        # Not validated: an unknown kind here is the message's fault, reported as unknown_kind.
        return self.model_copy(update={"kind": kind})

    @model_validator(mode="after")
    def _metrics_of_kind(self) -> Route:
        kinds = all_kinds()
        if self.kind is not None and self.kind_level is not None:
            raise ValueError("set kind or kind_level, not both")
        if self.kind_level is not None:
            levels = self.topic.split("/")
            if self.kind_level >= len(levels) or levels[self.kind_level] == "#":
                raise ValueError(f"kind_level {self.kind_level} is not a level of {self.topic!r}")
        if self.kind is None:
            return self
        kind = kinds.get(self.kind)
        if kind is None:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(sorted(kinds))}")
        named = [*self.fields.values(), *self.scale, *self.offset]
        unknown = [m for m in named if m not in kind.by_name]
        if unknown:
            raise ValueError(f"not {self.kind} metrics: {', '.join(sorted(set(unknown)))}")
        return self


NATIVE = Route()


def apply_field_map(raw: RawReading, route: Route) -> None:
    """Device field names to metric names, then unit conversion, as the route says."""
    if route.fields:
        raw.values = {route.fields.get(name, name): v for name, v in raw.values.items()}
    for name in route.scale.keys() | route.offset.keys():
        value = raw.values.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            raw.values[name] = value * route.scale.get(name, 1.0) + route.offset.get(name, 0.0)
