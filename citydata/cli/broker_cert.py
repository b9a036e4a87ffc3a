"""`citydata broker cert` (being written for issue 16)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from citydata.cli._common import Subparsers


def add_command(sub: Subparsers) -> None:
    """Add `cert` to `citydata broker`'s subcommands."""
