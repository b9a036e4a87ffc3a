"""Replay dead letters: publish them again to the broker, so the whole pipeline judges them anew
(after a sensor was registered or a route fixed), with their original receive time."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any

from citydata.deadletters import DeadLetter, DeadLetterStore
from citydata.mqtt import TLSFiles, close, connect, make_client, received_properties, refused
from citydata.settings import Settings


class ReplayRefused(ConnectionError):
    """The broker acknowledged but would not deliver the replayed messages."""


def payload_of(record: DeadLetter) -> bytes:
    raw: str = record["payload"]
    if record.get("payload_encoding") == "base64":
        return base64.b64decode(raw)
    return raw.encode("utf-8")


def replayable(record: DeadLetter) -> bool:
    """Records of MQTT messages; points InfluxDB refused (no topic) cannot be republished, nor
    payloads over the size limit (only their beginning was kept: `sha256`)."""
    return bool(record.get("topic")) and "sha256" not in record


def replay(settings: Settings, wanted: Callable[[DeadLetter], bool], timeout: float = 60.0) -> int:
    """Publish every replayable dead letter `wanted` selects at QoS 1 and, once the broker has
    acknowledged them, move them to deadletter/replayed/. Returns how many."""
    store = DeadLetterStore(settings.data_dir)
    client, host, port = make_client(
        settings.mqtt_url, f"citydata-replay-{uuid.uuid4().hex[:8]}", tls=TLSFiles.of(settings)
    )
    acked: set[int] = set()
    turned_away: set[int] = set()

    def on_publish(c: Any, u: Any, mid: int, reason: Any, props: Any) -> None:
        if refused(reason):
            turned_away.add(mid)
        acked.add(mid)

    client.on_publish = on_publish
    connect(client, host, port)

    def publish(records: list[DeadLetter]) -> None:
        mids = []
        for rec in records:
            props = received_properties(int(rec["received_ns"]))
            mids.append(client.publish(rec["topic"], payload_of(rec), qos=1, properties=props).mid)
        deadline = time.monotonic() + timeout
        while not acked.issuperset(mids):
            if time.monotonic() > deadline:  # nothing moves: the records stay dead letters
                raise TimeoutError(f"broker acknowledged {len(acked & set(mids))} of {len(mids)}")
            time.sleep(0.01)
        if turned_away.intersection(mids):  # no collector would get them: keep them here
            raise ReplayRefused(
                f"the broker took {len(turned_away.intersection(mids))} of {len(mids)} "
                "without passing them on (no collector subscribed?)"
            )

    try:
        return store.take(lambda rec: replayable(rec) and wanted(rec), publish)
    finally:
        close(client)
