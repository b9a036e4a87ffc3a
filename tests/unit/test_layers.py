"""The one-way imports of DESIGN.md are enforced: lint-imports passes on the tree, and fails,
naming the import, when a service imports another service or the domain imports a service."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("citydata", "collector", "api", "simulators", "dashboards", "alerts")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tree = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tree)
    return tree


def test_the_tree_keeps_every_contract(copy: Path) -> None:
    done = lint_imports(copy)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "imports", "contract"),
    [
        ("api/_stray.py", "collector.service", "Services are independent"),
        ("collector/_stray.py", "simulators.publisher", "Services are independent"),
        ("citydata/_stray.py", "api.app", "The domain uses no service"),
        ("simulators/_stray.py", "citydata.cli", "Nothing but the console script"),
        ("dashboards/_stray.py", "collector.service", "Services are independent"),
        ("citydata/_stray.py", "dashboards.build", "The domain uses no service"),
        ("dashboards/_stray.py", "citydata.cli", "Nothing but the console script"),
        ("alerts/_stray.py", "api.app", "Services are independent"),
        ("citydata/_stray.py", "alerts.dispatch", "The domain uses no service"),
    ],
)
def test_a_stray_import_breaks_a_contract_and_is_named(
    copy: Path, module: str, imports: str, contract: str
) -> None:
    stray = copy / module
    stray.write_text(f'"""A stray import."""\n\nimport {imports}  # noqa: F401\n')
    try:
        done = lint_imports(copy)
    finally:
        stray.unlink()
    assert done.returncode != 0
    assert f"{contract}" in done.stdout and "BROKEN" in done.stdout, done.stdout
    source = module.removesuffix(".py").replace("/", ".")
    assert f"{source} -> {imports}" in done.stdout, done.stdout
