"""The city snapshot without servers: its bodies (ETag, gzip, 304), what it keeps and says when
a rebuild fails, and the text colours the page puts on the official AQI and congestion colours."""

from __future__ import annotations

import gzip
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.requests import Request

from api.snapshot import Body, Snap, Snapshot
from citydata.influx import InfluxError
from citydata.stations.aqi import COVERAGE_RULE, AqiStations
from citydata.stations.city import CityView, contrast, legend, text_on
from citydata.stations.traffic import TrafficStations
from citydata.stations.water import WaterStations

T0 = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)


def view(at: datetime = T0) -> CityView:
    return CityView(
        time=at,
        air=AqiStations(as_of=at, coverage_rule=COVERAGE_RULE, items=[]),
        water=WaterStations(time=at, items=[]),
        traffic=TrafficStations(time=at, items=[]),
        seen=[],
        aqi_48h=[],
        level_48h=[],
        alerts=[],
        legend=legend(),
    )


def request(**headers: str) -> Request:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/city",
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope)


def test_a_body_is_sent_gzipped_when_accepted_and_304_when_the_client_has_it() -> None:
    body = Body.json(view())
    plain = body.response(request(), "public, max-age=10")
    assert plain.status_code == 200 and plain.body == body.content
    assert plain.headers["etag"] == body.etag and plain.headers["vary"] == "Accept-Encoding"
    assert plain.headers["cache-control"] == "public, max-age=10"

    packed = body.response(request(accept_encoding="gzip, br"), "x")
    assert packed.headers["content-encoding"] == "gzip"
    assert gzip.decompress(packed.body) == body.content

    for tag in (body.etag, f"W/{body.etag}", f'"other", {body.etag}'):
        again = body.response(request(if_none_match=tag), "x")
        assert again.status_code == 304 and again.body == b"", tag
        assert again.headers["etag"] == body.etag
    assert body.response(request(if_none_match='"other"'), "x").status_code == 200


def test_the_etag_follows_the_content() -> None:
    assert Body.json(view()).etag == Body.json(view()).etag
    assert Body.json(view()).etag != Body.json(view(T0.replace(hour=8))).etag


def test_small_or_compressed_bodies_are_not_gzipped() -> None:
    assert Body.of(b"{}", "application/json").gzipped is None
    assert Body.of(b"\x00" * 4096, "font/woff2").gzipped is None
    assert Body.of(b"a" * 4096, "text/css; charset=utf-8").gzipped is not None


def test_a_failed_rebuild_keeps_the_last_view_and_says_it_is_not_current() -> None:
    outcomes: list[CityView | Exception] = [
        view(),
        InfluxError("connection refused"),
        InfluxError("still down"),
        view(T0.replace(hour=8)),
    ]

    def build() -> CityView:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    snapshot = Snapshot(build, 30)
    first = snapshot.refresh()
    assert first is not None and first.view.availability.current
    assert first.aqi is not None and first.water is not None and first.traffic is not None

    down = snapshot.refresh()
    assert down is not None and snapshot.current() is down
    assert down.view.time == T0  # the numbers are the last ones read...
    assert not down.view.availability.current  # ...and said to be so
    assert down.view.availability.since is not None
    assert "ฐานข้อมูล" in (down.view.availability.reason_th or "")
    assert "cannot be reached" in (down.view.availability.reason_en or "")
    # The station routes answer from the data again (their own 503), not from old numbers.
    assert down.aqi is None and down.water is None and down.traffic is None
    assert down.city.etag != first.city.etag

    still = snapshot.refresh()
    assert still is not None and still.view.availability.since == down.view.availability.since

    back = snapshot.refresh()
    assert back is not None and back.view.availability.current
    assert back.view.time == T0.replace(hour=8) and back.aqi is not None


def test_with_no_view_yet_a_failure_leaves_nothing_to_serve_and_nobody_waiting() -> None:
    def build() -> CityView:
        raise InfluxError("connection refused")

    snapshot = Snapshot(build, 30)
    assert snapshot.refresh() is None
    assert snapshot.current(wait_s=60) is None  # returns at once: the first try has ended


def test_listeners_hear_every_new_snapshot() -> None:
    heard: list[Snap | None] = []
    snapshot = Snapshot(view, 30)
    snapshot.on_refresh(heard.append)
    built = [snapshot.refresh(), snapshot.refresh()]
    assert heard == built


def test_contrast_is_the_wcag_ratio() -> None:
    assert contrast("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert contrast("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)  # WebAIM's example


def test_text_on_the_official_colours_reaches_wcag_aa() -> None:
    shades = legend()
    assert [s.key for s in shades.aqi] == ["1", "2", "3", "4", "5"]
    assert [s.colour_hex for s in shades.aqi] == [
        "#3BCCFF",
        "#92D050",
        "#FFFF00",
        "#FFA200",
        "#F04646",
    ]
    assert text_on("#FFFF00") == "#000000" and text_on("#00008B") == "#FFFFFF"
    for shade in (*shades.aqi, *shades.traffic):
        assert contrast(shade.colour_hex, shade.text_hex) >= 4.5, shade
    assert shades.aqi[4].advice_th and shades.aqi[0].range == "0-25"


def test_a_failing_listener_does_not_stop_the_snapshot(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_: object) -> None:
        raise KeyError("favicon.svg")

    snapshot = Snapshot(view, 30)
    snapshot.on_refresh(broken)
    built = snapshot.refresh()
    assert built is not None and snapshot.current() is built
    assert "a listener failed" in caplog.text


def test_a_failed_rebuild_is_tried_again_within_seconds_then_every_interval() -> None:
    snapshot = Snapshot(view, 30)
    assert snapshot.next_try_s(0) == 30
    assert [snapshot.next_try_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert Snapshot(view, 0.5).next_try_s(3) == 0.5  # never later than the interval


def test_the_thread_rebuilds_soon_after_a_failure_at_start() -> None:
    outcomes: list[Exception] = [InfluxError("database not found: citydata")]

    def build() -> CityView:
        if outcomes:
            raise outcomes.pop()
        return view()

    snapshot = Snapshot(build, 3600)
    snapshot.start()
    try:
        deadline = time.monotonic() + 10
        while snapshot.current() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        snapshot.close()
    built = snapshot.current()
    assert built is not None and built.view.availability.current  # not an hour later
