"""The reading model: one sensor's values at one instant, ready to store."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from citydata.lineprotocol import encode_point

# Sensor ids travel as an MQTT topic level and an InfluxDB tag: no separators or wildcards,
# no control characters or white space, no backslash. The white space is spelled out (Python's
# and pydantic's \s), since the pattern is also published in the OpenAPI schema, where \s means
# another set (ECMAScript's: without U+0085, with U+FEFF).
SENSOR_ID_PATTERN = (
    r"^[^/+#\\\x00-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]{1,128}$"
)
SensorId = Annotated[str, Field(min_length=1, max_length=128, pattern=SENSOR_ID_PATTERN)]


class Reading(BaseModel):
    """A validated reading: measurement (the kind), tags, float fields and a UTC time in ns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(min_length=1)
    sensor_id: SensorId
    time_ns: int
    fields: dict[str, float] = Field(min_length=1)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("fields")
    @classmethod
    def _finite(cls, fields: dict[str, float]) -> dict[str, float]:
        for name, value in fields.items():
            if not math.isfinite(value):
                raise ValueError(f"{name}={value} is not finite")
        return fields

    def to_line(self) -> str:
        """This reading in line protocol; `sensor_id` joins the other tags."""
        return encode_point(
            self.kind, {**self.tags, "sensor_id": self.sensor_id}, self.fields, self.time_ns
        )
