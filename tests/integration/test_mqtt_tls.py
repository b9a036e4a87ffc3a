"""MQTT over TLS against a real Mosquitto with certificates from `citydata broker cert`: a
reading published over mqtts:// is stored by a collector connected over mqtts://; every program's
client takes the TLS settings; a wrong CA, an expired server certificate or a host name the
certificate does not name is refused by the client; with require_certificate, only clients with
a certificate from the CA get in."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from citydata import broker_tls, services
from citydata.influx import InfluxClient
from citydata.mqtt import MQTTConnectError, TLSFiles, close, connect, make_client
from citydata.settings import Settings, load_settings
from tests.conftest import _need
from tests.helpers import register, running_collector, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site's CA, the broker's certificate for localhost and 127.0.0.1 and a client
    certificate `device-1`, made by the command as an operator runs it."""
    directory = tmp_path_factory.mktemp("pki") / "certs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    args = ["broker", "cert", str(directory), "--name", "localhost", "--ip", "127.0.0.1"]
    result = subprocess.run(
        [sys.executable, "-m", "citydata", *args, "--client", "device-1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def rogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another CA with its own server and client certificates for the same names."""
    directory = tmp_path_factory.mktemp("rogue")
    broker_tls.create(directory, names=["localhost"], ips=["127.0.0.1"], clients=["device-1"])
    return directory


Broker = Callable[..., services.MosquittoService]


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[Broker]:
    """Start a Mosquitto with a TLS listener: `tls_broker(certfile, keyfile, ...)`."""
    _need("mosquitto")
    started: list[services.MosquittoService] = []

    def start(certfile: Path, keyfile: Path, **options: object) -> services.MosquittoService:
        tls = services.BrokerTLS(certfile, keyfile, **options)  # type: ignore[arg-type]
        server = services.mosquitto(tmp_path / f"mosquitto-{len(started)}", tls=tls)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def _server_cert(directory: Path, issued: broker_tls.Issued, name: str = "server") -> Path:
    broker_tls.write_pair(directory, name, issued)
    return directory / f"{name}.crt"


def _connects(url: str, tls: TLSFiles, timeout: float = 10.0) -> None:
    """Connect over TLS and make one QoS 1 round trip, or raise MQTTConnectError."""
    client, host, port = make_client(url, f"tls-{uuid.uuid4().hex[:8]}", tls=tls)
    try:
        connect(client, host, port, timeout=timeout)
        info = client.publish("sensors/air/probe", b"{}", qos=1)
        info.wait_for_publish(timeout=10)
        assert info.is_published()
    finally:
        close(client)


def _refused(url: str, tls: TLSFiles) -> str:
    with pytest.raises(MQTTConnectError) as caught:  # on loopback, 2 s is many attempts' time
        _connects(url, tls, timeout=2)
    return str(caught.value)


def test_collector_over_tls_stores_a_reading_published_over_tls(
    pki: Path, tls_broker: Broker, influx: InfluxClient, tmp_path: Path
) -> None:
    broker = tls_broker(pki / "server.crt", pki / "server.key")
    settings = load_settings(
        {
            "CITYDATA_MQTT_URL": broker.tls_url,
            "CITYDATA_MQTT_CA_FILE": str(pki / "ca.crt"),
        },
        mqtt_client_id=f"tls-collector-{uuid.uuid4().hex[:8]}",
        influx_url=influx.url,
        influx_db=influx.database,
        data_dir=tmp_path / "var",
        collector_flush_interval_s=0.05,
        registry_refresh_s=0.3,
    )
    register(settings, {"air-tls": "air"})
    ts_ms = (int(time.time()) - 60) * 1000
    with running_collector(settings):
        client, host, port = make_client(settings.mqtt_url, "tls-sensor", tls=TLSFiles.of(settings))
        connect(client, host, port)
        try:
            body = json.dumps({"ts": ts_ms, "pm25": 42.5}).encode()
            info = client.publish("sensors/air/air-tls", body, qos=1)
            info.wait_for_publish(timeout=10)
        finally:
            close(client)

        def stored() -> list[dict[str, object]]:
            return influx.records('SELECT "pm25" FROM "air" WHERE "sensor_id" = \'air-tls\'')

        wait_for(lambda: bool(stored()), timeout=30, what="the reading sent over TLS")
    assert stored() == [{"time": ts_ms * 1_000_000, "pm25": 42.5}]
    # The TLS port speaks only TLS: a plain client gets nowhere on it.
    plain, host, port = make_client(f"mqtt://127.0.0.1:{broker.tls_port}", "plain")
    with pytest.raises(MQTTConnectError):
        connect(plain, host, port, timeout=3)
    close(plain)


def _tls_settings(broker: services.MosquittoService, pki: Path, tmp_path: Path) -> Settings:
    return load_settings(
        {"CITYDATA_MQTT_URL": broker.tls_url, "CITYDATA_MQTT_CA_FILE": str(pki / "ca.crt")},
        data_dir=tmp_path / "var",
    )


def test_api_publisher_simulator_and_replay_connect_with_the_settings(
    pki: Path, tls_broker: Broker, tmp_path: Path
) -> None:
    """Every program's client builds its TLS from the settings (none falls back to the
    system's CAs, which do not know this CA)."""
    from api.publisher import Publisher as ApiPublisher
    from citydata.replay import replay
    from simulators.publisher import Publisher as SimPublisher

    broker = tls_broker(pki / "server.crt", pki / "server.key")
    settings = _tls_settings(broker, pki, tmp_path)

    api = ApiPublisher(settings)
    api.start()
    try:
        wait_for(lambda: api.connected, timeout=10, what="the API's publisher over TLS")
    finally:
        api.close()

    sim = SimPublisher(settings, seed=1)  # connects in its constructor, or raises
    try:
        assert sim.client.is_connected()
    finally:
        sim.close()

    assert replay(settings, lambda record: True, timeout=10) == 0  # connected, nothing to replay


def test_a_client_trusting_another_ca_or_the_system_is_refused(
    pki: Path, rogue: Path, tls_broker: Broker
) -> None:
    broker = tls_broker(pki / "server.crt", pki / "server.key")
    _connects(broker.tls_url, TLSFiles(pki / "ca.crt"))  # the right CA: in
    for tls in (TLSFiles(rogue / "ca.crt"), TLSFiles()):
        message = _refused(broker.tls_url, tls)
        assert "certificate is not trusted: unable to get local issuer certificate" in message


def test_an_expired_server_certificate_is_refused(
    pki: Path, tls_broker: Broker, tmp_path: Path
) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    ca = broker_tls.load_ca(pki)
    expired = broker_tls.issue(ca, "127.0.0.1", server=True, ips=["127.0.0.1"], now=past, days=30)
    cert = _server_cert(tmp_path, expired)
    broker = tls_broker(cert, tmp_path / "server.key")
    message = _refused(broker.tls_url, TLSFiles(pki / "ca.crt"))
    assert "certificate is not trusted: certificate has expired" in message


def test_a_certificate_for_another_host_is_refused(
    pki: Path, tls_broker: Broker, tmp_path: Path
) -> None:
    ca = broker_tls.load_ca(pki)
    other = broker_tls.issue(
        ca, "broker.example.org", server=True, dns_names=["broker.example.org"]
    )
    broker = tls_broker(_server_cert(tmp_path, other), tmp_path / "server.key")
    message = _refused(broker.tls_url, TLSFiles(pki / "ca.crt"))
    assert "certificate is not trusted: IP address mismatch" in message
    # By name: localhost is not in it either.
    message = _refused(f"mqtts://localhost:{broker.tls_port}", TLSFiles(pki / "ca.crt"))
    assert "certificate is not trusted: Hostname mismatch" in message


def test_require_certificate_admits_only_clients_with_a_certificate_from_the_ca(
    pki: Path, rogue: Path, tls_broker: Broker
) -> None:
    broker = tls_broker(
        pki / "server.crt", pki / "server.key", cafile=pki / "ca.crt", require_certificate=True
    )
    ca = pki / "ca.crt"
    _connects(broker.tls_url, TLSFiles(ca, pki / "device-1.crt", pki / "device-1.key"))
    message = _refused(broker.tls_url, TLSFiles(ca))
    assert "TLS: the broker requires a client certificate (CITYDATA_MQTT_CLIENT_CERT" in message
    wrong = TLSFiles(ca, rogue / "device-1.crt", rogue / "device-1.key")
    message = _refused(broker.tls_url, wrong)
    assert "TLS: the broker does not trust the CA of our client certificate" in message
    # The server certificate is not a client certificate: its extended key usage says server.
    server_as_client = TLSFiles(ca, pki / "server.crt", pki / "server.key")
    message = _refused(broker.tls_url, server_as_client)
    assert "TLS: the broker refused our client certificate: not one for a TLS client" in message


def test_production_config_serves_tls_on_its_8883_listener(pki: Path, tmp_path: Path) -> None:
    """deploy/mosquitto.conf as shipped, its certificate directory pointed at the command's
    files, its listeners moved to free loopback ports and its authentication (not this test's
    subject) opened: a client verifying the CA connects over TLS; with the file's commented
    client-certificate lines switched on, a client without a certificate is refused."""
    _need("mosquitto")
    text = (ROOT / "deploy" / "mosquitto.conf").read_text(encoding="utf-8")
    assert "\nlistener 8883\ncertfile /etc/mosquitto/certs/server.crt\n" in text
    plain, tls = services.free_port(), services.free_port()
    text = text.replace("/etc/mosquitto/certs/", f"{pki}/")
    text = text.replace("\nlistener 1883\n", f"\nlistener {plain} 127.0.0.1\n")
    text = text.replace("\nlistener 8883\n", f"\nlistener {tls} 127.0.0.1\n")
    drop = ("password_file", "acl_file", "allow_anonymous", "persistence_location", "log_dest")
    lines = [line for line in text.splitlines() if not line.startswith(drop)]
    lines += ["allow_anonymous true", f"persistence_location {tmp_path}/", "log_dest stderr"]
    lines.append(f"user {getpass.getuser()}")
    for require in (False, True):
        conf = tmp_path / f"mosquitto-{require}.conf"
        body = "\n".join(lines) + "\n"
        if require:
            body = body.replace("\n#cafile ", "\ncafile ")
            body = body.replace("\n#require_certificate true", "\nrequire_certificate true")
        conf.write_text(body, encoding="utf-8")
        command = [services.find_binary("mosquitto"), "-c", str(conf)]
        broker = services.MosquittoService("mosquitto", command, tmp_path, plain).start()
        try:
            url = f"mqtts://127.0.0.1:{tls}"
            if require:
                assert "requires a client certificate" in _refused(url, TLSFiles(pki / "ca.crt"))
                client_tls = TLSFiles(pki / "ca.crt", pki / "device-1.crt", pki / "device-1.key")
                _connects(url, client_tls)
            else:
                _connects(url, TLSFiles(pki / "ca.crt"))
        finally:
            broker.stop()
