"""`citydata keys create|list|revoke`, run through the real command and a registry on disk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citydata.cli import main
from citydata.cli.keys import table
from citydata.registry import Registry, Role, registry_url
from citydata.registry.keys import KeyRefused, Refusal, parse_expiry
from citydata.settings import load_settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(__import__("os").environ):
        if name.startswith("CITYDATA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path / "var"))
    return tmp_path / "var"


def test_create_prints_the_key_once_and_list_never_shows_it(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--role", "operator", "--name", "ops laptop"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("cdk_") and len(token.split("_", 2)[2]) == 43
    key_id = token.split("_")[1]
    assert key_id in err and "store it now" in err
    with Registry.from_settings(load_settings()) as registry:
        found = registry.authenticate(token)
    assert found is not None and found.role == "operator" and found.name == "ops laptop"

    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and "ops laptop" in listing and token.split("_", 2)[2] not in listing

    assert main(["keys", "revoke", key_id]) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["keys", "list", "--all", "--format", "json"]) == 0
    (revoked,) = json.loads(capsys.readouterr().out)
    assert revoked["id"] == key_id and revoked["revoked_at"] is not None


def test_errors_are_reported_with_exit_status_1(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--role", "device", "--name", "gauge", "--sensor", "x"]) == 1
    assert "sensor 'x' not found" in capsys.readouterr().err
    assert main(["keys", "create", "--role", "device", "--name", "gauge"]) == 1
    assert "needs a sensor id" in capsys.readouterr().err
    assert main(["keys", "revoke", "0123456789ab"]) == 1
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["keys", "create", "--role", "root", "--name", "x"])
    assert exc.value.code == 2


def test_a_key_created_with_expires_stops_working_then_and_list_shows_when(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "create", "--role", "read", "--name", "term", "--expires", "90d"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    with Registry.from_settings(load_settings()) as registry:
        key = registry.verify_key(token)
    assert key.expires_at is not None
    days = (key.expires_at - key.created_at) / timedelta(days=1)
    assert days == pytest.approx(90, abs=1e-3)
    assert f"expires {key.expires_at:%Y-%m-%d %H:%M}" in err

    audit = ["keys", "create", "--role", "admin", "--name", "audit", "--expires", "2099-06-30"]
    assert main(audit) == 0
    capsys.readouterr()
    assert main(["keys", "list", "--format", "json"]) == 0
    listed = {k["name"]: k["expires_at"] for k in json.loads(capsys.readouterr().out)}
    assert listed["audit"] == "2099-06-30T00:00:00Z"
    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert "EXPIRES (UTC)" in listing and "2099-06-30 00:00" in listing

    # A clock past the expiry: the same key is refused as expired, and listed so.
    later = key.expires_at + timedelta(seconds=1)
    url = registry_url(load_settings())
    with Registry.open(url, clock=lambda: later) as registry:
        with pytest.raises(KeyRefused) as refused:
            registry.verify_key(token)
        assert registry.authenticate(token) is None
    assert refused.value.reason is Refusal.expired and refused.value.key_id == key.id
    assert token.split("_", 2)[2] not in str(refused.value)
    assert "(expired)" in table([key], now=later)


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("soon", "is not a span"),
        ("2020-01-01", "not in the future"),
        ("2099-01-01T00:00:00", "no time zone"),
        ("0d", "is not a span"),
    ],
)
def test_a_bad_expiry_is_refused_before_any_key_exists(
    data_dir: Path, capsys: pytest.CaptureFixture[str], given: str, problem: str
) -> None:
    assert main(["keys", "create", "--role", "read", "--name", "x", "--expires", given]) == 1
    err = capsys.readouterr().err
    assert err.startswith("citydata keys: --expires:") and problem in err
    assert main(["keys", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_parse_expiry_forms() -> None:
    now = datetime(2026, 1, 31, 7, 0, tzinfo=UTC)
    assert parse_expiry("12h", now) == now + timedelta(hours=12)
    assert parse_expiry("2w", now) == now + timedelta(days=14)
    assert parse_expiry("2027-06-30T12:00:00+07:00", now) == datetime(2027, 6, 30, 5, tzinfo=UTC)


def test_a_wrong_secret_or_revoked_key_is_refused_with_its_reason(data_dir: Path) -> None:
    with Registry.from_settings(load_settings()) as registry:
        key, token = registry.create_key("ops", Role.operator)
        wrong = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
        for presented, reason in [("nonsense", Refusal.malformed), (wrong, Refusal.unknown)]:
            with pytest.raises(KeyRefused) as refused:
                registry.verify_key(presented)
            assert refused.value.reason is reason
        registry.revoke_key(key.id)
        with pytest.raises(KeyRefused) as refused:
            registry.verify_key(token)
        assert refused.value.reason is Refusal.revoked and refused.value.key_id == key.id
