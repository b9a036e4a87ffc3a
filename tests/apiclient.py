"""FastAPI's test client, and what the API tests check every problem answer for."""

from __future__ import annotations

import warnings
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette asks for httpx2; the project pins httpx, which the test client still runs on.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

PROBLEM = "application/problem+json"

__all__ = ["PROBLEM", "TestClient", "problem"]


def problem(response: Any, status: int) -> dict[str, Any]:
    """The body of a problem answer, after checking it is one with this status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body
