"""Decoder test data, Telegraf style: every case file of every registered decoder, one loop.

Each decoder has a folder `tests/data/decoders/<format>/` of `<case>.json` files:

    {
      "description": "...",                        optional, for the reader
      "topic": "sensors/air/lp-air-001",
      "payload": <any JSON value>,                  sent as its JSON text (UTF-8), or
      "payload_text": "<raw text>",                 sent as is (for invalid JSON), or
      "payload_base64": "<base64>",                 sent as these bytes (for invalid UTF-8)
      "received_ns": 1700000000000000000,
      "route": {"kind": "air", "timezone": "Asia/Bangkok"},   optional: Route fields
      "expect": [                                   the readings, in order, or
        {"sensor_id": ..., "kind": ..., "time_ns": <int | null>, "values": {...},
         "problem": <null | reason code>, "detail_contains": "<text>" (optional)}
      ],
      "error": "<reason code>"                      the DecodeError the whole message raises
    }
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from citydata.decoders import DecodeError, Message, RawReading, Route, all_decoders

DATA = Path(__file__).resolve().parents[1] / "data" / "decoders"
_PAYLOAD_KEYS = ("payload", "payload_text", "payload_base64")


def _cases() -> list[Any]:
    cases = []
    for fmt in sorted(all_decoders()):
        for path in sorted((DATA / fmt).glob("*.json")):
            cases.append(pytest.param(fmt, path, id=f"{fmt}/{path.stem}"))
    return cases


def _payload(case: dict[str, Any]) -> bytes:
    given = [k for k in _PAYLOAD_KEYS if k in case]
    assert len(given) == 1, f"a case needs exactly one of {_PAYLOAD_KEYS}, got {given}"
    if "payload" in case:
        return json.dumps(case["payload"], ensure_ascii=False).encode("utf-8")
    if "payload_text" in case:
        return str(case["payload_text"]).encode("utf-8")
    return base64.b64decode(case["payload_base64"], validate=True)


def _canonical(values: object) -> str:
    # JSON text tells 1 from 1.0 from true, which == does not.
    return json.dumps(values, sort_keys=True, ensure_ascii=False)


def _check_reading(got: RawReading, want: dict[str, Any], where: str) -> None:
    assert got.sensor_id == want["sensor_id"], where
    assert got.kind == want["kind"], where
    assert got.time_ns == want["time_ns"], where
    assert _canonical(got.values) == _canonical(want["values"]), where
    if want["problem"] is None:
        assert got.problem is None, f"{where}: unexpected problem {got.problem}"
    else:
        assert got.problem is not None, f"{where}: expected {want['problem']}"
        assert got.problem.reason == want["problem"], where
        assert got.problem.detail, where
        assert want.get("detail_contains", "") in got.problem.detail, where


@pytest.mark.parametrize(("fmt", "path"), _cases())
def test_decoder_case(fmt: str, path: Path) -> None:
    case = json.loads(path.read_text(encoding="utf-8"))
    assert ("expect" in case) != ("error" in case), "a case has exactly one of expect / error"
    message = Message(case["topic"], _payload(case), case["received_ns"])
    decode = all_decoders()[fmt]
    route = Route(**{"format": fmt, **case.get("route", {})})
    if "error" in case:
        with pytest.raises(DecodeError) as exc:
            decode(message, route)
        assert exc.value.problem.reason == case["error"]
        assert exc.value.problem.detail
        return
    readings = decode(message, route)
    assert len(readings) == len(case["expect"])
    for i, (got, want) in enumerate(zip(readings, case["expect"], strict=True)):
        _check_reading(got, want, f"{path.name} reading {i}")


@pytest.mark.parametrize("fmt", sorted(all_decoders()))
def test_every_registered_decoder_has_test_data(fmt: str) -> None:
    folder = DATA / fmt
    assert folder.is_dir(), f"decoder {fmt!r} has no test data folder {folder}"
    assert sorted(folder.glob("*.json")), f"decoder {fmt!r}: {folder} holds no case files"


def test_every_data_folder_belongs_to_a_registered_decoder() -> None:
    folders = {p.name for p in DATA.iterdir() if p.is_dir()}
    assert folders <= set(all_decoders()), "test data for a decoder that is not registered"


def test_native_decoder_is_registered() -> None:
    assert "native" in all_decoders()
