"""`citydata derive` refuses bad options with exit status 2 before touching InfluxDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from citydata.cli import build_parser, main
from citydata.cli.derive import Since
from citydata.timeutil import parse_duration

NS = 1_000_000_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "two days"], "neither a duration"),
        (["--since", "2026-01-31"], "RFC 3339 time with a zone"),
        (["--since", "0h"], "neither a duration"),
        (["--step", "90"], "not a positive multiple of 60"),
        (["--step", "0"], "not a positive multiple of 60"),
        (["--step", "5m"], "not a whole number of seconds"),
    ],
)
def test_bad_options_exit_2_with_the_reason(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["derive", *argv])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_a_since_in_the_future_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path))
    assert main(["derive", "--since", "2999-01-01T00:00:00Z"]) == 2
    assert "--since is not in the past" in capsys.readouterr().err


def test_since_is_a_duration_or_a_time() -> None:
    args = build_parser().parse_args(["derive", "--since", "36h", "--step", "300", "--once"])
    assert (args.since, args.step, args.once) == (Since(ago_ns=36 * 3600 * NS), 300, True)
    assert args.since.resolve(100 * 3600 * NS) == 64 * 3600 * NS
    at = build_parser().parse_args(["derive", "--since", "2026-01-31T07:00:00+07:00"]).since
    assert at.resolve(0) == 1_769_817_600 * NS
    defaults = build_parser().parse_args(["derive"])
    assert (defaults.since, defaults.step, defaults.once) == (None, 60, False)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2d", 172_800), ("36h", 129_600), ("90m", 5_400), ("1h30m", 5_400), ("1.5d", 129_600),
     ("45s", 45), ("1w", 604_800), (" 2D ", 172_800)],
)  # fmt: skip
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds * NS


@pytest.mark.parametrize("text", ["", "2", "d", "2x", "-2d", "2d 3h", "0s", "2dd"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
