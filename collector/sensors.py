"""The collector's view of the sensor registry: a snapshot reread every few seconds, and the
enrichment step that applies it to each reading (quarantine, calibration, tags)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from citydata.decoders import Problem, RawReading
from citydata.kinds import all_kinds
from citydata.reading import SENSOR_ID_PATTERN
from citydata.registry import Registry, RegistryError, Sensor, SensorExists
from citydata.routes import Route

log = logging.getLogger(__name__)
_VALID_ID = re.compile(SENSOR_ID_PATTERN)


class SensorCache:
    """A snapshot of the registry, refreshed at most every `refresh_s` seconds, so registry
    changes take effect without a restart; a failed refresh keeps the last good snapshot."""

    def __init__(
        self, registry: Registry, refresh_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry
        self.refresh_s = refresh_s
        self.clock = clock
        self.sensors: dict[str, Sensor] = registry.snapshot()
        self._next = clock() + refresh_s

    def refresh_if_due(self) -> None:
        if self.clock() < self._next:
            return
        self._next = self.clock() + self.refresh_s
        try:
            self.sensors = self.registry.snapshot()
        except RegistryError as exc:
            log.error("cannot reread the sensor registry (keeping the last snapshot): %s", exc)

    def register_pending(self, sensor_id: str, kind: str) -> Sensor:
        """Register a sensor first seen in the data, for an engineer to complete."""
        try:
            sensor = self.registry.add(Sensor.pending(sensor_id, kind))
            log.warning(
                "registered new sensor %s (%s) as pending; complete it with "
                "`citydata sensors update %s`",
                sensor_id,
                kind,
                sensor_id,
            )
        except SensorExists:  # another collector registered it first
            sensor = self.registry.get(sensor_id)
        self.sensors[sensor_id] = sensor
        return sensor

    def enrich(self, raw: RawReading, route: Route) -> Problem | None:
        """Apply the registry to one reading: its problem, or None after calibrating its values
        and adding its tags. Readings validation will refuse anyway are left to it."""
        if raw.problem is not None or raw.kind not in all_kinds():
            return None
        sensor = self.sensors.get(raw.sensor_id)
        if sensor is None:
            if not _VALID_ID.match(raw.sensor_id):
                return None  # validation says what is wrong with the id
            if not route.auto_register:
                return Problem(
                    "unregistered",
                    f"sensor {raw.sensor_id!r} is not in the registry: "
                    "add it (citydata sensors add) and replay its dead letters",
                )
            sensor = self.register_pending(raw.sensor_id, raw.kind)
        if sensor.status == "retired":
            return Problem("retired", f"sensor {raw.sensor_id!r} is retired")
        if sensor.kind != raw.kind:
            return Problem(
                "wrong_kind",
                f"sensor {raw.sensor_id!r} is registered as "
                f"{sensor.kind}, but this reading is {raw.kind}",
            )
        for name, calibration in sensor.calibration.items():
            value = raw.values.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                raw.values[name] = calibration.apply(value)
        raw.tags = sensor.tags
        return None
