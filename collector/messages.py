"""What crosses the pipe between the collector's main process and its worker process.

    main → worker   Messages(items, depth)   what arrived, and how many still wait in the deque
                    Stop()                   everything received was sent: flush and stop
    worker → main   Ready()                  the spool is open; the worker takes messages
                    Acks(acks, stats, t)     these messages are durable: acknowledge them
                    Progress(stats, t)       every flush interval when idle, or while backing off
                    Stopped(stats)           everything is durable; the worker exits

`stats` are the worker's counters; `t` is when it last reread the sensor registry
(time.monotonic(), one clock for both processes on the same machine).

The envelopes are NamedTuples (one per batch, so their pickling cost does not matter). The
items inside stay plain tuples: thousands cross the pipe each second, and a NamedTuple pickles
about a hundred times slower than a tuple (its reduction runs in Python, per item).
"""

from __future__ import annotations

from typing import NamedTuple

from citydata.deadletters import Cut
from collector.health import Stats

Item = tuple[str, bytes, int, int, int, int, int, Cut | None]
"""One MQTT message: topic, payload, received_ns, mid, qos, generation (of the connection),
arrived_ns, cut. received_ns is when the reading was first received (a replayed dead letter or a
post to the API carries it), arrived_ns when this collector got the message: the lag starts
there. cut is None, or for a payload over the size limit its size and SHA-256: the payload is
then only its beginning (citydata.deadletters.cut)."""

Ack = tuple[int, int]
"""One durable message to acknowledge: mid, generation."""


class Messages(NamedTuple):
    items: list[Item]
    depth: int  # messages still waiting in the main process's deque


class Stop(NamedTuple):
    pass


class Ready(NamedTuple):
    pass


class Acks(NamedTuple):
    acks: list[Ack]
    stats: Stats
    registry_read_at: float


class Progress(NamedTuple):
    stats: Stats
    registry_read_at: float


class Stopped(NamedTuple):
    stats: Stats


ToWorker = Messages | Stop
FromWorker = Ready | Acks | Progress | Stopped
