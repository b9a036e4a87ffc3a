"""CSV and Parquet exports against a real InfluxDB: exact round trips, window edges, streaming."""

from __future__ import annotations

import io
import math
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote

import pandas as pd
import pyarrow.parquet as pq
import pytest

from api.app import create_app
from citydata import services
from citydata.influx import InfluxClient
from citydata.kinds import get_kind
from citydata.lineprotocol import encode_point
from citydata.readings import pages
from citydata.settings import Settings, load_settings
from citydata.timeutil import parse_rfc3339
from tests.apiclient import TestClient, problem
from tests.helpers import api_key, register

pytestmark = pytest.mark.integration

CSV = "text/csv; charset=utf-8"
PARQUET = "application/vnd.apache.parquet"
D0 = parse_rfc3339("2026-01-01T00:00:00Z")
DAY = 86_400 * 1_000_000_000
New = Callable[[str], str]
AIR = [m.name for m in get_kind("air").metrics]  # type: ignore[union-attr]


def _write(
    db: InfluxClient, kind: str, sensor: str, at: int, fields: dict[str, float], zone: str = "test"
) -> None:
    tags = {"sensor_id": sensor, "zone": zone, "site": "lab"}
    db.write_lines([encode_point(kind, tags, fields, at)])


# One app and database for the module, so the file runs in seconds; each test writes to sensors
# of its own, registered under fresh ids.
@pytest.fixture(scope="module")
def db(influx_server: services.InfluxService) -> Iterator[InfluxClient]:
    client = InfluxClient(influx_server.url, f"test_{uuid.uuid4().hex[:12]}")
    client.create_database()
    yield client
    client.query(f'DROP DATABASE "{client.database}"', method="POST")
    client.close()


@pytest.fixture(scope="module")
def api_settings(db: InfluxClient, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(
        {},
        influx_url=db.url,
        influx_db=db.database,
        data_dir=tmp_path_factory.mktemp("exports") / "var",
    )


@pytest.fixture(scope="module")
def client(api_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings)) as c:
        yield c


@pytest.fixture
def new(api_settings: Settings) -> New:
    """Register a sensor of a kind under a fresh id; its id."""

    def make(kind: str) -> str:
        sensor_id = f"{kind}-{uuid.uuid4().hex[:8]}"
        register(api_settings, {sensor_id: kind})
        return sensor_id

    return make


def _export(client: TestClient, sensor: str, **params: str) -> Any:
    response = client.get(f"/sensors/{sensor}/export", params=params)
    assert response.status_code == 200, response.text
    return response


def _csv(client: TestClient, sensor: str, **params: str) -> pd.DataFrame:
    response = _export(client, sensor, format="csv", **params)
    assert response.headers["content-type"] == CSV
    return pd.read_csv(io.BytesIO(response.content), parse_dates=["time"])


def _parquet(client: TestClient, sensor: str, **params: str) -> pd.DataFrame:
    response = _export(client, sensor, format="parquet", **params)
    assert response.headers["content-type"] == PARQUET
    return pd.read_parquet(io.BytesIO(response.content))


def _ns(frame: pd.DataFrame) -> list[int]:
    return [int(t) for t in frame["time"].astype("int64")]


def _problem(client: TestClient, sensor: str, status: int, **params: str) -> dict[str, Any]:
    return problem(client.get(f"/sensors/{sensor}/export", params=params), status)


# Points around the edges of a three-day export starting at D0: (time, pm25, pm10).
EDGES = [
    (D0 - 1, 1.0, 1.0),  # before start: out
    (D0, 0.1 + 0.2, 20.0),  # start: in
    (D0 + DAY - 1, 1 / 3, float("nan")),  # last ns of the first window
    (D0 + DAY, 1e-7, 22.5),  # first ns of the second window
    (D0 + DAY + 1, 123456.789, 0.0),
    (D0 + 2 * DAY + DAY // 2, 7.0, 8.0),
    (D0 + 3 * DAY - 1, 2.0 / 7, 9.0),  # last ns of the range
    (D0 + 3 * DAY, 99.0, 99.0),  # end: out
]
INSIDE = EDGES[1:-1]


def _write_edges(db: InfluxClient, sensor: str) -> None:
    for at, pm25, pm10 in reversed(EDGES):  # written out of order
        fields = {"pm25": pm25} if math.isnan(pm10) else {"pm25": pm25, "pm10": pm10}
        _write(db, "air", sensor, at, fields)
    _write(db, "air", sensor + "-other", D0 + DAY, {"pm25": 555.0})  # another sensor: never in


def _assert_edges(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["time", *AIR]
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]"
    assert _ns(frame) == [at for at, _, _ in INSIDE]
    assert frame["pm25"].tolist() == [pm25 for _, pm25, _ in INSIDE]  # exact floats
    pm10 = frame["pm10"].tolist()
    assert math.isnan(pm10[1]) and pm10[:1] + pm10[2:] == [v for _, _, v in INSIDE if v == v]
    assert frame[AIR[2:]].isna().all().all()  # metrics never sent: empty columns


def test_csv_is_exactly_the_range_across_window_edges(
    client: TestClient, db: InfluxClient, new: New
) -> None:
    air = new("air")
    _write_edges(db, air)
    frame = _csv(client, air, start="2026-01-01T07:00:00+07:00", end="2026-01-04T00:00:00Z")
    _assert_edges(frame)


def test_csv_text_header_once_and_times_with_nanoseconds(
    client: TestClient, db: InfluxClient, new: New
) -> None:
    air = new("air")
    _write_edges(db, air)
    params = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-04T00:00:00Z", "metrics": "pm25"}
    text = _export(client, air, **params).text
    lines = text.splitlines()
    assert lines[0] == "time,pm25" and text.count("time") == 1 and text.endswith("\n")
    assert lines[1:4] == [
        "2026-01-01T00:00:00.000000000Z,0.30000000000000004",
        "2026-01-01T23:59:59.999999999Z,0.3333333333333333",
        "2026-01-02T00:00:00.000000000Z,1e-07",
    ]


def test_parquet_is_exactly_the_range_with_a_fixed_schema(
    client: TestClient, db: InfluxClient, new: New
) -> None:
    air = new("air")
    _write_edges(db, air)
    params = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-04T00:00:00Z"}
    _assert_edges(_parquet(client, air, **params))
    raw = _export(client, air, format="parquet", **params).content
    meta = pq.ParquetFile(io.BytesIO(raw)).metadata
    assert meta.num_row_groups == 3 and meta.num_rows == len(INSIDE)  # one per window
    schema = pq.read_schema(io.BytesIO(raw))
    assert schema.field("pm25").metadata == {b"unit": "µg/m³".encode()}
    assert schema.metadata[b"sensor_id"] == air.encode()


def test_empty_range_is_a_header_or_an_empty_parquet(client: TestClient, new: New) -> None:
    air = new("air")
    params = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-03T00:00:00Z", "metrics": "pm25"}
    assert _export(client, air, **params).text == "time,pm25\n"
    frame = _parquet(client, air, **params)
    assert list(frame.columns) == ["time", "pm25"] and len(frame) == 0
    assert str(frame["time"].dtype) == "datetime64[ns, UTC]" and frame["pm25"].dtype == "float64"


def test_metrics_subset_in_the_order_asked(client: TestClient, db: InfluxClient, new: New) -> None:
    water = new("water")
    _write(db, "water", water, D0 + 60, {"level": 1.25, "flow": 3.5, "ph": 7.0})
    params = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"}
    for frame in (
        _csv(client, water, metrics="ph, level,ph", **params),
        _parquet(client, water, metrics="ph,level", **params),
    ):
        assert list(frame.columns) == ["time", "ph", "level"]
        assert frame[["ph", "level"]].values.tolist() == [[7.0, 1.25]]
        assert _ns(frame) == [D0 + 60]


def test_a_full_page_never_splits_the_rows_of_one_time(
    client: TestClient, db: InfluxClient, new: New, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "PAGE_ROWS", 3)
    air = new("air")
    times = [D0 + n * 1_000 for n in range(8)]
    for n, at in enumerate(times):
        _write(db, "air", air, at, {"pm25": float(n)})
    # The sensor moved zone: a second series with points at times[2] and times[5].
    _write(db, "air", air, times[2], {"pm25": 20.0}, zone="moved")
    _write(db, "air", air, times[5], {"pm25": 50.0}, zone="moved")
    params = {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z", "metrics": "pm25"}
    expected = [(at, float(n)) for n, at in enumerate(times)]
    expected += [(times[2], 20.0), (times[5], 50.0)]
    for frame in (_csv(client, air, **params), _parquet(client, air, **params)):
        got = list(zip(_ns(frame), frame["pm25"].tolist(), strict=True))
        assert sorted(got) == sorted(expected) and _ns(frame) == sorted(_ns(frame))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_multi_day_range_is_streamed_in_chunks(
    client: TestClient, db: InfluxClient, new: New, fmt: str
) -> None:
    air, days = new("air"), 6
    db.write_lines(
        encode_point("air", {"sensor_id": air}, {"pm25": float(n)}, D0 + n * DAY // 2)
        for n in range(2 * days)
    )
    params = {"format": fmt, "start": "2026-01-01T00:00:00Z", "end": "2026-01-07T00:00:00Z"}
    with client.stream("GET", f"/sensors/{air}/export", params=params) as response:
        assert response.status_code == 200
        chunks = [chunk for chunk in response.iter_bytes() if chunk]
    assert len(chunks) > days  # a piece per window, each sent once read, plus header or footer
    body = io.BytesIO(b"".join(chunks))
    frame = pd.read_csv(body) if fmt == "csv" else pd.read_parquet(body)
    assert frame["pm25"].tolist() == [float(n) for n in range(2 * days)]


def test_download_names_the_sensor_and_range(client: TestClient, new: New) -> None:
    air = new("air")
    response = _export(client, air, start="2026-01-01T00:00:00Z", end="2026-02-01T00:00:00Z")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{air}_2026-01-01_2026-02-01.csv"'
    )
    response = _export(
        client, air, format="parquet", start="2026-01-01T06:30:00Z", end="2026-01-02T00:00:00Z"
    )
    assert response.headers["content-disposition"] == (
        f'attachment; filename="{air}_2026-01-01T063000Z_2026-01-02.parquet"'
    )


def test_a_non_ascii_sensor_id_keeps_its_name_in_filename_star(
    client: TestClient, api_settings: Settings
) -> None:
    sensor = f"อากาศ-{uuid.uuid4().hex[:6]}"
    register(api_settings, {sensor: "air"})
    response = _export(client, sensor, start="2026-01-01T00:00:00Z", end="2026-01-02T00:00:00Z")
    plain, star = response.headers["content-disposition"].split("; filename*=UTF-8''")
    assert plain == f'attachment; filename="{"_" * 5}-{sensor[6:]}_2026-01-01_2026-01-02.csv"'
    assert unquote(star) == f"{sensor}_2026-01-01_2026-01-02.csv"


def test_unknown_sensor_is_a_404_problem(client: TestClient) -> None:
    body = _problem(client, "nope", 404)
    assert "nope" in body["detail"]


@pytest.mark.parametrize(
    ("params", "loc", "words"),
    [
        ({"metrics": "pm25,level"}, ["query", "metrics"], "'level'"),
        ({"metrics": ""}, ["query", "metrics"], "no metric"),
        ({"format": "xlsx"}, ["query", "format"], "csv"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-02T00:00:00Z"}, ["query", "start"], ""),
        ({"start": "2026-01-02"}, ["query", "start"], "zone"),
        ({"start": "2024-01-01T00:00:00Z", "end": "2026-01-03T00:00:00Z"}, ["query"], "732"),
        ({"start": "1500-01-01T00:00:00Z", "end": "1500-01-02T00:00:00Z"}, ["query"], "1700"),
    ],
)
def test_bad_input_is_a_422_problem(
    client: TestClient, new: New, params: dict[str, str], loc: list[str], words: str
) -> None:
    body = _problem(client, new("air"), 422, **params)
    assert body["errors"][0]["loc"] == loc and words in body["detail"]


def test_reading_needs_a_key_when_anonymous_reading_is_off(
    api_settings: Settings, new: New
) -> None:
    air = new("air")
    closed = api_settings.model_copy(update={"api_anonymous_read": False})
    with TestClient(create_app(closed)) as client:
        assert client.get(f"/sensors/{air}/export").status_code == 401
        key = api_key(closed, "read")
        response = client.get(f"/sensors/{air}/export", headers={"X-API-Key": key})
        assert response.status_code == 200 and response.text.startswith("time,")


def test_openapi_describes_both_file_types(client: TestClient) -> None:
    route = client.get("/openapi.json").json()["paths"]["/sensors/{sensor_id}/export"]["get"]
    assert set(route["responses"]["200"]["content"]) == {CSV, PARQUET}
    assert {"404", "422"} <= set(route["responses"])
