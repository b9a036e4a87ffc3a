"""Fuzzed messages for every decoder: arbitrary bytes, made-up JSON, and structure-aware mutations
of the decoder test cases (tests/data/decoders/<format>/), all driven by one `random.Random`.

The unit fuzz test hands in hypothesis' Random (so a failure shrinks and replays); the
integration run a seeded one (so its thousands of messages are the same each time).
"""

from __future__ import annotations

import base64
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citydata.decoders import all_decoders
from citydata.kinds import all_kinds

DATA = Path(__file__).resolve().parent / "data" / "decoders"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"

# Values that sit on the edges decoders care about: numbers as text, times, ids, separators.
_ODD_TEXT = [
    "",
    " ",
    "12.5",
    " 7 ",
    "-0",
    "1e3",
    "1e999",
    "NaN",
    "inf",
    "0x1F",
    "true",
    "null",
    "2026-01-15T08:30:00",
    "2026-01-15T01:30:00.123456789Z",
    "2026-02-30T25:61:61+25:00",
    "1970-01-01T00:00:00",
    "lp-air-001",
    "esp32-3183740",
    "a b,c=d",
    'q"uote\\',
    "ท่าจีน",
    "\x00",
    "#",
    "+",
    "/",
    "x" * 300,
]
_ODD_NUMBERS: list[object] = [
    0,
    -1,
    1,
    2**28,
    2**31,
    2**53 + 1,
    2**63 - 1,
    -(2**63),
    2**64,
    0.1,
    -0.0,
    1e308,
    5e-324,
    1_768_440_600,
    1_768_440_600_000,
    1_768_440_600_000_000_000,
    True,
    False,
    None,
]
_LINE_ALPHABET = ',= "\\\n\r#iutTfF0123456789.e-+\t'


# Device field names -> metrics, as an installer would write a route's field map.
FIELDS = {
    "pm2_5": "pm25",
    "SDS0X1.PM2.5": "pm25",
    "SDS0X1.PM10": "pm10",
    "BME280.Temperature": "temperature",
    "BME280.Humidity": "humidity",
    "SDS_P1": "pm10",
    "SDS_P2": "pm25",
    "BME280_temperature": "temperature",
    "BME280_humidity": "humidity",
}


def route_fields(route: dict[str, Any]) -> dict[str, Any]:
    """A case's route with the FIELDS of its kind added (when it names a kind and no map), so
    that device payloads can become stored readings."""
    kind = all_kinds().get(route.get("kind") or "")
    if kind is None or "fields" in route:
        return route
    return {**route, "fields": {k: v for k, v in FIELDS.items() if v in kind.by_name}}


@dataclass(frozen=True)
class Case:
    """One decoder test case: what a real device sends, as the fuzzer starts from."""

    fmt: str
    name: str
    topic: str
    payload: bytes
    json_value: Any | None  # the payload as JSON, when the case gives it so
    route: dict[str, Any] = field(default_factory=dict)
    sensors: dict[str, str] = field(default_factory=dict)  # expected sensor id -> kind


def _payload(case: dict[str, Any]) -> bytes:
    if "payload" in case:
        return json.dumps(case["payload"], ensure_ascii=False).encode("utf-8")
    if "payload_text" in case:
        return str(case["payload_text"]).encode("utf-8")
    return base64.b64decode(case["payload_base64"])


def cases(fmt: str) -> list[Case]:
    """Every test case of the registered format `fmt`."""
    found = []
    for path in sorted((DATA / fmt).glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        sensors = {e["sensor_id"]: e["kind"] for e in case.get("expect", []) if e["sensor_id"]}
        found.append(
            Case(
                fmt,
                path.stem,
                case["topic"],
                _payload(case),
                case.get("payload"),
                route_fields(case.get("route", {})),
                sensors,
            )
        )
    return found


def formats() -> list[str]:
    return sorted(all_decoders())


def documented_reasons() -> set[str]:
    """The dead-letter reason codes docs/operations.md lists (its "Dead letters" section)."""
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Dead letters and replay") :]
    section = section[: section.index("```")]
    return set(re.findall(r"`([a-z][a-z_]+)`", section))


# --- made-up JSON -----------------------------------------------------------------------------


def random_leaf(rng: random.Random) -> object:
    pick = rng.random()
    if pick < 0.35:
        return rng.choice(_ODD_NUMBERS)
    if pick < 0.6:
        return rng.choice(_ODD_TEXT)
    if pick < 0.85:
        return round(rng.uniform(-50, 500), rng.randint(0, 3))
    if pick < 0.87:
        return rng.randint(-(2**70), 2**70)
    return "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(0, 12)))


def random_json(rng: random.Random, keys: list[str], depth: int = 0) -> object:
    """A JSON value of up to a few levels, its keys mostly ones the format knows."""
    pick = rng.random()
    if depth >= 4 or pick < 0.5:
        return random_leaf(rng)
    if pick < 0.75:
        return [random_json(rng, keys, depth + 1) for _ in range(rng.randint(0, 4))]
    return {
        (rng.choice(keys) if keys and rng.random() < 0.8 else rng.choice(_ODD_TEXT)): random_json(
            rng, keys, depth + 1
        )
        for _ in range(rng.randint(0, 4))
    }


def _keys(value: object, into: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            into.add(key)
            _keys(item, into)
    elif isinstance(value, list):
        for item in value:
            _keys(item, into)
    return into


def _containers(value: object, into: list[object]) -> list[object]:
    if isinstance(value, dict | list):
        into.append(value)
        for item in value.values() if isinstance(value, dict) else value:
            _containers(item, into)
    return into


# --- mutations --------------------------------------------------------------------------------


def mutate_json(value: object, rng: random.Random, keys: list[str]) -> object:
    """`value` (a deep copy) after one to four edits of its structure."""
    root: list[object] = [json.loads(json.dumps(value))]  # a parent for the top value
    for _ in range(rng.randint(1, 4)):
        target = rng.choice(_containers(root, []))
        assert isinstance(target, dict | list)
        slots: list[Any] = list(target) if isinstance(target, dict) else list(range(len(target)))
        op = rng.random()
        if not slots or op < 0.15:  # add
            new = random_json(rng, keys)
            if isinstance(target, dict):
                target[rng.choice(keys) if keys else "k"] = new
            else:
                target.insert(rng.randint(0, len(target)), new)
            continue
        slot = rng.choice(slots)
        if op < 0.45:  # replace with a made-up value
            target[slot] = random_json(rng, keys)
        elif op < 0.6 and target is not root:  # delete
            del target[slot]
        elif op < 0.7:  # nest deeper (past the depth limit, now and then)
            wrapped: object = target[slot]
            for _ in range(rng.choice([1, 2, 40])):
                wrapped = [wrapped] if rng.random() < 0.5 else {"x": wrapped}
            target[slot] = wrapped
        elif op < 0.8:  # a number as text, text as a number
            item = target[slot]
            target[slot] = str(item) if not isinstance(item, str) else rng.choice(_ODD_NUMBERS)
        elif op < 0.9 and isinstance(target, list):  # repeat an element many times
            target.extend([target[slot]] * rng.randint(1, 50))
        else:
            target[slot] = rng.choice(_ODD_TEXT)
    return root[0]


def mutate_text(text: str, rng: random.Random) -> str:
    """`text` with characters that mean something to line protocol inserted, replaced or cut."""
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randint(0, len(chars))
        op = rng.random()
        if op < 0.4:
            chars.insert(pos, rng.choice(_LINE_ALPHABET))
        elif op < 0.6 and pos < len(chars):
            chars[pos] = rng.choice(_LINE_ALPHABET)
        elif op < 0.8:
            del chars[pos : pos + rng.randint(1, 8)]
        else:
            chars[pos:pos] = list(rng.choice(_ODD_TEXT))
    return "".join(chars)


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """`data` with bytes flipped, inserted or cut off."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randint(0, len(buf))
        op = rng.random()
        if op < 0.3 and pos < len(buf):
            buf[pos] ^= 1 << rng.randint(0, 7)
        elif op < 0.6:
            buf[pos:pos] = bytes([rng.randint(0, 255)])
        else:
            del buf[pos:]
    return bytes(buf)


def mutate_topic(topic: str, rng: random.Random) -> str:
    levels = topic.split("/")
    i = rng.randrange(len(levels))
    levels[i] = rng.choice(["", "x", "esp32-1", "devices", "device", "tele", "lp-air-002", "ๆ"])
    if rng.random() < 0.3:
        levels = levels[: rng.randint(1, len(levels))]
    return "/".join(levels)


def fuzzed(case: Case, rng: random.Random) -> tuple[str, bytes, str]:
    """(topic, payload, how) for one message derived from `case`."""
    topic = case.topic
    pick = rng.random()
    if pick < 0.1:
        return topic, rng.randbytes(rng.randint(0, 300)), "bytes"
    if pick < 0.2:
        keys = sorted(_keys(case.json_value, set()))
        made_up = random_json(rng, keys)
        return topic, json.dumps(made_up, ensure_ascii=False).encode(), "json"
    if case.json_value is not None:
        keys = sorted(_keys(case.json_value, set()))
        value = mutate_json(case.json_value, rng, keys)
        payload, how = json.dumps(value, ensure_ascii=False).encode(), "mutated json"
    else:
        text = case.payload.decode("utf-8", "replace")
        payload, how = mutate_text(text, rng).encode("utf-8"), "mutated text"
    if rng.random() < 0.15:
        payload, how = mutate_bytes(payload, rng), how + " + bytes"
    if rng.random() < 0.1:
        topic, how = mutate_topic(topic, rng), how + " + topic"
    return topic, payload, how
