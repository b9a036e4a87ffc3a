"""The API's OpenAPI document is a contract: it changes only on purpose.

A refactor must leave it identical; a deliberate change regenerates the committed copy with
`.venv/bin/python -m tests.unit.test_openapi_snapshot` and shows the diff in review.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from api.app import create_app
from citydata.settings import load_settings

SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "openapi.json"


def current() -> dict[str, Any]:
    document: dict[str, Any] = create_app(load_settings({})).openapi()
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_the_openapi_document_is_the_committed_one() -> None:
    committed = SNAPSHOT.read_text(encoding="utf-8")
    assert render(current()) == committed, (
        "the OpenAPI document changed; if on purpose, regenerate tests/data/openapi.json with "
        "`.venv/bin/python -m tests.unit.test_openapi_snapshot`"
    )


if __name__ == "__main__":
    SNAPSHOT.write_text(render(current()), encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
