"""Placeholder secrets of the example files stop every program but `citydata local` at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from citydata.cli import main
from citydata.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _native_example() -> dict[str, str]:
    """Every commented-out secret of deploy/citydata.env.example, as an operator would enable it
    without editing the value."""
    text = (ROOT / "deploy/citydata.env.example").read_text(encoding="utf-8")
    found = dict(re.findall(r"^#(CITYDATA_[A-Z_]+)=(.*CHANGE-ME.*)$", text, re.MULTILINE))
    assert len(found) >= 4, found  # the example's own secrets: the test follows the file
    return found


def _compose_example() -> dict[str, str]:
    """The collector's and API's CITYDATA_* secrets as docker-compose.yml builds them from an
    unedited .env.example."""
    values = dict(
        re.findall(r"^([A-Z_]+)=(\S*)$", (ROOT / ".env.example").read_text(), re.MULTILINE)
    )
    return {
        "CITYDATA_MQTT_URL": f"mqtt://api:{values['MQTT_API_PASSWORD']}@mosquitto:1883",
        "CITYDATA_INFLUX_PASSWORD": values["INFLUXDB_USER_PASSWORD"],
    }


@pytest.mark.parametrize("example", [_native_example, _compose_example])
def test_every_placeholder_is_refused_by_name_without_showing_it(
    example: Callable[[], dict[str, str]],
) -> None:
    env = example()
    with pytest.raises(ConfigError) as refused:
        load_settings(env)
    problems = refused.value.problems
    assert sorted(p.split(":", 1)[0] for p in problems) == sorted(env)
    assert all("placeholder" in p and "citydata local" in p for p in problems)
    message = str(refused.value)
    for value in env.values():
        secret = value.rsplit(":", 1)[-1].split("@")[0] if "://" in value else value
        assert secret not in message


def test_real_secrets_and_the_local_run_pass() -> None:
    env = {**_native_example(), **_compose_example()}
    settings = load_settings(env, local_run=True)
    assert load_settings(settings.env())  # its children: local_run travels in their env
    real = {name: value.replace("CHANGE-ME", "s3cr3t-9f2") for name, value in env.items()}
    real["CITYDATA_MQTT_URL"] = "mqtt://api:Zq8-real@mosquitto:1883"
    real["CITYDATA_INFLUX_PASSWORD"] = "x-change-me-not-a-prefix"
    assert load_settings(real).influx_password is not None


def test_the_command_stops_with_status_2_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("CITYDATA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CITYDATA_ALERTS_WEBHOOK_SECRET", "change-me-webhook")
    assert main(["keys", "list"]) == 2
    err = capsys.readouterr().err
    assert "CITYDATA_ALERTS_WEBHOOK_SECRET: is still the example's placeholder" in err
    assert "change-me-webhook" not in err
    assert not (tmp_path / "var").exists()  # stopped before doing anything
