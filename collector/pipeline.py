"""One message through decode → validate → line protocol, with dead-letter records for the rest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from paho.mqtt.client import topic_matches_sub

from citydata import deadletters
from citydata.decoders import DecodeError, Decoder, Message, Problem, all_decoders
from citydata.routes import NATIVE, Route, apply_field_map
from citydata.validate import Checked, Validator
from collector.sensors import SensorCache

_TOPIC_CACHE = 100_000  # topics remembered with their route; one per sensor in practice


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
    ) -> None:
        problems = route_problems(routes)
        if problems:
            raise ValueError("; ".join(problems))
        self.validator = validator
        self.sensors = sensors  # None: no registry (every sensor accepted as it is)
        self.routes = tuple(routes)
        decoders = all_decoders()
        self._decoders: dict[str, Decoder] = {r.format: decoders[r.format] for r in routes}
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

    def process(self, message: Message) -> Processed:
        out = Processed()
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
