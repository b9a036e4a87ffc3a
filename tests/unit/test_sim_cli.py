"""`citydata simulate` refuses bad fleet files and fault options before touching the network."""

from __future__ import annotations

from pathlib import Path

import pytest

from citydata.cli import build_parser, main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--fault", "dropuot=0.1"], "unknown fault"),
        (["--fault", "dropout=1.5"], "between 0 and 1"),
        (["--start", "yesterday"], "Invalid isoformat"),
        (["--fleet", "{fleet}"], "unknown key"),
    ],
)
def test_bad_options_exit_2_with_the_reason(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path))
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("sensorz: []\n", encoding="utf-8")
    assert main(["simulate", *(a.replace("{fleet}", str(fleet)) for a in argv)]) == 2
    assert message in capsys.readouterr().err


def test_the_interval_default_depends_on_the_mode() -> None:
    args = build_parser().parse_args(["simulate", "--backfill-days", "7"])
    assert args.interval is None and args.backfill_days == 7.0
    assert build_parser().parse_args(["simulate", "--interval", "0.5"]).interval == 0.5


def test_a_relative_fleet_file_is_read_from_the_start_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fleets").mkdir()
    (tmp_path / "fleets" / "bad.yaml").write_text("sensorz: []\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CITYDATA_DATA_DIR", "var")
    assert main(["simulate", "--fleet", "fleets/bad.yaml"]) == 2
    assert "unknown key" in capsys.readouterr().err  # found and read, then refused
    assert main(["simulate", "--fleet", "fleets/missing.yaml"]) == 2
    assert str(tmp_path / "fleets" / "missing.yaml") in capsys.readouterr().err
