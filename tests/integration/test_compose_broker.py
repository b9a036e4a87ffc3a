"""Compose's broker set-up as Compose runs it, without Docker: deploy/compose/broker-sync.sh
(the citydata image: the .env's service passwords into the registry, then `citydata broker
sync`) and deploy/compose/mqtt-init.sh (the Mosquitto image, as root: the files for
/etc/mosquitto plus the healthcheck user), their paths moved into a temporary directory, then a
real Mosquitto reading what they wrote: each service gets in and may do what its role needs, a
device added to the registry gets in after both scripts run again and the broker reloads, a
wrong password does not.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from citydata import services
from citydata.broker.credentials import issue
from citydata.registry import Registry
from citydata.registry.mqtt_credentials import MqttCredentials, MqttRole
from citydata.settings import Settings, load_settings
from tests.conftest import _need
from tests.helpers import register
from tests.integration.test_broker_sync import Client, connack

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "deploy" / "compose"
PASSWORDS = {"collector": "c0llector-pw", "api": "api.pw-1", "simulator": "sim_pw~2"}


@dataclass
class Compose:
    tmp: Path
    settings: Settings
    etc: Path

    def env(self) -> dict[str, str]:
        """What the two containers see: the .env's passwords and the citydata settings."""
        return {
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "HOME": str(self.tmp),
            **{f"MQTT_{name.upper()}_PASSWORD": pw for name, pw in PASSWORDS.items()},
            "CITYDATA_DATA_DIR": str(self.settings.data_dir),
            "CITYDATA_INFLUX_URL": self.settings.influx_url,
            "BROKER_FILES": str(self.tmp / "citydata" / "broker"),
            "MOSQUITTO_ETC": str(self.etc),
            "MOSQUITTO_DATA": str(self.tmp / "mosquitto-data"),
            "CERTS_DIR": str(self.tmp / "certs"),
        }

    def run(self, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", str(SCRIPTS / script)],
            env={**self.env(), **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def set_up(self) -> None:
        for script in ("broker-sync.sh", "mqtt-init.sh"):
            done = self.run(script)
            assert done.returncode == 0, (script, done.stderr)


@pytest.fixture
def compose(tmp_path: Path) -> Iterator[Compose]:
    _need("mosquitto")
    if shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto_passwd is missing (Debian package mosquitto)")
    if os.geteuid() != 0:  # CI and the containers run it as root (it chowns to uid 1883)
        pytest.skip("mqtt-init.sh chowns its files to Mosquitto's uid: needs root")
    (tmp_path / "certs").mkdir()
    (tmp_path / "mosquitto-data").mkdir()
    settings = load_settings({}, data_dir=tmp_path / "citydata", influx_url="http://127.0.0.1:9")
    register(settings, {"air-1": "air"})
    yield Compose(tmp_path, settings, tmp_path / "etc")


def test_the_services_and_a_new_device_get_in_with_what_compose_writes(
    compose: Compose,
) -> None:
    compose.set_up()
    etc = compose.etc
    assert (etc / "passwd").stat().st_uid == 1883 and (etc / "passwd").stat().st_mode & 0o077 == 0
    users = {line.split(":", 1)[0] for line in (etc / "passwd").read_text().splitlines()}
    assert users == {"collector", "api", "simulator", "healthcheck"}
    broker = services.mosquitto(
        compose.tmp / "mq", password_file=etc / "passwd", acl_file=etc / "acl"
    ).start()
    try:

        def url(user: str, password: str) -> str:
            return f"mqtt://{user}:{password}@127.0.0.1:{broker.port}"

        healthcheck = (etc / "healthcheck.password").read_text()
        assert not connack(url("healthcheck", healthcheck)).is_failure
        assert connack(url("collector", "wrong")).is_failure
        api = Client(url("api", PASSWORDS["api"]))
        assert not api.connect().is_failure
        assert api.publish("sensors/air/air-1", b'{"pm25": 1}') == "accepted"
        api.close()
        simulator = Client(url("simulator", PASSWORDS["simulator"]))
        assert not simulator.connect().is_failure
        simulator.close()

        # A device credential made in the registry (`docker compose run --rm broker-sync
        # citydata broker credential create air-1`), then broker-sync, mqtt-init, SIGHUP.
        with Registry.from_settings(compose.settings) as registry:
            _, secret = issue(MqttCredentials(registry.engine), "air-1", MqttRole.device)
        assert connack(url("air-1", secret)).is_failure
        compose.set_up()
        os.kill(broker.pid, signal.SIGHUP)  # what `docker compose kill -s SIGHUP mosquitto` does
        device = Client(url("air-1", secret))
        assert not device.connect().is_failure
        assert device.publish("sensors/air/air-1", b'{"pm25": 2}') == "accepted"
        assert device.publish("sensors/air/air-2", b'{"pm25": 3}') != "accepted"
        device.close()
        # The services' passwords did not change: broker-sync left their hashes as they were.
        assert "unchanged" in compose.run("broker-sync.sh").stderr
    finally:
        broker.stop()


def test_a_changed_env_password_applies_and_a_placeholder_is_refused(compose: Compose) -> None:
    compose.set_up()
    changed = compose.run("broker-sync.sh", MQTT_API_PASSWORD="new-api-pw")
    assert changed.returncode == 0 and "api (api): rotated" in changed.stderr, changed.stderr
    refused = compose.run("broker-sync.sh", MQTT_API_PASSWORD="change-me-api")
    assert refused.returncode == 1 and "set MQTT_API_PASSWORD in .env" in refused.stderr


def test_mqtt_init_refuses_to_start_the_broker_without_broker_sync(compose: Compose) -> None:
    done = compose.run("mqtt-init.sh", BROKER_FILES=str(compose.tmp / f"none-{uuid.uuid4().hex}"))
    assert done.returncode == 1 and "run broker-sync first" in done.stderr
