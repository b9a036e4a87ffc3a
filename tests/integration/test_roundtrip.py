"""Property: any valid reading survives encode → InfluxDB → query unchanged."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from citydata.influx import InfluxClient, quote_ident, quote_literal
from citydata.kinds import all_kinds
from citydata.lineprotocol import encode_point
from citydata.reading import Reading

pytestmark = pytest.mark.integration

# Text for names and tag values: the characters that need escaping, quotes, Thai, and the rest
# of printable Unicode, minus what line protocol refuses (backslashes, a leading "#").
_ALPHABET = st.one_of(
    st.sampled_from(list(" ,=\"'ลำพญาท่าจีน")),
    st.characters(categories=["L", "N", "P", "S", "Zs"], exclude_characters="\\"),
)
_text = st.text(_ALPHABET, min_size=1, max_size=20).filter(
    lambda s: s.strip() == s and not s.startswith(("_", "#"))
)
_times = itertools.count(1_600_000_000_000_000_000, 1_000)


@st.composite
def readings(draw: st.DrawFn) -> Reading:
    kind = draw(st.sampled_from(sorted(all_kinds().values(), key=lambda k: k.name)))
    metrics = draw(st.lists(st.sampled_from(kind.metrics), min_size=1, unique=True))
    fields = {
        m.name: draw(st.floats(m.min, m.max, allow_nan=False, allow_infinity=False))
        for m in metrics
    }
    sensor_id = draw(
        st.text(
            st.characters(categories=["L", "N"]) | st.sampled_from(list(",=\"'-_.")), min_size=1
        )
    )
    tags = draw(st.dictionaries(st.sampled_from(["zone", "site"]), _text, max_size=2))
    return Reading(
        kind=kind.name, sensor_id=sensor_id, time_ns=next(_times), fields=fields, tags=tags
    )


def _stored(influx: InfluxClient, measurement: str, time_ns: int) -> list[dict[str, object]]:
    rows = influx.records(f"SELECT * FROM {quote_ident(measurement)} WHERE time = {time_ns}")
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(reading=readings())
def test_reading_survives_influxdb(influx: InfluxClient, reading: Reading) -> None:
    influx.write_lines([reading.to_line()])
    rows = _stored(influx, reading.kind, reading.time_ns)
    expected = {"time": reading.time_ns, "sensor_id": reading.sensor_id, **reading.tags}
    assert len(rows) == 1
    row = rows[0]
    assert {k: row[k] for k in expected} == expected
    for name, value in reading.fields.items():
        stored = row[name]
        assert isinstance(stored, int | float) and math.isclose(stored, value, rel_tol=0, abs_tol=0)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(measurement=_text, tag_key=_text, tag_value=_text, field_key=_text)
def test_escaped_names_survive_influxdb(
    influx: InfluxClient, measurement: str, tag_key: str, tag_value: str, field_key: str
) -> None:
    # InfluxDB forbids a tag and a field of one name; InfluxQL reads any "time" as the time.
    assume(tag_key != field_key and "time" not in (tag_key.lower(), field_key.lower()))
    t = next(_times)
    measurement = f"{measurement} {t}"  # a fresh one per example: no clash with earlier keys
    influx.write_lines([encode_point(measurement, {tag_key: tag_value}, {field_key: 1.25}, t)])
    rows = influx.records(
        f"SELECT * FROM {quote_ident(measurement)} WHERE {quote_ident(tag_key)} = "
        f"{quote_literal(tag_value)} AND time = {t}"
    )
    assert rows == [{"time": t, tag_key: tag_value, field_key: 1.25}]
