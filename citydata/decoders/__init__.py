"""Payload decoders by format name: each module here defines `FORMAT` and
`decode(message, route)`.

A decoder turns one MQTT message into raw readings, leniently: it finds sensor id, kind, time
and values (numbers sent as strings become numbers; unknown keys are kept for validation to
report), and leaves judging them to validation. The route that matched the topic says which
kind to assume when the payload does not tell, and the time zone of device clocks that send
no zone. A problem with the whole message raises `DecodeError`; a problem with one element of
a batch is carried on that element (`problem`) so the rest of the message is still stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from citydata.discovery import discover
from citydata.routes import NATIVE, Route

__all__ = ["NATIVE", "Route"]  # re-exported: decoders take the route that matched


@dataclass(frozen=True, slots=True)
class Message:
    """An MQTT message as received, with the time it arrived (epoch ns)."""

    topic: str
    payload: bytes
    received_ns: int


@dataclass(frozen=True, slots=True)
class Problem:
    """Why something is dead-lettered: a stable reason code and a human-readable detail."""

    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass(slots=True)
class RawReading:
    """What a decoder found: values are not yet checked against the kind."""

    sensor_id: str
    kind: str
    time_ns: int | None
    values: dict[str, object] = field(default_factory=dict)
    problem: Problem | None = None
    tags: dict[str, str] = field(default_factory=dict)  # from the registry: zone, site


class DecodeError(ValueError):
    """The message as a whole cannot be read."""

    def __init__(self, reason: str, detail: str) -> None:
        self.problem = Problem(reason, detail)
        super().__init__(str(self.problem))


Decoder = Callable[[Message, Route], list[RawReading]]


@cache
def all_decoders() -> dict[str, Decoder]:
    """Every decoder by format name, discovered from this package's modules."""
    modules = discover(__name__, __path__, "FORMAT", ("decode",), "format")
    decoders: dict[str, Decoder] = {name: module.decode for name, module in modules.items()}
    return decoders
