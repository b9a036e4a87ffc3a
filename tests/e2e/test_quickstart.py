"""The README's quick start, executed as a newcomer would: a fresh clone, `./run-local.sh` with
no environment overrides (only the documented port options, to avoid clashes), every `curl` and
`mosquitto_sub` example the README and the start-up banner print, Ctrl-C, and a second start.

The clone is of the committed tree (`git clone`), so an uncommitted file cannot make it pass;
`run-local.sh` installs its own virtual environment there, as it does for a newcomer.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from citydata import services
from tests.helpers import left_running, wait_for

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORTS = {"mqtt": 11883, "influx": 18086, "api": 18000}  # as the README documents them
FLEET_AIR_STATIONS = 10


# ---- reading the examples out of the README (pure, tested below without servers) ----------


def shell_examples(markdown: str) -> list[str]:
    """Every `curl` and `mosquitto_sub` command in the text's fenced code blocks, with
    continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", markdown, flags=re.S | re.M):
        commands += banner_examples(block)
    return commands


def banner_examples(text: str) -> list[str]:
    """Every `curl` and `mosquitto_sub` command in plain text (the start-up banner), which may
    follow a label such as 'try:'."""
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    found = []
    for line in joined.splitlines():
        match = re.search(r"\b(curl|mosquitto_sub)\s.*$", line)
        if match:
            found.append(match.group(0).strip())
    return found


def banner_commands(text: str) -> list[str]:
    """Every `.venv/bin/citydata` command of the banner, continuation lines joined, with the
    settings it sets before it."""
    joined = re.sub(r"\s*\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if ".venv/bin/citydata " in line]


def on_ports(command: str, ports: dict[str, int]) -> str:
    """A README command pointed at this run's ports instead of the documented defaults."""
    for name, default in DEFAULT_PORTS.items():
        command = command.replace(f"127.0.0.1:{default}", f"127.0.0.1:{ports[name]}")
        command = command.replace(f"localhost:{default}", f"localhost:{ports[name]}")
        command = re.sub(rf"(-p\s+){default}\b", rf"\g<1>{ports[name]}", command)
    return command


def test_examples_are_found_and_moved_to_other_ports() -> None:
    text = (
        "x\n```sh\nmosquitto_sub -h 127.0.0.1 -p 11883 -t 'sensors/#' -v   # raw\n"
        "curl -sG http://127.0.0.1:18086/query --data-urlencode db=citydata \\\n"
        '     --data-urlencode "q=SELECT 1"\nls -l\n```\n'
        "  try:    curl -s http://127.0.0.1:18000/aqi\n"
    )
    assert shell_examples(text) == [
        "mosquitto_sub -h 127.0.0.1 -p 11883 -t 'sensors/#' -v   # raw",
        "curl -sG http://127.0.0.1:18086/query --data-urlencode db=citydata "
        '--data-urlencode "q=SELECT 1"',
    ]
    ports = {"mqtt": 1, "influx": 2, "api": 3}
    moved = [on_ports(c, ports) for c in shell_examples(text)]
    assert moved[0].startswith("mosquitto_sub -h 127.0.0.1 -p 1 ")
    assert "127.0.0.1:2/query" in moved[1]
    assert banner_examples(text.split("```\n")[-1]) == ["curl -s http://127.0.0.1:18000/aqi"]


def test_the_readme_has_examples_to_run() -> None:
    commands = shell_examples((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any(c.startswith("mosquitto_sub ") for c in commands)
    assert any("/aqi" in c for c in commands)
    assert all(check_for(c) is not None for c in commands if c.startswith("curl"))


# ---- what a useful answer is, per example --------------------------------------------------


def _json(out: str) -> Any:
    try:
        return json.loads(out)
    except ValueError:
        raise AssertionError(f"not JSON: {out[:300]!r}") from None


def _not_a_problem(body: Any) -> None:
    assert not (isinstance(body, dict) and "status" in body and "title" in body), body


def check_influx(out: str) -> None:
    body = _json(out)
    (result,) = body["results"]
    assert "error" not in result, result
    rows = result["series"][0]["values"]
    assert rows and all(row[0] for row in rows), body


def check_aqi(out: str) -> None:
    items = _json(out)["items"]
    assert len(items) == FLEET_AIR_STATIONS, items
    assert all(item["aqi"] is not None and item["aqi"]["aqi"] >= 0 for item in items), items


def check_items(out: str) -> None:
    body = _json(out)
    _not_a_problem(body)
    assert body["items"], body
    assert all(item.get("newest") or item.get("level") for item in body["items"]), body


def check_readings(out: str) -> None:
    body = _json(out)
    _not_a_problem(body)
    assert len(body["points"]) > 200, f"{len(body['points'])} points in 24 h"  # 5-min backfill


def check_json(out: str) -> None:
    body = _json(out)
    _not_a_problem(body)
    assert body, body


def check_city(out: str) -> None:
    body = _json(out)
    assert body["availability"]["current"] is True, body["availability"]
    check_aqi(json.dumps(body["air"]))
    assert body["water"]["items"] and body["traffic"]["items"], body


CHECKS: list[tuple[str, Callable[[str], None]]] = [
    (r"/query\b", check_influx),
    (r"/city['\"\s]*(?:#|$)", check_city),
    (r"/aqi['\"\s]*(?:#|$)", check_aqi),
    (r"/(water|traffic)/status", check_items),
    (r"/sensors/[^/]+/readings", check_readings),
    (r"http://", check_json),  # any other API example must at least answer JSON, not a problem
]


def check_for(command: str) -> Callable[[str], None] | None:
    for pattern, check in CHECKS:
        if re.search(pattern, command):
            return check
    return None


# ---- running the quick start --------------------------------------------------------------


@dataclass
class LocalRun:
    """`./run-local.sh` started in the clone, in a session of its own, as a terminal would."""

    proc: subprocess.Popen[bytes]
    out: Path
    err: Path
    ports: dict[str, int]

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def logs(self) -> str:
        return f"--- stdout\n{self.stdout()[-4000:]}\n--- stderr\n{self.err.read_text()[-4000:]}"

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"http://127.0.0.1:{self.ports['api']}{path}", params=params)
        response.raise_for_status()
        return response.json()

    def ctrl_c(self) -> list[psutil.Process]:
        """SIGINT to the foreground process group, as Ctrl-C does; returns what was running."""
        tree = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(True)]
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(120)
        return tree


def start_local(clone: Path, ports: dict[str, int], tag: str) -> LocalRun:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    out, err = clone.parent / f"{tag}.out", clone.parent / f"{tag}.err"
    args = [arg for name, port in ports.items() for arg in (f"--{name}-port", str(port))]
    with open(out, "wb") as stdout, open(err, "wb") as stderr:
        proc = subprocess.Popen(
            ["./run-local.sh", *args],
            cwd=clone,
            env=clean,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    return LocalRun(proc, out, err, ports)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    for binary in ("mosquitto", "influxd", "mosquitto_sub", "curl"):
        services.find_binary(binary)  # a missing one raises, failing here as in CI
    target = tmp_path / "citydata"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


@pytest.fixture
def local(clone: Path) -> Iterator[LocalRun]:
    ports = {name: services.free_port() for name in DEFAULT_PORTS}
    run = start_local(clone, ports, "first")
    yield run
    if run.proc.poll() is None:  # the test failed half-way: stop what it started
        os.killpg(run.proc.pid, signal.SIGINT)
        try:
            run.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(run.proc.pid, signal.SIGKILL)


def run_example(command: str, cwd: Path) -> str:
    """Run one README command in a shell; a `mosquitto_sub` until it printed a few readings."""
    if not command.startswith("mosquitto_sub"):
        done = subprocess.run(
            ["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, (command, done.stderr)
        return done.stdout
    sub = subprocess.Popen(
        ["bash", "-c", f"exec {command}"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        assert sub.stdout is not None
        deadline = time.monotonic() + 60
        while len(lines) < 5 and time.monotonic() < deadline:
            line = sub.stdout.readline()
            if not line:
                break
            lines.append(line)
    finally:
        os.killpg(sub.pid, signal.SIGTERM)
        sub.wait(10)
        if sub.stdout is not None:
            sub.stdout.close()
    return "".join(lines)


def check_readings_stream(out: str) -> None:
    lines = out.splitlines()
    assert len(lines) >= 5, out
    for line in lines:
        topic, payload = line.split(" ", 1)
        assert re.fullmatch(r"sensors/(air|water|traffic)/lp-[a-z]+-\d\d", topic), line
        assert isinstance(_json(payload), dict)


def all_stations_judged(run: LocalRun) -> bool:
    """Every air station has its AQI in /aqi and in what the city page shows (/city): the API
    answers both from a snapshot rebuilt every 30 s, which may have been taken during the
    backfill (or, before the first one, /aqi computes for the request)."""
    try:
        check_aqi(json.dumps(run.api("/aqi")))
        check_city(json.dumps(run.api("/city")))
    except (httpx.HTTPError, AssertionError, KeyError, TypeError):
        return False
    return True


@pytest.mark.timeout(900)
def test_the_quick_start_as_a_newcomer_runs_it(clone: Path, local: LocalRun) -> None:
    readme = (clone / "README.md").read_text(encoding="utf-8")
    wait_for(lambda: "Ctrl-C stops everything" in local.stdout() or local.proc.poll() is not None,
             timeout=600, what="the start-up banner (after installing)")  # fmt: skip
    assert local.proc.poll() is None, local.logs()
    banner_seen = time.monotonic()
    wait_for(lambda: all_stations_judged(local), timeout=120, what=f"AQI\n{local.logs()}")
    first_aqi_s = time.monotonic() - banner_seen
    assert "backfilling the last 2 days" in local.stdout(), local.logs()

    # Two days of history, from the backfill.
    start = (datetime.now(UTC) - timedelta(hours=50)).isoformat()
    points = local.api("/sensors/lp-water-01/readings", metric="level", start=start)["points"]
    first = datetime.fromisoformat(points[0]["time"])
    assert datetime.now(UTC) - first > timedelta(hours=47), points[:2]

    # Every example the README and the banner print gives a useful answer.
    wait_for(lambda: "going live" in local.stdout(), timeout=120, what="the live simulator")

    # The derived series of the same days: every air station's AQI, hour by hour.
    aqi_hours = _counts(local, 'SELECT count("aqi") FROM "city_aqi" GROUP BY "sensor_id"')
    assert len(aqi_hours) == FLEET_AIR_STATIONS and min(aqi_hours) >= 40, aqi_hours
    examples = [on_ports(c, local.ports) for c in shell_examples(readme)]
    examples += banner_examples(local.stdout())
    assert len(examples) >= 6
    for command in examples:
        out = run_example(command, clone)
        check = check_readings_stream if command.startswith("mosquitto_sub") else check_for(command)
        assert check is not None, f"no check for README example {command!r}"
        try:
            check(out)
        except AssertionError as exc:
            raise AssertionError(f"{command!r} printed no useful answer: {exc}") from None

    # `citydata db init` ran after the backfill: the hourly series hold the backfilled days.
    hours = _counts(local, 'SELECT count("mean_pm25") FROM "forever"."air_1h" GROUP BY "sensor_id"')
    assert len(hours) == FLEET_AIR_STATIONS and min(hours) >= 40, hours

    # The banner's backup command, as printed, backs the running platform up.
    (backup,) = [c for c in banner_commands(local.stdout()) if " backup " in c]
    run_example(backup, clone)
    manifest = json.loads((clone / "var/backups/first/manifest.json").read_text())
    assert manifest["influx_db"] == "citydata", manifest

    # The banner names the city page first, and the page carries the city's data.
    banner = local.stdout()[local.stdout().index("Ctrl-C stops everything") :]
    page_url = f"http://127.0.0.1:{local.ports['api']}/"
    assert banner.index(page_url) < banner.index("/docs"), banner
    page = httpx.get(page_url, timeout=10)
    assert page.status_code == 200 and '<html lang="th"' in page.text, page.text[:500]
    data = re.search(r'<script id="city-data" type="application/json">(.*?)</script>', page.text)
    assert data and len(json.loads(data.group(1))["air"]["items"]) == FLEET_AIR_STATIONS

    # Ctrl-C stops every server and program.
    air_points = sum(_air_counts(local))
    tree = local.ctrl_c()
    assert local.proc.returncode == 0, local.logs()
    assert local.stdout().rstrip().endswith("stopped."), local.logs()
    assert left_running(tree) == []
    for port in local.ports.values():
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)

    # A second start keeps the data and does not backfill again.
    again = start_local(clone, local.ports, "second")
    try:
        wait_for(lambda: "going live" in again.stdout() or again.proc.poll() is not None,
                 timeout=120, what="the second start")  # fmt: skip
        wait_for(lambda: all_stations_judged(again), timeout=60, what="AQI after a restart")
        assert "backfilling" not in again.stdout(), again.logs()
        assert sum(_air_counts(again)) >= air_points > 0
    finally:
        again.ctrl_c()
    assert again.proc.returncode == 0, again.logs()
    print(f"first full /aqi {first_aqi_s:.1f} s after the banner")


def _counts(run: LocalRun, query: str) -> list[int]:
    """The count of each series of a `SELECT count(...) ... GROUP BY` in InfluxDB."""
    body = httpx.get(
        f"http://127.0.0.1:{run.ports['influx']}/query", params={"db": "citydata", "q": query}
    ).json()
    return [series["values"][0][1] for series in body["results"][0].get("series", [])]


def _air_counts(run: LocalRun) -> list[int]:
    """How many PM2.5 points InfluxDB holds, per air station."""
    return _counts(run, 'SELECT count("pm25") FROM "air" GROUP BY "sensor_id"')
