"""`citydata broker sync` against a real Mosquitto using the password file and ACL it writes:
who gets in, who may publish where, and that sync + SIGHUP changes access with no restart.

Every broker here runs with `allow_anonymous false`, the generated files and a pid file; the
collector and the API's publisher connect with their own service credentials."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from api.publisher import Publisher
from citydata import services
from citydata.broker.credentials import issue, rotate
from citydata.broker.sync import SyncResult, sync
from citydata.influx import InfluxClient
from citydata.mqtt import NO_MATCHING_SUBSCRIBERS, Refusals
from citydata.registry import Registry
from citydata.registry.mqtt_credentials import MqttCredentials, MqttRole
from citydata.settings import Settings, load_settings
from tests.conftest import _need
from tests.helpers import register, running_collector, wait_for

pytestmark = pytest.mark.integration

NOT_AUTHORIZED = 0x87  # MQTT 5 reason code, in CONNACK and PUBACK
REFUSED = {"not authorized", "disconnected"}


@dataclass
class Site:
    """A broker secured by sync, the settings of a collector that uses it, the passwords."""

    broker: services.MosquittoService
    settings: Settings  # CITYDATA_MQTT_URL holds the collector's credential
    passwords: dict[str, str]
    password_file: Path
    acl_file: Path

    @property
    def pid_file(self) -> Path:
        return self.broker.workdir / "mosquitto.pid"

    def sync(self, reload: bool = True) -> SyncResult:
        with Registry.from_settings(self.settings) as registry:
            pid_file = self.pid_file if reload else None
            return sync(registry, self.settings, self.password_file, self.acl_file, pid_file)

    def url(self, username: str, password: str | None = None) -> str:
        secret = self.passwords[username] if password is None else password
        return f"mqtt://{username}:{secret}@127.0.0.1:{self.broker.port}"


@pytest.fixture
def site(tmp_path: Path, influx: InfluxClient) -> Iterator[Site]:
    _need("mosquitto")
    etc = tmp_path / "etc"
    etc.mkdir()
    password_file, acl_file = etc / "passwd", etc / "acl"
    broker = services.mosquitto(tmp_path / "mq", password_file=password_file, acl_file=acl_file)
    settings = load_settings(
        {},
        mqtt_url=f"mqtt://127.0.0.1:{broker.port}",
        mqtt_client_id=f"test-collector-{uuid.uuid4().hex[:8]}",
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp_path / "var",
        collector_flush_interval_s=0.05,
        registry_refresh_s=0.3,
    )
    register(settings, {"air-1": "air", "air-2": "air", "water-1": "water"})
    passwords: dict[str, str] = {}
    with Registry.from_settings(settings) as registry:
        store = MqttCredentials(registry.engine)
        for name, role in [
            ("collector", MqttRole.collector),
            ("api", MqttRole.api),
            ("air-1", MqttRole.device),
            ("air-2", MqttRole.device),
        ]:
            passwords[name] = issue(store, name, role)[1]
        topics = ["v3/lamphaya@ttn/devices/+/up"]
        passwords["ttn"] = issue(store, "ttn", MqttRole.gateway, topics)[1]
    collector_url = f"mqtt://collector:{passwords['collector']}@127.0.0.1:{broker.port}"
    settings = settings.model_copy(update={"mqtt_url": collector_url})
    made = Site(broker, settings, passwords, password_file, acl_file)
    made.sync(reload=False)  # the files exist before the broker first reads them
    broker.start()
    yield made
    broker.stop()


class Client:
    """A paho MQTT 5 client that reports the broker's answers: CONNACK, PUBACK, disconnects."""

    def __init__(self, url: str) -> None:
        user_pass, _, host_port = url.removeprefix("mqtt://").rpartition("@")
        self.host, port = host_port.split(":")
        self.port = int(port)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"test-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        if user_pass:
            username, _, password = user_pass.partition(":")
            self.client.username_pw_set(username, password)
        self.connacks: queue.Queue[ReasonCode] = queue.Queue()
        self.gone = threading.Event()
        self.refusals = Refusals()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self.refusals.on_publish

    def _on_connect(self, c: Any, u: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
        self.connacks.put(reason)

    def _on_disconnect(self, c: Any, u: Any, flags: Any, reason: Any, props: Any) -> None:
        self.gone.set()

    def connect(self) -> ReasonCode:
        """Connect and return the CONNACK's reason; the client stays connected on success."""
        self.client.connect(self.host, self.port, clean_start=True)
        self.client.loop_start()
        reason = self.connacks.get(timeout=10)
        if reason.is_failure:
            self.close()
        return reason

    def publish(self, topic: str, payload: bytes) -> str:
        """Publish at QoS 1: "accepted" (PUBACK success or no matching subscribers), "not
        authorized" (PUBACK 0x87), or "disconnected" (Mosquitto 2.0 closes the connection of a
        client publishing where the ACL forbids, as MQTT 3.1.1 allows, instead of answering)."""
        info = self.client.publish(topic, payload, qos=1)
        wait_for(lambda: info.is_published() or self.gone.is_set(), timeout=10, what="an answer")
        if not info.is_published():
            return "disconnected"
        refusal = self.refusals.take(info.mid)
        if refusal is None or refusal.value == NO_MATCHING_SUBSCRIBERS:
            return "accepted"
        return "not authorized" if refusal.value == NOT_AUTHORIZED else str(refusal)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connack(url: str) -> ReasonCode:
    client = Client(url)
    reason = client.connect()
    if not reason.is_failure:
        client.close()
    return reason


def stored(influx: InfluxClient, kind: str = "air") -> dict[str, float]:
    """{sensor id: pm25 or level} of every point stored."""
    field = "pm25" if kind == "air" else "level"
    rows = influx.records(f'SELECT "{field}", "sensor_id" FROM "{kind}"')
    return {f"{row['sensor_id']}@{row[field]:g}": row[field] for row in rows}


def test_only_the_right_password_gets_in(site: Site) -> None:
    assert not connack(site.url("air-1")).is_failure
    assert connack(site.url("air-1", "wrong-" + site.passwords["air-1"])).value == NOT_AUTHORIZED
    assert connack(site.url("air-1", site.passwords["air-2"])).value == NOT_AUTHORIZED
    assert connack(site.url("nobody", "x")).value == NOT_AUTHORIZED
    assert connack(f"mqtt://127.0.0.1:{site.broker.port}").value == NOT_AUTHORIZED  # anonymous


def test_a_device_publishes_only_its_own_topic(site: Site, influx: InfluxClient) -> None:
    """air-1 spoofing air-2 (and another kind, and a gateway's tree) is refused by the broker
    and never stored; the reading on its own topic, published after them, is."""
    with running_collector(site.settings) as collector:
        spoofs = ["sensors/air/air-2", "sensors/water/air-1", "v3/lamphaya@ttn/devices/x/up"]
        for topic in spoofs:  # a client each: Mosquitto drops a client that publishes there
            device = Client(site.url("air-1"))
            assert not device.connect().is_failure
            assert device.publish(topic, b'{"pm25": 666}') in REFUSED, topic
            device.close()
        device = Client(site.url("air-1"))
        assert not device.connect().is_failure
        assert device.publish("sensors/air/air-1", b'{"pm25": 11}') == "accepted"
        device.close()
        wait_for(lambda: collector.stats.written >= 1, what="air-1's own reading")
        # The broker dealt with every spoof before this reading's client connected: had it
        # passed one on, the collector would have received it first.
        assert collector.stats.received == 1
    assert stored(influx) == {"air-1@11": 11.0}
    assert influx.records('SELECT * FROM "water"') == []


def test_the_api_publisher_and_a_gateway_use_their_credentials(
    site: Site, influx: InfluxClient
) -> None:
    api_settings = site.settings.model_copy(update={"mqtt_url": site.url("api")})
    with running_collector(site.settings) as collector:
        publisher = Publisher(api_settings)
        publisher.start()
        try:
            wait_for(lambda: publisher.connected, timeout=15, what="the API's publisher")
            publisher.publish("sensors/air/air-2", b'{"pm25": 22}', time.time_ns())
        finally:
            publisher.close()
        gateway = Client(site.url("ttn"))
        assert not gateway.connect().is_failure
        assert gateway.publish("v3/lamphaya@ttn/devices/air-1/up", b"{}") == "accepted"
        assert gateway.publish("sensors/air/air-1", b'{"pm25": 99}') in REFUSED
        gateway.close()
        wait_for(lambda: collector.stats.written >= 1, what="the API's reading")
    assert stored(influx) == {"air-2@22": 22.0}


def test_retiring_a_sensor_revokes_it_at_sync_without_a_restart(
    site: Site, influx: InfluxClient
) -> None:
    pid = site.broker.pid
    early = Client(site.url("air-1"))  # connected before the sync
    assert not early.connect().is_failure
    other = Client(site.url("air-2"))  # likewise, and still admitted after it
    assert not other.connect().is_failure
    with Registry.from_settings(site.settings) as registry:
        registry.retire("air-1")
    result = site.sync()
    assert result.reloaded_pid == pid and "air-1: sensor retired" in result.left_out
    assert site.password_file in result.changed and site.acl_file in result.changed
    wait_for(
        lambda: connack(site.url("air-1")).value == NOT_AUTHORIZED,
        timeout=10,
        what="the broker to refuse the retired sensor",
    )
    # The connection made before the sync is dropped: it can publish nothing more.
    assert early.gone.wait(10), "the retired sensor's open connection was kept"
    early.close()
    # The others keep their connections: air-2 publishes on the one it opened before the sync.
    assert other.publish("sensors/air/air-2", b'{"pm25": 5}') == "accepted"
    assert not other.gone.is_set()
    other.close()
    assert site.broker.process is not None and site.broker.process.poll() is None
    assert site.broker.pid == pid


def test_rotating_a_secret_refuses_the_old_and_admits_the_new(site: Site) -> None:
    old = site.passwords["air-2"]
    with Registry.from_settings(site.settings) as registry:
        _, new = rotate(MqttCredentials(registry.engine), "air-2")
    assert new != old
    site.sync()
    wait_for(
        lambda: connack(site.url("air-2", old)).value == NOT_AUTHORIZED,
        timeout=10,
        what="the old password to be refused",
    )
    assert not connack(site.url("air-2", new)).is_failure


def test_a_new_sensor_gets_in_after_sync_and_a_second_sync_changes_nothing(
    site: Site, influx: InfluxClient
) -> None:
    register(site.settings, {"water-2": "water"})
    with Registry.from_settings(site.settings) as registry:
        _, secret = issue(MqttCredentials(registry.engine), "water-2", MqttRole.device)
    url = site.url("water-2", secret)
    assert connack(url).value == NOT_AUTHORIZED  # not before the sync
    before = site.password_file.read_bytes(), site.acl_file.read_bytes()
    assert site.sync().changed == [site.password_file, site.acl_file]
    wait_for(lambda: not connack(url).is_failure, timeout=10, what="the new sensor admitted")
    again = site.sync()
    assert again.changed == [] and again.reloaded_pid == site.broker.pid
    assert (site.password_file.read_bytes(), site.acl_file.read_bytes()) != before
    with running_collector(site.settings) as collector:
        device = Client(url)
        assert not device.connect().is_failure
        assert device.publish("sensors/water/water-2", b'{"level": 1.5}') == "accepted"
        device.close()
        wait_for(lambda: collector.stats.written >= 1, what="water-2's reading")
    assert stored(influx, "water") == {"water-2@1.5": 1.5}
