"""Reading alert rules: a rules file (its recipients, then its rules) or one rule given as data
(the API), checked with every problem reported at once, at its place: the file's line and
`rules[3].for`, or a path into the data for the API's 422 answers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from citydata.alerts.rules import NAME_PATTERN, Loc, Names, Rule, RulesError, StrictModel

Lang = Literal["th", "en", "both"]


class Recipient(StrictModel):
    """Who gets a rule's messages, on which channels, in which language(s)."""

    lang: Lang = "both"
    line: Names = Field(default_factory=list)  # LINE user, group or room ids
    email: Names = Field(default_factory=list)
    webhook: Names = Field(default_factory=list)

    @field_validator("line")
    @classmethod
    def _line_ids(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(r"[UCR][0-9a-f]{32}", v)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a LINE user, group or room id (U/C/R + 32 hex)")
        return value

    @field_validator("email")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", v)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an e-mail address")
        return value

    @field_validator("webhook")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an http(s) URL")
        return value

    @model_validator(mode="after")
    def _somewhere(self) -> Recipient:
        if not (self.line or self.email or self.webhook):
            raise ValueError("has no address: give line, email or webhook")
        return self


RecipientName = Annotated[str, Field(pattern=NAME_PATTERN)]


class RuleFile(StrictModel):
    """A rules file: the recipients, then the rules naming them."""

    recipients: dict[RecipientName, Recipient] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)


def _location(loc: tuple[int | str, ...]) -> str:
    """`rules[3].for` from pydantic's ('rules', 3, 'for'), the union tags left out."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith("<"):
            out += f".{part}" if out else part
    return out or "file"


def _node_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc` (or of its nearest parent found)."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if node is None:
            break
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _path(place: str) -> Loc:
    """('value', 'metric') from "value.metric", ('recipients', 0) from "recipients[0]"."""
    parts = re.findall(r"\[(\d+)\]|([^.\[\]]+)", place)
    return tuple(int(n) if n else name for n, name in parts)


def located_of(exc: ValidationError) -> list[tuple[Loc, str]]:
    """Every pydantic error as (place, message); a rule's checks of its parts together (one
    "place: message" a line) each at its own place."""
    out: list[tuple[Loc, str]] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("<")))
        message = err["msg"].removeprefix("Value error, ")
        lines = message.split("\n")
        if len(lines) == 1 or not all(": " in line for line in lines):
            out.append((loc, message))
            continue
        for line in lines:
            place, _, text = line.partition(": ")
            out.append(((*loc, *_path(place)), text))
    return out


def problems_of(exc: ValidationError, root: yaml.Node | None = None, where: str = "") -> list[str]:
    """One line per problem: `file:line: rules[3].for: message`."""
    out = []
    for loc, message in located_of(exc):
        prefix = where
        line = _node_line(root, loc) if root is not None else None
        if line is not None:
            prefix = f"{where}:{line}" if where else f"line {line}"
        place = _location(loc)
        out.append(f"{prefix}: {place}: {message}" if prefix else f"{place}: {message}")
    return out


def unknown_recipients(
    names: Sequence[str], recipients: Mapping[str, Recipient]
) -> list[tuple[int, str]]:
    """(index, problem) of each name in `names` that is not a recipient."""
    known = ", ".join(sorted(recipients)) or "none defined"
    return [
        (j, f"unknown recipient {who!r} ({known})")
        for j, who in enumerate(names)
        if who not in recipients
    ]


def check_references(rules: list[Rule], recipients: Mapping[str, Recipient]) -> list[str]:
    """Problems between rules and recipients: repeated names, unknown recipients."""
    problems, seen = [], set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            problems.append(f"rules[{i}].name: {rule.name!r} is used by an earlier rule")
        seen.add(rule.name)
        problems += [
            f"rules[{i}].recipients[{j}]: {message}"
            for j, message in unknown_recipients(rule.recipients, recipients)
        ]
    return problems


def parse_rules(text: str, where: str = "") -> RuleFile:
    """A rules file from its YAML text; RulesError listing every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError([f"{where or 'rules'}: not valid YAML: {exc}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RulesError([f"{where or 'rules'}: must be a mapping with recipients and rules"])
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        raise RulesError(problems_of(exc, root, where)) from None
    problems = check_references(parsed.rules, parsed.recipients)
    if problems:
        raise RulesError([f"{where}: {p}" if where else p for p in problems])
    return parsed


def load_rules(path: Path) -> RuleFile:
    """The rules file at `path`; RulesError when it cannot be read or is invalid."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([f"{path}: cannot read: {exc.strerror}"]) from None
    except UnicodeDecodeError as exc:
        raise RulesError([f"{path}: not UTF-8 text: {exc.reason}"]) from None
    return parse_rules(text, str(path))


def rule_from(data: object) -> Rule:
    """One rule from JSON-like data (the API); RulesError with every problem."""
    try:
        return Rule.model_validate(data)
    except ValidationError as exc:
        raise RulesError(problems_of(exc), located_of(exc)) from None


def rule_data(rule: Rule) -> dict[str, Any]:
    """A rule as it is stored and answered: JSON types, `for` by its name, defaults left out."""
    return rule.model_dump(mode="json", by_alias=True, exclude_defaults=True) | {
        "name": rule.name,
        "enabled": rule.enabled,
    }
