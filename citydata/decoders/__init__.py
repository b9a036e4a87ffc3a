"""Payload decoders by format name: each module here defines `FORMAT` and
`decode(message, route)`.

A module may also define `topic_sensor(topic)`: the sensor a topic names in a format whose
topics may instead belong to a gateway carrying many sensors (SenML, line protocol). The
pipeline then holds a message on a registered sensor's own topic to that sensor alone
(`identity_mismatch`); formats whose topic and payload always name the same device check that
themselves.

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
from types import ModuleType

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


def identity_mismatch(named: object, topic: str, topic_sensor: str) -> DecodeError:
    """The error for a payload naming another sensor than its topic: a device may publish only
    on its own topics (the broker's ACL), so a payload speaking for another sensor is refused."""
    return DecodeError(
        "identity_mismatch",
        f"payload names sensor {named!r:.80}, but topic {topic!r:.160} names sensor "
        f"{topic_sensor!r}",
    )


Decoder = Callable[[Message, Route], list[RawReading]]


TopicSensor = Callable[[str], str]


@cache
def _modules() -> dict[str, ModuleType]:
    return discover(__name__, __path__, "FORMAT", ("decode",), "format")


@cache
def all_decoders() -> dict[str, Decoder]:
    """Every decoder by format name, discovered from this package's modules."""
    decoders: dict[str, Decoder] = {name: module.decode for name, module in _modules().items()}
    return decoders


@cache
def topic_sensors() -> dict[str, TopicSensor]:
    """By format, the `topic_sensor` of the modules that define one."""
    found: dict[str, TopicSensor] = {}
    for name, module in _modules().items():
        if callable(getattr(module, "topic_sensor", None)):
            found[name] = module.topic_sensor
    return found
