"""The README starts with the quick start; docs/ documents every setting and every command."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from citydata.cli import build_parser
from citydata.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_every_setting_is_in_the_settings_table() -> None:
    settings = _read(DOCS / "settings.md")
    missing = [n for n in Settings.model_fields if f"| `{ENV_PREFIX}{n.upper()}` |" not in settings]
    assert missing == []


def test_quick_start_is_first_and_ci_runs_its_test_command() -> None:
    readme = _read(ROOT / "README.md")
    first_section = readme.split("\n## ")[1]
    assert first_section.startswith("Quick start")
    assert "./run-local.sh" in first_section and "./run-tests.sh" in first_section
    assert "./run-tests.sh" in _read(ROOT / ".ci" / "run")


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, ...]]:
    """Every command path below `parser`, groups and their actions, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name)
                yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(build_parser()))


def test_the_parser_walk_finds_nested_commands() -> None:
    assert ("deadletters", "replay") in COMMANDS and ("keys", "revoke") in COMMANDS


def _documented(path: tuple[str, ...], doc: str) -> bool:
    """`citydata a b` as written, or `b` as an action in `citydata a x|b|y` (not a prefix)."""
    *group, name = path
    spelled = re.escape(" ".join(["citydata", *path]))
    if re.search(rf"`{spelled}(?![\w|-])", doc):
        return True
    if not group:
        return False
    prefix = re.escape(" ".join(["citydata", *group]))
    return re.search(rf"`{prefix} [\w|-]*(?<![\w-]){re.escape(name)}(?![\w-])", doc) is not None


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_explains_itself_and_is_documented(
    path: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([*path, "--help"])
    assert exc.value.code == 0
    assert "usage: citydata" in capsys.readouterr().out
    assert _documented(path, _read(DOCS / "operations.md")), f"citydata {' '.join(path)}"


def test_the_documentation_check_tells_a_missing_command() -> None:
    doc = "- `citydata keys create|list`: keys.\n- `citydata deadletters list [--limit N]`: ...\n"
    assert _documented(("keys", "list"), doc)
    assert _documented(("deadletters", "list"), doc)
    assert not _documented(("keys", "revoke"), doc)
    assert not _documented(("keys", "lis"), doc)
    assert not _documented(("deadletters", "replay"), doc)
    assert not _documented(("deadletters",), "`citydata deadletters-old`")


def test_the_top_level_help_explains_itself(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--help"])
    assert exc.value.code == 0
    assert "usage: citydata" in capsys.readouterr().out


_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)


def _anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = _FENCE.sub("", _read(page))
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#* *$", text, re.MULTILINE):
        base = _anchor(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def _relative_links(page: Path) -> Iterator[str]:
    for target in _LINK.findall(_FENCE.sub("", _read(page))):
        if not re.match(r"[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # http:, mailto:
            yield target


def test_anchor_rules() -> None:
    assert _anchor("Access: API keys and roles") == "access-api-keys-and-roles"
    assert _anchor("Operations (operator key)") == "operations-operator-key"
    assert _anchor("The collector's processes") == "the-collectors-processes"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_points_at_a_file_and_heading(page: Path) -> None:
    broken = []
    for target in _relative_links(page):
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        if not path.exists():
            broken.append(f"{target}: no file {path}")
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}: no heading #{anchor} in {path.name}")
    assert broken == []


def test_the_reference_pages_exist_and_the_readme_links_each() -> None:
    readme = _read(ROOT / "README.md")
    pages = ["settings", "api", "durability", "formats", "registry", "simulators", "operations"]
    for page in pages:
        assert (DOCS / f"{page}.md").is_file()
        assert f"](docs/{page}.md)" in readme
