"""The sensor registry: validated sensors (`Sensor`) stored and migrated by `Registry`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from citydata.registry.errors import KeyNotFound, RegistryError, SensorExists, SensorNotFound
from citydata.registry.keys import ApiKey, Role
from citydata.registry.model import STATUSES, Calibration, Sensor, Status, describe_errors

if TYPE_CHECKING:
    from citydata.registry.store import Registry, UpsertResult, registry_url

# SQLAlchemy and alembic load on first use, so `citydata --help` and the other programs
# do not pay for them.
_LAZY = {"Registry", "UpsertResult", "registry_url"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module("citydata.registry.store"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "STATUSES",
    "ApiKey",
    "Calibration",
    "KeyNotFound",
    "Registry",
    "RegistryError",
    "Role",
    "Sensor",
    "SensorExists",
    "SensorNotFound",
    "Status",
    "UpsertResult",
    "describe_errors",
    "registry_url",
]
