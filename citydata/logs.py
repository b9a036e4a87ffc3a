"""Logging set-up shared by every program and process."""

from __future__ import annotations

import logging
import sys

from citydata.settings import Settings


def setup_logging(settings: Settings) -> None:
    """Log lines to stderr at the configured level, with time, level and source."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    logging.getLogger("alembic").setLevel(logging.WARNING)  # migration chatter on every open
