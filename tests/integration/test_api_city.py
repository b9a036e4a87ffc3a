"""The city snapshot in the API, against the simulated city in a real InfluxDB: /city, the page
and the station routes answer the same numbers as a fresh computation, with ETags and gzip; the
page's files come from memory; InfluxDB down gives a clear answer, not old numbers as new."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import create_app
from citydata import services
from citydata.settings import load_settings
from simulators.fleet import LAM_PHAYA
from tests.apiclient import TestClient, problem
from tests.city import City

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(city: City) -> Iterator[TestClient]:
    """The API over the city, answering from its snapshot (the default)."""
    assert city.settings.api_snapshot_s > 0
    with TestClient(create_app(city.settings)) as client:
        yield client


def _json(client: TestClient, url: str, **headers: str) -> Any:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_city_holds_every_station_of_the_fleet(api: TestClient) -> None:
    view = _json(api, "/city")
    assert view["availability"]["current"] is True
    for kind, part in (("air", "air"), ("water", "water"), ("traffic", "traffic")):
        expected = sorted(s.sensor_id for s in LAM_PHAYA if s.kind == kind)
        assert [i["sensor_id"] for i in view[part]["items"]] == expected, kind
    assert sorted(s["sensor_id"] for s in view["seen"]) == sorted(s.sensor_id for s in LAM_PHAYA)
    strips = {s["sensor_id"]: s for s in view["aqi_48h"]}
    assert len(strips) == 10 and all(len(s["aqi"]) == 48 for s in strips.values())
    # The strip's newest hour is the AQI /aqi shows now.
    for item in view["air"]["items"]:
        assert strips[item["sensor_id"]]["aqi"][-1] == (item["aqi"] or {}).get("aqi")
    levels = {s["sensor_id"]: s for s in view["level_48h"]}
    assert len(levels) == 4
    for series in levels.values():
        assert series["every_s"] == 900 and len(series["values"]) == 192
        assert sum(v is not None for v in series["values"]) > 150  # 2 days of readings


def test_the_station_routes_answer_from_the_snapshot(api: TestClient) -> None:
    view = _json(api, "/city")
    for url, part in (("/aqi", "air"), ("/water/status", "water"), ("/traffic/status", "traffic")):
        response = api.get(url)
        assert response.status_code == 200
        assert response.headers["etag"] and "max-age" in response.headers["cache-control"], url
        assert response.json() == view[part], url
        again = api.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", url


def test_the_snapshot_equals_a_fresh_computation(city: City, api: TestClient) -> None:
    view = _json(api, "/city")
    fresh = city.settings.model_copy(update={"api_snapshot_s": 0.0})
    with TestClient(create_app(fresh)) as live:
        aqi = _json(live, f"/aqi?at={view['air']['as_of']}")
        assert "etag" not in live.get("/aqi").headers  # computed for the request
        water = _json(live, "/water/status")
        roads = _json(live, "/traffic/status")
    assert aqi == view["air"]
    fresh_water = {i["sensor_id"]: i for i in water["items"]}
    for item in view["water"]["items"]:
        now = fresh_water[item["sensor_id"]]
        assert now["level"]["value_m"] == item["level"]["value_m"]
        assert now["level"]["status"] == item["level"]["status"]
    assert [i["congestion"] for i in roads["items"]] == [
        i["congestion"] for i in view["traffic"]["items"]
    ]


def test_parameters_are_computed_for_the_request(api: TestClient) -> None:
    zone = _json(api, "/aqi?zone=lam-phaya")
    assert "etag" not in api.get("/aqi?zone=lam-phaya").headers
    assert [i["sensor_id"] for i in zone["items"]] == [
        i["sensor_id"] for i in _json(api, "/aqi")["items"] if i["location"]["zone"] == "lam-phaya"
    ]


def test_city_is_gzipped_and_revalidated(api: TestClient) -> None:
    response = api.get("/city", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert int(response.headers["content-length"]) < len(response.content) / 4
    again = api.get("/city", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def _script(html: str, element_id: str) -> Any:
    found = re.search(
        rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, f"no #{element_id} in the page"
    return json.loads(found.group(1))


def test_the_page_carries_the_snapshot_and_its_files_come_from_memory(api: TestClient) -> None:
    page = api.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["etag"] and '<html lang="th"' in page.text
    assert _script(page.text, "city-data") == _json(api, "/city")
    config = _script(page.text, "city-config")
    assert config["licence_name"] and config["data_url"] == "/city"
    assert api.get("/", headers={"If-None-Match": page.headers["etag"]}).status_code == 304

    assets = re.findall(r'(?:href|src)="(/static/[^"]+\?v=[0-9a-f]+)"', page.text)
    assert assets, "the page links no static file"
    for url in assets:
        response = api.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, url
        assert "immutable" in response.headers["cache-control"], url
        unversioned = api.get(url.split("?")[0])
        assert "immutable" not in unversioned.headers["cache-control"], url
    problem(api.get("/static/no-such-file.js"), 404)
    problem(api.get("/static/../app.py"), 404)


def test_the_page_can_be_turned_off(city: City) -> None:
    closed = city.settings.model_copy(update={"web_public": False})
    with TestClient(create_app(closed)) as client:
        assert "CITYDATA_WEB_PUBLIC" in problem(client.get("/"), 404)["detail"]
        problem(client.get("/city"), 404)
        assert client.get("/aqi").status_code == 200


def test_with_influxdb_unreachable_the_page_says_there_is_no_data(tmp_path: Path) -> None:
    settings = load_settings(
        {},
        influx_url=f"http://127.0.0.1:{services.free_port()}",
        influx_timeout_s=2,
        data_dir=tmp_path / "var",
    )
    with TestClient(create_app(settings)) as client:
        assert "cannot be read" in problem(client.get("/city"), 503)["detail"]
        page = client.get("/")
        assert page.status_code == 200 and _script(page.text, "city-data") is None
        unreachable = problem(client.get("/aqi"), 503)  # computed afresh: no old numbers
        assert "InfluxDB" in unreachable["detail"]
