"""Every panel's every query, as Grafana would send it, against a real InfluxDB holding the
simulated city's last 2 days (the `city` fixture: the Lam Phaya fleet through a real collector,
dead letters, the collector's health points and the derived series).

Grafana cannot run here; this is the proof that the dashboards show data. The cases are read
from the built dashboards, so a new panel is checked without new test code.
"""

from __future__ import annotations

from typing import Any

import pytest

from citydata.influx import InfluxClient
from dashboards.build import build_all
from tests.grafana import Target, duration_ns, resolve, targets, variables
from tests.grafana import expand as grafana_expand

pytestmark = pytest.mark.integration

MODELS = build_all()
TARGETS = [t for name, model in MODELS.items() for t in targets(name, model)]
TIME_FILTER = "time >= now() - 2d"  # the dashboards' range widened to the city's 2 days
CITY_RANGE = "2d"
INTERVAL = "5m"  # what Grafana picks for 2 days on a ~600-pixel panel


def _values(influx: InfluxClient, q: str) -> list[str]:
    """The values a variable query offers."""
    out = []
    for series in influx.query(q):
        # Grafana's column of each SHOW: TAG VALUES "value", FIELD KEYS "fieldKey",
        # MEASUREMENTS "name"; else the last column.
        column = next(
            (c for c in ("value", "fieldKey", "name") if c in series.columns), series.columns[-1]
        )
        out += [str(row[column]) for row in series.records()]
    return sorted(set(out))


@pytest.fixture(scope="module")
def resolved(city: Any) -> dict[str, dict[str, list[str]]]:
    """Each dashboard's variables with every value they offer (Grafana's "All")."""
    return {
        name: resolve(model, lambda q: _values(city.influx, q), TIME_FILTER, INTERVAL)
        for name, model in MODELS.items()
    }


def test_there_are_panels_to_check() -> None:
    assert len(TARGETS) >= 30, [t.id for t in TARGETS]


@pytest.mark.parametrize(
    "name,var", [(n, v["name"]) for n, m in MODELS.items() for v in variables(m)]
)
def test_each_template_variable_offers_values(
    name: str, var: str, resolved: dict[str, dict[str, list[str]]]
) -> None:
    assert resolved[name][var], f"{name}: ${var} offers nothing"


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_each_panel_query_returns_values(
    target: Target, city: Any, resolved: dict[str, dict[str, list[str]]]
) -> None:
    # A panel's own window ("now" panels: the last 2 h or 15 min) ends at the city's last
    # round of readings, as if Grafana's clock stood there; health points come later.
    window = duration_ns(target.time_from or CITY_RANGE)
    time_filter = f"time > {city.end_ns - window}"
    q = grafana_expand(target.query, resolved[target.dashboard], time_filter, INTERVAL)
    series = city.influx.query(q)
    with_values = [
        s
        for s in series
        if any(
            v is not None
            for row in s.values
            for column, v in zip(s.columns, row, strict=True)
            if column != "time"
        )
    ]
    assert with_values, f"no series with values for {q}"
