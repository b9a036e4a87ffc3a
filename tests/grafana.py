"""What Grafana does to a dashboard's InfluxQL before sending it, so tests can run every panel's
query against a real InfluxDB without a Grafana: walk the panels and targets of a dashboard
model, resolve its query variables, and expand `$timeFilter`, `$__interval` and variables.

Variable formatting follows Grafana's InfluxDB datasource: inside a regex (`/^$zone$/`) values
are regex-escaped and a multi-value or "All" selection becomes `(a|b|c)`; elsewhere the value
is inserted as it is. "All" without a custom all-value selects every value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
_IN_REGEX = re.compile(r"[=!]~\s*/[^/]*$")  # an open regex literal: `"zone" =~ /^`


@dataclass(frozen=True)
class Target:
    """One query of one panel."""

    dashboard: str
    panel: str
    ref_id: str
    query: str
    datasource_uid: str | None
    time_from: str | None = None  # the panel's own window ("2h"), overriding the dashboard's

    @property
    def id(self) -> str:
        return f"{self.dashboard}/{self.panel.split(' · ')[-1]}/{self.ref_id}"


def panels(model: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel of a dashboard, the panels of rows (collapsed or not) included."""
    for panel in model.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def targets(name: str, model: dict[str, Any]) -> Iterator[Target]:
    for panel in panels(model):
        for t in panel.get("targets", []):
            ds = t.get("datasource") or panel.get("datasource") or {}
            yield Target(
                name,
                panel.get("title", ""),
                t["refId"],
                t["query"],
                ds.get("uid"),
                panel.get("timeFrom"),
            )


def variables(model: dict[str, Any]) -> list[dict[str, Any]]:
    return list(model.get("templating", {}).get("list", []))


def _regex_escape(value: str) -> str:
    return re.sub(r"[\\^$.|?*+()\[\]{}/]", lambda m: "\\" + m.group(0), value)


def expand(query: str, values: dict[str, list[str]], time_filter: str, interval: str) -> str:
    """`query` as Grafana would send it, the variables taking `values`."""
    out = query.replace("$timeFilter", time_filter)
    out = out.replace("$__interval_ms", str(_ms(interval))).replace("$__interval", interval)

    def variable(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise KeyError(f"unknown variable ${name} in {query!r}")
        chosen = values[name]
        if _IN_REGEX.search(out[: m.start()]):
            escaped = [_regex_escape(v) for v in chosen]
            return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"
        return chosen[0] if chosen else ""

    return _VAR.sub(variable, out)


def duration_ns(text: str) -> int:
    """A Grafana duration ("15m", "2h", "2d") in nanoseconds."""
    return _ms(text) * 1_000_000


def _ms(interval: str) -> int:
    number, unit = int(interval[:-1]), interval[-1]
    return number * {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}[unit]


def resolve(
    model: dict[str, Any],
    run: Callable[[str], list[str]],
    time_filter: str,
    interval: str,
) -> dict[str, list[str]]:
    """Each variable's values, in order (a variable may use the ones before it): a query
    variable's are what its query returns, all of them (Grafana's "All"); a custom or constant
    variable's are its options. `run` sends InfluxQL and returns the first column's values."""
    values: dict[str, list[str]] = {}
    for var in variables(model):
        if var["type"] == "query":
            q = var["query"] if isinstance(var["query"], str) else var["query"]["query"]
            found = run(expand(q, values, time_filter, interval))
            values[var["name"]] = found if var.get("includeAll") or var.get("multi") else found[:1]
        else:
            values[var["name"]] = [str(o["value"]) for o in var.get("options", [])] or [
                str(var.get("query", ""))
            ]
    return values
