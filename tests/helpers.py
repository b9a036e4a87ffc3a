"""Helpers shared by the tests: publish through a real broker, wait for a condition."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psutil

from citydata.mqtt import close, connect, make_client
from citydata.registry import Registry, Sensor
from citydata.settings import Settings
from collector.service import Collector


def publish_all(url: str, messages: list[tuple[str, bytes]], qos: int = 1) -> None:
    """Publish every message at `qos` and return once the broker acknowledged them all."""
    client, host, port = make_client(url, f"pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    connect(client, host, port)
    try:
        infos = [client.publish(topic, payload, qos=qos) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=60)
        assert all(info.is_published() for info in infos), "broker did not acknowledge all"
    finally:
        close(client)


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Poll `predicate` until it is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")


def register(settings: Settings, sensors: dict[str, str], **fields: Any) -> None:
    """Add sensors ({id: kind}) to the registry the collector of `settings` reads: active,
    placed in Lam Phaya, zone "test", site "lab", plus any other `fields` (calibration=...)."""
    with Registry.from_settings(settings) as registry:
        registry.upsert_many(
            Sensor(
                id=sid,
                kind=kind,
                name_th=sid,
                name_en=sid,
                latitude=14.0,
                longitude=100.15,
                zone="test",
                site="lab",
                **fields,
            )
            for sid, kind in sensors.items()
        )


@contextmanager
def running_collector(settings: Settings) -> Iterator[Collector]:
    """A collector in this process, connected, subscribed and with its worker ready."""
    collector = Collector(settings)
    collector.start()
    try:
        assert collector.subscribed.wait(10), "collector did not subscribe at the broker"
        wait_for(collector.ready.is_set, what="collector worker ready")
        yield collector
    finally:
        collector.stop()


def api_key(settings: Settings, role: str, sensor_id: str | None = None) -> str:
    """A new API key with `role` in the registry of `settings` (device keys name a sensor)."""
    from citydata.registry import Role

    with Registry.from_settings(settings) as registry:
        _, token = registry.create_key(f"test {role}", Role(role), sensor_id)
    return token


def left_running(processes: list[psutil.Process], timeout: float = 15.0) -> list[psutil.Process]:
    """Which of `processes` are still running after up to `timeout` seconds: a stopped program's
    helpers (multiprocessing's fork server) exit a moment after it, once they see it gone."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def make_station(sid: str, kind: str = "air", zone: str = "town", **fields: Any) -> Sensor:
    """A registry sensor for the API and judgment tests: named in Thai and English after its id,
    placed in Lam Phaya, site "lab", plus any other `fields` (thresholds=..., meta=...)."""
    return Sensor(
        id=sid,
        kind=kind,
        name_th=f"สถานี {sid}",
        name_en=f"Station {sid}",
        latitude=14.0,
        longitude=100.15,
        zone=zone,
        site="lab",
        **fields,
    )
