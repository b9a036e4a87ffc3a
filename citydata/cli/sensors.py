"""The `citydata sensors` command line: one subcommand per registry action."""

from __future__ import annotations

import argparse
import importlib
import textwrap
from typing import TYPE_CHECKING

from citydata.kinds import all_kinds
from citydata.registry.files import CALIBRATION_HELP, COLUMNS
from citydata.registry.model import STATUSES

REGISTRY_HELP = """the registry is the SQLite file registry.db in CITYDATA_DATA_DIR (default ./var),
or the database at CITYDATA_REGISTRY_URL (any SQLAlchemy URL); its schema is created or
upgraded when a command opens it. Exit status: 0 done, 1 invalid input or registry error,
2 bad command line."""

FILE_HELP = f"""CSV files have a header row with the columns
  {", ".join(COLUMNS)}
and one meta.<key> column per metadata key (meta.model, meta.serial, meta.owner, ...).
Blank cells take the default (datum MSL, status active, no calibration or thresholds).
  latitude, longitude  decimal degrees, e.g. 14.0021 and 100.1418
  install_date         YYYY-MM-DD, Gregorian year (2024, not 2567)
  calibration          METRIC=SCALE*x+OFFSET terms separated by ';' (stored = raw*SCALE
                       + OFFSET), e.g. pm25=1.02*x+0.5; pm10=0.98*x-1.2; level=x-0.05
  thresholds           JSON: {{"level": {{"watch": 1.8, "warning": 2.0, "critical": 2.1}}}}
YAML files hold a list of sensors with the same fields; calibration is a mapping
{{metric: {{scale: S, offset: O}}}}, thresholds {{metric: {{name: number}}}}, meta {{key: text}}.
Text is UTF-8 (a byte-order mark, as Excel's "CSV UTF-8" writes, is fine)."""

if TYPE_CHECKING:
    from citydata.cli._common import Command, Subparsers
    from citydata.settings import Settings


def add_commands(subparsers: Subparsers) -> None:
    """Add `sensors` and its subcommands to the `citydata` command's subparsers."""
    p = subparsers.add_parser(
        "sensors",
        help="register sensors and manage the sensor registry",
        description=_wrap(
            "Register sensors: kind, names, place, zone and site tags, calibration, "
            "thresholds, metadata. The collector reads the registry to tag and calibrate readings."
        ),
        epilog=REGISTRY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="sensors_command", required=True, metavar="ACTION")
    _add(sub)
    _list(sub)
    _show(sub)
    _update(sub)
    _retire(sub)
    _import(sub)
    _export(sub)


def _command(name: str) -> Command:
    """The command `name`, imported when it runs: the database libraries load only then."""

    def run(settings: Settings, args: argparse.Namespace) -> int:
        command = getattr(importlib.import_module("citydata.cli.sensors_commands"), name)
        code: int = command(settings, args)
        return code

    run.__name__ = name
    return run


def _wrap(text: str) -> str:
    return textwrap.fill(text, 88)


def _parser(sub: Subparsers, name: str, help: str, description: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help,
        description=_wrap(description),
        epilog=REGISTRY_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _sensor_options(p: argparse.ArgumentParser, *, adding: bool) -> None:
    need = " (required)" if adding else ""
    kinds = ", ".join(sorted(all_kinds()))
    p.add_argument("--kind", help=f"sensor kind, one of: {kinds}{need}")
    p.add_argument("--name-th", metavar="TEXT", help=f"name in Thai{need}")
    p.add_argument("--name-en", metavar="TEXT", help=f"name in English{need}")
    p.add_argument("--lat", "--latitude", dest="latitude", metavar="DEG", help=f"latitude{need}")
    p.add_argument("--lon", "--longitude", dest="longitude", metavar="DEG", help=f"longitude{need}")
    tag = "tag written with every reading: letters, digits, '_', '.', '-'"
    p.add_argument("--zone", metavar="TAG", help=f"zone {tag}{need}")
    p.add_argument("--site", metavar="TAG", help=f"site {tag}{need}")
    p.add_argument("--datum", metavar="TEXT", help="vertical datum of water level (MSL)")
    p.add_argument("--install-date", metavar="YYYY-MM-DD", help="installation date")
    status = " (active)" if adding else ""
    p.add_argument("--status", choices=STATUSES, help=f"life-cycle status{status}")
    clear = "; an empty string clears it" if not adding else ""
    p.add_argument("--calibration", metavar="TEXT", help=f"{CALIBRATION_HELP}{clear}")
    p.add_argument(
        "--thresholds",
        metavar="JSON",
        help='per-metric named thresholds, e.g. \'{"level": {"watch": 1.8, "critical": 2.1}}\''
        + ("; '{}' clears them" if not adding else ""),
    )
    removes = "; KEY= (empty value) removes the key" if not adding else ""
    p.add_argument(
        "--meta",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"metadata such as model, serial, owner (repeatable){removes}",
    )


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", help="only sensors of this kind")
    p.add_argument("--zone", help="only sensors in this zone")
    p.add_argument("--status", choices=STATUSES, help="only sensors with this status")


def _add(sub: Subparsers) -> None:
    p = _parser(
        sub,
        "add",
        "register a new sensor",
        "Register one sensor; every problem with "
        "the options is reported at once. An id already registered is an error.",
    )
    p.add_argument("id", help="sensor id, as in the MQTT topic sensors/{kind}/{id}")
    _sensor_options(p, adding=True)
    p.set_defaults(func=_command("cmd_add"))


def _list(sub: Subparsers) -> None:
    p = _parser(sub, "list", "list sensors", "List registered sensors, ordered by id.")
    _filters(p)
    p.add_argument(
        "--format",
        choices=("table", "csv", "yaml", "json"),
        default="table",
        help="table (default, for reading), csv (the import format), yaml or json",
    )
    p.set_defaults(func=_command("cmd_list"))


def _show(sub: Subparsers) -> None:
    p = _parser(sub, "show", "show one sensor", "Print every field of one sensor.")
    p.add_argument("id", help="sensor id")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml", help="yaml (default)")
    p.set_defaults(func=_command("cmd_show"))


def _update(sub: Subparsers) -> None:
    p = _parser(
        sub,
        "update",
        "change fields of a sensor",
        "Change the fields given; the "
        "others keep their values. The result is validated as a whole.",
    )
    p.add_argument("id", help="sensor id (ids cannot change)")
    _sensor_options(p, adding=False)
    p.set_defaults(func=_command("cmd_update"))


def _retire(sub: Subparsers) -> None:
    p = _parser(
        sub,
        "retire",
        "mark a sensor retired",
        "Set a sensor's status to retired; "
        "it stays registered so its history keeps its names and tags.",
    )
    p.add_argument("id", help="sensor id")
    p.set_defaults(func=_command("cmd_retire"))


def _import(sub: Subparsers) -> None:
    p = sub.add_parser(
        "import",
        help="load sensors from a CSV or YAML file",
        description=_wrap(
            "Validate every row first; when any row is invalid, report each one with "
            "its line number and import nothing. Otherwise store all rows in one transaction."
        ),
        epilog=f"{FILE_HELP}\n\n{REGISTRY_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="the fleet file, or - for standard input")
    p.add_argument("--format", choices=("csv", "yaml"), help="file format (by extension)")
    p.add_argument(
        "--update",
        action="store_true",
        help="replace sensors already registered (without it an id already registered is an error)",
    )
    p.add_argument("--dry-run", action="store_true", help="validate only; store nothing")
    p.set_defaults(func=_command("cmd_import"))


def _export(sub: Subparsers) -> None:
    p = sub.add_parser(
        "export",
        help="write sensors to a CSV or YAML file",
        description=_wrap(
            "Write sensors in the format `sensors import` reads back. CSV files "
            "start with a UTF-8 byte-order mark so that Excel shows Thai text."
        ),
        epilog=f"{FILE_HELP}\n\n{REGISTRY_HELP}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", metavar="FILE", help="output file, or - for standard output")
    p.add_argument(
        "--format", choices=("csv", "yaml"), help="file format (by extension; csv for -)"
    )
    _filters(p)
    p.set_defaults(func=_command("cmd_export"))
