"""The city snapshot: `citydata.stations.city.city_view`, rebuilt by one thread every
CITYDATA_API_SNAPSHOT_S seconds and kept as ready-to-send bodies (JSON, gzip, ETag), so a surge
of readers of the public page, `/city`, `/aqi`, `/water/status` and `/traffic/status` costs
no query and no judgment per request.

When a rebuild fails (InfluxDB or the registry unreachable), the last view is kept, marked not
current (`availability`) with the reason, so the page says so instead of showing old numbers as
new; the station routes then answer from the data again (their own 503 while it is down).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from pydantic import BaseModel

from citydata.stations.city import Availability, CityView
from citydata.timeutil import as_datetime

log = logging.getLogger(__name__)

# Media types worth compressing; fonts and images are compressed already.
COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml")
_MIN_GZIP = 512
DATA_CACHE = "public, max-age=10, stale-while-revalidate=20"


@dataclass(frozen=True)
class Body:
    """One answer ready to send: its bytes, their gzip when worth it, and a strong ETag."""

    content: bytes
    media_type: str
    etag: str
    gzipped: bytes | None

    @classmethod
    def of(cls, content: bytes, media_type: str) -> Body:
        digest = hashlib.sha256(content).hexdigest()[:20]
        packed = None
        if len(content) >= _MIN_GZIP and media_type.startswith(COMPRESSIBLE):
            packed = gzip.compress(content, compresslevel=6, mtime=0)
        return cls(content, media_type, f'"{digest}"', packed)

    @classmethod
    def json(cls, model: BaseModel) -> Body:
        return cls.of(model.model_dump_json().encode(), "application/json")

    def response(self, request: Request, cache_control: str) -> Response:
        """200 with the body (gzip when the client accepts it), or 304 when the client's
        If-None-Match names this ETag; either way with ETag, Cache-Control and Vary, so a
        reverse proxy or CDN can keep and revalidate it."""
        headers = {"ETag": self.etag, "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
        wanted = request.headers.get("if-none-match", "")
        if self.etag in (tag.strip().removeprefix("W/") for tag in wanted.split(",")):
            return Response(status_code=304, headers=headers)
        content = self.content
        if self.gzipped is not None and "gzip" in request.headers.get("accept-encoding", ""):
            content, headers["Content-Encoding"] = self.gzipped, "gzip"
        return Response(content, media_type=self.media_type, headers=headers)


@dataclass(frozen=True)
class Snap:
    """One built view and its bodies."""

    view: CityView
    city: Body
    aqi: Body | None  # None while the view is not current: the routes read the data then
    water: Body | None
    traffic: Body | None
    built_monotonic: float


class Snapshot:
    """The city view, rebuilt by a daemon thread every `interval_s` (started by `start`)."""

    def __init__(self, build: Callable[[], CityView], interval_s: float) -> None:
        self._build = build
        self.interval_s = interval_s
        self._snap: Snap | None = None
        self._first = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing_since: float | None = None
        self._listeners: list[Callable[[Snap], None]] = []

    def on_refresh(self, listener: Callable[[Snap], None]) -> None:
        """Call `listener` with each new snapshot (from the refreshing thread)."""
        self._listeners.append(listener)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="city-snapshot", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def current(self, wait_s: float = 0.0) -> Snap | None:
        """The newest snapshot; waits up to `wait_s` for the first try to end."""
        if self._snap is None and wait_s > 0:
            self._first.wait(wait_s)
        return self._snap

    def refresh(self) -> Snap | None:
        """Build the view now; on failure keep the last one, marked not current."""
        try:
            view = self._build()
        except Exception as exc:  # any failure: the last view stays, marked not current
            return self._failed(exc)
        if self._failing_since is not None:
            log.info("city snapshot: the data can be read again")
        self._failing_since = None
        snap = Snap(
            view=view,
            city=Body.json(view),
            aqi=Body.json(view.air),
            water=Body.json(view.water),
            traffic=Body.json(view.traffic),
            built_monotonic=time.monotonic(),
        )
        self._publish(snap)
        return snap

    def _failed(self, exc: Exception) -> Snap | None:
        reason = f"{type(exc).__name__}: {exc}"
        if self._failing_since is None:
            self._failing_since = time.time()
            log.warning("city snapshot: cannot read the data (%s); keeping the last view", reason)
        since = as_datetime(int(self._failing_since * 1e9))
        availability = Availability(
            current=False,
            since=since,
            reason_en="The platform's database cannot be reached; these are the last readings "
            "it gave.",
            reason_th="ไม่สามารถติดต่อฐานข้อมูลของระบบได้ ข้อมูลที่แสดงเป็นค่าล่าสุดที่ได้รับ",
        )
        if self._snap is None:
            self._first.set()  # nothing to wait for: the readers answer that there is no data
            return None
        view = self._snap.view.model_copy(update={"availability": availability})
        snap = Snap(view, Body.json(view), None, None, None, self._snap.built_monotonic)
        self._publish(snap)
        return snap

    def _publish(self, snap: Snap) -> None:
        self._snap = snap
        self._first.set()
        for listener in self._listeners:
            try:
                listener(snap)
            except Exception:  # a listener's bug must not stop the refreshing
                log.exception("city snapshot: a listener failed")

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            self.refresh()
            failures = failures + 1 if self._failing_since is not None else 0
            self._stop.wait(max(0.0, self.next_try_s(failures) - (time.monotonic() - started)))

    def next_try_s(self, failures: int) -> float:
        """Seconds from one rebuild's start to the next: the interval, or after `failures`
        failed rebuilds in a row 1, 2, 4 ... s up to it, so a view unreadable at start-up (the
        database not made yet) or during an outage is back within seconds, not an interval."""
        if failures == 0:
            return self.interval_s
        return min(self.interval_s, 2.0 ** min(failures - 1, 16))


def snapshot_body(request: Request, part: str) -> Body | None:
    """The snapshot's current answer for `part` (aqi, water, traffic), or None when there is
    none to give (snapshots off, not built yet, or the data unreadable at the last try)."""
    snapshot: Snapshot | None = request.app.state.snapshot
    snap = None if snapshot is None else snapshot.current()
    body: Body | None = None if snap is None else getattr(snap, part)
    return body
