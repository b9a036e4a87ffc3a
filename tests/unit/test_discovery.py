"""Module registries: found without a list, and a malformed or doubled module fails loudly."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from citydata.discovery import discover


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    root = tmp_path / "plugs"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "_shared.py").write_text("HELPER = 1\n")
    (root / "alpha.py").write_text('FORMAT = "alpha"\ndef decode(): return "a"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    yield root
    for name in [m for m in sys.modules if m == "plugs" or m.startswith("plugs.")]:
        del sys.modules[name]


def _discover(root: Path) -> dict[str, ModuleType]:
    import plugs  # type: ignore[import-not-found]

    return dict(discover("plugs", plugs.__path__, "FORMAT", ("decode",), "format"))


def test_public_modules_are_found_by_their_name(package: Path) -> None:
    (package / "beta.py").write_text('FORMAT = "b"\ndef decode(): return "b"\n')
    found = _discover(package)
    assert sorted(found) == ["alpha", "b"]  # by the name they declare; _shared is skipped
    assert found["b"].decode() == "b"


def test_a_module_without_its_function_is_refused(package: Path) -> None:
    (package / "gamma.py").write_text('FORMAT = "gamma"\n')
    with pytest.raises(TypeError, match=r"plugs.gamma must define FORMAT, decode\(\)"):
        _discover(package)


def test_a_name_taken_twice_is_refused(package: Path) -> None:
    (package / "delta.py").write_text('FORMAT = "alpha"\ndef decode(): return "d"\n')
    with pytest.raises(
        ValueError, match=r"format 'alpha' registered twice: plugs\.alpha and plugs\.delta"
    ):
        _discover(package)
