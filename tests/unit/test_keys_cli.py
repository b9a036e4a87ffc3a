"""`citydata keys create|list|revoke`, run through the real command and a registry on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from citydata.cli import main
from citydata.registry import Registry
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
