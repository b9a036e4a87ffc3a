"""bench/ingest.py's several-collectors logic without servers: the --collectors option, the
client ids, the exit summaries that must add up, and the medians of the scaling report."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bench.common import BenchError
from bench.ingest import (
    CollectorProcess,
    Member,
    Throughput,
    check_final,
    collector_counts,
    collector_ids,
    duplicated,
    member_lines,
    parse_args,
    per_100k,
    report_peers,
    scaling_rows,
)


def test_collector_counts() -> None:
    assert collector_counts("1") == [1]
    assert collector_counts("1,2,3") == [1, 2, 3]
    for bad in ("", "0", "1,x", "17", "-1", "1,2,1"):
        with pytest.raises(argparse.ArgumentTypeError):
            collector_counts(bad)


def test_default_is_the_one_collector_bench() -> None:
    args = parse_args([])
    assert args.collectors == [1] and args.rounds == 1 and not args.scaling
    assert not parse_args(["--collectors", "2"]).scaling  # the full bench, two collectors
    assert parse_args(["--collectors", "1,2,3"]).scaling
    assert parse_args(["--rounds", "3"]).scaling


def test_client_ids() -> None:
    assert collector_ids(1) == ["bench-collector"]  # as before the option existed
    assert collector_ids(3, "-r2-c3") == [
        "bench-collector-r2-c3-1",
        "bench-collector-r2-c3-2",
        "bench-collector-r2-c3-3",
    ]


def finished(tmp: Path, **final: int) -> CollectorProcess:
    proc = CollectorProcess({}, tmp / "collector.log")
    proc.final = final
    return proc


def test_exit_summaries_add_up(tmp_path: Path) -> None:
    a = finished(tmp_path, received=600, acked=600, written=600, dead_lettered=0)
    b = finished(tmp_path, received=400, acked=400, written=400, dead_lettered=0)
    assert check_final([a, b], 1000) == "received=1000 acked=1000 written=1000 dead_lettered=0"


@pytest.mark.parametrize(
    "second",
    [
        {"received": 401, "acked": 401, "written": 401, "dead_lettered": 0},  # one redelivered
        {"received": 400, "acked": 400, "written": 399, "dead_lettered": 1},
    ],
)
def test_exit_summaries_that_do_not_add_up(tmp_path: Path, second: dict[str, int]) -> None:
    a = finished(tmp_path, received=600, acked=600, written=600, dead_lettered=0)
    with pytest.raises(BenchError, match="for 1000 messages"):
        check_final([a, finished(tmp_path, **second)], 1000)


def test_a_missing_summary_is_said(tmp_path: Path) -> None:
    a = finished(tmp_path, received=1000, acked=1000, written=1000, dead_lettered=0)
    assert "no exit summary" in check_final([a, finished(tmp_path)], 1000)


def run(collectors: int, seconds: float, cpu: float, n: int = 1000) -> Throughput:
    members = [
        Member(f"c{k}", n // collectors, cpu / collectors / 2, cpu / collectors / 2)
        for k in range(collectors)
    ]
    cpu_s = {"consumer": cpu / 2, "worker": cpu / 2, "mosquitto": 0.1, "influxd": 0.2}
    return Throughput("collector", n, 0.0, 0.2, seconds, 100.0, 1.0, cpu_s, "", members)


def test_scaling_rows_are_medians_compared_within_a_round() -> None:
    runs = [
        (1, 1, run(1, 1.0, 2.0)),
        (1, 2, run(2, 2.0, 3.0)),
        (2, 1, run(1, 0.5, 2.2)),
        (2, 2, run(2, 1.0, 3.2)),
        (3, 1, run(1, 0.8, 2.4)),
        (3, 2, run(2, 4.0, 3.4)),
    ]
    one, two = scaling_rows(runs)
    # one collector: rates 1,000, 2,000, 1,250 msg/s; two: 500, 1,000, 250, so within each
    # round two collectors made 0.5, 0.5 and 0.2 of one collector's rate
    assert one[:4] == ["1", "1,250", "1,667", "1.00"]
    assert two[:4] == ["2", "500", "556", "0.50"]
    assert one[4:6] == ["2.20", "2.200"] and two[4:6] == ["3.20", "3.200"]
    assert two[8:] == ["50.0-50.0", "3"]


def test_without_one_collector_there_is_no_ratio() -> None:
    [row] = scaling_rows([(1, 2, run(2, 1.0, 3.0))])
    assert row[3] == "—"


def test_member_lines() -> None:
    [line, _] = member_lines(run(2, 1.0, 4.0))
    assert line == "c0: received 500 (50.0 %), CPU s main 1.00 + worker 1.00"


def test_duplicated_is_what_was_received_beyond_n() -> None:
    assert duplicated(run(3, 1.0, 3.0, n=999)) == "duplicated 0"
    assert "unknown" in duplicated(
        Throughput("collector", 1, 0, 0, 1, 0, 0, summary="no exit summary in a collector's log")
    )


def test_the_peer_report_gives_the_same_run_ratios_and_cpu_per_100k(
    capsys: pytest.CaptureFixture[str],
) -> None:
    peer = {"mode": "drain", "n": 100_000, "lost": 0}
    results = {
        "nodered_batch": {**peer, "msgs_per_s": 20_000.0, "cpu_s": 5.0, "msgs_per_cpu_s": 20_000.0},
        "collector": {**peer, "msgs_per_s": 30_000.0, "cpu_s": 2.5, "msgs_per_cpu_s": 40_000.0},
    }
    bare = Throughput("bare", 100_000, 0.0, 0.1, 4.0, 50.0, 1.0, {"consumer": 3.0})
    report_peers(results, bare)
    out = capsys.readouterr().out
    assert "collector / Node-RED, same run: 1.50x msg/s, 2.00x msg per CPU s" in out
    assert " 5.00 " in out and " 2.50 " in out and " 3.00 " in out  # CPU s per 100,000
    assert "target >= 1 (goal 1.5): MET" in out
    assert per_100k(1.0, 50_000) == 2.0
