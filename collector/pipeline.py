"""One message through decode → validate → line protocol, with dead-letter records for the rest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from collector import deadletter
from collector.decoders import (
    NATIVE,
    DecodeError,
    Decoder,
    Message,
    Problem,
    Route,
    all_decoders,
)
from collector.validate import Checked, Validator


@dataclass(slots=True)
class Processed:
    """What became of one message: lines to store, a dead letter, unknown (kind, metric) names."""

    lines: list[str] = field(default_factory=list)
    dead: dict[str, Any] | None = None
    unknown: list[tuple[str, str]] = field(default_factory=list)


class Pipeline:
    """Turns messages into stored lines or dead letters; never raises for a bad message."""

    def __init__(self, validator: Validator, route: Route = NATIVE) -> None:
        self.validator = validator
        self.route = route
        self.decode: Decoder = all_decoders()[route.format]

    def process(self, message: Message) -> Processed:
        out = Processed()
        try:
            raws = self.decode(message, self.route)
        except DecodeError as exc:
            out.dead = deadletter.record(message, [exc.problem])
            return out
        except Exception as exc:  # a decoder bug must not lose the message or stop the loop
            problem = Problem("decoder_error", f"{type(exc).__name__}: {exc}")
            out.dead = deadletter.record(message, [problem])
            return out
        problems: list[Problem] = []
        for raw in raws:
            try:
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
            out.dead = deadletter.record(message, problems)
        return out
