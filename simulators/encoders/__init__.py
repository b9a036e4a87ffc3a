"""Payload formats a simulated device publishes in, and the collector routes that read them.

One module per format, defining `FORMAT` (the decoder's name for it), `encode(message)` (its
topic and payload) and `routes(kinds)` (the collector routes that read it for these kinds);
optionally `ID_FORM` (the form its device ids take), `KINDS` (the only kinds its devices report)
and `TIMED = False` (its payloads carry no time). The package discovers the modules (those not
starting with `_`), so nothing else lists the formats; a test fails when a decoder has no
encoder here.

Every format carries the metric names as they are, so the routes need no field maps; the
topic names the kind where the format itself does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache

from citydata.discovery import discover
from citydata.routes import Route
from simulators.faults import Outgoing, malform


@dataclass(frozen=True, slots=True)
class Encoder:
    """One payload format as a simulated device speaks it."""

    format: str
    encode: Callable[[Outgoing], tuple[str, bytes]]
    routes: Callable[[Sequence[str]], list[Route]]
    id_form: str = ""  # e.g. "esp8266-<chip id>": ids start with the part before "<"
    kinds: tuple[str, ...] = ()  # the only kinds its devices report; () for any
    timed: bool = True  # False: payloads carry no time, the collector uses the receive time

    def id_problem(self, sensor_id: str) -> str | None:
        """Why `sensor_id` cannot be a device id of this format, or None."""
        prefix = self.id_form.partition("<")[0]
        if sensor_id.startswith(prefix):
            return None
        return f"a {self.format} id is {self.id_form}"


@cache
def all_encoders() -> dict[str, Encoder]:
    """Every encoder by format name, discovered from this package's modules."""
    modules = discover(__name__, __path__, "FORMAT", ("encode", "routes"), "format")
    return {
        name: Encoder(
            name,
            module.encode,
            module.routes,
            id_form=getattr(module, "ID_FORM", ""),
            kinds=tuple(getattr(module, "KINDS", ())),
            timed=getattr(module, "TIMED", True),
        )
        for name, module in modules.items()
    }


def encode(m: Outgoing, fmt: str = "native") -> tuple[str, bytes]:
    """Topic and payload of one message in format `fmt` (cut short when malformed)."""
    topic, body = all_encoders()[fmt].encode(m)
    return topic, malform(body) if m.malformed else body


def routes_for(formats: Iterable[str], kinds: Iterable[str]) -> list[Route]:
    """The collector routes that read these formats for these kinds (native last: its
    catch-all `sensors/#` goes with every set of formats)."""
    encoders, wanted, kind_list = all_encoders(), set(formats), sorted(set(kinds))
    routes = [r for fmt in sorted(wanted - {"native"}) for r in encoders[fmt].routes(kind_list)]
    return [*routes, *encoders["native"].routes(kind_list)]
