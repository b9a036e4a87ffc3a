"""Registries made of modules: a package's modules found and checked, so no list names them.

A payload format, a simulator encoder or a sensor model is one module that says its name in an
attribute (`FORMAT = "ttn"`, `KIND = "air"`) and defines the functions its registry calls;
modules starting with `_` hold shared helpers.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from types import ModuleType


def discover(
    package: str, path: Iterable[str], key: str, functions: tuple[str, ...], what: str
) -> dict[str, ModuleType]:
    """Each public module of `package` (its `__path__` is `path`) by the name in its attribute
    `key`; TypeError if one lacks the name or a function, ValueError if a name is taken twice."""
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(path):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        name = getattr(module, key, None)
        if not isinstance(name, str) or not all(
            callable(getattr(module, f, None)) for f in functions
        ):
            wanted = ", ".join([key, *(f"{f}()" for f in functions)])
            raise TypeError(f"{module.__name__} must define {wanted}")
        if name in found:
            raise ValueError(
                f"{what} {name!r} registered twice: {found[name].__name__} and {module.__name__}"
            )
        found[name] = module
    return found
