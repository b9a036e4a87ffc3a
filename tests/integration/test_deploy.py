"""The production Mosquitto config is valid and gives what durability needs."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

import pytest

from citydata import services
from tests.helpers import publish_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_production_mosquitto_config_starts(tmp_path: Path) -> None:
    """The file, with its listeners, TLS and auth swapped for a loopback test listener, is
    accepted by the installed Mosquitto and keeps the durability settings."""
    text = (ROOT / "deploy" / "mosquitto.conf").read_text()
    for setting in ("persistence true", "max_inflight_messages 0", "max_queued_messages 0"):
        assert re.search(rf"^{setting}$", text, re.M), setting
    port = services.free_port()
    kept = [
        line
        for line in text.splitlines()
        if not re.match(
            r"(listener|certfile|keyfile|password_file|acl_file|allow_anonymous|"
            r"persistence_location|log_dest)\b",
            line,
        )
    ]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        "\n".join(
            [
                *kept,
                f"listener {port} 127.0.0.1",
                "allow_anonymous true",
                f"persistence_location {tmp_path}/",
                "log_dest stderr",
                f"user {getpass.getuser()}",
            ]
        )
        + "\n"
    )
    broker = services.MosquittoService(
        "mosquitto", [services.find_binary("mosquitto"), "-c", str(conf)], tmp_path, port
    ).start()
    try:
        publish_all(broker.url, [("sensors/air/x", b'{"pm25": 1}')])
    finally:
        broker.stop()
    assert broker.process is not None and broker.process.returncode == 0
