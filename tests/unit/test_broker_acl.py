"""MQTT credentials without a broker: the $7$ hash against mosquitto_passwd's own, each format's
device topic, the ACL a plan renders, the credential store, atomic writes, the pid-file checks
and the `citydata broker credential|sync` commands."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from citydata.broker import passwords
from citydata.broker.acl import SIMULATOR_CLAIMS, Grant, plan, render
from citydata.broker.credentials import ensure, issue, rotate
from citydata.broker.sync import SyncError, build, reload_broker, write_atomic
from citydata.broker.topics import device_topic
from citydata.cli import main
from citydata.registry import Registry, RegistryError, SensorNotFound
from citydata.registry.mqtt_credentials import MqttCredential, MqttCredentials, MqttRole
from citydata.routes import NATIVE, Route
from citydata.settings import load_settings
from simulators.claims import CLAIMS_TOPIC
from tests.conftest import _need
from tests.helpers import make_station

TTN = Route(topic="v3/+/devices/+/up", format="ttn", kind="air")
LUFTDATEN = Route(topic="luftdaten/+", format="sensor_community", kind="air")
TASMOTA = Route(topic="tele/+/SENSOR", format="tasmota", kind="water")


# --- password hashes -----------------------------------------------------------------------


@pytest.mark.parametrize("iterations", [None, 1000])
def test_hashes_are_those_mosquitto_passwd_writes(tmp_path: Path, iterations: int | None) -> None:
    _need("mosquitto_passwd")
    pwfile = tmp_path / "passwd"
    pwfile.touch()
    extra = [] if iterations is None else ["-I", str(iterations)]
    secret = passwords.new_secret()
    subprocess.run(["mosquitto_passwd", *extra, "-b", str(pwfile), "dev", secret], check=True)
    theirs = passwords.read_file(pwfile.read_text())["dev"]
    count, salt, _ = passwords.parse(theirs)
    assert count == (iterations or passwords.ITERATIONS) and len(salt) == passwords.SALT_BYTES
    assert passwords.hash_password(secret, iterations=count, salt=salt) == theirs
    assert passwords.verify(secret, theirs) and not passwords.verify(secret + "x", theirs)
    ours = passwords.hash_password(secret)
    assert passwords.parse(ours)[:2] != (count, salt)  # a fresh salt
    assert passwords.parse(ours)[0] == passwords.ITERATIONS
    assert passwords.verify(secret, ours) and ours != passwords.hash_password(secret)  # salted


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "$6$abc$def",
        "$7$x$AAAA$AAAA",
        "$7$101$!!$AAAA",
        "$7$101$AAAAAAAAAAAAAAAA$AAAA",
        "$7$0$A$B",
    ],
)
def test_malformed_hashes_verify_nothing(stored: str) -> None:
    with pytest.raises(ValueError):
        passwords.parse(stored)
    assert not passwords.verify("anything", stored)


def test_an_empty_password_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        passwords.hash_password("")


# --- device topics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "kind", "expected"),
    [
        (NATIVE, "air", "sensors/air/dev-1"),
        (Route(topic="sensors/+/+"), "water", "sensors/water/dev-1"),
        (Route(topic="city/+/sensors/#"), "air", "city/+/sensors/air/dev-1"),
        (Route(topic="sensors/air/+", kind="air"), "air", "sensors/air/dev-1"),
        (Route(topic="sensors/air/+", kind="air"), "water", None),  # another kind's route
        (Route(topic="sensors/air/other"), "air", None),  # a filter naming another device
        (LUFTDATEN, "air", "luftdaten/dev-1"),
        (Route(topic="senml/#", format="senml", kind="air"), "air", "senml/dev-1"),
        (
            Route(topic="lp/+/+", format="lineprotocol", kind_level=1),
            "traffic",
            "lp/traffic/dev-1",
        ),
        (TASMOTA, "water", "tele/dev-1/SENSOR"),
        (
            Route(topic="+/tele/SENSOR", format="tasmota", kind="water"),
            "water",
            "dev-1/tele/SENSOR",
        ),
        (Route(topic="tele/#", format="tasmota", kind="water"), "water", "tele/dev-1/SENSOR"),
        (TTN, "air", None),  # a network server publishes: gateway credentials
        (Route(topic="cs/#", format="chirpstack", kind="air"), "air", None),
    ],
)
def test_a_device_gets_the_topic_its_format_names_it_on(
    route: Route, kind: str, expected: str | None
) -> None:
    assert device_topic(route, "dev-1", kind) == expected


# --- the ACL ---------------------------------------------------------------------------------


def _cred(name: str, role: MqttRole, topics: tuple[str, ...] = ()) -> MqttCredential:
    from datetime import UTC, datetime

    sensor_id = name if role is MqttRole.device else None
    return MqttCredential(
        username=name, role=role, sensor_id=sensor_id, topics=topics, created_at=datetime.now(UTC)
    )


def test_the_plan_grants_each_role_its_topics_and_leaves_out_the_retired() -> None:
    sensors = {
        "air-1": make_station("air-1"),
        "water-1": make_station("water-1", kind="water"),
        "old-1": make_station("old-1", status="retired"),
    }
    creds = [
        _cred("air-1", MqttRole.device),
        _cred("water-1", MqttRole.device),
        _cred("old-1", MqttRole.device),
        _cred("gone-1", MqttRole.device),
        _cred("ttn", MqttRole.gateway, ("v3/city@ttn/devices/+/up",)),
        _cred("collector", MqttRole.collector),
        _cred("api", MqttRole.api),
        _cred("sim", MqttRole.simulator),
    ]
    routes = [NATIVE, LUFTDATEN, TASMOTA, TTN]
    made = plan(creds, sensors, routes, "collectors", settings_user="citydata")
    assert made.users["air-1"] == [
        Grant("write", "sensors/air/air-1"),
        Grant("write", "luftdaten/air-1"),
    ]
    assert made.users["water-1"] == [
        Grant("write", "sensors/water/water-1"),
        Grant("write", "tele/water-1/SENSOR"),
    ]
    assert sorted(made.left_out) == [
        "gone-1: sensor no longer registered",
        "old-1: sensor retired",
    ]
    assert made.users["ttn"] == [Grant("write", "v3/city@ttn/devices/+/up")]
    topics = [r.topic for r in routes]
    assert made.users["collector"] == [Grant("read", t) for t in topics] + [
        Grant("read", f"$share/collectors/{t}") for t in topics
    ]
    assert made.users["api"] == [Grant("write", t) for t in topics]
    assert made.users["sim"] == [Grant("write", t) for t in topics] + [
        Grant("readwrite", SIMULATOR_CLAIMS)
    ]
    every_service = {*made.users["collector"], *made.users["api"], *made.users["sim"]}
    assert set(made.users["citydata"]) == every_service
    assert len(made.notes) == 1 and "v3/+/devices/+/up (ttn)" in made.notes[0]


def test_a_credential_named_like_the_settings_user_keeps_its_own_grants() -> None:
    made = plan([_cred("citydata", MqttRole.api)], {}, [NATIVE], "", settings_user="citydata")
    assert made.users == {"citydata": [Grant("write", "sensors/#")]}
    shared = plan([_cred("c", MqttRole.collector)], {}, [NATIVE], "")
    assert shared.users["c"] == [Grant("read", "sensors/#")]  # no group: no $share line


def test_the_simulator_claims_topic_is_the_simulators() -> None:
    assert f"{CLAIMS_TOPIC}/#" == SIMULATOR_CLAIMS


def test_render_is_sorted_and_the_same_plan_gives_the_same_bytes() -> None:
    sensors = {"b-1": make_station("b-1"), "a-1": make_station("a-1")}
    creds = [_cred("b-1", MqttRole.device), _cred("a-1", MqttRole.device)]
    text = render(plan(creds, sensors, [NATIVE], "g"))
    assert text == render(plan(list(reversed(creds)), sensors, [NATIVE], "g"))
    body = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert body == [
        "user a-1",
        "topic write sensors/air/a-1",
        "user b-1",
        "topic write sensors/air/b-1",
    ]


# --- the store -------------------------------------------------------------------------------


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with Registry.open(f"sqlite:///{tmp_path / 'registry.db'}") as reg:
        reg.upsert_many([make_station("air-1"), make_station("old-1", status="retired")])
        yield reg


def test_store_create_rotate_revoke_and_recreate(registry: Registry) -> None:
    store = MqttCredentials(registry.engine)
    cred, secret = issue(store, "air-1", MqttRole.device)
    assert cred.sensor_id == "air-1" and cred.active
    (only,) = store.active_with_hashes()
    assert passwords.verify(secret, only[1])
    with pytest.raises(RegistryError, match="already exists"):
        issue(store, "air-1", MqttRole.device)
    rotated, new = rotate(store, "air-1")
    assert rotated.rotated_at is not None and new != secret
    stored = store.active_with_hashes()[0][1]
    assert passwords.verify(new, stored) and not passwords.verify(secret, stored)
    assert store.revoke("air-1").revoked_at is not None
    assert store.list() == [] and [c.username for c in store.list(include_revoked=True)] == [
        "air-1"
    ]
    with pytest.raises(RegistryError, match="no MQTT credential"):
        rotate(store, "air-1")
    again, _ = issue(store, "air-1", MqttRole.device)  # a revoked name may be issued anew
    assert again.active and again.rotated_at is None


def test_ensure_creates_keeps_and_rotates_a_services_own_password(registry: Registry) -> None:
    store = MqttCredentials(registry.engine)
    assert ensure(store, "api", MqttRole.api, "pw-1")[1] == "created"
    first = store.active_with_hashes()[0][1]
    assert ensure(store, "api", MqttRole.api, "pw-1")[1] == "unchanged"
    assert store.active_with_hashes()[0][1] == first  # the same hash: sync rewrites nothing
    assert ensure(store, "api", MqttRole.api, "pw-2")[1] == "rotated"
    assert passwords.verify("pw-2", store.active_with_hashes()[0][1])
    with pytest.raises(RegistryError, match="is a api credential, not collector"):
        ensure(store, "api", MqttRole.collector, "pw-2")


@pytest.mark.parametrize(
    ("name", "role", "topics", "error"),
    [
        ("nobody", MqttRole.device, (), SensorNotFound),
        ("old-1", MqttRole.device, (), "retired"),
        ("urn:dev:1", MqttRole.device, (), "':'"),
        ("bad name", MqttRole.collector, (), "letters, digits"),
        ("gw", MqttRole.gateway, (), "at least one topic"),
        ("gw", MqttRole.gateway, ("a/#/b",), "'#' must be"),
        ("gw", MqttRole.gateway, ("$SYS/#",), "no \\$ topics"),
        ("api", MqttRole.api, ("sensors/#",), "only a gateway"),
    ],
)
def test_store_refuses_what_cannot_be_a_credential(
    registry: Registry,
    name: str,
    role: MqttRole,
    topics: tuple[str, ...],
    error: type[Exception] | str,
) -> None:
    store = MqttCredentials(registry.engine)
    if isinstance(error, str):
        with pytest.raises(RegistryError, match=error):
            issue(store, name, role, topics)
    else:
        with pytest.raises(error):
            issue(store, name, role, topics)
    assert store.list(include_revoked=True) == []


# --- writing and reloading -------------------------------------------------------------------


def test_write_atomic_keeps_the_mode_never_opens_to_others_and_skips_equal_text(
    tmp_path: Path,
) -> None:
    target = tmp_path / "acl"
    assert write_atomic(target, "a\n") and stat.S_IMODE(target.stat().st_mode) == 0o640
    os.chmod(target, 0o600)
    assert write_atomic(target, "b\n") and stat.S_IMODE(target.stat().st_mode) == 0o600
    os.chmod(target, 0o644)
    assert write_atomic(target, "c\n") and stat.S_IMODE(target.stat().st_mode) == 0o640
    inode = target.stat().st_ino
    assert not write_atomic(target, "c\n") and target.stat().st_ino == inode
    assert target.read_text() == "c\n" and sorted(p.name for p in tmp_path.iterdir()) == ["acl"]


def test_reload_refuses_what_is_not_a_running_mosquitto(tmp_path: Path) -> None:
    pid_file = tmp_path / "mosquitto.pid"
    with pytest.raises(SyncError, match="no broker pid file"):
        reload_broker(pid_file)
    pid_file.write_text("garbage\n")
    with pytest.raises(SyncError, match="not a process id"):
        reload_broker(pid_file)
    pid_file.write_text(f"{os.getpid()}\n")  # this test runner: must not get a SIGHUP
    with pytest.raises(SyncError, match="not mosquitto"):
        reload_broker(pid_file)


# --- the commands ----------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("CITYDATA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CITYDATA_BROKER_PASSWORD_FILE", str(tmp_path / "passwd"))
    monkeypatch.setenv("CITYDATA_BROKER_ACL_FILE", str(tmp_path / "acl"))
    monkeypatch.setenv("CITYDATA_MQTT_URL", "mqtt://citydata:s3cret@127.0.0.1:1883")
    with Registry.from_settings(load_settings()) as reg:
        reg.upsert_many([make_station("air-1")])
    return tmp_path


def test_commands_create_list_sync_and_sync_again(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["broker", "credential", "create", "air-1"]) == 0
    out, err = capsys.readouterr()
    secret = out.strip()
    assert len(secret) == 43 and "store it now" in err and secret not in err
    assert main(["broker", "credential", "list", "--format", "json"]) == 0
    listed = capsys.readouterr().out
    assert '"username": "air-1"' in listed and secret not in listed and "$7$" not in listed
    assert main(["broker", "sync", "--no-reload"]) == 0
    err = capsys.readouterr().err
    assert f"wrote {env / 'passwd'}" in err and "2 MQTT users admitted" in err
    users = passwords.read_file((env / "passwd").read_text())
    assert passwords.verify(secret, users["air-1"]) and passwords.verify(
        "s3cret", users["citydata"]
    )
    assert "user air-1\ntopic write sensors/air/air-1\n" in (env / "acl").read_text()
    assert secret not in (env / "passwd").read_text() + (env / "acl").read_text()
    before = (env / "passwd").read_bytes()
    assert main(["broker", "sync", "--no-reload"]) == 0
    assert "unchanged: " in capsys.readouterr().err and (env / "passwd").read_bytes() == before


def test_sync_fails_clearly_when_it_cannot_write_or_signal(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = env / "no-such-dir" / "passwd"
    assert main(["broker", "sync", "--no-reload", "--password-file", str(missing)]) == 1
    assert f"cannot write {missing}" in capsys.readouterr().err
    assert main(["broker", "sync", "--pid-file", str(env / "none.pid")]) == 1
    err = capsys.readouterr().err
    assert "no broker pid file" in err and "systemctl reload mosquitto" in err


def test_the_settings_user_hash_is_kept_while_its_password_holds(env: Path) -> None:
    settings = load_settings()
    with Registry.from_settings(settings) as reg:
        first, _, _ = build(reg, settings)
        assert build(reg, settings, first)[0] == first
        changed = settings.model_copy(update={"mqtt_url": "mqtt://citydata:other@h:1883"})
        rehashed = build(reg, changed, first)[0]
    assert rehashed != first
    assert passwords.verify("other", passwords.read_file(rehashed)["citydata"])
