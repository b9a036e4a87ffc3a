"""Fleets described in YAML: the sensors, their zone and the faults to inject."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from citydata.kinds import all_kinds
from simulators.encoders import all_encoders
from simulators.faults import FaultRates
from simulators.fleet import LAM_PHAYA
from simulators.sensor import SimSensor

EXAMPLE = """\
zone: lam-phaya           # registry zone of every sensor
format: native            # payload format of every sensor unless it names its own
faults:                   # per-message rates, 0 to 1 (all 0 when absent)
  dropout: 0.01
  malformed: 0.001
sensors:                  # absent: the built-in Lam Phaya fleet
  - {id: lp-air-01, kind: air, name_en: Municipal Office, name_th: สำนักงานเทศบาล,
     lat: 14.0005, lon: 100.1460, format: ttn}
"""


@dataclass(frozen=True, slots=True)
class FleetSpec:
    sensors: tuple[SimSensor, ...] = LAM_PHAYA
    zone: str = "lam-phaya"
    faults: FaultRates = field(default_factory=FaultRates)


def _sensor(i: int, row: Any, default_format: str) -> SimSensor:
    if not isinstance(row, dict):
        raise ValueError(f"sensors[{i}] must be a mapping")
    missing = [k for k in ("id", "kind", "lat", "lon") if k not in row]
    if missing:
        raise ValueError(f"sensors[{i}] lacks {missing}")
    if row["kind"] not in all_kinds():
        raise ValueError(f"sensors[{i}]: unknown kind {row['kind']!r}")
    sid, fmt = str(row["id"]), str(row.get("format", default_format))
    encoder = all_encoders().get(fmt)
    if encoder is None:
        raise ValueError(f"sensors[{i}]: unknown format {fmt!r}; known: {sorted(all_encoders())}")
    problem = encoder.id_problem(sid)
    if problem:
        raise ValueError(f"sensors[{i}]: {problem}")
    return SimSensor(
        sid,
        str(row["kind"]),
        str(row.get("name_en", sid)),
        str(row.get("name_th", row.get("name_en", sid))),
        float(row["lat"]),
        float(row["lon"]),
        fmt,
    )


def parse_fleet(data: Any) -> FleetSpec:
    """A fleet from parsed YAML; every problem raises ValueError naming where it is."""
    if data is None:
        return FleetSpec()
    if not isinstance(data, dict):
        raise ValueError("a fleet file is a mapping with sensors, zone and faults")
    unknown = sorted(set(data) - {"sensors", "zone", "faults", "format"})
    if unknown:
        raise ValueError(f"unknown key(s) {unknown}")
    rows, fmt = data.get("sensors"), str(data.get("format", "native"))
    if rows is None:
        rows = [{"id": s.sensor_id, "kind": s.kind, "name_en": s.name_en, "name_th": s.name_th,
                 "lat": s.lat, "lon": s.lon} for s in LAM_PHAYA]  # fmt: skip
    sensors = tuple(_sensor(i, r, fmt) for i, r in enumerate(rows))
    if len({s.sensor_id for s in sensors}) != len(sensors):
        raise ValueError("sensor ids repeat")
    return FleetSpec(
        sensors=sensors,
        zone=str(data.get("zone", "lam-phaya")),
        faults=FaultRates.from_mapping(dict(data.get("faults") or {})),
    )


def load_fleet(path: Path) -> FleetSpec:
    """The fleet described by the YAML file at `path`."""
    try:
        return parse_fleet(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from None
