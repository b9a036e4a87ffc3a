"""Real-browser helpers for the public page's tests: Debian's headless Chromium driven through its
chromedriver by Selenium (never a downloaded browser), axe-core injected into the page, the
page's weight from the Resource and Navigation Timing APIs, screenshots, and the loopback
servers the page talks to: the API as `citydata api` and a map tile server of one PNG.

Without Chromium, chromedriver or axe-core (`bootstrap.sh --tests` installs them) a test is skipped
locally and fails when CI=true, as the servers' tests do.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver

from bench.api import ApiProcess
from citydata import services

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE_JS = ROOT / ".venv" / "node" / "node_modules" / "axe-core" / "axe.min.js"
OUTPUT = ROOT / "var" / "test-output" / "city-page"
IN_CI = os.environ.get("CI", "").lower() == "true"

# No background traffic of the browser's own (updates, sync, field trials): on these machines
# only loopback answers, and the page's own requests are what is measured.
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
)


def need_browser() -> None:
    """Skip (fail when CI=true) without Chromium, its driver or axe-core."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER, AXE_JS) if not p.is_file()]
    if missing:
        reason = f"{', '.join(missing)} missing; run `bash bootstrap.sh --tests` to install them"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """Headless Chromium with a fresh profile and its console log kept ("browser" log)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="citydata-chromium-") as profile:
        for flag in (*FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # The explicit driver path: Selenium Manager never looks for (or downloads) one.
        driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
        try:
            yield driver
        finally:
            driver.quit()  # the browser, then the chromedriver process Selenium started


def viewport(driver: WebDriver, width: int, height: int) -> None:
    """Lay the page out at exactly `width` x `height` CSS pixels (a phone below 600 wide:
    touch, mobile viewport); applies to the next load as to this one."""
    mobile = width < 600
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": mobile})
    # Overlay scrollbars, as phones have: the layout is `width` wide at every size.
    driver.execute_cdp_cmd("Emulation.setScrollbarsHidden", {"hidden": True})


def console_errors(driver: WebDriver) -> list[str]:
    """The browser log's SEVERE entries since the last call (reading empties the log)."""
    entries: list[dict[str, Any]] = driver.get_log("browser")  # type: ignore[no-untyped-call]
    return [e["message"] for e in entries if e["level"] == "SEVERE"]


def wait_js(driver: WebDriver, script: str, what: str, timeout: float = 30.0) -> Any:
    """Run `script` (a function body that returns) until its result is truthy; return it.
    Bounded: fails after `timeout` seconds, saying what it waited for and what it last saw."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = driver.execute_script(script)
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})")


def axe_violations(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now: id, impact, help and the nodes hit."""
    driver.execute_script(AXE_JS.read_text(encoding="utf-8"))
    driver.set_script_timeout(60)
    result: dict[str, Any] = driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ["violations"]})
          .then(r => done({violations: r.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map(n => n.target.join(" "))}))}))
          .catch(e => done({error: String(e)}));"""
    )
    assert "error" not in result, f"axe.run failed: {result['error']}"
    violations: list[dict[str, Any]] = result["violations"]
    return violations


# What the page fetched, from the Navigation and Resource Timing entries: bytes on the wire
# (transferSize; the encoded body when a cross-origin server gives no Timing-Allow-Origin).
_WEIGHT = """
const upTo = arguments[0];
const nav = performance.getEntriesByType("navigation")[0];
const entries = [nav, ...performance.getEntriesByType("resource")]
  .filter(e => e.startTime <= upTo);
const mark = performance.getEntriesByName("city-rendered", "mark")[0];
return {
  origin: location.origin,
  rendered_ms: mark ? mark.startTime : null,
  dom_content_loaded_ms: nav.domContentLoadedEventEnd,
  load_ms: nav.loadEventEnd,
  entries: entries.map(e => ({
    name: e.name, type: e.initiatorType || "navigation", start_ms: e.startTime,
    transfer: e.transferSize, encoded: e.encodedBodySize})),
};
"""


def page_weight(driver: WebDriver, up_to_ms: float) -> dict[str, Any]:
    """The bytes fetched by requests started within `up_to_ms` of the navigation, split into
    the page's own (its origin) and others (map tiles), and the "city-rendered" mark's time."""
    found: dict[str, Any] = driver.execute_script(_WEIGHT, up_to_ms)
    own = other = 0
    for entry in found["entries"]:
        size = max(entry["transfer"], entry["encoded"])
        entry["bytes"] = size
        if entry["name"].startswith(found["origin"]):
            own += size
        else:
            other += size
    return {**found, "own_bytes": own, "other_bytes": other, "total_bytes": own + other}


def screenshot(driver: WebDriver, path: Path) -> Path:
    """A PNG of the whole page, beyond the viewport, at the emulated width."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    width = metrics["cssLayoutViewport"]["clientWidth"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def write_json(path: Path, value: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path


# ---- the servers the page talks to --------------------------------------------------------


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(row * height, 9)),
            chunk(b"IEND", b""),
        )
    )


TILE = png(256, 256, (0xE8, 0xEE, 0xE4))


@dataclass
class TileServer:
    """Map tiles on loopback: one PNG for every /z/x/y.png, the paths asked for kept."""

    port: int
    requested: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{{z}}/{{x}}/{{y}}.png"


@contextmanager
def tile_server() -> Iterator[TileServer]:
    tiles = TileServer(services.free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            tiles.requested.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(TILE)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Timing-Allow-Origin", "*")  # its sizes count in Resource Timing
            self.end_headers()
            # The browser may have left the page (or zoom) before its tile came.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(TILE)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", tiles.port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="tiles", daemon=True)
    thread.start()
    try:
        yield tiles
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextmanager
def api_process(env: dict[str, str], log: Path) -> Iterator[str]:
    """`citydata api` on a free loopback port with only the given CITYDATA_* settings, until
    `/city` answers; yields its base URL, then stops it by its PID (bench/api.py's process)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    api = ApiProcess({**clean, **env}, log)
    try:
        api.wait_up(60, "/city")
        yield api.url
    finally:
        api.stop()
