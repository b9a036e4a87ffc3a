"""Delivery channels by name: each module here defines `CHANNEL` (a `Channel`) and
`from_settings(settings)`, which returns its `Sender`, or None when the channel's settings are
unset (that channel is then absent).

A sender makes one attempt per call and sorts what happened into an `Outcome` (sent, retry,
failed, quota); it never retries, sleeps or raises for a delivery problem. When to try again is
the dispatcher's business (alerts/dispatch.py).
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Protocol

from citydata.alerts.notice import CHANNELS, Channel, Notice, Outcome
from citydata.discovery import discover
from citydata.settings import Settings


class Sender(Protocol):
    """One channel's client; `send` is called from one thread at a time."""

    name: Channel

    def send(self, notice: Notice) -> Outcome:
        """One delivery attempt of `notice`."""
        ...

    def close(self) -> None:
        """Release connections; the sender is not used afterwards."""
        ...


@cache
def _modules() -> dict[str, ModuleType]:
    # Found when first asked, not at import: the channel modules import this package.
    found = discover(__name__, __path__, "CHANNEL", ("from_settings",), "channel")
    unknown = sorted(set(found) - set(CHANNELS))
    if unknown:
        raise TypeError(f"channel modules for unknown channels {unknown}; known: {CHANNELS}")
    return found


def senders(settings: Settings) -> dict[Channel, Sender]:
    """The senders of the channels whose settings are set, by channel."""
    built: dict[Channel, Sender] = {}
    for channel in CHANNELS:
        module = _modules().get(channel)
        sender: Sender | None = module.from_settings(settings) if module else None
        if sender is not None:
            built[channel] = sender
    return built


def shorten(text: str, limit: int = 300) -> str:
    """`text` on one line, cut to `limit` characters: for error messages kept in the outbox."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
