"""`citydata simulate --scenario` through a real Mosquitto beside a live simulator: a short haze
publishes its elevated readings on the sensor's topic, claims the sensor meanwhile so the live
run stands aside, and releases it at the end."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from citydata import services
from citydata.cli import main
from citydata.mqtt import close, connect, make_client
from citydata.settings import load_settings
from simulators.fleet import LAM_PHAYA
from simulators.publisher import Simulation, publish_fleet
from simulators.scenarios import all_scenarios
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

SENSORS = {s.sensor_id: s for s in LAM_PHAYA}
INTERVAL_S, ROUNDS, MINUTES = 0.5, 16, 0.1  # a 6-second haze, then 2 seconds of normal air

Heard = list[tuple[float, str, bytes]]  # (monotonic receive time, topic, payload)


@pytest.fixture
def heard(broker: services.MosquittoService) -> Iterator[Heard]:
    """Every message on the sensors' topics and the claims, as received."""
    got: Heard = []
    client, host, port = make_client(broker.url, f"listener-{uuid.uuid4().hex[:8]}")

    def on_message(c: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        got.append((time.monotonic(), msg.topic, bytes(msg.payload)))

    client.on_message = on_message
    connect(client, host, port)
    client.subscribe([("sensors/#", 1), ("senml/#", 1), ("citydata/simulator/claims/#", 1)])
    time.sleep(0.2)  # SUBACK
    yield got
    close(client)


def test_a_short_haze_beside_a_live_simulator(
    broker: services.MosquittoService,
    heard: Heard,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CITYDATA_CONFIG", raising=False)
    monkeypatch.setenv("CITYDATA_MQTT_URL", broker.url)
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path / "var"))
    settings = load_settings({}, mqtt_url=broker.url, data_dir=tmp_path / "var")
    # The live run publishes in SenML (senml/air/<id>) so its readings tell apart by topic.
    live = [replace(SENSORS[s], format="senml") for s in ("lp-air-01", "lp-air-03")]
    stop = threading.Event()
    runner = threading.Thread(
        target=publish_fleet, args=(settings, live), kwargs={"interval_s": 0.25, "stop": stop}
    )
    runner.start()
    try:
        wait_for(lambda: len(heard) >= 4, timeout=10, what="the live simulator")
        argv = ["simulate", "--scenario", "haze", "--sensor", "lp-air-01"]
        argv += ["--scenario-minutes", f"{MINUTES}", "--interval", f"{INTERVAL_S}"]
        assert main([*argv, "--rounds", f"{ROUNDS}"]) == 0
        done = time.monotonic()
        wait_for(
            lambda: any(t > done and topic == "senml/air/lp-air-01" for t, topic, _ in heard),
            timeout=5,
            what="the live run to take lp-air-01 back",
        )
    finally:
        stop.set()
        runner.join(10)

    claims = [(t, body) for t, topic, body in heard if topic.startswith("citydata/simulator/")]
    (claimed, claim), (released, release) = claims
    assert json.loads(claim)["sensors"] == ["lp-air-01"] and release == b""
    scenario = [(t, json.loads(body)) for t, topic, body in heard if topic.startswith("sensors/")]
    assert {topic for _, topic, _ in heard if topic.startswith("sensors/")} == {
        "sensors/air/lp-air-01"
    }
    assert len(scenario) == ROUNDS

    def live_during(sensor_id: str) -> int:
        topic = f"senml/air/{sensor_id}"
        return sum(claimed < t < released and tp == topic for t, tp, _ in heard)

    assert live_during("lp-air-01") <= 1  # at most the round in flight as the claim went out
    assert live_during("lp-air-03") >= ROUNDS  # the others carry on, every 0.25 s

    # The readings: normal ones as the model has them, the hold at 150-180 µg/m³.
    timeline = all_scenarios()["haze"].timeline([]).scaled(MINUTES)
    start = datetime.fromisoformat(scenario[0][1]["ts"]).timestamp()
    expected = Simulation([SENSORS["lp-air-01"]], 0)
    for k, (_, reading) in enumerate(scenario):
        t = start + k * INTERVAL_S
        assert datetime.fromisoformat(reading["ts"]).timestamp() == pytest.approx(t, abs=0.002)
        (normal,) = expected.round(t)
        phase = timeline.phase(k * INTERVAL_S)
        if phase == "hold":
            assert 144 <= reading["pm25"] <= 188
            assert reading["pm10"] > reading["pm25"]
        elif phase in ("after",) or k == 0:
            assert reading["pm25"] == pytest.approx(normal.values["pm25"], abs=0.2)
    assert sum(timeline.phase(k * INTERVAL_S) == "hold" for k in range(ROUNDS)) >= 8
    assert sum(timeline.phase(k * INTERVAL_S) == "after" for k in range(ROUNDS)) >= 3
