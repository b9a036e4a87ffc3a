"""bench/web.py's reading of wrk's report and its judgment against the goal, on reports wrk 4.1.0
printed (against the API, and against a server made slow and failing on purpose)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bench.common import BenchError
from bench.web import Wrk, parse_wrk, verdict

# /water/status of the API, 50 connections, `--latency --timeout 2s -H "Accept-Encoding: gzip"`.
WATER = """\
Running 15s test @ http://127.0.0.1:45217/water/status
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    83.05ms   64.71ms 767.44ms   87.12%
    Req/Sec   364.15    187.37     1.15k    71.05%
  Latency Distribution
     50%   57.37ms
     75%   93.64ms
     90%  169.32ms
     99%  322.09ms
  10261 requests in 15.08s, 15.20MB read
Requests/sec:    680.37
Transfer/sec:      1.01MB
"""

# A server that sleeps up to 3 s and answers 503 now and then: timeouts, non-2xx, times in s
# (wrk pads "1.24s " with a space).
FAILING = """\
Running 5s test @ http://127.0.0.1:38791/
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   621.07ms  509.57ms   1.67s    40.00%
    Req/Sec    16.04     11.70    50.00     72.22%
  Latency Distribution
     50%  543.93ms
     75%    1.24s 
     90%    1.33s 
     99%    1.67s 
  112 requests in 5.01s, 23.60KB read
  Socket errors: connect 0, read 0, write 0, timeout 22
  Non-2xx or 3xx responses: 18
Requests/sec:     22.37
Transfer/sec:      4.71KB
"""  # noqa: W291

# /city revalidated with If-None-Match (bench/web.py's Lua script adds the Statuses line).
REVALIDATED = """\
Running 15s test @ http://127.0.0.1:45217/city
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    38.58ms   42.36ms 338.13ms   86.84%
    Req/Sec     0.93k   496.52     1.77k    61.07%
  Latency Distribution
     50%   19.78ms
     75%   41.24ms
     90%   99.11ms
     99%  201.77ms
  26685 requests in 15.02s, 5.04MB read
Requests/sec:   1776.92
Transfer/sec:    343.58KB
Statuses: 200 50, 304 26635, other 0
"""


def test_a_clean_run() -> None:
    wrk = parse_wrk(WATER)
    assert wrk == Wrk(
        requests=10261,
        seconds=15.08,
        read_bytes=round(15.20 * 2**20),
        rate=680.37,
        p50_ms=57.37,
        p99_ms=322.09,
    )
    assert wrk.errors == 0 and wrk.timeout == 0 and wrk.statuses is None


def test_timeouts_errors_and_seconds() -> None:
    wrk = parse_wrk(FAILING)
    assert (wrk.requests, wrk.rate, wrk.p50_ms) == (112, 22.37, 543.93)
    assert wrk.p99_ms == pytest.approx(1670.0)
    assert wrk.read_bytes == round(23.60 * 1024)
    assert (wrk.connect, wrk.read, wrk.write, wrk.timeout) == (0, 0, 0, 22)
    assert wrk.non_2xx_3xx == 18
    assert wrk.errors == 18  # timeouts are counted apart


def test_the_revalidating_scripts_statuses() -> None:
    assert parse_wrk(REVALIDATED).statuses == {200: 50, 304: 26635, 0: 0}


def test_a_report_without_the_latency_distribution_is_refused() -> None:
    without = "\n".join(line for line in WATER.splitlines() if "%" not in line)
    with pytest.raises(BenchError, match="--latency"):
        parse_wrk(without)


def test_microseconds() -> None:
    fast = WATER.replace("57.37ms", "840.00us")
    assert parse_wrk(fast).p50_ms == pytest.approx(0.84)


@pytest.mark.parametrize(
    ("route", "changes", "missed"),
    [
        ("/aqi", {}, []),  # 680 req/s against a baseline of 1000: over half
        ("/aqi", {"rate": 499.0}, ["0.50x < 0.5x"]),
        ("/", {"rate": 250.0}, []),
        ("/", {"rate": 249.0}, ["0.25x < 0.25x"]),
        ("/sensors", {"rate": 40.0}, []),  # no rate asked of it
        ("/sensors", {"p99_ms": 1000.5}, ["p99 > 1 s"]),
        ("/health", {"timeout": 3}, ["3 timeouts"]),
        ("/city", {"non_2xx_3xx": 2, "read": 1}, ["3 errors"]),
    ],
)
def test_verdict(route: str, changes: dict[str, Any], missed: list[str]) -> None:
    wrk = dataclasses.replace(parse_wrk(WATER), **changes)
    assert verdict(route, wrk, baseline_rate=1000.0) == missed
