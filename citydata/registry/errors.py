"""The registry's exceptions: RegistryError, and SensorExists / SensorNotFound under it."""

from __future__ import annotations

from collections.abc import Iterable


class RegistryError(Exception):
    """The registry cannot do what was asked: a database, migration or consistency problem."""


class SensorNotFound(RegistryError):
    """No sensor has this id."""

    def __init__(self, sensor_id: str) -> None:
        self.sensor_id = sensor_id
        super().__init__(f"sensor {sensor_id!r} not found")


class SensorExists(RegistryError):
    """A sensor with this id (or these ids) is already registered."""

    def __init__(self, sensor_ids: Iterable[str]) -> None:
        self.sensor_ids = sorted(sensor_ids)
        shown = ", ".join(repr(i) for i in self.sensor_ids)
        noun = "sensor" if len(self.sensor_ids) == 1 else "sensors"
        super().__init__(f"{noun} {shown} already registered")


class KeyNotFound(RegistryError):
    """No API key has this id."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        super().__init__(f"API key {key_id!r} not found")
