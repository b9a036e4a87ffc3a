"""The README documents every setting and starts with the two-command quick start."""

from __future__ import annotations

from pathlib import Path

import pytest

from citydata.cli import build_parser
from citydata.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"| `{ENV_PREFIX}{n.upper()}` |" not in readme]
    assert missing == []


def test_quick_start_is_first_and_ci_runs_its_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_section = readme.split("\n## ")[1]
    assert first_section.startswith("Quick start")
    assert "./run-local.sh" in first_section and "./run-tests.sh" in first_section
    assert "./run-tests.sh" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["collector"],
        ["db"],
        ["db", "init"],
        ["simulate"],
        ["local"],
        ["sensors"],
        ["sensors", "add"],
        ["sensors", "import"],
        ["sensors", "export"],
        ["api"],
    ],
)
def test_every_command_explains_itself(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*argv, "--help"])
    assert exc.value.code == 0
    assert "usage: citydata" in capsys.readouterr().out
