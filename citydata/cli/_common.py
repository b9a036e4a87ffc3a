"""What the command groups share: the settings epilog and the types of a command and its parser."""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:  # subscriptable only for type checkers
    from citydata.settings import Settings

    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
    Command: TypeAlias = Callable[[Settings, argparse.Namespace], int]

SETTINGS_HELP = """settings come from CITYDATA_* environment variables and the TOML file named by
CITYDATA_CONFIG; docs/settings.md explains each one. The ones shared by every program:
  CITYDATA_MQTT_URL      mqtt://user:pass@host:1883 (mqtts:// for TLS)
  CITYDATA_INFLUX_URL    http://host:8086
  CITYDATA_INFLUX_DB     database (default citydata)
  CITYDATA_DATA_DIR      dead letters, spool, registry (default ./var)"""


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM: a service's loop ends when it is set."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    return stop
