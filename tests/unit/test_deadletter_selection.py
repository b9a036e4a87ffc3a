"""Dead-letter ids and selection, shared by `citydata deadletters` and /operations/deadletters."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from citydata.cli import main
from citydata.deadletters import DeadLetter, DeadLetterStore, Selection, record, record_id
from citydata.decoders import Message, Problem

S = 1_000_000_000


def _rec(topic: str, ns: int, reason: str = "unregistered", detail: str = "x") -> DeadLetter:
    return record(Message(topic, b'{"pm25": 1}', ns), [Problem(reason, detail)])


def test_record_id_is_the_content_not_the_serialisation() -> None:
    rec = _rec("sensors/air/a-1", 5 * S)
    # Ids are shown by `deadletters list` and taken by the API's replay URLs, so they must not
    # change between versions: the first 16 hex digits of the SHA-256 of this canonical JSON
    # (`printf '%s' '<canonical>' | sha256sum`).
    canonical = (
        '{"errors":["unregistered: x"],"payload":"{\\"pm25\\": 1}","payload_encoding":"utf-8",'
        '"reason":"unregistered","received_ns":5000000000,"time":"1970-01-01T00:00:05.000Z",'
        '"topic":"sensors/air/a-1"}'
    )
    assert json.loads(canonical) == rec
    assert record_id(rec) == "79c13e9424af06ea"
    again = json.loads(json.dumps(dict(reversed(list(rec.items()))), indent=2))
    assert record_id(again) == record_id(rec)
    assert record_id(_rec("sensors/air/a-1", 5 * S + 1)) != record_id(rec)
    assert record_id(_rec("sensors/air/a-2", 5 * S)) != record_id(rec)


def test_selection_needs_every_criterion_given() -> None:
    a = _rec("sensors/air/a-1", 1 * S)
    b = _rec("ttn/up", 2 * S, detail="sensor 'node-7' is not in the registry")
    c = _rec("sensors/water/w-1", 3 * S, reason="wrong_kind")
    every = [a, b, c]

    def picked(selection: Selection) -> list[DeadLetter]:
        return [r for r in every if selection(r)]

    assert Selection().everything and picked(Selection()) == every
    assert not Selection(since_ns=0).everything
    assert picked(Selection(reasons=["unregistered"])) == [a, b]
    assert picked(Selection(sensors=["node-7"])) == [b]
    assert picked(Selection(sensors=["a-1", "w-1"])) == [a, c]
    assert picked(Selection(topic="sensors/")) == [a, c]
    assert picked(Selection(since_ns=2 * S)) == [b, c]
    assert picked(Selection(ids={record_id(c)})) == [c]
    assert picked(Selection(reasons=["wrong_kind"], topic="ttn/")) == []


def test_newest_first_across_days(tmp_path: Path) -> None:
    store = DeadLetterStore(tmp_path)
    day = 86_400 * S
    recs = [_rec("t/1", 2 * S), _rec("t/2", S), _rec("t/3", day + S)]
    store.add(recs)
    assert [r["topic"] for r in store.newest_first()] == ["t/3", "t/1", "t/2"]


def test_cli_list_shows_ids_and_replay_selects_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("CITYDATA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path / "var"))
    recs = [_rec("sensors/air/a-1", S), _rec("sensors/air/a-2", 2 * S)]
    DeadLetterStore(tmp_path / "var").add(recs)
    assert main(["deadletters", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [record_id(r) for r in recs]
    assert main(["deadletters", "replay", "--dry-run", "--id", record_id(recs[1])]) == 0
    assert capsys.readouterr().out.strip() == "would replay 1 dead letter(s)"
