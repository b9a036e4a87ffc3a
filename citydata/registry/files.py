"""Fleet files: sensors read from and written to CSV and YAML, every problem with its line."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

import yaml
from pydantic import ValidationError

from citydata.registry.model import Calibration, Sensor, describe_errors

Format = Literal["csv", "yaml"]
FORMATS: tuple[Format, ...] = ("csv", "yaml")
REQUIRED = ("id", "kind", "name_th", "name_en", "latitude", "longitude", "zone", "site")
OPTIONAL = ("datum", "install_date", "status", "calibration", "thresholds")
COLUMNS = REQUIRED + OPTIONAL
META = "meta."

_NUM = r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_TERM = re.compile(
    rf"(?P<metric>[A-Za-z0-9_]+)\s*=\s*(?:(?P<scale>[+-]?{_NUM})\s*\*\s*)?x"
    rf"\s*(?:(?P<sign>[+-])\s*(?P<offset>{_NUM}))?",
    re.IGNORECASE,
)
CALIBRATION_HELP = (
    "calibration is METRIC=SCALE*x+OFFSET terms separated by ';', for example "
    "'pm25=1.02*x+0.5; pm10=0.98*x-1.2; level=x-0.05' (stored = raw*SCALE + OFFSET)"
)


class FileProblem(ValueError):
    """A fleet file cannot be read as a whole (encoding, syntax, header)."""


@dataclass
class Loaded:
    """Sensors read from a file, each with where it was ("line 7"), and every problem found."""

    sensors: list[tuple[str, Sensor]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def format_of(name: str, given: str | None) -> Format:
    """The format given, else the one the file extension names."""
    if given in FORMATS:
        return given
    lower = name.lower()
    if lower.endswith(".csv"):
        return "csv"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    raise FileProblem(f"{name}: cannot tell the format from the extension; give --format csv|yaml")


def parse_calibration(text: str) -> dict[str, dict[str, float]]:
    """'pm25=1.02*x+0.5; pm10=x-1' as {"pm25": {"scale": 1.02, "offset": 0.5}, ...}."""
    out: dict[str, dict[str, float]] = {}
    for term in (t.strip() for t in text.split(";")):
        if not term:
            continue
        match = _TERM.fullmatch(term)
        if match is None:
            raise ValueError(f"cannot read {term!r}: {CALIBRATION_HELP}")
        metric = match["metric"]
        if metric in out:
            raise ValueError(f"metric {metric!r} calibrated twice")
        offset = float(match["offset"] or 0) * (-1 if match["sign"] == "-" else 1)
        out[metric] = {"scale": float(match["scale"] or 1), "offset": offset}
    return out


def format_calibration(calibration: Mapping[str, Calibration]) -> str:
    """The text parse_calibration reads back to the same numbers."""
    terms = []
    for metric, cal in calibration.items():
        offset = f"{'-' if cal.offset < 0 else '+'}{abs(cal.offset)!r}" if cal.offset else ""
        terms.append(f"{metric}={cal.scale!r}*x{offset}")
    return "; ".join(terms)


def decode(data: bytes, name: str) -> str:
    """UTF-8 text, with or without the byte-order mark Excel writes."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FileProblem(
            f"{name}: not UTF-8 text (byte {exc.start}); in Excel save as 'CSV UTF-8'"
        ) from exc


def load(text: str, fmt: Format) -> Loaded:
    """Every sensor in the file validated; raises FileProblem when the file is unreadable."""
    rows = _csv_rows(text) if fmt == "csv" else _yaml_rows(text)
    loaded = Loaded()
    first_seen: dict[str, str] = {}
    for where, data, problems in rows:
        label = f"{where} ({data['id']})" if isinstance(data.get("id"), str) else where
        try:
            sensor = Sensor.model_validate(data)
        except ValidationError as exc:
            problems = problems + describe_errors(exc)
            sensor = None
        if sensor is not None and sensor.id in first_seen:
            problems.append(f"id also on {first_seen[sensor.id]}")
        loaded.problems.extend(f"{label}: {p}" for p in problems)
        if sensor is not None and not problems:
            first_seen[sensor.id] = where
            loaded.sensors.append((where, sensor))
    return loaded


Rows = list[tuple[str, dict[str, Any], list[str]]]


def _csv_rows(text: str) -> Rows:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    _check_header(header)
    rows: Rows = []
    line = reader.line_num + 1
    for cells in reader:
        if any(c.strip() for c in cells):
            rows.append((f"line {line}", *_csv_record(header, cells)))
        line = reader.line_num + 1
    return rows


def _check_header(header: list[str]) -> None:
    problems = [f"unknown column {h!r}" for h in header if h not in COLUMNS and not _meta_key(h)]
    problems += [f"missing column {c!r}" for c in REQUIRED if c not in header]
    problems += [f"column {h!r} twice" for h in sorted(set(header)) if header.count(h) > 1]
    if problems:
        raise FileProblem(f"line 1 (header): {'; '.join(problems)}; columns: {', '.join(COLUMNS)}")


def _meta_key(column: str) -> str | None:
    if not column.startswith(META):
        return None
    return column[len(META) :] or None


def _csv_record(header: list[str], cells: list[str]) -> tuple[dict[str, Any], list[str]]:
    data: dict[str, Any] = {}
    problems: list[str] = []
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        problems.append(f"{len(cells)} cells but the header has {len(header)} columns")
    for column, raw in zip(header, cells, strict=False):
        value = raw.strip()
        if not value:
            continue  # a blank cell takes the default, or is reported missing
        try:
            _set_cell(data, column, value)
        except ValueError as exc:
            problems.append(f"{column}: {exc}")
    return data, problems


def _set_cell(data: dict[str, Any], column: str, value: str) -> None:
    key = _meta_key(column)
    if key is not None:
        data.setdefault("meta", {})[key] = value
    elif column == "calibration":
        data[column] = parse_calibration(value)
    elif column == "thresholds":
        try:
            data[column] = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc.msg} at column {exc.colno})") from exc
    else:
        data[column] = value


def _yaml_rows(text: str) -> Rows:
    try:
        data = yaml.safe_load(text)
        node = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise FileProblem(f"not valid YAML: {exc}") from exc
    if isinstance(data, dict) and node is not None:  # one sensor, as `sensors show` prints it
        return [(f"line {node.start_mark.line + 1}", data, [])]
    if not isinstance(data, list) or node is None:
        raise FileProblem("expected a YAML list of sensors (or one sensor mapping)")
    rows: Rows = []
    for item, item_node in zip(data, node.value, strict=True):
        where = f"line {item_node.start_mark.line + 1}"
        if isinstance(item, dict):
            rows.append((where, item, []))
        else:
            rows.append((where, {}, [f"expected a mapping of sensor fields, got {item!r}"]))
    return rows


def write_csv(sensors: Iterable[Sensor], stream: TextIO) -> None:
    """The sensors as CSV: the fixed columns, then one meta.<key> column per metadata key."""
    sensors = list(sensors)
    keys = sorted({key for s in sensors for key in s.meta})
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([*COLUMNS, *(META + k for k in keys)])
    for s in sensors:
        thresholds = json.dumps(s.thresholds, ensure_ascii=False) if s.thresholds else ""
        writer.writerow(
            [
                *(str(getattr(s, c)) for c in REQUIRED),
                s.datum,
                s.install_date.isoformat() if s.install_date else "",
                s.status,
                format_calibration(s.calibration),
                thresholds,
                *(s.meta.get(k, "") for k in keys),
            ]
        )


def dump_yaml(data: Any) -> str:
    """YAML with Thai text as itself, fields in their natural order."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=False)


def write_yaml(sensors: Iterable[Sensor], stream: TextIO) -> None:
    """The sensors as a YAML list, as `sensors import` reads them."""
    stream.write(dump_yaml([s.as_dict() for s in sensors]))
