"""Container healthchecks of the citydata services (docker-compose.yml), standard library only.

`healthcheck.py http URL`: the URL answers 2xx (the API's /ready).
`healthcheck.py mqtt`: this container holds an established TCP connection to the broker port of
CITYDATA_MQTT_URL (the collector is connected and subscribed).
`healthcheck.py process [COMMAND]`: a `citydata COMMAND` process (any citydata process) runs.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ESTABLISHED = "01"  # the `st` column of /proc/net/tcp


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return 200 <= int(answer.status) < 300
    except OSError as exc:
        print(f"{url}: {exc}", file=sys.stderr)
        return False


def broker_port(mqtt_url: str) -> int:
    parts = urlsplit(mqtt_url)
    return parts.port or (8883 if parts.scheme == "mqtts" else 1883)


def connected_to(port: int, tables: list[str]) -> bool:
    """True when a row of /proc/net/tcp{,6} text is an established connection to `port`."""
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == ESTABLISHED:
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == port:
                    return True
    return False


def mqtt_connected() -> bool:
    port = broker_port(os.environ.get("CITYDATA_MQTT_URL", "mqtt://localhost:1883"))
    tables = [p.read_text() for p in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")) if p.exists()]
    if not connected_to(port, tables):
        print(f"no established connection to the broker's port {port}", file=sys.stderr)
        return False
    return True


def is_citydata(args: list[str], command: str | None) -> bool:
    """True when a command line (`python /usr/local/bin/citydata derive --alerts`) runs
    `citydata COMMAND`, or any citydata command when `command` is None."""
    for i, arg in enumerate(args):
        if arg.rsplit("/", 1)[-1] == "citydata":
            return command is None or args[i + 1 : i + 2] == [command]
    return False


def process_runs(command: str | None) -> bool:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue  # the process ended meanwhile
        if is_citydata(args, command):
            return True
    print(f"no citydata {command or ''} process running", file=sys.stderr)
    return False


def main(argv: list[str]) -> int:
    match argv:
        case ["http", url]:
            ok = http_ok(url)
        case ["mqtt"]:
            ok = mqtt_connected()
        case ["process"]:
            ok = process_runs(None)
        case ["process", command]:
            ok = process_runs(command)
        case _:
            print(__doc__, file=sys.stderr)
            return 2
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
