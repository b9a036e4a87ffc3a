"""The dashboards, one module each: `NAME` (its uid and file name) and `dashboard()`, which
returns the SDK builder. Modules are discovered, so a new dashboard is one module here."""

from __future__ import annotations

from functools import cache
from types import ModuleType

from citydata.discovery import discover


@cache
def boards() -> dict[str, ModuleType]:
    """Every dashboard module by name, in name order."""
    found = discover(__name__, __path__, "NAME", ("dashboard",), "dashboard")
    return dict(sorted(found.items()))
