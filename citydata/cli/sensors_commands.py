"""What each `citydata sensors` subcommand does: (settings, args) in, exit status out.

Imported only when a `sensors` command runs (`citydata.cli.sensors`), as it loads the database
libraries."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from citydata.registry import files
from citydata.registry.errors import RegistryError
from citydata.registry.model import Sensor, describe_errors
from citydata.registry.store import Registry
from citydata.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]
PROG = "citydata sensors"
FIELDS = ("kind", "name_th", "name_en", "latitude", "longitude", "zone", "site", "datum")


class Problems(Exception):
    """The command's input is invalid; one line per problem."""

    def __init__(self, problems: Sequence[str], heading: str = "") -> None:
        self.problems = list(problems)
        self.heading = heading
        super().__init__("\n".join(problems))


def _reports(command: Command) -> Command:
    """Turn invalid input and registry errors into a message on stderr and exit status 1."""

    @functools.wraps(command)
    def run(settings: Settings, args: argparse.Namespace) -> int:
        try:
            return command(settings, args)
        except ValidationError as exc:
            _error(describe_errors(exc), "invalid sensor:")
        except Problems as exc:
            _error(exc.problems, exc.heading)
        except (RegistryError, files.FileProblem) as exc:
            _error([str(exc)])
        return 1

    return run


def _error(problems: Sequence[str], heading: str = "") -> None:
    if heading:
        print(f"{PROG}: {heading}", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}" if heading else f"{PROG}: {problem}", file=sys.stderr)


def _changes(args: argparse.Namespace, meta: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The sensor fields the options set, and a line for each option that cannot be read."""
    data: dict[str, Any] = {f: getattr(args, f) for f in FIELDS if getattr(args, f) is not None}
    problems: list[str] = []
    if args.install_date is not None:
        data["install_date"] = args.install_date or None
    if args.status is not None:
        data["status"] = args.status
    if args.calibration is not None:
        try:
            data["calibration"] = files.parse_calibration(args.calibration)
        except ValueError as exc:
            problems.append(f"--calibration: {exc}")
    if args.thresholds is not None:
        try:
            data["thresholds"] = json.loads(args.thresholds)
        except json.JSONDecodeError as exc:
            problems.append(f"--thresholds: not JSON ({exc.msg} at column {exc.colno})")
    for item in args.meta:
        key, eq, value = item.partition("=")
        if not eq or not key.strip():
            problems.append(f"--meta: {item!r} is not KEY=VALUE")
        elif value.strip():
            meta[key.strip()] = value.strip()
        else:
            meta.pop(key.strip(), None)
    if args.meta:
        data["meta"] = meta
    return data, problems


@_reports
def cmd_add(settings: Settings, args: argparse.Namespace) -> int:
    data, problems = _changes(args, {})
    try:
        sensor = Sensor.model_validate({"id": args.id, **data})
    except ValidationError as exc:
        problems += describe_errors(exc)
    if problems:
        raise Problems(problems, f"{args.id}: not added, {len(problems)} problem(s):")
    with Registry.from_settings(settings) as registry:
        stored = registry.add(sensor)
    print(f"added {stored.id} ({stored.kind}, {stored.name_en})")
    return 0


@_reports
def cmd_update(settings: Settings, args: argparse.Namespace) -> int:
    with Registry.from_settings(settings) as registry:
        current = registry.get(args.id)
        changes, problems = _changes(args, dict(current.meta))
        if not changes and not problems:
            raise Problems(["nothing to change: give at least one option (see --help)"])
        try:  # check before storing: an option that could not be read stores nothing
            Sensor.model_validate({**current.as_dict(), **changes})
        except ValidationError as exc:
            problems += describe_errors(exc)
        if problems:
            raise Problems(problems, f"{args.id}: not updated, {len(problems)} problem(s):")
        stored = registry.update(args.id, **changes)
    print(f"{stored.id} unchanged" if stored == current else f"updated {stored.id}")
    return 0


@_reports
def cmd_retire(settings: Settings, args: argparse.Namespace) -> int:
    with Registry.from_settings(settings) as registry:
        registry.retire(args.id)
    print(f"retired {args.id}")
    return 0


@_reports
def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    with Registry.from_settings(settings) as registry:
        data = registry.get(args.id).as_dict(timestamps=True)
    if args.format == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print(files.dump_yaml(data), end="")
    return 0


@_reports
def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    with Registry.from_settings(settings) as registry:
        sensors = registry.list(kind=args.kind, zone=args.zone, status=args.status)
    if args.format == "csv":
        files.write_csv(sensors, sys.stdout)
    elif args.format == "yaml":
        print(files.dump_yaml([s.as_dict(timestamps=True) for s in sensors]), end="")
    elif args.format == "json":
        print(json.dumps([s.as_dict(timestamps=True) for s in sensors], ensure_ascii=False))
    else:
        print(table(sensors))
    return 0


@_reports
def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    name = "standard input" if args.file == "-" else args.file
    fmt = files.format_of(args.file, args.format or ("csv" if args.file == "-" else None))
    raw = sys.stdin.buffer.read() if args.file == "-" else _read(Path(args.file))
    loaded = files.load(files.decode(raw, name), fmt)
    with Registry.from_settings(settings) as registry:
        problems = loaded.problems
        if not args.update:
            known = registry.snapshot()
            problems += [
                f"{where} ({s.id}): already registered; use --update to replace it"
                for where, s in loaded.sensors
                if s.id in known
            ]
        if not problems and not loaded.sensors:
            problems.append("no sensors in the file")
        if problems:
            raise Problems(problems, f"{name}: nothing imported, {len(problems)} problem(s):")
        if args.dry_run:
            print(f"{name}: {len(loaded.sensors)} sensors valid; nothing stored (--dry-run)")
            return 0
        done = registry.upsert_many([s for _, s in loaded.sensors], update=args.update)
    print(
        f"{name}: {len(done.added)} added, {len(done.updated)} updated, "
        f"{len(done.unchanged)} unchanged"
    )
    return 0


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise Problems([f"{path}: cannot read: {exc.strerror}"]) from exc


@_reports
def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    fmt = files.format_of(args.file, args.format or ("csv" if args.file == "-" else None))
    with Registry.from_settings(settings) as registry:
        sensors = registry.list(kind=args.kind, zone=args.zone, status=args.status)
    write = files.write_csv if fmt == "csv" else files.write_yaml
    if args.file == "-":
        write(sensors, sys.stdout)
        return 0
    # Excel reads a CSV as the local code page unless it starts with a byte-order mark.
    encoding = "utf-8-sig" if fmt == "csv" else "utf-8"
    try:
        with open(args.file, "w", encoding=encoding, newline="") as out:
            write(sensors, out)
    except OSError as exc:
        raise Problems([f"{args.file}: cannot write: {exc.strerror}"]) from exc
    print(f"exported {len(sensors)} sensors to {args.file}")
    return 0


def table(sensors: Sequence[Sensor]) -> str:
    """A plain-text table, aligned by display width so Thai names line up."""
    if not sensors:
        return "no sensors"
    head = ("ID", "KIND", "STATUS", "ZONE", "SITE", "LAT", "LON", "NAME (EN)", "NAME (TH)")
    rows = [head] + [
        (
            s.id,
            s.kind,
            s.status,
            s.zone,
            s.site,
            "" if s.latitude is None else f"{s.latitude:.5f}",
            "" if s.longitude is None else f"{s.longitude:.5f}",
            s.name_en,
            s.name_th,
        )
        for s in sensors
    ]
    widths = [max(_width(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([*lines, f"{len(sensors)} sensor{'s' if len(sensors) != 1 else ''}"])


def _width(text: str) -> int:
    """Columns `text` takes on a terminal: Thai vowel and tone marks take none."""
    return sum(
        0
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf")
        else 2
        if unicodedata.east_asian_width(c) in ("W", "F")
        else 1
        for c in text
    )


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
