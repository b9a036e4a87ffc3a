"""Dashboards to JSON: build every dashboard (or some) and write or compare the committed files.

The JSON is what the SDK generates, written with sorted keys and a final newline, so a build is
byte-for-byte repeatable and a test can tell when the committed files are out of date.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards.boards import boards

JSON_DIR = Path(__file__).parent / "json"
PROVISIONING_DIR = Path(__file__).parent / "provisioning"


class UnknownDashboard(ValueError):
    """A dashboard name that no module in dashboards/boards/ defines."""


def names() -> list[str]:
    return list(boards())


def build(name: str) -> dict[str, Any]:
    """One dashboard's JSON model; UnknownDashboard when no module is called `name`."""
    module = boards().get(name)
    if module is None:
        raise UnknownDashboard(f"no dashboard {name!r}; known: {', '.join(names())}")
    model: dict[str, Any] = json.loads(JSONEncoder().encode(module.dashboard().build()))
    return model


def build_all(selected: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The JSON model of each selected dashboard (every one when none is named), by name;
    UnknownDashboard before building anything when a name is unknown."""
    wanted = list(selected) or names()
    unknown = [n for n in wanted if n not in boards()]
    if unknown:
        raise UnknownDashboard(
            f"no dashboard {', '.join(map(repr, unknown))}; known: {', '.join(names())}"
        )
    return {name: build(name) for name in wanted}


def text(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(models: dict[str, dict[str, Any]], out: Path = JSON_DIR) -> list[Path]:
    """Write each model to `out`/<name>.json; the files written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, model in models.items():
        path = out / f"{name}.json"
        path.write_text(text(model), encoding="utf-8")
        paths.append(path)
    return paths


def stale(models: dict[str, dict[str, Any]], out: Path = JSON_DIR) -> list[str]:
    """Names whose file in `out` differs from a fresh build, and files no dashboard makes."""
    differ = [
        n
        for n, m in models.items()
        if not (out / f"{n}.json").is_file()
        or (out / f"{n}.json").read_text(encoding="utf-8") != text(m)
    ]
    extra = sorted(p.stem for p in out.glob("*.json") if p.stem not in models)
    return differ + extra
