"""`citydata dashboards push` against a fake Grafana that checks every request against
Grafana's documented HTTP API (tests/fake_grafana.py names the pages). No Grafana could be
installed here; no Mosquitto or InfluxDB is needed either.

Pages the fake's checks come from (grafana/grafana, docs/sources/developers/http_api/):
dashboard.md "Create / Update dashboard", folder.md "Get folder by uid" and "Create folder",
data_source.md "Get a single data source by uid" and "Create a data source", served at
https://grafana.com/docs/grafana/v11.6/developers/http_api/{dashboard,folder,data_source}/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import dashboards.build
from citydata import services
from citydata.cli import main
from dashboards.common import DATASOURCE_UID
from dashboards.push import check_url, public_url
from tests.fake_grafana import FakeGrafana, serving

TOKEN = "glsa_fakeServiceAccountToken_0123456789abcdef"
SECRET = "influx-secret-password"
# Four small dashboards of our own: the step-by-step cases do not depend on the real build.
SMALL = {f"d{i}": {"uid": f"test-d{i}", "title": f"Test {i}", "panels": []} for i in range(1, 5)}


def _small_build(selected: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    wanted = list(selected) or list(SMALL)
    unknown = [n for n in wanted if n not in SMALL]
    if unknown:
        raise dashboards.build.UnknownDashboard(f"no dashboard {unknown}; known: d1, d2, d3, d4")
    return {n: SMALL[n] for n in wanted}


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CITYDATA_") or name.startswith("GRAFANA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("CITYDATA_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CITYDATA_INFLUX_URL", "http://influxdb.city.internal:8086")
    monkeypatch.setenv("CITYDATA_INFLUX_DB", "lamphaya")
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    monkeypatch.setattr(dashboards.build, "build_all", _small_build)
    return SMALL


def _grafana(**kwargs: Any) -> Iterator[FakeGrafana]:
    with serving(FakeGrafana(**kwargs)) as grafana:
        yield grafana
    assert grafana.problems == [], "requests that break Grafana's documented API"


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    yield from _grafana(token=TOKEN)


def push(*args: str) -> int:
    return main(["dashboards", "push", *args])


def _one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, text
    assert "Traceback" not in text and TOKEN not in text and SECRET not in text
    return lines[0]


def test_first_push_creates_folder_datasource_and_every_real_dashboard(
    grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    models = dashboards.build.build_all()
    assert push("--url", grafana.url) == 0
    out, err = capsys.readouterr()
    assert grafana.folders["citydata"]["title"] == "citydata"
    source = grafana.datasources[DATASOURCE_UID]
    assert source["type"] == "influxdb" and source["access"] == "proxy"
    assert source["url"] == "http://influxdb.city.internal:8086"
    assert source["jsonData"]["dbName"] == "lamphaya" == source["database"]
    assert "${" not in str(source), "the provisioning file's ${VAR}s are Grafana's, not ours"
    assert {m["uid"] for m in models.values()} == set(grafana.dashboards)
    assert all(d["folderUid"] == "citydata" for d in grafana.dashboards.values())
    for name, model in models.items():
        assert f"{name}: {grafana.url}/d/{model['uid']}/" in out
    assert len(out.splitlines()) == len(models) + 2  # + folder and datasource created
    assert [(s.method, s.path) for s in grafana.seen[:4]] == [
        ("GET", "/api/folders/citydata"),
        ("POST", "/api/folders"),
        ("GET", f"/api/datasources/uid/{DATASOURCE_UID}"),
        ("POST", "/api/datasources"),
    ]
    assert TOKEN not in out + err


def test_second_push_reuses_folder_and_datasource_and_overwrites(
    small: dict[str, Any], grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push("--url", grafana.url) == 0
    first = len(grafana.seen)
    capsys.readouterr()
    assert push("--url", grafana.url) == 0
    second = grafana.seen[first:]
    assert [s.method for s in second if s.path in ("/api/folders", "/api/datasources")] == []
    assert len([s for s in second if s.path == "/api/dashboards/db"]) == len(small)
    assert {d["version"] for d in grafana.dashboards.values()} == {2}
    assert len(grafana.folders) == len(grafana.datasources) == 1
    assert "exists: left as it is" in capsys.readouterr().out


def test_an_existing_datasource_is_left_alone(
    small: dict[str, Any], grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = {"uid": DATASOURCE_UID, "name": "ours", "type": "influxdb", "url": "http://x:8086"}
    grafana.datasources[DATASOURCE_UID] = mine
    assert push("--url", grafana.url) == 0
    assert grafana.datasources[DATASOURCE_UID] is mine
    assert grafana.requests("POST", "/api/datasources") == []


def test_named_dashboards_only(
    small: dict[str, Any], grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push("--url", grafana.url, "d3", "d1") == 0
    assert set(grafana.dashboards) == {"test-d3", "test-d1"}


def test_an_unknown_name_is_one_line_and_nothing_is_sent(
    grafana: FakeGrafana, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push("--url", grafana.url, "overview", "no-such-board") == 1
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert "no-such-board" in line
    assert all(name in line for name in dashboards.build.names())
    assert out == "" and grafana.seen == []


def test_a_refused_token_is_one_line(
    small: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    for grafana in _grafana(token="another-token"):
        assert push("--url", grafana.url) == 1
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert "401" in line and "refused the token" in line and "dashboards uploaded: none;" in line
    assert grafana.dashboards == {} and out == ""


def test_a_token_of_too_low_a_role_is_one_line(
    small: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    for grafana in _grafana(token=TOKEN, forbidden="/api/datasources"):  # an Editor's token
        assert push("--url", grafana.url) == 1
    line = _one_line(capsys.readouterr().err)
    assert "checking datasource 'citydata-influxdb' failed" in line
    assert "403 Forbidden: it needs the Admin role" in line
    assert line.endswith("; dashboards uploaded: none; not uploaded: d1, d2, d3, d4")


def test_a_500_on_the_third_dashboard_names_the_two_uploaded(
    small: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    for grafana in _grafana(token=TOKEN, fail_upload=3):
        assert push("--url", grafana.url) == 1
    out, err = capsys.readouterr()
    line = _one_line(err)
    assert "uploading dashboard 'd3'" in line and "500" in line
    assert line.endswith("; dashboards uploaded: d1, d2; not uploaded: d3, d4")
    assert [ln.split(":")[0] for ln in out.splitlines()[2:]] == ["d1", "d2"]
    assert set(grafana.dashboards) == {"test-d1", "test-d2"}
    assert len(grafana.requests("POST", "/api/dashboards/db")) == 3  # d4 was not tried


@pytest.mark.parametrize("ctype", ["text/html", "application/json"])
def test_a_web_server_that_is_not_grafana_is_one_line(
    ctype: str, small: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    for grafana in _grafana(token=TOKEN, not_grafana=ctype):
        assert push("--url", grafana.url) == 1
    line = _one_line(capsys.readouterr().err)
    assert "checking folder 'citydata' failed" in line and "does not answer as Grafana" in line


@pytest.mark.e2e
def test_an_unreachable_grafana_is_one_line_from_the_real_command(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{services.free_port()}"  # nobody listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYDATA_")}
    proc = subprocess.run(
        [sys.executable, "-m", "citydata", "dashboards", "push", "--url", url],
        env={**env, "CITYDATA_DATA_DIR": str(tmp_path), "GRAFANA_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    line = _one_line(proc.stderr)
    assert line.startswith("citydata dashboards push: checking folder 'citydata' failed")
    assert f"cannot reach Grafana at {url}/" in line and "dashboards uploaded: none;" in line
    assert proc.stdout == ""


def test_no_token_is_one_line_and_nothing_is_sent(
    small: dict[str, Any],
    grafana: FakeGrafana,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN")
    monkeypatch.setenv("CITY_GRAFANA", TOKEN)
    assert push("--url", grafana.url) == 1
    assert "set GRAFANA_TOKEN" in _one_line(capsys.readouterr().err)
    assert grafana.seen == []
    assert push("--url", grafana.url, "--token-env", "CITY_GRAFANA") == 0


def test_influx_credentials_go_to_grafana_secure_fields_only(
    small: dict[str, Any],
    grafana: FakeGrafana,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CITYDATA_INFLUX_USER", "grafana")
    monkeypatch.setenv("CITYDATA_INFLUX_PASSWORD", SECRET)
    assert push("--url", grafana.url, "--influx-url", "http://influx:8086") == 0
    source = grafana.datasources[DATASOURCE_UID]
    assert source["url"] == "http://influx:8086" and source["user"] == "grafana"
    assert source["secureJsonData"] == {"password": SECRET}
    out, err = capsys.readouterr()
    assert SECRET not in out + err


def test_an_influx_token_becomes_the_authorization_header(
    small: dict[str, Any], grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CITYDATA_INFLUX_TOKEN", SECRET)
    assert push("--url", grafana.url) == 0
    source = grafana.datasources[DATASOURCE_UID]
    assert source["jsonData"]["httpHeaderName1"] == "Authorization"
    assert source["secureJsonData"] == {"httpHeaderValue1": f"Token {SECRET}"}


def test_without_grafana_client_it_says_how_to_install(
    small: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == "grafana_client"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it raises ModuleNotFoundError
    monkeypatch.delitem(sys.modules, "dashboards.push", raising=False)
    monkeypatch.delattr(dashboards, "push", raising=False)
    assert push("--url", "http://127.0.0.1:9") == 1
    assert "pip install 'citydata[grafana]'" in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("url", ["ftp://grafana", "grafana.example.org", "http://"])
def test_a_bad_url_is_one_line(
    url: str, small: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert push("--url", url) == 1
    assert "is not an http:// or https:// URL" in _one_line(capsys.readouterr().err)


def test_urls() -> None:
    assert check_url("http://h:3000") == "http://h:3000/"
    assert check_url("https://h/grafana") == "https://h/grafana/"  # a sub-path keeps its /api
    assert public_url("https://admin:pw@h:3000/g/") == "https://h:3000/g/"
