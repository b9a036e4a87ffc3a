"""The validated sensor: identity, place, reading tags, calibration and thresholds of one device."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from citydata.kinds import all_kinds, get_kind
from citydata.reading import SensorId

Status = Literal["active", "maintenance", "retired", "pending"]
STATUSES: tuple[str, ...] = get_args(Status)
TIMESTAMPS = frozenset({"created_at", "updated_at"})


def _not_bool(value: object) -> object:
    if isinstance(value, bool):  # pydantic would take true as 1.0
        raise ValueError("must be a number, not true/false")
    return value


Number = Annotated[float, BeforeValidator(_not_bool), Field(allow_inf_nan=False)]
# Zone and site go out as InfluxDB tags on every reading: short plain words, few distinct values.
Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Key = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]
MetaValue = Annotated[str, Field(min_length=1, max_length=1000)]
KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": KEY_PATTERN}
# pydantic describes patterned keys as patternProperties, which still admits keys matching no
# pattern; propertyNames says what the validators enforce, so generated clients get it right.
Levels = Annotated[
    dict[Key, Number],
    Field(min_length=1),
    WithJsonSchema(
        {
            "type": "object",
            "minProperties": 1,
            "propertyNames": _KEY_SCHEMA,
            "additionalProperties": {"type": "number"},
        }
    ),
]
Meta = Annotated[
    dict[Key, MetaValue],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": _KEY_SCHEMA,
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 1000},
        }
    ),
]


OFFLINE_META = "offline_after_s"  # meta key overriding the kind's silence threshold


def _seconds(value: str | None) -> float | None:
    """A positive, finite number of seconds from its text; None otherwise."""
    try:
        seconds = float(value) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _metric_of_kind(name: str, info: ValidationInfo) -> str:
    kind = get_kind(info.data.get("kind", ""))
    if kind is not None and name not in kind.by_name:  # an invalid kind is reported on its own
        known = ", ".join(kind.by_name)
        raise ValueError(f"not a metric of kind {kind.name} (its metrics: {known})")
    return name


MetricName = Annotated[str, AfterValidator(_metric_of_kind)]

_PATTERN_HELP = {
    "id": "no '/', '+', '#', spaces, backslashes or control characters "
    "(the id is an MQTT topic level and an InfluxDB tag)",
    "zone": "letters, digits, '_', '.' and '-' only, starting with a letter or digit",
    "site": "letters, digits, '_', '.' and '-' only, starting with a letter or digit",
    "thresholds": "names use letters, digits, '_' and '-', starting with a letter or '_'",
    "meta": "keys use letters, digits, '_' and '-', starting with a letter or '_'",
}


class Calibration(BaseModel):
    """A linear correction applied before storage: stored = raw * scale + offset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scale: Number = 1.0
    offset: Number = 0.0

    @field_validator("scale")
    @classmethod
    def _nonzero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("must not be 0 (every reading would become the offset)")
        return value

    def apply(self, raw: float) -> float:
        """The value to store for the raw reading `raw`."""
        return raw * self.scale + self.offset


class Sensor(BaseModel):
    """One registered sensor; every field is checked and every problem reported at once."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    id: SensorId
    kind: str
    name_th: Name
    name_en: Name
    status: Status = "active"  # before the location, whose check depends on it
    # None only while pending: a sensor the collector registered itself has no place yet.
    latitude: Annotated[Number, Field(ge=-90, le=90)] | None = Field(
        default=None, validate_default=True
    )
    longitude: Annotated[Number, Field(ge=-180, le=180)] | None = Field(
        default=None, validate_default=True
    )
    zone: Tag
    site: Tag
    datum: Annotated[str, Field(min_length=1, max_length=64)] = "MSL"
    install_date: date | None = None
    calibration: dict[MetricName, Calibration] = Field(default_factory=dict)
    thresholds: dict[MetricName, Levels] = Field(default_factory=dict)
    meta: Meta = Field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if get_kind(value) is None:
            known = ", ".join(sorted(all_kinds()))
            raise ValueError(f"unknown kind {value!r} (registered kinds: {known})")
        return value

    @field_validator("meta")
    @classmethod
    def _offline_after(cls, meta: dict[str, str]) -> dict[str, str]:
        if OFFLINE_META in meta and _seconds(meta[OFFLINE_META]) is None:
            raise ValueError(
                f"{OFFLINE_META} must be a positive number of seconds "
                "(it overrides the kind's silence threshold)"
            )
        return meta

    @property
    def offline_limit_s(self) -> float:
        """Seconds of silence after which the sensor counts as offline (its values stale):
        meta.offline_after_s when set, else its kind's threshold."""
        own = _seconds(self.meta.get(OFFLINE_META))
        if own is not None:
            return own
        kind = get_kind(self.kind)
        return kind.offline_after_s if kind is not None else 900.0

    def offline_after(self, silent_s: float) -> bool:
        """True when silence for `silent_s` seconds makes the sensor offline (its values
        stale): longer than its offline limit."""
        return silent_s > self.offline_limit_s

    @field_validator("install_date")
    @classmethod
    def _gregorian(cls, value: date | None) -> date | None:
        if value is not None and value.year > 2400:
            raise ValueError(
                f"year {value.year} looks like a Buddhist-era year; "
                f"use the Gregorian year ({value.year - 543})"
            )
        return value

    @field_validator("created_at", "updated_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        # SQLite hands back naive datetimes; the registry only ever writes UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("latitude", "longitude")
    @classmethod
    def _placed_unless_pending(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A pending sensor has not been placed yet; one retired while pending (a stray device
        # that auto-registered) never will be.
        if value is None and info.data.get("status", "active") not in ("pending", "retired"):
            raise ValueError(
                "Field required (only a pending or retired sensor may have no location)"
            )
        return value

    @classmethod
    def pending(cls, sensor_id: str, kind: str) -> Sensor:
        """A sensor first seen in the data, registered by the collector for an engineer to
        complete: no place yet, zone and site "pending"."""
        return cls(
            id=sensor_id,
            kind=kind,
            name_th=sensor_id,
            name_en=sensor_id,
            zone="pending",
            site="pending",
            status="pending",
        )

    @property
    def tags(self) -> dict[str, str]:
        """The low-cardinality tags written with every reading of this sensor."""
        return {"zone": self.zone, "site": self.site}

    def calibrate(self, fields: Mapping[str, float]) -> dict[str, float]:
        """`fields` with each calibrated metric corrected; other metrics pass unchanged."""
        cal = self.calibration
        return {k: cal[k].apply(v) if k in cal else v for k, v in fields.items()}

    def as_dict(self, *, timestamps: bool = False) -> dict[str, Any]:
        """JSON-ready fields in declaration order; without the timestamps unless asked."""
        return self.model_dump(mode="json", exclude=None if timestamps else set(TIMESTAMPS))

    def same_as(self, other: Sensor) -> bool:
        """True when both describe the sensor identically, whenever each was stored."""
        return self.as_dict() == other.as_dict()


EDITABLE = tuple(name for name in Sensor.model_fields if name not in TIMESTAMPS)


def describe_errors(exc: ValidationError) -> list[str]:
    """One readable line per problem: `field: what is wrong (got value)`."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if p != "[key]"]
        where = ".".join(loc) or "sensor"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "string_pattern_mismatch" and loc and loc[0] in _PATTERN_HELP:
            msg = _PATTERN_HELP[loc[0]]
        got = err.get("input")
        shown = isinstance(got, str | int | float) and len(str(got)) < 80
        # A key is already in the location; a missing field has no value to show.
        if shown and err["loc"][-1:] != ("[key]",) and err["type"] != "missing":
            msg += f" (got {got!r})"
        lines.append(f"{where}: {msg}")
    return lines
