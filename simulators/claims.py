"""Claims: the sensors a scenario publishes for now, so that a live simulator stands aside.

A scenario (docs/simulators.md) publishes its sensors with the same ids as the live simulator
of `citydata local`. Were both to publish, the platform would judge a mix of two series (the
newest level flickering between flood and normal, an hourly mean half normal). So the scenario
claims its sensors with a retained message on CLAIMS_TOPIC/<claimant>, JSON `{"sensors": [ids],
"until": epoch s}`, and a live run leaves them out while the claim holds. An empty retained
message releases the claim; it also lapses at `until` by itself, so a scenario killed without
releasing mutes nothing for long.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)
CLAIMS_TOPIC = "citydata/simulator/claims"


class Claims:
    """The claims heard on CLAIMS_TOPIC/+ (the paho callback only parses and stores)."""

    def __init__(self) -> None:
        self._claims: dict[str, tuple[frozenset[str], float]] = {}
        self._lock = threading.Lock()

    def on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            claim = parse_claim(msg.payload)
        except ValueError as exc:
            log.warning("ignoring the claim on %s: %s: %r", msg.topic, exc, msg.payload[:200])
            return
        with self._lock:
            if claim is None:
                self._claims.pop(msg.topic, None)
            else:
                self._claims[msg.topic] = claim

    def held(self, now: float) -> frozenset[str]:
        """The sensor ids claimed at epoch time `now`."""
        with self._lock:
            live = [ids for ids, until in self._claims.values() if until > now]
        return frozenset().union(*live)


def claim_payload(sensor_ids: Iterable[str], until: float) -> bytes:
    return json.dumps({"sensors": sorted(sensor_ids), "until": until}).encode()


def parse_claim(body: bytes | bytearray) -> tuple[frozenset[str], float] | None:
    """The sensor ids and end of a claim, None for a release (empty); ValueError if malformed."""
    if not body:
        return None
    data = json.loads(body)
    ids, until = data.get("sensors") if isinstance(data, dict) else None, data.get("until")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("'sensors' must be a list of sensor ids")
    if isinstance(until, bool) or not isinstance(until, int | float):
        raise ValueError("'until' must be an epoch time in seconds")
    return frozenset(ids), float(until)


def subscribe_claims(
    client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
) -> None:
    """paho on_connect: (re)subscribe to every claim (a simulator's session is clean)."""
    client.subscribe(f"{CLAIMS_TOPIC}/+", qos=1)
