"""Fault tests: 20,000 readings at QoS 1 through real servers while something fails; InfluxDB
must hold exactly the published set afterwards, none missing, none extra."""

from __future__ import annotations

from pathlib import Path

import pytest

from citydata import services
from tests import faultlab

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("scenario", list(faultlab.SCENARIOS))
def test_nothing_lost_nothing_doubled(scenario: str, tmp_path: Path) -> None:
    for binary in ("mosquitto", "influxd"):
        services.find_binary(binary)
    fault, lab_kw = faultlab.SCENARIOS[scenario]
    result = faultlab.run(scenario, tmp_path, fault, **lab_kw)
    assert (result.missing, result.extra) == (0, 0), result
    assert result.stored == result.published == 20_000
    if "spool bound" in scenario:  # backpressure must really have happened
        assert any("spool full" in note for note in result.notes), result
    if "500/429" in scenario:
        assert "proxy failed 0 " not in " ".join(result.notes), result
