"""One message through decode → validate → line protocol, with dead-letter records for the rest.

Before decoding: a payload over the size limit is dead-lettered (`too_large`) from its beginning,
size and hash. After decoding: on a registered sensor's own topic of a format whose topics may
also be gateways' (`topic_sensors`), every reading must be that sensor's (`identity_mismatch`,
the whole message refused: a payload that lies about one reading is not believed for the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from paho.mqtt.client import topic_matches_sub

from citydata import deadletters
from citydata.decoders import (
    DecodeError,
    Decoder,
    Message,
    Problem,
    RawReading,
    all_decoders,
    identity_mismatch,
    topic_sensors,
)
from citydata.routes import NATIVE, Route, apply_field_map
from citydata.validate import Checked, Validator
from collector.sensors import SensorCache

_TOPIC_CACHE = 100_000  # topics remembered with their route; one per sensor in practice
MAX_PAYLOAD_BYTES = 256 * 1024  # CITYDATA_COLLECTOR_MAX_PAYLOAD_BYTES' default


@dataclass(slots=True)
class Processed:
    """What became of one message: lines to store, a dead letter, unknown (kind, metric) names."""

    lines: list[str] = field(default_factory=list)
    dead: deadletters.DeadLetter | None = None
    unknown: list[tuple[str, str]] = field(default_factory=list)


def route_problems(routes: Sequence[Route]) -> list[str]:
    """What is wrong with the routes that settings alone cannot tell: unknown formats."""
    decoders = all_decoders()
    known = ", ".join(sorted(decoders))
    return [
        f"CITYDATA_ROUTES[{i}].format: {route.format!r} is not one of {known}"
        for i, route in enumerate(routes)
        if route.format not in decoders
    ]


class Pipeline:
    """Turns messages into stored lines or dead letters; never raises for a bad message."""

    def __init__(
        self,
        validator: Validator,
        routes: Sequence[Route] = (NATIVE,),
        sensors: SensorCache | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        problems = route_problems(routes)
        if problems:
            raise ValueError("; ".join(problems))
        self.validator = validator
        self.sensors = sensors  # None: no registry (every sensor accepted as it is)
        self.routes = tuple(routes)
        decoders = all_decoders()
        self._decoders: dict[str, Decoder] = {r.format: decoders[r.format] for r in routes}
        self._topic_sensors = topic_sensors()
        self.max_payload_bytes = max_payload_bytes
        self._by_topic: dict[str, Route | None] = {}

    def route_for(self, topic: str) -> Route | None:
        """The first route whose filter matches `topic` (remembered per topic)."""
        try:
            return self._by_topic[topic]
        except KeyError:
            pass
        route = next((r for r in self.routes if topic_matches_sub(r.topic, topic)), None)
        if route is not None:
            route = route.for_topic(topic)
        if len(self._by_topic) < _TOPIC_CACHE:
            self._by_topic[topic] = route
        return route

    def process(self, message: Message, cut: deadletters.Cut | None = None) -> Processed:
        """`cut`: the payload is only the beginning of one over the size limit (the collector's
        MQTT side cuts those, so that no more than that crosses to here)."""
        out = Processed()
        if cut is None:
            payload, cut = deadletters.cut(message.payload, self.max_payload_bytes)
            if cut is not None:
                message = Message(message.topic, payload, message.received_ns)
        if cut is not None:
            out.dead = deadletters.too_large(message, cut, self.max_payload_bytes)
            return out
        route = self.route_for(message.topic)
        if route is None:
            problem = Problem("no_route", f"no route matches topic {message.topic!r}")
            out.dead = deadletters.record(message, [problem])
            return out
        try:
            raws = self._decoders[route.format](message, route)
        except DecodeError as exc:
            out.dead = deadletters.record(message, [exc.problem])
            return out
        except Exception as exc:  # a decoder bug must not lose the message or stop the loop
            problem = Problem("decoder_error", f"{type(exc).__name__}: {exc}")
            out.dead = deadletters.record(message, [problem])
            return out
        mismatch = self._identity(route.format, message.topic, raws)
        if mismatch is not None:
            out.dead = deadletters.record(message, [mismatch])
            return out
        problems: list[Problem] = []
        for raw in raws:
            apply_field_map(raw, route)
            try:
                refused = self.sensors.enrich(raw, route) if self.sensors else None
                if refused is not None:
                    problems.append(refused)
                    continue
                checked = self.validator.check(raw, message.received_ns)
            except Exception as exc:  # a validation bug must not lose the message either
                checked = Checked(
                    problem=Problem("validator_error", f"{type(exc).__name__}: {exc}")
                )
            out.unknown.extend((raw.kind, name) for name in checked.unknown)
            if checked.reading is not None:
                out.lines.append(checked.reading.to_line())
            elif checked.problem is not None:
                problems.append(checked.problem)
        if problems:
            out.dead = deadletters.record(message, problems)
        return out

    def _identity(self, fmt: str, topic: str, raws: list[RawReading]) -> Problem | None:
        """identity_mismatch when the topic is a registered sensor's own and a reading is not
        that sensor's (formats whose topics may be gateways'; the others check in decoding)."""
        topic_sensor = self._topic_sensors.get(fmt)
        if topic_sensor is None or self.sensors is None:
            return None
        own = topic_sensor(topic)
        if own not in self.sensors.sensors:
            return None  # a gateway's topic: the broker's ACL says who may publish there
        other = next((raw.sensor_id for raw in raws if raw.sensor_id != own), None)
        return None if other is None else identity_mismatch(other, topic, own).problem
