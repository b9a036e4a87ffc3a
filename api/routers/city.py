"""The public city page (`GET /`, Thai first) and its data (`GET /city`), both from the city
snapshot (api/snapshot.py), and the page's static files (`GET /static/...`), kept in memory with
their gzip. Nothing here reaches outside the API but the map tiles (CITYDATA_WEB_TILES_URL).

Public by design (the municipality publishes this data): no key is asked, whatever
CITYDATA_API_ANONYMOUS_READ says; CITYDATA_WEB_PUBLIC=false turns the page and /city off.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from jinja2 import Environment, PackageLoader, select_autoescape

from api.problems import problem_responses
from api.routers.aqi import STATIONS_EXAMPLE
from api.routers.traffic import EXAMPLE as TRAFFIC_EXAMPLE
from api.routers.water import EXAMPLE as WATER_EXAMPLE
from api.snapshot import DATA_CACHE, Body, Snap, Snapshot
from citydata.settings import Settings
from citydata.stations.city import HISTORY_H, CityView, legend

router = APIRouter(tags=["city"])

STATIC = Path(__file__).resolve().parents[1] / "web" / "static"
PAGE_CACHE = "public, max-age=15, stale-while-revalidate=30"
ASSET_CACHE = "public, max-age=31536000, immutable"  # asked for with ?v=<its hash>
ASSET_REVALIDATE = "public, max-age=300"  # asked for without, or with an old hash

CITY_EXAMPLE: dict[str, Any] = {
    "time": "2026-01-31T03:00:30Z",
    "availability": {"current": True, "since": None, "reason_en": None, "reason_th": None},
    "air": STATIONS_EXAMPLE,
    "water": {"time": "2026-01-31T03:00:30Z", "items": [WATER_EXAMPLE]},
    "traffic": {"time": "2026-01-31T03:00:30Z", "items": [TRAFFIC_EXAMPLE]},
    "seen": [
        {
            "sensor_id": "lp-air-01",
            "kind": "air",
            "time": "2026-01-31T02:59:00Z",
            "age_s": 90.0,
            "offline": False,
            "values": {"pm25": 41.0, "pm10": 66.2},
        }
    ],
    "aqi_48h": [
        {
            "sensor_id": "lp-air-01",
            "start": "2026-01-29T04:00:00Z",
            "aqi": [98] * (HISTORY_H - 1) + [105],
            "level": [3] * (HISTORY_H - 1) + [4],
        }
    ],
    "level_48h": [
        {
            "sensor_id": "lp-water-01",
            "start": "2026-01-29T03:15:00Z",
            "every_s": 900,
            "values": [1.92, 1.95, None, 2.01],
        }
    ],
    "alerts": [],
    "legend": legend().model_dump(mode="json"),
}


@dataclass(frozen=True)
class Asset:
    body: Body
    version: str  # the ?v= that makes it cacheable for a year


@cache
def assets() -> dict[str, Asset]:
    """Every file under api/web/static, by its path there, read once."""
    found = {}
    for path in sorted(p for p in STATIC.rglob("*") if p.is_file()):
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if media.startswith("text/") or media in ("application/javascript", "image/svg+xml"):
            media += "; charset=utf-8"
        body = Body.of(path.read_bytes(), media)
        found[path.relative_to(STATIC).as_posix()] = Asset(body, body.etag.strip('"')[:12])
    return found


def asset_url(name: str) -> str:
    """The address of a static file, with its version, so browsers keep it for a year."""
    return f"/static/{name}?v={assets()[name].version}"


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("api", "web/templates"),
        autoescape=select_autoescape(["html"]),
        auto_reload=False,  # the static files are read once too: a new one needs a restart
    )
    env.globals["asset"] = asset_url
    return env


def page_config(settings: Settings) -> dict[str, Any]:
    """What the page needs beyond the data: names, the map tiles, the licence, and how often
    to look for new data."""
    return {
        "city_th": settings.web_city_th,
        "city_en": settings.web_city_en,
        "tiles_url": settings.web_tiles_url,
        "tiles_attribution": settings.web_tiles_attribution,
        "licence_name": settings.web_licence_name,
        "licence_url": settings.web_licence_url,
        "refresh_s": max(settings.api_snapshot_s, 5.0) if settings.api_snapshot_s else 30.0,
        "docs_url": "/docs",
        "data_url": "/city",
    }


def _json_in_html(value: Any) -> str:
    """JSON safe inside a <script> element (no '</script>' or '<!--' can close it)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(settings: Settings, snap: Snap | None) -> Body:
    """The page with the snapshot's /city JSON embedded (the same bytes, not serialized
    again), or `null` when there is none."""
    template = _environment().get_template("index.html")
    data = None if snap is None else snap.city.content.decode()
    html = template.render(
        config=_json_in_html(page_config(settings)),
        data="null" if data is None else data.replace("<", "\\u003c"),
        city_th=settings.web_city_th,
        city_en=settings.web_city_en,
    )
    return Body.of(html.encode(), "text/html; charset=utf-8")


class Pages:
    """The page rendered once per snapshot (by the refreshing thread), not per request."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._rendered: tuple[str, Body] | None = None

    def for_snap(self, snap: Snap | None) -> Body:
        key = "none" if snap is None else snap.city.etag
        with self._lock:
            if self._rendered is None or self._rendered[0] != key:
                self._rendered = (key, render_page(self.settings, snap))
            return self._rendered[1]


def _public(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not settings.web_public:
        raise HTTPException(404, detail="the public city page is turned off (CITYDATA_WEB_PUBLIC)")
    return settings


async def _snap(request: Request) -> Snap | None:
    """The current snapshot (waiting for the first one, off the event loop); with snapshots off
    (CITYDATA_API_SNAPSHOT_S=0), a fresh one."""
    snapshot: Snapshot | None = request.app.state.snapshot
    if snapshot is None:
        return await run_in_threadpool(Snapshot(request.app.state.build_city, 0).refresh)
    snap = snapshot.current()
    if snap is None:
        wait_s = request.app.state.settings.influx_timeout_s
        snap = await run_in_threadpool(snapshot.current, wait_s)
    return snap


@router.get("/", include_in_schema=False)
async def page(request: Request) -> Response:
    """The public city page, Thai first."""
    _public(request)
    pages: Pages = request.app.state.pages
    snap = await _snap(request)
    if request.app.state.snapshot is None:  # built for this request: rendered for it too
        return await run_in_threadpool(lambda: pages.for_snap(snap).response(request, PAGE_CACHE))
    return pages.for_snap(snap).response(request, PAGE_CACHE)


@router.get(
    "/city",
    response_model=CityView,
    responses={
        200: {"content": {"application/json": {"example": CITY_EXAMPLE}}},
        **problem_responses(404, 503),
    },
)
async def city(request: Request) -> Response:
    """Everything the public city page shows, as of `time`: the stations' judgments (the same
    as `/aqi`, `/water/status` and `/traffic/status`), each station's newest reading and
    whether it is offline, 48 hours of AQI and river level, and the firing alerts about
    stations. Rebuilt every CITYDATA_API_SNAPSHOT_S seconds, with an ETag: ask with
    If-None-Match to get a 304 until it changes. `availability.current` is false while the
    data cannot be read (the numbers are then the last ones read). No key is needed."""
    _public(request)
    snap = await _snap(request)
    if snap is None:
        raise HTTPException(503, detail="the city's data cannot be read yet (InfluxDB down?)")
    return snap.city.response(request, DATA_CACHE)


@router.get("/static/{name:path}", include_in_schema=False)
async def static(name: str, request: Request) -> Response:
    """A file of the page (styles, scripts, fonts, map library), from memory."""
    asset = assets().get(name)
    if asset is None:
        raise HTTPException(404, detail=f"no static file {name!r}")
    fresh = request.query_params.get("v") == asset.version
    return asset.body.response(request, ASSET_CACHE if fresh else ASSET_REVALIDATE)
