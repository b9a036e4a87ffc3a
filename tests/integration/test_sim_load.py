"""Load mode: N synthetic sensors at a rate, every message acknowledged, latency reported."""

from __future__ import annotations

import pytest

from citydata import services
from citydata.settings import load_settings
from simulators.load import run_load, synthetic_fleet

pytestmark = pytest.mark.integration


def test_load_mode_publishes_the_asked_count_and_reports_latency(
    broker: services.MosquittoService,
) -> None:
    settings = load_settings({}, mqtt_url=broker.url)
    sensors = synthetic_fleet(300)
    assert len({s.sensor_id for s in sensors}) == 300
    assert {s.kind for s in sensors} == {"air", "water", "traffic"}
    report = run_load(settings, sensors, rate=2000, duration_s=1.0)
    assert report.sent == report.acked == 2000
    assert len(report.latency_ms) > 1900 and min(report.latency_ms) >= 0
    text = str(report)
    assert "acknowledged 2000" in text and "p99" in text
