"""The hashed locks: every package pyproject needs, pinned with hashes, as constraints.txt says."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Each lock, the extras it is compiled with, and the file that installs it.
LOCKS = {
    "requirements.lock": (("dev",), "bootstrap.sh"),
    "requirements-image.lock": (("grafana",), "Dockerfile"),
}
HASH = re.compile(r"hash=sha256:[0-9a-f]{64}")


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: frozenset[str]


def parse_lock(text: str) -> dict[str, Pin]:
    """Every `name==version --hash=...` entry of a pip-compile lock, by canonical name."""
    pins: dict[str, Pin] = {}
    for number, line in enumerate(text.replace("\\\n", " ").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, *options = line.split(" --")
        req = Requirement(spec.strip())
        operators = [(s.operator, s.version) for s in req.specifier]
        if len(operators) != 1 or operators[0][0] != "==" or req.url or req.extras:
            raise ValueError(f"line {number}: {spec.strip()!r} is not name==version")
        bad = [o.strip() for o in options if not HASH.fullmatch(o.strip())]
        if not options or bad:
            raise ValueError(f"line {number}: {req.name} needs sha256 hashes only, has {bad}")
        name = canonicalize_name(req.name)
        if name in pins:
            raise ValueError(f"line {number}: {req.name} pinned twice")
        pins[name] = Pin(operators[0][1], frozenset(o.strip() for o in options))
    return pins


def parse_constraints(text: str) -> dict[str, str]:
    """constraints.txt's `name==version` lines, by canonical name."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.strip().split("==")
            pins[canonicalize_name(name)] = version
    return pins


def _children(req: Requirement, extras: set[str]) -> list[Requirement]:
    """What `req`'s installed distribution requires, with the extras asked of it."""
    wanted = []
    for text in metadata.requires(req.name) or []:
        child = Requirement(text)
        contexts = [{"extra": e} for e in ("", *extras)]
        if child.marker is None or any(child.marker.evaluate(c) for c in contexts):
            wanted.append(child)
    return wanted


def needed(roots: list[Requirement], pins: dict[str, Pin]) -> tuple[set[str], list[str]]:
    """Every distribution `roots` need here (this Python, this platform), and the problems."""
    seen: dict[str, set[str]] = {}
    problems: list[str] = []
    queue = [r for r in roots if r.marker is None or r.marker.evaluate()]
    while queue:
        req = queue.pop()
        name = canonicalize_name(req.name)
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{req} is not in the lock")
            continue
        if not req.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{req} does not allow the locked {name}=={pin.version}")
        done = seen.get(name)
        if done is not None and req.extras <= done:
            continue  # walked already with these extras
        seen[name] = (done or set()) | req.extras
        queue.extend(_children(req, seen[name]))
    return set(seen), problems


def _pyproject_roots(extras: tuple[str, ...]) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    texts = list(project["dependencies"])
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(t) for t in texts]


def _lock(name: str) -> dict[str, Pin]:
    return parse_lock((ROOT / name).read_text(encoding="utf-8"))


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_the_lock_holds_exactly_what_pyproject_needs_with_hashes(lock: str) -> None:
    extras, installer = LOCKS[lock]
    pins = _lock(lock)  # raises on a pin without hashes
    names, problems = needed(_pyproject_roots(extras), pins)
    assert problems == []
    assert sorted(set(pins) - names) == [], "pinned but needed by nothing"
    header = (ROOT / lock).read_text(encoding="utf-8").splitlines()
    command = next(line for line in header if line.startswith("#    pip-compile "))
    assert all(f"--extra={e} " in command for e in extras), command
    install = " ".join((ROOT / installer).read_text("utf-8").replace("\\\n", " ").split())
    assert f"--require-hashes --no-deps -r {lock}" in install


def test_the_installed_environment_is_the_lock() -> None:
    """What the tests run with is what bootstrap.sh installs: every pin, at its version."""
    pins = _lock("requirements.lock")
    installed = {
        canonicalize_name(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if canonicalize_name(d.metadata["Name"]) in pins
    }
    assert installed == {name: pin.version for name, pin in pins.items()}


def test_constraints_txt_agrees_with_the_locks() -> None:
    constraints = parse_constraints((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    dev = _lock("requirements.lock")
    assert {name: pin.version for name, pin in dev.items()} == constraints
    image = _lock("requirements-image.lock")
    assert {name: dev.get(name) for name in image} == image, "the image's pins are the dev lock's"


def test_the_parser_refuses_what_pip_could_not_hash_check() -> None:
    good = "Foo_Bar==1.0 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via x\n"
    assert parse_lock(good) == {"foo-bar": Pin("1.0", frozenset({"hash=sha256:" + "a" * 64}))}
    for bad, reason in [
        ("foo==1.0\n", "needs sha256 hashes"),
        ("foo==1.0 --hash=md5:" + "a" * 32 + "\n", "needs sha256 hashes"),
        ("foo>=1.0 --hash=sha256:" + "a" * 64 + "\n", "is not name==version"),
        ("foo[x]==1.0 --hash=sha256:" + "a" * 64 + "\n", "is not name==version"),
        (good + good.replace("Foo_Bar", "foo-bar"), "pinned twice"),
    ]:
        with pytest.raises(ValueError, match=re.escape(reason)):
            parse_lock(bad)


def test_the_walk_finds_a_missing_or_disallowed_pin() -> None:
    pins = _lock("requirements.lock")
    del pins["annotated-types"]  # pydantic needs it
    _, problems = needed([Requirement("pydantic")], pins)
    assert any(p.startswith("annotated-types") for p in problems)
    version = _lock("requirements.lock")["pydantic"].version
    _, problems = needed([Requirement(f"pydantic!={version}")], _lock("requirements.lock"))
    assert problems == [f"pydantic!={version} does not allow the locked pydantic=={version}"]
