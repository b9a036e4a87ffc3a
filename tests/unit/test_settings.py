"""Settings: defaults, CITYDATA_* variables, the TOML file, and every problem reported at once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from citydata.settings import ConfigError, Settings, load_settings


def _problems(environ: dict[str, str], **overrides: Any) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_settings(environ, **overrides)
    assert str(exc.value).startswith("invalid configuration:")
    for problem in exc.value.problems:
        assert problem in str(exc.value)
    return exc.value.problems


def _toml(tmp_path: Path, text: str | bytes) -> dict[str, str]:
    path = tmp_path / "citydata.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return {"CITYDATA_CONFIG": str(path)}


def test_defaults() -> None:
    s = load_settings({})
    assert s.mqtt_url == "mqtt://localhost:1883"
    assert [(r.topic, r.format, r.kind) for r in s.routes] == [("sensors/#", "native", None)]
    assert s.mqtt_share_group == "collectors"
    assert s.influx_url == "http://localhost:8086"
    assert s.influx_db == "citydata"
    assert s.influx_token is None
    assert s.influx_user is None
    assert s.influx_password is None
    assert s.data_dir == Path.cwd() / "var"
    assert s.log_level == "INFO"


def test_other_environment_variables_are_ignored() -> None:
    others = {"PATH": "/usr/bin", "HOME": "/root", "CITYDATAX": "1"}
    assert load_settings(others) == load_settings({})


def test_environment_values_are_parsed() -> None:
    s = load_settings(
        {
            "CITYDATA_MQTT_URL": "mqtts://dev:pw@broker.example:8883",
            "CITYDATA_MQTT_KEEPALIVE_S": "60",
            "CITYDATA_INFLUX_TIMEOUT_S": "2.5",
            "CITYDATA_COLLECTOR_MAX_FUTURE_S": "0",
            "CITYDATA_INFLUX_URL": "https://influx.example:8086/",
            "CITYDATA_INFLUX_TOKEN": "tok-123",
            "CITYDATA_DATA_DIR": "/srv/citydata",
            "CITYDATA_LOG_LEVEL": "DEBUG",
        }
    )
    assert s.mqtt_url == "mqtts://dev:pw@broker.example:8883"
    assert s.mqtt_keepalive_s == 60 and type(s.mqtt_keepalive_s) is int
    assert s.influx_timeout_s == 2.5
    assert s.collector_max_future_s == 0.0
    assert s.influx_url == "https://influx.example:8086"  # trailing slash dropped
    assert s.influx_token is not None and s.influx_token.get_secret_value() == "tok-123"
    assert "tok-123" not in repr(s)
    assert s.data_dir == Path("/srv/citydata")
    assert s.log_level == "DEBUG"


def test_toml_file(tmp_path: Path) -> None:
    env = _toml(
        tmp_path,
        'influx_db = "lamphaya"\nmqtt_keepalive_s = 45\ninflux_timeout_s = 3\n'
        'mqtt_share_group = ""\n',
    )
    s = load_settings(env)
    assert s.influx_db == "lamphaya"
    assert s.mqtt_keepalive_s == 45
    assert s.influx_timeout_s == 3.0
    assert s.mqtt_share_group == ""
    assert s.mqtt_url == "mqtt://localhost:1883"  # the rest stays default


def test_environment_overrides_file_and_arguments_override_both(tmp_path: Path) -> None:
    env = _toml(tmp_path, 'influx_db = "from_file"\nmqtt_client_id = "file-id"\n')
    env |= {"CITYDATA_INFLUX_DB": "from_env", "CITYDATA_MQTT_CLIENT_ID": "env-id"}
    s = load_settings(env, mqtt_client_id="arg-id")
    assert s.influx_db == "from_env"
    assert s.mqtt_client_id == "arg-id"


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    env = _toml(tmp_path, 'colour = "red"\ncollector_batch_size = 0\n')
    env |= {
        "CITYDATA_FOO": "1",
        "CITYDATA_MQTT_KEEPALIVE_S": "often",
        "CITYDATA_INFLUX_TIMEOUT_S": "0",
        "CITYDATA_LOG_LEVEL": "LOUD",
    }
    problems = _problems(env)
    assert len(problems) == 6, problems

    def one(*words: str) -> None:
        assert any(all(w in p for w in words) for p in problems), (words, problems)

    one("CITYDATA_FOO", "unknown")
    one("colour", "unknown", "citydata.toml")
    one("CITYDATA_COLLECTOR_BATCH_SIZE", "0")
    one("CITYDATA_MQTT_KEEPALIVE_S", "often")
    one("CITYDATA_INFLUX_TIMEOUT_S")
    one("CITYDATA_LOG_LEVEL", "LOUD")


def test_unknown_override_is_a_problem() -> None:
    problems = _problems({}, colour="red")
    assert len(problems) == 1 and "COLOUR" in problems[0]


@pytest.mark.parametrize(
    "url",
    [
        "http://broker:1883",
        "tcp://broker:1883",
        "broker:1883",
        "mqtt://broker:99999",
        "mqtt://broker:port",
        "mqtt://:1883",
        "",
    ],
)
def test_bad_mqtt_url(url: str) -> None:
    problems = _problems({"CITYDATA_MQTT_URL": url})
    assert len(problems) == 1
    assert problems[0].startswith("CITYDATA_MQTT_URL: ")


@pytest.mark.parametrize(
    "url", ["mqtt://broker", "mqtt://u:p@broker:1884", "mqtts://broker:8883", "mqtt://[::1]:1883"]
)
def test_good_mqtt_url(url: str) -> None:
    assert load_settings({"CITYDATA_MQTT_URL": url}).mqtt_url == url


@pytest.mark.parametrize("url", ["ftp://influx:8086", "influx:8086", "http://:8086", "http://h:0x"])
def test_bad_influx_url(url: str) -> None:
    problems = _problems({"CITYDATA_INFLUX_URL": url})
    assert len(problems) == 1 and problems[0].startswith("CITYDATA_INFLUX_URL: ")


@pytest.mark.parametrize("group", ["a/b", "a+", "#", "col/"])
def test_share_group_must_be_one_topic_level(group: str) -> None:
    problems = _problems({"CITYDATA_MQTT_SHARE_GROUP": group})
    assert len(problems) == 1 and problems[0].startswith("CITYDATA_MQTT_SHARE_GROUP: ")


def test_secrets_are_not_echoed(tmp_path: Path) -> None:
    env = _toml(tmp_path, 'influx_token = ["tok-hunter2"]\ninflux_password = ["pw-hunter2"]\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(env)
    assert len(exc.value.problems) == 2
    assert "hunter2" not in str(exc.value)
    assert "CITYDATA_INFLUX_TOKEN" in str(exc.value)
    assert "CITYDATA_INFLUX_PASSWORD" in str(exc.value)


def test_password_in_a_bad_mqtt_url_is_not_echoed() -> None:
    problems = _problems({"CITYDATA_MQTT_URL": "mqtt://collector:s3cret-pw@broker:99999"})
    assert len(problems) == 1
    assert "s3cret-pw" not in problems[0]


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    problems = _problems({"CITYDATA_CONFIG": str(missing), "CITYDATA_BAR": "x"})
    assert len(problems) == 2
    assert any("CITYDATA_CONFIG" in p and str(missing) in p for p in problems)
    assert any("CITYDATA_BAR" in p for p in problems)  # reported alongside


def test_config_file_that_is_a_directory(tmp_path: Path) -> None:
    problems = _problems({"CITYDATA_CONFIG": str(tmp_path)})
    assert len(problems) == 1 and str(tmp_path) in problems[0]


@pytest.mark.parametrize("text", ["mqtt_url = ", "[broken", 'influx_db = "a"\ninflux_db = "b"\n'])
def test_invalid_toml(tmp_path: Path, text: str) -> None:
    problems = _problems(_toml(tmp_path, text))
    assert len(problems) == 1
    assert "citydata.toml" in problems[0] and "TOML" in problems[0]


def test_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    problems = _problems(_toml(tmp_path, b'influx_db = "caf\xe9"\n'))
    assert len(problems) == 1 and "citydata.toml" in problems[0]


def test_unknown_toml_table_is_an_unknown_key(tmp_path: Path) -> None:
    problems = _problems(_toml(tmp_path, '[mqtt]\nurl = "mqtt://h"\n'))
    assert len(problems) == 1 and "mqtt" in problems[0] and "unknown" in problems[0]


def test_subscriptions_with_and_without_share_group() -> None:
    assert load_settings({}).subscriptions == ["$share/collectors/sensors/#"]
    routes = '[{"topic": "city/+/x"}, {"topic": "tele/+/SENSOR", "format": "tasmota"}]'
    shared = load_settings({"CITYDATA_MQTT_SHARE_GROUP": "lp", "CITYDATA_ROUTES": routes})
    assert shared.subscriptions == ["$share/lp/city/+/x", "$share/lp/tele/+/SENSOR"]
    plain = load_settings({"CITYDATA_MQTT_SHARE_GROUP": ""})
    assert plain.subscriptions == ["sensors/#"]


def test_routes_from_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[[routes]]\ntopic = "v3/+/devices/+/up"\nformat = "ttn"\nkind = "air"\n'
        'fields = { pm2_5 = "pm25" }\n\n[[routes]]\ntopic = "sensors/#"\n',
        encoding="utf-8",
    )
    s = load_settings({"CITYDATA_CONFIG": str(path)})
    assert [(r.topic, r.format, r.kind, r.fields) for r in s.routes] == [
        ("v3/+/devices/+/up", "ttn", "air", {"pm2_5": "pm25"}),
        ("sensors/#", "native", None, {}),
    ]


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ("not json", "not valid JSON"),
        ('[{"topic": "a/#/b"}]', "'#' must be a whole last level"),
        ('[{"topic": "a/b+"}]', "'+' must be a whole level"),
        ('[{"kind": "noise"}]', "'noise' is not one of"),
        ('[{"kind": "air", "fields": {"pm2_5": "pm2.5"}}]', "not air metrics: pm2.5"),
        ('[{"timezone": "Mars/Olympus"}]', "unknown time zone"),
        ('[{"kind": "air", "kind_level": 1}]', "set kind or kind_level, not both"),
        ('[{"topic": "a/#", "kind_level": 1}]', "kind_level 1 is not a level of"),
        ('[{"kind": "air", "offset": {"level": 1}}]', "not air metrics: level"),
        ('[{"topic": "x/#", "colour": "red"}]', "colour"),
        ("[]", "CITYDATA_ROUTES"),
    ],
)
def test_bad_routes_are_refused(routes: str, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({"CITYDATA_ROUTES": routes})
    assert any(expected in p for p in exc.value.problems), exc.value.problems


def test_env_round_trips(tmp_path: Path) -> None:
    original = load_settings(
        {
            "CITYDATA_MQTT_URL": "mqtts://u:p%40ss@broker:8883",
            "CITYDATA_MQTT_SHARE_GROUP": "",
            "CITYDATA_INFLUX_TOKEN": "tok",
            "CITYDATA_INFLUX_USER": "reader",
            "CITYDATA_INFLUX_PASSWORD": "pw",
            "CITYDATA_INFLUX_TIMEOUT_S": "2.5",
            "CITYDATA_COLLECTOR_MAX_AGE_S": "1e-05",
            "CITYDATA_DATA_DIR": str(tmp_path / "ข้อมูล"),
            "CITYDATA_LOG_LEVEL": "WARNING",
        }
    )
    env = original.env()
    assert all(k.startswith("CITYDATA_") for k in env)
    assert env["CITYDATA_INFLUX_TOKEN"] == "tok"  # a child process needs the real secret
    assert env["CITYDATA_MQTT_SHARE_GROUP"] == ""
    assert load_settings(env) == original


def test_env_leaves_out_unset_values() -> None:
    env = load_settings({}).env()
    assert "CITYDATA_INFLUX_TOKEN" not in env
    assert "CITYDATA_INFLUX_PASSWORD" not in env
    assert load_settings(env) == load_settings({})
    assert set(env) == {f"CITYDATA_{n.upper()}" for n in Settings.model_fields} - {
        "CITYDATA_INFLUX_TOKEN",
        "CITYDATA_INFLUX_USER",
        "CITYDATA_INFLUX_PASSWORD",
        "CITYDATA_ALERTS_RULES_FILE",
        "CITYDATA_ALERTS_LINE_TOKEN",
        "CITYDATA_ALERTS_SMTP_CA_FILE",
        "CITYDATA_ALERTS_WEBHOOK_SECRET",
        "CITYDATA_MQTT_CA_FILE",
        "CITYDATA_MQTT_CLIENT_CERT",
        "CITYDATA_MQTT_CLIENT_KEY",
    }


def test_cors_origins_from_a_comma_list_or_a_toml_array(tmp_path: Path) -> None:
    env = {"CITYDATA_API_CORS_ORIGINS": "https://data.lamphaya.go.th, http://localhost:3000"}
    settings = load_settings(env)
    assert settings.api_cors_origins == ["https://data.lamphaya.go.th", "http://localhost:3000"]
    assert load_settings(settings.env()).api_cors_origins == settings.api_cors_origins
    toml = _toml(tmp_path, 'api_cors_origins = ["*"]\napi_anonymous_read = false\n')
    from_file = load_settings(toml)
    assert from_file.api_cors_origins == ["*"] and from_file.api_anonymous_read is False
    assert load_settings({}).api_cors_origins == [] and load_settings({}).api_anonymous_read


@pytest.mark.parametrize("origin", ["data.lamphaya.go.th", "https://x.th/page", "ftp://x.th"])
def test_bad_cors_origin_is_refused(origin: str) -> None:
    (problem,) = _problems({"CITYDATA_API_CORS_ORIGINS": origin})
    assert problem.startswith("CITYDATA_API_CORS_ORIGINS:") and origin in problem


# Relative paths resolve once, against the directory the command started in, so that servers
# and child processes running in other directories still find the same files.


def test_relative_data_dir_resolves_against_the_start_directory(tmp_path: Path) -> None:
    s = load_settings({"CITYDATA_DATA_DIR": "var/city"}, cwd=tmp_path)
    assert s.data_dir == tmp_path / "var" / "city"
    assert s.env()["CITYDATA_DATA_DIR"] == str(tmp_path / "var" / "city")


def test_default_data_dir_is_absolute(tmp_path: Path) -> None:
    assert load_settings({}, cwd=tmp_path).data_dir == tmp_path / "var"


def test_relative_data_dir_from_the_config_file_and_overrides(tmp_path: Path) -> None:
    env = _toml(tmp_path, 'data_dir = "from-file"\n')
    assert load_settings(env, cwd=tmp_path).data_dir == tmp_path / "from-file"
    assert load_settings(env, cwd=tmp_path, data_dir=Path("x")).data_dir == tmp_path / "x"


def test_absolute_and_home_data_dirs_are_kept(tmp_path: Path) -> None:
    assert load_settings({"CITYDATA_DATA_DIR": "/srv/c"}, cwd=tmp_path).data_dir == Path("/srv/c")
    home = load_settings({"CITYDATA_DATA_DIR": "~/citydata"}, cwd=tmp_path).data_dir
    assert home == Path.home() / "citydata"


def test_relative_config_file_resolves_against_the_start_directory(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "city.toml").write_text('influx_db = "lamphaya"\n', encoding="utf-8")
    s = load_settings({"CITYDATA_CONFIG": "conf/city.toml"}, cwd=tmp_path)
    assert s.influx_db == "lamphaya"
    problems = _problems({"CITYDATA_CONFIG": "conf/missing.toml"}, cwd=tmp_path)
    assert any(str(tmp_path / "conf" / "missing.toml") in p for p in problems), problems


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///reg/registry.db", "sqlite:///{cwd}/reg/registry.db"),
        ("sqlite+pysqlite:///r.db", "sqlite+pysqlite:///{cwd}/r.db"),
        ("sqlite:////srv/registry.db", "sqlite:////srv/registry.db"),
        ("sqlite://", "sqlite://"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        (
            "postgresql+psycopg://citydata:pw@db/citydata",
            "postgresql+psycopg://citydata:pw@db/citydata",
        ),
        ("", ""),
    ],
)
def test_relative_sqlite_registry_url_resolves(tmp_path: Path, url: str, expected: str) -> None:
    s = load_settings({"CITYDATA_REGISTRY_URL": url}, cwd=tmp_path)
    assert s.registry_url == expected.format(cwd=tmp_path)


def test_relative_registry_opens_the_same_file_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from citydata.registry import Registry, Sensor

    s = load_settings({"CITYDATA_REGISTRY_URL": "sqlite:///reg.db"}, cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with Registry.from_settings(s) as registry:
        registry.add(
            Sensor(
                id="lp-air-01",
                kind="air",
                name_th="ก",
                name_en="A",
                latitude=14.0,
                longitude=100.1,
                zone="lam-phaya",
                site="community",
            )
        )
    assert (tmp_path / "reg.db").is_file()
    assert not (elsewhere / "reg.db").exists()


def test_redacted_settings_hide_every_secret_and_url_password() -> None:
    settings = load_settings(
        {},
        influx_password="hunter2",
        alerts_smtp_url="smtp://mailer:s3cret@mail.example:587",
        registry_url="postgresql://citydata:pg-pass@db.example/citydata",
    )
    shown = settings.redacted()
    assert shown["influx_password"] == "***" and shown["influx_token"] is None
    assert shown["alerts_smtp_url"] == "smtp://mailer:***@mail.example:587"
    assert shown["registry_url"] == "postgresql://citydata:***@db.example/citydata"
    assert shown["mqtt_url"] == settings.mqtt_url  # no password: as it is
    text = json.dumps(shown)
    assert not any(s in text for s in ("hunter2", "s3cret", "pg-pass"))
